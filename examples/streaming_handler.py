"""Streaming request handlers: partial results while the work goes on.

`StreamingRequestHandler.handle` is an async generator; the
`StreamingRequestMediator` built by `bootstrap.bootstrap_streaming` hands each
yielded result to the caller of `mediator.stream(...)` as soon as it is ready.
After every result, the events the handler recorded so far are dispatched:
domain events to their handlers, notification events to the message broker
(here a `devnull.DevnullMessageBroker`, which drops and counts them).

Two handler styles are shown:

* `ImportInvoicesHandler` returns a copy of its events and empties the list in
  `clear_events`, which the mediator calls after each dispatch;
* `ResizeImagesHandler` just keeps appending to the list it exposes; the
  mediator still dispatches every event exactly once.

By the time the caller sees a result, the domain events recorded before it
have already been handled, so the ledger grows in step with the stream.

Run: `python examples/streaming_handler.py`
"""

from __future__ import annotations

import asyncio
import dataclasses
import typing

import di
import pydantic

import cqrs
from cqrs.events.event import Event
from cqrs.message_brokers import devnull
from cqrs.requests import bootstrap
from cqrs.requests.request_handler import StreamingRequestHandler

LEDGER: list[str] = []
THUMBNAILS: list[str] = []


# --- invoices: events copied out and cleared --------------------------------


class ImportInvoicesCommand(cqrs.Request):
    invoice_numbers: list[str]


class InvoiceImportResult(cqrs.Response):
    invoice_number: str
    status: str
    amount_cents: int


class InvoiceImported(cqrs.DomainEvent):
    invoice_number: str
    amount_cents: int


class InvoiceImportedPayload(pydantic.BaseModel):
    invoice_number: str


class ImportInvoicesHandler(StreamingRequestHandler[ImportInvoicesCommand, InvoiceImportResult]):
    def __init__(self) -> None:
        self._events: list[Event] = []

    @property
    def events(self) -> list[Event]:
        return self._events.copy()

    def clear_events(self) -> None:
        self._events.clear()

    async def handle(
        self, request: ImportInvoicesCommand
    ) -> typing.AsyncIterator[InvoiceImportResult]:
        for number in request.invoice_numbers:
            await asyncio.sleep(0.001)  # parse the PDF, call the accounting API...
            amount = sum(ord(ch) for ch in number) * 10
            self._events.append(InvoiceImported(invoice_number=number, amount_cents=amount))
            self._events.append(
                cqrs.NotificationEvent[InvoiceImportedPayload](
                    event_name="invoice_imported",
                    topic="accounting.invoices",
                    payload=InvoiceImportedPayload(invoice_number=number),
                )
            )
            yield InvoiceImportResult(invoice_number=number, status="imported", amount_cents=amount)


class RecordInLedger(cqrs.EventHandler[InvoiceImported]):
    async def handle(self, event: InvoiceImported) -> None:
        LEDGER.append(f"{event.invoice_number}:{event.amount_cents}")


# --- images: events accumulate, never cleared --------------------------------


class ResizeImagesCommand(cqrs.Request):
    image_ids: list[str]
    width: int


class ImageResized(cqrs.Response):
    image_id: str
    width: int


class ThumbnailReady(cqrs.DomainEvent):
    image_id: str


class ResizeImagesHandler(StreamingRequestHandler[ResizeImagesCommand, ImageResized]):
    def __init__(self) -> None:
        self._events: list[cqrs.Event] = []

    @property
    def events(self) -> list[cqrs.Event]:
        return self._events

    async def handle(self, request: ResizeImagesCommand) -> typing.AsyncIterator[ImageResized]:
        for image_id in request.image_ids:
            await asyncio.sleep(0.001)
            self._events.append(ThumbnailReady(image_id=image_id))
            yield ImageResized(image_id=image_id, width=request.width)


class PublishThumbnail(cqrs.EventHandler[ThumbnailReady]):
    async def handle(self, event: ThumbnailReady) -> None:
        THUMBNAILS.append(event.image_id)


# --- wiring ------------------------------------------------------------------


def commands_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(ImportInvoicesCommand, ImportInvoicesHandler)
    mapper.bind(ResizeImagesCommand, ResizeImagesHandler)


def domain_events(mapper: cqrs.EventMap) -> None:
    mapper.bind(InvoiceImported, RecordInLedger)
    mapper.bind(ThumbnailReady, PublishThumbnail)


@dataclasses.dataclass
class StreamReport:
    invoices: list[InvoiceImportResult]
    ledger_size_seen_per_chunk: list[int]
    images: list[ImageResized]
    ledger: list[str]
    thumbnails: list[str]
    notifications_dropped: int


async def main() -> StreamReport:
    LEDGER.clear()
    THUMBNAILS.clear()
    broker = devnull.DevnullMessageBroker()
    mediator = bootstrap.bootstrap_streaming(
        di_container=di.Container(),
        commands_mapper=commands_mapper,
        domain_events_mapper=domain_events,
        message_broker=broker,
        max_concurrent_event_handlers=5,
    )

    invoices: list[InvoiceImportResult] = []
    seen: list[int] = []
    async for chunk in mediator.stream(
        ImportInvoicesCommand(invoice_numbers=["A-1", "A-2", "B-7"])
    ):
        invoices.append(chunk)
        seen.append(len(LEDGER))
        print(f"invoice {chunk.invoice_number}: {chunk.status} ({len(LEDGER)} in ledger)")

    images: list[ImageResized] = []
    async for chunk in mediator.stream(ResizeImagesCommand(image_ids=["cat", "dog"], width=320)):
        if chunk:
            images.append(chunk)
            print(f"image {chunk.image_id} resized to {chunk.width}px")

    print(f"thumbnails={THUMBNAILS}; broker dropped {broker.dropped} notifications")
    return StreamReport(
        invoices=invoices,
        ledger_size_seen_per_chunk=seen,
        images=images,
        ledger=list(LEDGER),
        thumbnails=list(THUMBNAILS),
        notifications_dropped=broker.dropped,
    )


if __name__ == "__main__":
    asyncio.run(main())
