"""Dead letters: bounded text headers, the shapes that fit a size limit, the backoff."""

from __future__ import annotations

import itertools

import pytest

from cqrs.consumer.dead_letter import (
    ATTEMPTS_HEADER,
    ERROR_HEADER,
    MAX_TEXT_BYTES,
    OMITTED_HEADER,
    ORIGINAL_KEY_HEADER,
    ORIGINAL_OFFSET_HEADER,
    ORIGINAL_PARTITION_HEADER,
    ORIGINAL_TOPIC_HEADER,
    REASON_HEADER,
    VALUE_SIZE_HEADER,
    DeadLetter,
    DeadLetterRetry,
    bounded_text,
    record_size,
)
from cqrs.consumer.memory import MemoryRecord
from cqrs.exceptions import ConfigurationError


def letter(record: MemoryRecord, error: BaseException | None = None) -> DeadLetter:
    return DeadLetter(record, error or ValueError("bad sku"), attempts=2, topic="orders.dlq")


def test_short_text_is_kept_and_long_text_is_cut_to_the_limit_with_a_note() -> None:
    assert bounded_text("short") == "short"
    cut = bounded_text("é" * 5000)

    assert len(cut.encode()) <= MAX_TEXT_BYTES
    assert cut.startswith("éé")
    assert cut.endswith("more bytes)")


def test_text_utf8_cannot_carry_becomes_encodable() -> None:
    text = bounded_text("sku \ud800 and more")

    assert text.encode() == b"sku ? and more"


def test_a_whole_dead_letter_keeps_the_record_and_adds_where_and_why() -> None:
    record = MemoryRecord("orders", 3, 41, b"o-1", b'{"a":1}', (("trace", b"t-1"),))

    (shape, *_) = letter(record).shapes()

    assert (shape.topic, shape.key, shape.value) == ("orders.dlq", b"o-1", b'{"a":1}')
    assert shape.headers == {
        "trace": "t-1",
        REASON_HEADER: "ValueError: bad sku",
        ERROR_HEADER: "builtins.ValueError",
        ATTEMPTS_HEADER: "2",
        ORIGINAL_TOPIC_HEADER: "orders",
        ORIGINAL_PARTITION_HEADER: "3",
        ORIGINAL_OFFSET_HEADER: "41",
        ORIGINAL_KEY_HEADER: "o-1",
        VALUE_SIZE_HEADER: "7",
    }


def test_the_headers_of_a_replayed_dead_letter_are_replaced_not_repeated() -> None:
    record = MemoryRecord("orders", 0, 5, None, b"{}", ((ATTEMPTS_HEADER, b"9"),))

    (shape, *_) = letter(record).shapes()

    assert shape.headers[ATTEMPTS_HEADER] == "2"
    assert ORIGINAL_KEY_HEADER not in shape.headers


def test_smaller_shapes_leave_out_the_value_then_the_headers_and_key() -> None:
    record = MemoryRecord("orders", 0, 7, b"k" * 5000, b"v" * 5000, (("big", b"h" * 5000),))

    shapes = list(letter(record).shapes())

    assert [shape.headers.get(OMITTED_HEADER) for shape in shapes] == [
        None,
        "value",
        "value,headers,key",
    ]
    assert [shape.value for shape in shapes[1:]] == [b"", b""]
    assert shapes[2].key is None
    assert "big" not in shapes[2].headers
    assert len(shapes[2].headers[ORIGINAL_KEY_HEADER].encode()) <= MAX_TEXT_BYTES
    assert shapes[2].headers[VALUE_SIZE_HEADER] == "5000"


def test_fitting_gives_the_fullest_shapes_within_the_limit_else_the_smallest() -> None:
    record = MemoryRecord("orders", 0, 7, b"k", b"v" * 5000, (("big", b"h" * 5000),))
    shapes = list(letter(record).shapes())

    assert letter(record).fitting(10**6, record_size) == shapes
    assert letter(record).fitting(6000, record_size) == shapes[1:]
    assert letter(record).fitting(10, record_size) == shapes[-1:]


def test_a_small_record_has_one_shape() -> None:
    record = MemoryRecord("orders", 0, 0, None, None)

    assert len(list(letter(record).shapes())) == 1


def test_a_reason_is_the_type_alone_when_the_message_is_empty() -> None:
    record = MemoryRecord("orders", 0, 0, None, b"{}")

    assert letter(record, KeyError()).reason == "KeyError"


def test_the_dead_letter_backoff_grows_to_its_cap_and_never_ends() -> None:
    delays = DeadLetterRetry(initial_delay=0.5, multiplier=3.0, max_delay=5.0).delays()

    assert list(itertools.islice(delays, 6)) == [0.5, 1.5, 4.5, 5.0, 5.0, 5.0]


@pytest.mark.parametrize(
    "options",
    [{"initial_delay": 0.0}, {"initial_delay": 2.0, "max_delay": 1.0}, {"multiplier": 0.9}],
)
def test_a_dead_letter_backoff_that_cannot_work_is_refused(options: dict[str, float]) -> None:
    with pytest.raises(ConfigurationError):
        DeadLetterRetry(**options)
