"""python-cqrs `examples/domain_event_handler.py`: domain events handled in-process after
the command, follow-up events (4.8+), and a failing handler raising its own error."""

from __future__ import annotations

import collections

import di
import pytest

import cqrs
from cqrs.requests import bootstrap

STORAGE: collections.defaultdict[str, list[str]] = collections.defaultdict(list)
SEEN: list[str] = []


class JoinMeetingCommand(cqrs.Request):
    user_id: str
    meeting_id: str


class UserJoined(cqrs.DomainEvent, frozen=True):  # pyright: ignore[reportGeneralTypeIssues]
    user_id: str
    meeting_id: str


class WelcomeSent(cqrs.DomainEvent, frozen=True):  # pyright: ignore[reportGeneralTypeIssues]
    user_id: str


class WelcomeLogged(cqrs.DomainEvent, frozen=True):  # pyright: ignore[reportGeneralTypeIssues]
    user_id: str


class JoinMeetingCommandHandler(cqrs.RequestHandler[JoinMeetingCommand, None]):
    def __init__(self) -> None:
        self._events: list[cqrs.Event] = []

    @property
    def events(self) -> list[cqrs.Event]:
        return self._events

    async def handle(self, request: JoinMeetingCommand) -> None:
        STORAGE[request.meeting_id].append(request.user_id)
        self._events.append(UserJoined(user_id=request.user_id, meeting_id=request.meeting_id))


class UserJoinedEventHandler(cqrs.EventHandler[UserJoined]):
    def __init__(self) -> None:
        self._follow_ups: list[cqrs.IEvent] = []

    @property
    def events(self) -> list[cqrs.IEvent]:
        return self._follow_ups

    async def handle(self, event: UserJoined) -> None:
        SEEN.append(f"joined:{event.user_id}")
        self._follow_ups.append(WelcomeSent(user_id=event.user_id))


class WelcomeSentHandler(cqrs.EventHandler[WelcomeSent]):
    def __init__(self) -> None:
        self._follow_ups: list[cqrs.IEvent] = []

    @property
    def events(self) -> list[cqrs.IEvent]:
        return self._follow_ups

    async def handle(self, event: WelcomeSent) -> None:
        SEEN.append(f"welcomed:{event.user_id}")
        self._follow_ups.append(WelcomeLogged(user_id=event.user_id))


class WelcomeLoggedHandler(cqrs.EventHandler[WelcomeLogged]):
    async def handle(self, event: WelcomeLogged) -> None:
        SEEN.append(f"logged:{event.user_id}")


class RejectsMeetingZero(cqrs.EventHandler[UserJoined]):
    async def handle(self, event: UserJoined) -> None:
        if event.meeting_id == "0":
            raise ValueError("meeting 0 is closed")


def commands(mapper: cqrs.RequestMap) -> None:
    mapper.bind(JoinMeetingCommand, JoinMeetingCommandHandler)


def events(mapper: cqrs.EventMap) -> None:
    mapper.bind(UserJoined, RejectsMeetingZero)
    mapper.bind(UserJoined, UserJoinedEventHandler)
    mapper.bind(WelcomeSent, WelcomeSentHandler)
    mapper.bind(WelcomeLogged, WelcomeLoggedHandler)


@pytest.fixture
def mediator() -> cqrs.RequestMediator:
    STORAGE.clear()
    SEEN.clear()
    return bootstrap.bootstrap(
        di_container=di.Container(), commands_mapper=commands, domain_events_mapper=events
    )


async def test_the_event_and_its_follow_ups_run_to_the_end_of_the_chain(
    mediator: cqrs.RequestMediator,
) -> None:
    await mediator.send(JoinMeetingCommand(user_id="u1", meeting_id="m1"))

    assert STORAGE == {"m1": ["u1"]}
    assert SEEN == ["joined:u1", "welcomed:u1", "logged:u1"]


async def test_a_failing_handler_raises_its_own_error_after_the_others_ran(
    mediator: cqrs.RequestMediator,
) -> None:
    with pytest.raises(ValueError, match="meeting 0 is closed"):
        await mediator.send(JoinMeetingCommand(user_id="u1", meeting_id="0"))

    assert SEEN == ["joined:u1", "welcomed:u1", "logged:u1"]
