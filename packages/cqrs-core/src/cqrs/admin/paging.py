"""Pages of admin listings: a bounded number of items and a cursor to the next page.

Cursors are keyset positions ("after this item"), not offsets, so a page never
skips or repeats an item when the items before it are replayed, discarded or
resolved meanwhile. Treat them as opaque strings: pass back what a page gave.

>>> page = page_of(["a", "b", "c"], limit=2, cursor_of=str.upper)
>>> page.items, page.next_cursor
(['a', 'b'], 'B')
>>> page_of(["a"], limit=2, cursor_of=str.upper).next_cursor is None
True
"""

from __future__ import annotations

import dataclasses
import typing

from cqrs.exceptions import InvalidAdminRequestError

__all__ = ("Page", "DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE", "check_page_size", "page_of")

ItemT = typing.TypeVar("ItemT")

#: Items per page when the caller does not say.
DEFAULT_PAGE_SIZE: typing.Final = 50
#: The most items one page may hold.
MAX_PAGE_SIZE: typing.Final = 500


@dataclasses.dataclass(frozen=True)
class Page(typing.Generic[ItemT]):
    """Some items, oldest first, and the cursor of the page after them (`None`: the last)."""

    items: typing.Sequence[ItemT]
    next_cursor: str | None = None


def check_page_size(limit: int) -> int:
    """Return `limit` if it is a page size from 1 to `MAX_PAGE_SIZE`; else raise
    `InvalidAdminRequestError`."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidAdminRequestError(
            f"limit must be a whole number from 1 to {MAX_PAGE_SIZE}, not {limit!r}"
        )
    return limit


def page_of(
    items: typing.Sequence[ItemT], limit: int, cursor_of: typing.Callable[[ItemT], str]
) -> Page[ItemT]:
    """The page of the first `limit` of `items`, fetched as `limit + 1` so that one more
    item tells there is a next page."""
    if len(items) <= limit:
        return Page(list(items))
    shown = list(items[:limit])
    return Page(shown, cursor_of(shown[-1]))
