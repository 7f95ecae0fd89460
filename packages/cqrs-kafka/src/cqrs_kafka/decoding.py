"""Turning a record back into its `NotificationEvent`: cqrs-core's `cqrs.consumer.decoding`,
the same for every broker; this module keeps the import path of earlier releases.

>>> from cqrs.consumer import decoding
>>> EventDecoder is decoding.EventDecoder
True
"""

from cqrs.consumer.decoding import (
    DecodedRecord,
    EventDecoder,
    EventTypes,
    UndecodableRecordError,
    event_names,
)
from cqrs.consumer.record import as_text, text_headers

__all__ = (
    "DecodedRecord",
    "EventDecoder",
    "EventTypes",
    "UndecodableRecordError",
    "event_names",
    "as_text",
    "text_headers",
)
