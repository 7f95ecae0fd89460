"""`LeaseRecordingStorage`: saga storage that records the lease of every claim."""

from __future__ import annotations

import datetime
import typing
import uuid

from cqrs.saga.storage.memory import MemorySagaStorage

__all__ = ("LeaseRecordingStorage",)


class LeaseRecordingStorage(MemorySagaStorage):
    """Records the lease of every claim, the one a saga may be created with included."""

    def __init__(self) -> None:
        super().__init__()
        self.leases: list[datetime.timedelta] = []

    async def create_saga(
        self,
        saga_id: uuid.UUID,
        name: str,
        context: typing.Mapping[str, typing.Any],
        *,
        owner: str | None = None,
        lease: datetime.timedelta | None = None,
        trace_context: str | None = None,
    ) -> None:
        if lease is not None:
            self.leases.append(lease)
        await super().create_saga(
            saga_id, name, context, owner=owner, lease=lease, trace_context=trace_context
        )

    async def claim(self, saga_id: uuid.UUID, owner: str, lease: datetime.timedelta) -> bool:
        self.leases.append(lease)
        return await super().claim(saga_id, owner, lease)
