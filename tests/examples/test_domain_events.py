"""examples/domain_events.py: DomainEvent and EventHandler in-process."""

from examples import domain_events as example


async def test_command_responses() -> None:
    confirmations = await example.main()

    assert [c.occupied for c in confirmations] == [2, 5, 6]
    assert example.BED_PLAN == {"north": ["basil", "basil", "tomato", "tomato", "tomato", "chard"]}


async def test_every_handler_of_an_event_runs_for_every_event() -> None:
    await example.main()

    assert example.SPECIES_COUNT == {"basil": 2, "tomato": 3, "chard": 1}
    assert example.WATERING_SCHEDULE == ["north:basil", "north:tomato", "north:chard"]


async def test_event_without_handlers_is_accepted() -> None:
    # BedFilled is recorded by the third command but bound to nothing.
    confirmations = await example.main()

    assert confirmations[-1].occupied == example.BED_CAPACITY
