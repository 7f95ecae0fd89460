"""examples/dependency_injection.py: di.Container with bind_by_type."""

import datetime

import pytest

from cqrs.container.di import DIContainer
from examples import dependency_injection as example


async def test_handler_uses_the_bound_implementations() -> None:
    result = await example.main()

    assert result == example.DispensedResponse(
        prescription_id="rx-1001",
        dispensed_at=datetime.datetime(2024, 3, 1, 8, 0, tzinfo=datetime.timezone.utc),
        units_left=9,
    )
    assert example.SHELF == {"amoxicillin-500": 9}


async def test_event_handler_gets_its_dependency_too() -> None:
    await example.main()

    assert example.PICKUP_NOTICES == ["p-42: prescription rx-1001 is ready"]


async def test_protocols_resolve_to_implementations_transitively() -> None:
    container = DIContainer(example.setup_di())

    handler = await container.resolve(example.DispensePrescriptionHandler)

    assert isinstance(handler._stock, example.ShelfStockKeeper)  # pyright: ignore[reportPrivateUsage]
    assert isinstance(handler._stock._clock, example.FrozenClock)  # pyright: ignore[reportPrivateUsage]


async def test_handler_errors_reach_the_caller() -> None:
    await example.main()
    mediator = example.bootstrap.bootstrap(
        di_container=example.setup_di(),
        commands_mapper=lambda m: m.bind(
            example.DispensePrescriptionCommand, example.DispensePrescriptionHandler
        ),
    )

    with pytest.raises(LookupError, match="only 9 units"):
        await mediator.send(
            example.DispensePrescriptionCommand(
                prescription_id="rx-2", patient_id="p-1", drug_code="amoxicillin-500", units=10
            )
        )
