"""Checks of what operators send: text a database can store, of bounded size.

Every admin port checks its input with these before it changes anything, so a
bad request fails the same way (`InvalidAdminRequestError`) on every backend,
never as a database error.
"""

from __future__ import annotations

import typing

from cqrs.exceptions import InvalidAdminRequestError

__all__ = ("checked_text", "checked_topic", "MAX_TOPIC_LENGTH")

#: The longest topic name a filter may hold (the outbox's column width).
MAX_TOPIC_LENGTH: typing.Final = 255


def checked_text(value: str, what: str, max_length: int) -> str:
    """Return `value` if it is non-blank text of at most `max_length` characters that any
    database can store; else raise `InvalidAdminRequestError` naming `what`.

    >>> checked_text("orders", "topic", 255)
    'orders'
    >>> checked_text("a\\x00b", "topic", 255)
    Traceback (most recent call last):
      ...
    cqrs.exceptions.InvalidAdminRequestError: topic must not contain NUL characters
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidAdminRequestError(f"{what} must not be empty")
    if len(value) > max_length:
        raise InvalidAdminRequestError(
            f"{what} must be at most {max_length} characters, not {len(value)}"
        )
    if "\x00" in value:
        raise InvalidAdminRequestError(f"{what} must not contain NUL characters")
    try:
        value.encode()
    except UnicodeEncodeError:
        raise InvalidAdminRequestError(f"{what} must be valid Unicode text") from None
    return value


def checked_topic(topic: str | None) -> str | None:
    """`topic` if it is `None` or a topic name a filter may hold; else
    `InvalidAdminRequestError`."""
    return None if topic is None else checked_text(topic, "topic", MAX_TOPIC_LENGTH)
