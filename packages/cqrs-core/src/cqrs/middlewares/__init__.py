"""Middlewares: code around every message a mediator handles."""

from cqrs.middlewares.base import HandleType, Middleware, MiddlewareChain
from cqrs.middlewares.logging import LoggingMiddleware

__all__ = ("Middleware", "MiddlewareChain", "HandleType", "LoggingMiddleware")
