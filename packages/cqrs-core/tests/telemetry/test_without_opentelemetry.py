"""Without OpenTelemetry (no `otel` extra) nothing of it is imported, and every
instrumented path runs as before: checked in a process where it cannot be imported."""

from __future__ import annotations

import subprocess
import sys
import textwrap

PROGRAM = textwrap.dedent(
    """
    import asyncio, importlib.abc, sys, uuid

    class NoOpenTelemetry(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "opentelemetry" or name.startswith("opentelemetry."):
                raise ImportError(f"{name} is not installed here")
            return None

    sys.meta_path.insert(0, NoOpenTelemetry())

    import pydantic
    import cqrs
    from cqrs.consumer import EventConsumer, EventPipeline, MemoryBroker
    from cqrs.events.bootstrap import bootstrap as events_bootstrap
    from cqrs.outbox.memory import MemoryOutbox
    from cqrs.outbox.relay import OutboxRelay
    from cqrs.requests.bootstrap import bootstrap
    from cqrs.tracing import opentelemetry_installed, telemetry_recording

    class Paid(pydantic.BaseModel):
        order_id: str

    PaidEvent = cqrs.NotificationEvent[Paid]
    cqrs.OutboxedEventMap.register("paid", PaidEvent)
    seen = []

    class Pay(cqrs.Request[str]):
        order_id: str

    class PayHandler(cqrs.RequestHandler[Pay, str]):
        async def handle(self, request):
            return request.order_id

    class Book(cqrs.EventHandler[PaidEvent]):
        async def handle(self, event):
            seen.append(event.payload.order_id)

    async def main():
        mediator = bootstrap(commands_mapper=lambda requests: requests.bind(Pay, PayHandler))
        assert await mediator.send(Pay(order_id="o-1")) == "o-1"
        outbox, broker = MemoryOutbox(), MemoryBroker()
        async with outbox as session:
            event = PaidEvent(event_name="paid", topic="pay", payload=Paid(order_id="o-1"))
            outbox.add(session, event)
            await outbox.commit(session)
        assert await OutboxRelay(outbox, broker).run_once() == 1
        pipeline = EventPipeline(
            mediator=events_bootstrap(events_mapper=lambda events: events.bind(PaidEvent, Book)),
            dead_letters=broker,
            consumer_name="books",
        )
        async with EventConsumer(broker.transport(["pay"], "books"), pipeline):
            await broker.wait_for_position("books", "pay", 0, 1)
        assert seen == ["o-1"]

    asyncio.run(main())
    assert not opentelemetry_installed() and not telemetry_recording()
    print(sorted(n for n in sys.modules if n.startswith(("opentelemetry", "cqrs.telemetry"))))
    """
)


def test_nothing_of_opentelemetry_is_imported_and_everything_still_runs() -> None:
    ran = subprocess.run(
        [sys.executable, "-c", PROGRAM], capture_output=True, text=True, timeout=120, check=False
    )

    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip() == "[]"
