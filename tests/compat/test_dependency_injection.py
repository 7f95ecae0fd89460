"""python-cqrs `examples/dependency_injection.py`: handlers get their dependencies from a
`di.Container` bound by type, in the request scope."""

from __future__ import annotations

import typing

import di
from di import dependent

import cqrs
from cqrs.requests import bootstrap


class MeetingAPIProtocol(typing.Protocol):
    async def join_user(self, user_id: str, meeting_id: str) -> None: ...


class MeetingAPIImplementaion:
    joined: typing.ClassVar[list[tuple[str, str]]] = []

    async def join_user(self, user_id: str, meeting_id: str) -> None:
        self.joined.append((user_id, meeting_id))


class JoinMeetingCommand(cqrs.Request):
    user_id: str
    meeting_id: str


class JoinMeetingCommandHandler(cqrs.RequestHandler[JoinMeetingCommand, None]):
    def __init__(self, meetings_api: MeetingAPIProtocol) -> None:
        self._meetings_api = meetings_api

    @property
    def events(self) -> list[cqrs.Event]:
        return []

    async def handle(self, request: JoinMeetingCommand) -> None:
        await self._meetings_api.join_user(request.user_id, request.meeting_id)


def setup_di() -> di.Container:
    container = di.Container()
    container.bind(
        di.bind_by_type(
            dependent.Dependent(MeetingAPIImplementaion, scope="request"), MeetingAPIProtocol
        )
    )
    return container


async def test_the_handler_gets_the_implementation_bound_to_its_protocol() -> None:
    MeetingAPIImplementaion.joined.clear()
    mediator = bootstrap.bootstrap(
        di_container=setup_di(),
        commands_mapper=lambda mapper: mapper.bind(JoinMeetingCommand, JoinMeetingCommandHandler),
    )

    await mediator.send(JoinMeetingCommand(user_id="u1", meeting_id="m1"))

    assert MeetingAPIImplementaion.joined == [("u1", "m1")]


async def test_a_cqrs_di_container_with_the_container_attached_works_the_same() -> None:
    MeetingAPIImplementaion.joined.clear()
    container = cqrs.DIContainer()
    container.attach_external_container(setup_di())
    mediator = bootstrap.bootstrap(
        di_container=container,
        commands_mapper=lambda mapper: mapper.bind(JoinMeetingCommand, JoinMeetingCommandHandler),
    )

    await mediator.send(JoinMeetingCommand(user_id="u2", meeting_id="m1"))

    assert MeetingAPIImplementaion.joined == [("u2", "m1")]
