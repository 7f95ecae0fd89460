"""Decorator registration: handlers register themselves where they are defined.

The nearest counterpart of python-cq's `@command_handler` style (that library's
`cq` package itself is not provided): a `cqrs.HandlerRegistry` collects
handlers through its `request_handler` and `event_handler` decorators. What a
handler serves is read from its generic base or, when the base is left bare,
from the annotation of `handle`'s parameter. The registry's `requests` and
`events` methods are mappers to pass to bootstrap.

Commands and queries have exactly one handler each; an event may have none,
one or several.

A tiny issue tracker: open an issue (command returning its number), fetch it
(query), and react to the opening (two event handlers).

Run: `python examples/handler_registry.py`
"""

from __future__ import annotations

import asyncio
import dataclasses

import cqrs
from cqrs.requests import bootstrap

handlers = cqrs.HandlerRegistry()

ISSUES: dict[int, IssueView] = {}
ACTIVITY: list[str] = []


@dataclasses.dataclass
class OpenIssueCommand(cqrs.DCRequest):
    title: str
    reporter: str


@dataclasses.dataclass
class GetIssueQuery(cqrs.DCRequest):
    number: int


class IssueView(cqrs.Response):
    number: int
    title: str
    reporter: str
    labels: list[str] = []


class IssueOpened(cqrs.DomainEvent):
    number: int
    title: str


@handlers.request_handler
class OpenIssueHandler(cqrs.RequestHandler):  # registered for the type `handle` takes
    def __init__(self) -> None:
        self._events: list[cqrs.Event] = []

    @property
    def events(self) -> list[cqrs.Event]:
        return self._events

    async def handle(self, request: OpenIssueCommand) -> int:
        number = len(ISSUES) + 1
        ISSUES[number] = IssueView(number=number, title=request.title, reporter=request.reporter)
        self._events.append(IssueOpened(number=number, title=request.title))
        return number


@handlers.request_handler
class GetIssueHandler(cqrs.RequestHandler[GetIssueQuery, IssueView]):
    async def handle(self, request: GetIssueQuery) -> IssueView:
        return ISSUES[request.number]


@handlers.event_handler
class LabelBugs(cqrs.EventHandler[IssueOpened]):
    async def handle(self, event: IssueOpened) -> None:
        if "crash" in event.title.lower():
            ISSUES[event.number].labels.append("bug")


@handlers.event_handler
class RecordActivity(cqrs.EventHandler[IssueOpened]):
    async def handle(self, event: IssueOpened) -> None:
        ACTIVITY.append(f"#{event.number} opened")


async def main() -> tuple[int, IssueView]:
    ISSUES.clear()
    ACTIVITY.clear()
    mediator = bootstrap.bootstrap(
        commands_mapper=handlers.requests, domain_events_mapper=handlers.events
    )

    await mediator.send(OpenIssueCommand(title="Docs typo", reporter="ana"))
    number = await mediator.send(OpenIssueCommand(title="Crash on save", reporter="ben"))
    issue = await mediator.send(GetIssueQuery(number=number))

    print(f"issue #{number}: {issue}; activity={ACTIVITY}")
    return number, issue


if __name__ == "__main__":
    asyncio.run(main())
