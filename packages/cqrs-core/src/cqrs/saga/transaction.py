"""`SagaTransaction`: python-cqrs's way to run one saga without a mediator.

`saga.transaction(...)` returns one; iterating it runs the saga step by
step on the engine (`SagaRunner`), so every guarantee of the engine holds.
An exception raised in the `async with` block between two steps fails the
saga and compensates what was done, as in python-cqrs; leaving the loop early
(`break`) only stops the saga, which recovery then resumes.

>>> import asyncio, dataclasses
>>> from cqrs.saga.models import SagaContext
>>> from cqrs.saga.saga import Saga
>>> from cqrs.saga.step import SagaStepHandler, SagaStepResult
>>> from cqrs.saga.storage.memory import MemorySagaStorage
>>> @dataclasses.dataclass
... class Ctx(SagaContext):
...     done: bool = False
>>> class Finish(SagaStepHandler[Ctx, None]):
...     async def act(self, context: Ctx) -> SagaStepResult[Ctx, None]:
...         context.done = True
...         return self._generate_step_result(None)
>>> class DocSaga(Saga[Ctx]):
...     steps = [Finish]
>>> async def run() -> list[str]:
...     async with DocSaga().transaction(Ctx(), None, MemorySagaStorage()) as transaction:
...         return [result.step_type.__name__ async for result in transaction]
>>> asyncio.run(run())
['Finish']
"""

from __future__ import annotations

import types
import typing
import uuid

from cqrs.container.resolve import as_container
from cqrs.saga.execution import DEFAULT_COMPENSATION, SagaRunner
from cqrs.saga.models import SagaContext
from cqrs.saga.saga import Saga
from cqrs.saga.step import ContextT, SagaStepResult
from cqrs.saga.storage.protocol import ISagaStorage

__all__ = ("SagaTransaction",)

_Result = SagaStepResult[typing.Any, typing.Any]


class SagaTransaction(typing.Generic[ContextT]):
    """One run of one saga: use it in `async with`, iterate it for step results.

    `saga_id` is a new id when omitted; an existing unfinished saga resumes.
    A failing step raises its error out of the loop after compensation.
    """

    def __init__(
        self,
        saga_type: type[Saga[ContextT]],
        context: ContextT,
        container: object | None,
        storage: ISagaStorage,
        saga_id: uuid.UUID | None = None,
        compensation_retry_count: int | None = None,
        compensation_retry_delay: float | None = None,
        compensation_retry_backoff: float | None = None,
    ) -> None:
        self.saga_id = saga_id or uuid.uuid4()
        self._context: SagaContext = context
        self._runner = SagaRunner(
            saga_type,
            as_container(container),
            storage,
            context_type=type(context),
            compensation=DEFAULT_COMPENSATION.with_retry(
                compensation_retry_count, compensation_retry_delay, compensation_retry_backoff
            ),
        )
        self._steps: typing.AsyncGenerator[_Result, None] | None = None
        self._finished = False

    async def __aenter__(self) -> SagaTransaction[ContextT]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: types.TracebackType | None,
    ) -> None:
        steps, self._steps = self._steps, None
        if steps is None or self._finished:
            return
        if isinstance(exc, Exception):
            # The block failed between two steps: the engine fails the saga and
            # compensates, then raises `exc` back, which is propagating anyway.
            try:
                await steps.athrow(exc)
            except Exception as thrown:
                if thrown is not exc:
                    raise
        await steps.aclose()

    def __aiter__(self) -> SagaTransaction[ContextT]:
        return self

    async def __anext__(self) -> SagaStepResult[ContextT, typing.Any]:
        if self._steps is None:
            self._steps = self._runner.stream(self._context, self.saga_id)
        try:
            return await self._steps.__anext__()
        except BaseException:
            # Done (StopAsyncIteration) or failed after compensating: nothing left to undo.
            self._finished = True
            raise
