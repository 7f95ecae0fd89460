"""Orchestrated sagas. `SagaMap` binds saga context types to sagas."""

from cqrs.saga.map import SagaMap

__all__ = ("SagaMap",)
