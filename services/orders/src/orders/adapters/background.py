"""`BackgroundSagas`: the application's `SagaLauncher` on asyncio tasks.

A launched saga runs its first pass (up to the reserve step's command) in a
task of the running event loop; replies and the recovery worker take it on
from there. `close()` waits briefly for running passes on shutdown: a pass cut
short is finished by the recovery worker.

The saga is stored already, so a pass resumes it (`recover_saga`) rather than
asking `SagaMediator.stream` to create it: that would first try an INSERT that
must fail, and on SQLite a failed statement leaves a cursor behind whose
garbage collection can block the event loop (see the README's notes).
"""

from __future__ import annotations

import asyncio
import logging
import typing
import uuid

from cqrs.saga.errors import SagaConcurrencyError

__all__ = ("BackgroundSagas", "Resume")

logger = logging.getLogger("orders.sagas")

#: Runs stored saga `saga_id` as far as it goes (e.g. `cqrs.saga.recovery.recover_saga`).
Resume = typing.Callable[[uuid.UUID], typing.Awaitable[object]]


class BackgroundSagas:
    """Runs stored sagas in tasks, keeping a reference to each until it ends."""

    def __init__(self, resume: Resume) -> None:
        self._resume = resume
        self._tasks: set[asyncio.Task[None]] = set()

    def launch(self, saga_id: uuid.UUID) -> None:
        """Start a pass over saga `saga_id` (already stored) and return at once."""
        task = asyncio.get_running_loop().create_task(self._run(saga_id))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def join(self) -> None:
        """Wait until every pass launched so far has ended."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def close(self, timeout: float = 5.0) -> None:
        """Wait up to `timeout` seconds for running passes, then cancel the rest."""
        if not self._tasks:
            return
        _, unfinished = await asyncio.wait(set(self._tasks), timeout=timeout)
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)

    async def _run(self, saga_id: uuid.UUID) -> None:
        try:
            await self._resume(saga_id)
        except SagaConcurrencyError:
            logger.info("saga %s is run by another worker", saga_id)
        except Exception:
            # Compensated and stored by the engine; the recovery worker retries what is left.
            logger.exception("saga %s stopped", saga_id)
