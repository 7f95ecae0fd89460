"""examples/command_and_query_handlers.py: handlers with an injected port, mapper functions."""

from examples import command_and_query_handlers as example


async def test_command_enrols_through_the_injected_api_and_query_returns_link() -> None:
    result = await example.main()

    assert result == example.WorkshopLinkResult(
        workshop_id=7, link="https://workshops.example.org/live/7"
    )
    assert example.ROSTER == {7: ["ines", "kwame", "lin"]}


async def test_domain_events_of_the_command_feed_the_read_model() -> None:
    await example.main()

    assert example.HEADCOUNT == {7: 3}


async def test_the_protocol_is_bound_to_the_in_memory_implementation() -> None:
    from cqrs.container.di import DIContainer

    container = DIContainer(example.setup_di())
    handler = await container.resolve(example.EnrolAttendeeCommandHandler)

    assert isinstance(handler._workshop_api, example.InMemoryWorkshopAPI)  # pyright: ignore[reportPrivateUsage]
