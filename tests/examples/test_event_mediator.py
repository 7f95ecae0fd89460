"""examples/event_mediator.py: EventMediator fed with integration events from a broker."""

import json

import cqrs
from examples import event_mediator as example


async def test_notification_events_reach_all_their_handlers() -> None:
    result = await example.main()

    assert result["copies"] == {"978-0441013593": 2}
    assert len(result["return_log"]) == 2
    assert [entry.split(":", 1)[1] for entry in result["return_log"]] == [
        "978-0441013593@east",
        "978-0441013593@west",
    ]


async def test_ecst_events_update_the_read_model() -> None:
    result = await example.main()

    assert result["branches_open"] == {"west": False}


async def test_decoded_event_keeps_the_publisher_event_id() -> None:
    await example.main()

    published = example.published_elsewhere()
    first_id = json.loads(published[0][1])["event_id"]
    example.RETURN_LOG.clear()
    await example.OnEvent(example.mediator_factory())(*published[0])

    logged = list(example.RETURN_LOG)
    assert logged == [f"{first_id}:978-0441013593@east"]


def test_one_cached_mediator_per_process() -> None:
    mediator = example.mediator_factory()

    assert isinstance(mediator, cqrs.EventMediator)
    assert example.mediator_factory() is mediator


async def test_events_without_handlers_are_ignored() -> None:
    mediator = example.mediator_factory()
    event = cqrs.NotificationEvent[dict[str, str]](event_name="x", topic="y", payload={})

    await mediator.send(event)  # no handler bound: nothing happens, nothing raised
