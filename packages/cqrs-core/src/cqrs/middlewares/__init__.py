"""Middlewares: code around every message a mediator handles."""

from cqrs.middlewares.base import HandleType, Middleware
from cqrs.middlewares.logging import LoggingMiddleware

__all__ = ("Middleware", "HandleType", "LoggingMiddleware")
