"""python-cqrs `examples/event_producing.py`: notification and ECST events from a command
handler go to the message broker after it returns."""

from __future__ import annotations

import di
import pydantic

import cqrs
from cqrs.message_brokers import protocol
from cqrs.requests import bootstrap


class UserJoinedNotificationPayload(pydantic.BaseModel, frozen=True):
    user_id: str
    meeting_id: str


class UserJoinedECSTPayload(pydantic.BaseModel, frozen=True):
    user_id: str
    meeting_id: str


class JoinMeetingCommand(cqrs.Request):
    user_id: str
    meeting_id: str


class JoinMeetingCommandHandler(cqrs.RequestHandler[JoinMeetingCommand, None]):
    def __init__(self) -> None:
        self._events: list[cqrs.Event] = []

    @property
    def events(self) -> list[cqrs.Event]:
        return self._events

    async def handle(self, request: JoinMeetingCommand) -> None:
        self._events.append(
            cqrs.NotificationEvent[UserJoinedNotificationPayload](
                event_name="UserJoined",
                topic="user_notification_events",
                payload=UserJoinedNotificationPayload(
                    user_id=request.user_id, meeting_id=request.meeting_id
                ),
            )
        )
        self._events.append(
            cqrs.ECSTEvent[UserJoinedECSTPayload](
                event_name="UserJoined",
                topic="user_ecst_events",
                payload=UserJoinedECSTPayload(
                    user_id=request.user_id, meeting_id=request.meeting_id
                ),
            )
        )


class RecordingBroker:
    """A broker of the application's own, as python-cqrs users wrote them."""

    def __init__(self) -> None:
        self.sent: list[protocol.Message] = []

    async def send_message(self, message: protocol.Message) -> None:
        self.sent.append(message)


async def test_both_events_are_sent_to_the_broker_with_their_topics() -> None:
    broker = RecordingBroker()
    mediator = bootstrap.bootstrap(
        di_container=di.Container(),
        message_broker=broker,
        commands_mapper=lambda mapper: mapper.bind(JoinMeetingCommand, JoinMeetingCommandHandler),
    )

    await mediator.send(JoinMeetingCommand(user_id="u1", meeting_id="m1"))

    assert [(m.message_name, m.topic) for m in broker.sent] == [
        ("UserJoined", "user_notification_events"),
        ("UserJoined", "user_ecst_events"),
    ]
    assert broker.sent[0].payload["payload"] == {"user_id": "u1", "meeting_id": "m1"}
