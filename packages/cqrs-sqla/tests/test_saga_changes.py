"""`SagaChanges`: a saga's writes wake its followers, in this process and, on PostgreSQL,
in every other (LISTEN/NOTIFY)."""

from __future__ import annotations

import asyncio
import collections.abc
import uuid

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from cqrs.saga.models import SagaStatus, SagaStepAction, SagaStepStatus
from cqrs_sqla.engine import create_engine
from cqrs_sqla.saga_changes import NotifyingSagaStorage, SagaChanges, changes_channel
from cqrs_sqla.saga_storage import SqlAlchemySagaStorage
from cqrs_sqla.schema import Schema, create_all

#: A guard against a follower that is never woken, not a measure of speed.
DEADLINE = 30.0


async def test_a_write_wakes_the_followers_of_that_saga_only(
    engine: AsyncEngine, schema: Schema
) -> None:
    changes = SagaChanges(engine, schema)
    storage = NotifyingSagaStorage(
        SqlAlchemySagaStorage(async_sessionmaker(engine), schema), changes
    )
    followed, other = uuid.uuid4(), uuid.uuid4()
    await storage.create_saga(followed, "order", {})
    await storage.create_saga(other, "order", {})
    try:
        async with changes.following(followed) as changed, changes.following(other) as untouched:
            await storage.log_step(followed, "Open", SagaStepAction.ACT, SagaStepStatus.COMPLETED)
            await asyncio.wait_for(changed.wait(), DEADLINE)
            changed.clear()
            await storage.update_status(followed, SagaStatus.COMPLETED)
            await asyncio.wait_for(changed.wait(), DEADLINE)
        assert not untouched.is_set()
    finally:
        await changes.close()


async def test_on_postgresql_another_process_hears_of_the_write(postgres_url: str) -> None:
    # Two engines and two SagaChanges: as two processes, they share only the database.
    writer_engine, follower_engine = create_engine(postgres_url), create_engine(postgres_url)
    schema = Schema()
    writer, follower = SagaChanges(writer_engine, schema), SagaChanges(follower_engine, schema)
    saga_id = uuid.uuid4()
    try:
        async with follower.following(saga_id) as changed:
            await writer.changed(saga_id)
            await asyncio.wait_for(changed.wait(), DEADLINE)
        assert writer.pushes_across_processes
    finally:
        for changes in (writer, follower):
            await changes.close()
        for engine in (writer_engine, follower_engine):
            await engine.dispose()


async def test_without_an_engine_only_this_process_is_woken() -> None:
    changes = SagaChanges()
    saga_id = uuid.uuid4()

    async with changes.following(saga_id) as changed:
        await changes.changed(saga_id)

    assert changed.is_set()
    assert not changes.pushes_across_processes


async def test_a_storage_with_the_changes_channel_notifies_other_processes_itself(
    postgres_url: str,
) -> None:
    writer_engine, follower_engine = create_engine(postgres_url), create_engine(postgres_url)
    schema = Schema()
    await create_all(writer_engine, schema)
    # The writer's SagaChanges has no engine: only the storage's statements can reach
    # the follower.
    storage = NotifyingSagaStorage(
        SqlAlchemySagaStorage(
            async_sessionmaker(writer_engine), schema, changes_channel=changes_channel(schema)
        ),
        SagaChanges(),
    )
    follower = SagaChanges(follower_engine, schema)
    saga_id = uuid.uuid4()
    try:
        await storage.create_saga(saga_id, "order", {})
        async with follower.following(saga_id) as changed:
            await storage.record_step(
                saga_id,
                "Open",
                SagaStepAction.ACT,
                SagaStepStatus.COMPLETED,
                context={"opened": True},
                current_version=1,
            )
            await asyncio.wait_for(changed.wait(), DEADLINE)
            changed.clear()
            await storage.update_status(saga_id, SagaStatus.COMPLETED)
            await asyncio.wait_for(changed.wait(), DEADLINE)
    finally:
        await follower.close()
        for engine in (writer_engine, follower_engine):
            await engine.dispose()


async def test_a_storage_joined_to_a_transaction_notifies_when_it_commits_only(
    postgres_url: str,
) -> None:
    writer_engine, follower_engine = create_engine(postgres_url), create_engine(postgres_url)
    schema = Schema()
    await create_all(writer_engine, schema)
    follower = SagaChanges(follower_engine, schema)
    committed, rolled_back = uuid.uuid4(), uuid.uuid4()
    await SqlAlchemySagaStorage(async_sessionmaker(writer_engine), schema).create_saga(
        committed, "order", {}
    )
    await SqlAlchemySagaStorage(async_sessionmaker(writer_engine), schema).create_saga(
        rolled_back, "order", {}
    )

    async def record_in_transaction(saga_id: uuid.UUID, *, commit: bool) -> None:
        async with writer_engine.connect() as connection:
            await connection.begin()
            joined = SqlAlchemySagaStorage(
                async_sessionmaker(connection), schema, changes_channel=changes_channel(schema)
            )
            await joined.record_step(
                saga_id,
                "Open",
                SagaStepAction.ACT,
                SagaStepStatus.COMPLETED,
                context={},
                current_version=1,
            )
            await (connection.commit() if commit else connection.rollback())

    try:
        async with (
            follower.following(committed) as changed,
            follower.following(rolled_back) as untouched,
        ):
            await record_in_transaction(rolled_back, commit=False)
            await record_in_transaction(committed, commit=True)
            await asyncio.wait_for(changed.wait(), DEADLINE)
        # Notifications arrive in commit order: the rolled-back one would have come first.
        assert not untouched.is_set()
    finally:
        await follower.close()
        for engine in (writer_engine, follower_engine):
            await engine.dispose()


async def test_the_changes_channel_is_ignored_off_postgresql(
    engine: AsyncEngine, schema: Schema
) -> None:
    storage = SqlAlchemySagaStorage(
        async_sessionmaker(engine), schema, changes_channel=changes_channel(schema)
    )
    assert storage.notifies_changes is (engine.dialect.name == "postgresql")


@pytest.fixture
async def pg_changes(postgres_url: str) -> collections.abc.AsyncIterator[SagaChanges]:
    """`SagaChanges` on a PostgreSQL engine of its own, closed after the test."""
    engine = create_engine(postgres_url)
    changes = SagaChanges(engine, Schema())
    try:
        yield changes
    finally:
        await changes.close()
        await engine.dispose()


async def test_on_postgresql_a_process_hears_its_own_write_once_through_the_server(
    pg_changes: SagaChanges,
) -> None:
    saga_id = uuid.uuid4()
    async with pg_changes.following(saga_id) as changed:
        # A write that says it sent the NOTIFY (none was sent here): a listening
        # process leaves the wake to the server's notification, so nothing yet.
        await pg_changes.changed(saga_id, notified=True)
        assert not changed.is_set()
        # The notification itself wakes the follower.
        await pg_changes.changed(saga_id)
        await asyncio.wait_for(changed.wait(), DEADLINE)


async def test_a_process_that_stopped_listening_wakes_its_followers_itself(
    pg_changes: SagaChanges,
) -> None:
    saga_id = uuid.uuid4()
    async with pg_changes.following(saga_id) as changed:
        await pg_changes.close()  # as if the listening connection had dropped
        await pg_changes.changed(saga_id, notified=True)
        assert changed.is_set()


async def test_a_version_moves_with_each_change_of_its_saga_and_stays_without_one() -> None:
    changes = SagaChanges()
    saga_id = uuid.uuid4()
    before = changes.version(saga_id)

    assert changes.version(saga_id) == before
    await changes.changed(saga_id)
    after_one = changes.version(saga_id)
    await changes.changed(saga_id)

    assert before != after_one != changes.version(saga_id)


async def test_on_postgresql_a_version_moves_when_the_notification_arrives(
    pg_changes: SagaChanges,
) -> None:
    saga_id = uuid.uuid4()
    async with pg_changes.following(saga_id) as changed:
        before = pg_changes.version(saga_id)
        # As a write that sent its own NOTIFY: nothing heard yet, nothing moves.
        await pg_changes.changed(saga_id, notified=True)
        assert pg_changes.version(saga_id) == before
        await pg_changes.changed(saga_id)
        await asyncio.wait_for(changed.wait(), DEADLINE)

    assert pg_changes.version(saga_id) != before


async def test_a_version_moves_when_listening_stops_or_starts_again(
    pg_changes: SagaChanges,
) -> None:
    # Changes may go unheard in between: whatever was read before may be stale.
    saga_id = uuid.uuid4()
    async with pg_changes.following(saga_id):
        listening = pg_changes.version(saga_id)
    await pg_changes.close()
    stopped = pg_changes.version(saga_id)
    async with pg_changes.following(saga_id):
        assert pg_changes.version(saga_id) not in (listening, stopped)
    assert stopped != listening
