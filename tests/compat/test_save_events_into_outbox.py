"""python-cqrs `examples/save_events_into_outbox.py`: a command handler writes its events
into the outbox in its own transaction, with the in-memory mock for tests."""

from __future__ import annotations

import collections.abc

import di
import pydantic
import pytest
from di import dependent

import cqrs
from cqrs.outbox import mock
from cqrs.requests import bootstrap
from cqrs.testing import registered_outbox_events


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
    def __init__(self, outbox: cqrs.OutboxedEventRepository) -> None:
        self.outbox = outbox

    @property
    def events(self) -> list[cqrs.Event]:
        return []

    async def handle(self, request: JoinMeetingCommand) -> None:
        async with self.outbox as session:
            self.outbox.add(
                session,
                cqrs.NotificationEvent[UserJoinedNotificationPayload](
                    event_name="UserJoined",
                    topic="user_notification_events",
                    payload=UserJoinedNotificationPayload(
                        user_id=request.user_id, meeting_id=request.meeting_id
                    ),
                ),
            )
            self.outbox.add(
                session,
                cqrs.ECSTEvent[UserJoinedECSTPayload](
                    event_name="UserJoinedECST",
                    topic="user_ecst_events",
                    payload=UserJoinedECSTPayload(
                        user_id=request.user_id, meeting_id=request.meeting_id
                    ),
                ),
            )
            await self.outbox.commit(session)


@pytest.fixture(autouse=True)
def registered() -> collections.abc.Iterator[None]:
    # Ours checks event names against OutboxedEventMap (python-cqrs's mock did not).
    with registered_outbox_events(
        {
            "UserJoined": cqrs.NotificationEvent[UserJoinedNotificationPayload],
            "UserJoinedECST": cqrs.ECSTEvent[UserJoinedECSTPayload],
        }
    ):
        yield


async def test_each_command_leaves_its_two_events_in_the_outbox() -> None:
    repository = mock.MockOutboxedEventRepository(session_factory=dict)
    container = di.Container()
    container.bind(
        di.bind_by_type(
            dependent.Dependent(lambda: repository, scope="request"),
            cqrs.OutboxedEventRepository,
        )
    )
    mediator = bootstrap.bootstrap(
        di_container=container,
        commands_mapper=lambda mapper: mapper.bind(JoinMeetingCommand, JoinMeetingCommandHandler),
    )

    for user_id in ("1", "2", "3", "4"):
        await mediator.send(JoinMeetingCommand(user_id=user_id, meeting_id="m1"))

    notifications = await repository.get_many(topic="user_notification_events")
    ecst = await repository.get_many(topic="user_ecst_events")
    assert len(notifications) == 4
    assert len(ecst) == 4
    assert [row.event.payload.user_id for row in notifications] == ["1", "2", "3", "4"]
    assert {row.status for row in notifications} == {cqrs.EventStatus.NEW}
