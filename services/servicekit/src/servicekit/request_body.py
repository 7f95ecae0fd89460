"""`RequestBodyLimits`: a request body is JSON (else 415) and at most `max_bytes` (else 413).

A body declared too large by its `Content-Length` is refused before a byte
of it is read; one sent in chunks is counted as the app reads it and refused
as soon as it passes the limit, so no route ever holds more than `max_bytes`
of it. Only bodies of POST, PUT and PATCH requests are checked for JSON.

```
app.add_middleware(RequestBodyLimits, max_bytes=64 * 1024)
```
"""

from __future__ import annotations

import email.message
import typing

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.problems import problem

__all__ = ("BodyTooLargeError", "RequestBodyLimits", "is_json")

_JSON_METHODS: typing.Final = frozenset({"POST", "PUT", "PATCH"})


class BodyTooLargeError(HTTPException):
    """Raised to the app reading a chunked body once it passes the limit; answered 413."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"the request body is over {max_bytes} bytes; send a smaller one")


def is_json(content_type: str) -> bool:
    """Whether `content_type` is JSON: `application/json` or `application/...+json`.

    >>> is_json("application/json; charset=utf-8"), is_json("application/problem+json")
    (True, True)
    >>> is_json("text/plain"), is_json("application/x-www-form-urlencoded")
    (False, False)
    """
    parsed = email.message.Message()
    parsed["content-type"] = content_type
    subtype = parsed.get_content_subtype()
    return parsed.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


class RequestBodyLimits:
    """ASGI middleware refusing request bodies over `max_bytes` (413) and, on POST, PUT
    and PATCH, bodies that are not JSON (415), each with a problem."""

    def __init__(self, app: ASGIApp, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        length = _declared_length(headers)
        has_body = (length or 0) > 0 or "chunked" in headers.get("transfer-encoding", "")
        if length is not None and length > self.max_bytes:
            error = BodyTooLargeError(self.max_bytes)
            await problem(413, error.detail)(scope, receive, send)
            return
        content_type = headers.get("content-type", "")
        if has_body and scope["method"] in _JSON_METHODS and not is_json(content_type):
            detail = (
                f"the request body must be JSON (Content-Type: application/json), "
                f"not {content_type[:100]!r}"
            )
            await problem(415, detail)(scope, receive, send)
            return
        await self.app(scope, self._counting(receive), send)

    def _counting(self, receive: Receive) -> Receive:
        received = 0

        async def receive_counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLargeError(self.max_bytes)
            return message

        return receive_counted


def _declared_length(headers: Headers) -> int | None:
    """The `Content-Length`, or `None` when absent or not a number (the server refuses those)."""
    try:
        return int(headers["content-length"])
    except (KeyError, ValueError):
        return None
