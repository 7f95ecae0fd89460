"""Steps every bootstrap function shares."""

from __future__ import annotations

import typing

from cqrs.events.map import EventMap

__all__ = ("run_startup_hooks", "filled", "StartupHook", "EventsMapper")

_M = typing.TypeVar("_M")

StartupHook = typing.Callable[[], object]
EventsMapper = typing.Callable[[EventMap], None]


def run_startup_hooks(on_startup: typing.Iterable[StartupHook]) -> None:
    """Call each `on_startup` function once, in order, before anything is built."""
    for hook in on_startup:
        hook()


def filled(empty_map: _M, *mappers: typing.Callable[[_M], None] | None) -> _M:
    """Apply each given mapper (skipping `None`s) to `empty_map` and return it."""
    for mapper in mappers:
        if mapper is not None:
            mapper(empty_map)
    return empty_map
