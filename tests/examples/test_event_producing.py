"""examples/event_producing.py: NotificationEvent / ECSTEvent to the message broker."""

import cqrs
from examples import event_producing as example


async def test_each_notification_becomes_one_message_on_its_topic() -> None:
    broker = await example.main()

    assert [(m.topic, m.message_name) for m in broker.messages] == [
        ("parking_notification_events", "SpotReserved"),
        ("parking_ecst_events", "SpotReserved"),
        ("parking_notification_events", "SpotReserved"),
        ("parking_ecst_events", "SpotReserved"),
        ("parking_notification_events", "SpotReleased"),
        ("parking_ecst_events", "SpotReleased"),
    ]


async def test_message_payload_is_the_event_wire_form() -> None:
    broker = await example.main()

    first = broker.topic("parking_notification_events")[0]
    assert first.payload["payload"] == {"spot_id": "B12", "plate": "KA-4711"}
    assert first.payload["event_name"] == "SpotReserved"
    assert str(first.message_id) == first.payload["event_id"]
    event = cqrs.NotificationEvent[example.SpotReservedPayload].from_dict(**first.payload)
    assert event.payload == example.SpotReservedPayload(spot_id="B12", plate="KA-4711")


async def test_state_transfer_payloads() -> None:
    broker = await example.main()

    assert [m.payload["payload"] for m in broker.topic("parking_ecst_events")] == [
        {"spot_id": "B12", "occupied": True, "free_spots_left": 39},
        {"spot_id": "B13", "occupied": True, "free_spots_left": 38},
        {"spot_id": "B12", "occupied": False, "free_spots_left": 39},
    ]


async def test_domain_events_stay_in_process() -> None:
    broker = await example.main()

    assert example.SPOT_HISTORY == ["B12:in", "B13:in", "B12:out"]
    assert all(m.message_name != "SpotChanged" for m in broker.messages)


def test_untyped_style_accepts_event_topic_and_dict_payload() -> None:
    event = example.events.NotificationEvent(
        event_topic="t", event_name="n", payload={"spot_id": "C1"}
    )

    assert event.topic == "t"
    assert event.payload == {"spot_id": "C1"}
