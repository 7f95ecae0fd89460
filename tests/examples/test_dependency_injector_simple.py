"""examples/dependency_injector_simple.py: DependencyInjectorCQRSContainer."""

import cqrs
from cqrs.container.dependency_injector import DependencyInjectorCQRSContainer
from examples import dependency_injector_simple as example


async def test_query_reads_what_commands_stored_in_the_singleton() -> None:
    average, container = await example.main()

    assert average == example.AverageTemperature(station="alpine-hut", average=-0.25, samples=4)
    assert container.repository().all_for("alpine-hut") == [2.5, -1.0, 0.5, -3.0]


async def test_event_handler_gets_a_factory_service_wired_to_singletons() -> None:
    _, container = await example.main()

    assert container.alert_log().sent == [
        "frost at alpine-hut: 1 sub-zero reading(s)",
        "frost at alpine-hut: 2 sub-zero reading(s)",
    ]


async def test_abstract_dependency_is_served_by_the_subclass_provider() -> None:
    container = example.ApplicationContainer()
    adapter = DependencyInjectorCQRSContainer(container)

    handler = await adapter.resolve(example.RecordReadingHandler)

    assert isinstance(adapter, cqrs.Container)
    assert handler._repository is container.repository()  # pyright: ignore[reportPrivateUsage]
