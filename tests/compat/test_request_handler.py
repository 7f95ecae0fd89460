"""python-cqrs `examples/request_handler.py`: commands and queries through the request mediator."""

from __future__ import annotations

import collections
import typing

import di

import cqrs
from cqrs.events.event import Event
from cqrs.requests import bootstrap
from cqrs.requests.request_handler import RequestHandler


class JoinMeetingCommand(cqrs.Request):
    user_id: str
    meeting_id: str


class ReadMeetingQuery(cqrs.Request):
    meeting_id: str


class ReadMeetingQueryResult(cqrs.Response):
    users: list[str]


class MeetingsAPI:
    def __init__(self) -> None:
        self.rooms: collections.defaultdict[str, list[str]] = collections.defaultdict(list)


MEETINGS = MeetingsAPI()


class JoinMeetingCommandHandler(RequestHandler[JoinMeetingCommand, None]):
    def __init__(self) -> None:
        self._events: list[Event] = []

    @property
    def events(self) -> typing.List[Event]:  # noqa: UP006 - python-cqrs's own spelling
        return self._events

    async def handle(self, request: JoinMeetingCommand) -> None:
        MEETINGS.rooms[request.meeting_id].append(request.user_id)


class ReadMeetingQueryHandler(RequestHandler[ReadMeetingQuery, ReadMeetingQueryResult]):
    @property
    def events(self) -> list[Event]:
        return []

    async def handle(self, request: ReadMeetingQuery) -> ReadMeetingQueryResult:
        return ReadMeetingQueryResult(users=MEETINGS.rooms[request.meeting_id])


def command_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(JoinMeetingCommand, JoinMeetingCommandHandler)


def query_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(ReadMeetingQuery, ReadMeetingQueryHandler)


async def test_commands_change_state_and_a_query_reads_it() -> None:
    MEETINGS.rooms.clear()
    mediator = bootstrap.bootstrap(
        di_container=di.Container(),
        queries_mapper=query_mapper,
        commands_mapper=command_mapper,
    )

    for user_id in ("1", "2", "3", "4"):
        assert await mediator.send(JoinMeetingCommand(user_id=user_id, meeting_id="m1")) is None
    result = await mediator.send(ReadMeetingQuery(meeting_id="m1"))

    assert isinstance(result, ReadMeetingQueryResult)
    assert result.users == ["1", "2", "3", "4"]
    assert result.to_dict() == {"users": ["1", "2", "3", "4"]}
