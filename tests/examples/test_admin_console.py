"""examples/admin_console.py: the admin router mounted on in-memory stores."""

from cqrs.message_brokers.memory import InMemoryMessageBroker
from cqrs.outbox import OutboxRelay
from examples import admin_console as example


async def test_main_fixes_each_failure_and_the_audit_names_the_operator() -> None:
    results = dict(await example.main())

    assert results["dead row"] == ("parcels", "ConnectionError: broker unreachable")
    assert results["saga"] == "resolved"
    assert sorted(results["audit"]) == [
        ("olivia", "dead_letter.replay"),
        ("olivia", "outbox.replay"),
        ("olivia", "saga.resolve"),
    ]
    assert [record.topic for record in example.dead_letters.replayed] == ["labels"]
    broker = InMemoryMessageBroker()
    assert await OutboxRelay(example.outbox, broker).run_once() == 1
    assert [message.message_name for message in broker.messages] == ["parcel_shipped"]
