"""Requests (commands and queries), their handlers, map, mediators and bootstrap."""

from cqrs.requests.cor_request_handler import CORRequestHandler
from cqrs.requests.fallback import RequestHandlerFallback
from cqrs.requests.map import RequestMap
from cqrs.requests.mediator import RequestMediator, StreamingRequestMediator
from cqrs.requests.request import DCRequest, IRequest, PydanticRequest, Request
from cqrs.requests.request_handler import (
    RequestHandler,
    StreamingRequestHandler,
    SyncRequestHandler,
)

__all__ = (
    "IRequest",
    "Request",
    "PydanticRequest",
    "DCRequest",
    "RequestHandler",
    "SyncRequestHandler",
    "StreamingRequestHandler",
    "CORRequestHandler",
    "RequestHandlerFallback",
    "RequestMap",
    "RequestMediator",
    "StreamingRequestMediator",
)
