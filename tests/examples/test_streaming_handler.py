"""examples/streaming_handler.py: StreamingRequestHandler with bootstrap_streaming."""

import cqrs
from examples import streaming_handler as example


async def test_results_arrive_one_per_item_in_order() -> None:
    report = await example.main()

    assert [(r.invoice_number, r.status) for r in report.invoices] == [
        ("A-1", "imported"),
        ("A-2", "imported"),
        ("B-7", "imported"),
    ]
    assert [(r.image_id, r.width) for r in report.images] == [("cat", 320), ("dog", 320)]


async def test_domain_events_are_handled_before_each_result_is_seen() -> None:
    report = await example.main()

    assert report.ledger_size_seen_per_chunk == [1, 2, 3]
    assert report.ledger == [f"{r.invoice_number}:{r.amount_cents}" for r in report.invoices]


async def test_accumulating_events_are_dispatched_once_each() -> None:
    report = await example.main()

    assert report.thumbnails == ["cat", "dog"]


async def test_notification_events_go_to_the_devnull_broker() -> None:
    report = await example.main()

    assert report.notifications_dropped == 3


async def test_stream_is_lazy_and_yields_as_the_handler_does() -> None:
    mediator = example.bootstrap.bootstrap_streaming(
        commands_mapper=example.commands_mapper,
        domain_events_mapper=example.domain_events,
    )
    example.THUMBNAILS.clear()
    stream = mediator.stream(example.ResizeImagesCommand(image_ids=["a", "b", "c"], width=64))

    first = await anext(stream)
    assert first.image_id == "a"
    assert example.THUMBNAILS == ["a"]
    await stream.aclose()
    assert example.THUMBNAILS == ["a"]


def test_mediator_type() -> None:
    mediator = example.bootstrap.bootstrap_streaming(commands_mapper=example.commands_mapper)

    assert isinstance(mediator, cqrs.StreamingRequestMediator)
