"""A lean HTTP/1.1 client on asyncio streams, and a Server-Sent Events reader, for
`bench/e2e.py`'s workers.

The benchmark's client runs on the two cores it measures: every millisecond of
CPU it spends per order is taken from the system under test. httpx spent
about 7.5 ms per order (a POST and an event stream); this client does the
same exchanges with a few parsing steps of its own, on whatever loop runs it
(uvloop in `bench/e2e.py`).

What it speaks is what the benchmark needs, done by the book (RFC 9112): a
request with an optional JSON body; a response's status line and headers, and
its body framed by `Transfer-Encoding: chunked` (chunk extensions and trailers
skipped), `Content-Length`, no body (HEAD, 204, 304) or the connection's end;
interim 1xx answers skipped. Every read is bounded (`MAX_HEAD`, `MAX_BODY`,
`MAX_CHUNK`, `MAX_EVENT_LINE`): an answer over a bound is a `ProtocolError`,
never a growing buffer.

- `Connection`: one keep-alive connection, reopened when the server closed
  it; `request` sends a request and reads its whole answer.
- `Connection.read_until`: a request whose body is handed over chunk by chunk
  as it comes until the caller has what it waits for; the connection closes
  after, the body read to its end or not.
- `EventParser`: the events of a `text/event-stream` body, fed as it comes.

Failures raise a subclass of `HttpError`: `StatusError` (an answer other than
2xx), `ConnectionLostError` (no connection, or closed or reset mid-answer),
`ProtocolError` (not HTTP/1.1, over a bound, or a body its reader could not
decode), `ResponseTimeoutError` (the exchange took over the connection's
`timeout`). After any of them the connection is closed; the next request
opens another.

```
connection = Connection("127.0.0.1", 8000)
response = await connection.request("POST", "/orders", json_body={"customer_id": "c"})
order_id = response.json()["order_id"]
parser = EventParser()

def status(chunk: bytes) -> str | None:
    return next((e.data for e in parser.feed(chunk) if e.name == "status"), None)

print(await Connection("127.0.0.1", 8000).read_until("GET", f"/orders/{order_id}/events", status))
await connection.close()
```

>>> parser = EventParser()
>>> parser.feed(b"event: status\\r\\ndata: {\\"a\\": 1}\\r")
[]
>>> parser.feed(b"\\n: ping\\n\\n")
[Event(name='status', data='{"a": 1}', id=None)]
"""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import dataclasses
import json
import re
import typing

__all__ = (
    "MAX_BODY",
    "MAX_CHUNK",
    "MAX_EVENT_LINE",
    "MAX_HEAD",
    "Connection",
    "ConnectionLostError",
    "Event",
    "EventParser",
    "HttpError",
    "ProtocolError",
    "Response",
    "ResponseTimeoutError",
    "StatusError",
)

#: The most bytes of a status line and headers (also the longest chunk-size line).
MAX_HEAD: typing.Final = 64 * 1024
#: The most bytes of a whole body `Connection.request` reads.
MAX_BODY: typing.Final = 1024 * 1024
#: The most bytes of one chunk of a chunked body.
MAX_CHUNK: typing.Final = 1024 * 1024
#: The most bytes of one line of an event stream.
MAX_EVENT_LINE: typing.Final = 64 * 1024
#: The most trailer lines after a chunked body.
MAX_TRAILERS: typing.Final = 100

_STATUS_LINE: typing.Final = re.compile(r"HTTP/1\.[01] ([1-9][0-9]{2})(?: .*)?")
_CHUNK_SIZE: typing.Final = re.compile(rb"([0-9A-Fa-f]{1,8})[ \t]*(?:;[^\r\n]*)?\r\n")
_LINE_END: typing.Final = re.compile(rb"\r\n|\r|\n")


class HttpError(Exception):
    """A request that got no usable answer."""


class StatusError(HttpError):
    """The server answered with a status other than 2xx."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status}: {body[:200]!r}")
        self.status = status
        self.body = body


class ConnectionLostError(HttpError):
    """The connection could not be opened, or was closed or reset before the answer ended."""


class ProtocolError(HttpError):
    """The answer is not HTTP/1.1 as this client reads it, or goes over a bound."""


class ResponseTimeoutError(HttpError):
    """The answer did not come within the request's timeout."""


@dataclasses.dataclass(frozen=True)
class Response:
    """A whole answer; `headers` by lower-case name (repeated ones joined by `, `)."""

    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> typing.Any:
        """The body decoded as JSON."""
        return json.loads(self.body)


@dataclasses.dataclass(frozen=True)
class _Head:
    status: int
    headers: dict[str, str]

    @property
    def keeps_alive(self) -> bool:
        return "close" not in self.headers.get("connection", "").lower()


_Streams = tuple[asyncio.StreamReader, asyncio.StreamWriter]
_T = typing.TypeVar("_T")


class Connection:
    """One keep-alive HTTP/1.1 connection to `host`:`port`, opened at the first request,
    used by one request at a time."""

    def __init__(self, host: str, port: int, *, timeout: float = 30.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self._streams: _Streams | None = None

    async def request(
        self,
        method: str,
        target: str,
        *,
        json_body: object = None,
        headers: collections.abc.Mapping[str, str] | None = None,
    ) -> Response:
        """Send a request (`json_body` as JSON unless None) and read its whole answer
        (at most `MAX_BODY` bytes of body); a 2xx answer, else `StatusError`."""
        try:
            with _as_http_errors():
                return await asyncio.wait_for(
                    self._exchange(method, target, json_body, headers), self.timeout
                )
        except StatusError:
            raise  # read whole: the connection can take the next request
        except BaseException:
            await self.close()  # given up mid-answer: what is left on it is unknown
            raise

    async def read_until(
        self,
        method: str,
        target: str,
        found: collections.abc.Callable[[bytes], _T | None],
        *,
        headers: collections.abc.Mapping[str, str] | None = None,
    ) -> _T | None:
        """Send a request and feed its 2xx answer's body to `found`, in the chunks the
        server sent them as they come, until `found` returns a value: that value, or None
        when the body ended first. The connection is closed after, the body read to its
        end or not; the timeout covers the whole exchange."""
        try:
            with _as_http_errors():
                return await asyncio.wait_for(
                    self._read_until(method, target, found, headers), self.timeout
                )
        finally:
            await self.close()

    async def close(self) -> None:
        """Close the connection, if open; the next request opens another."""
        streams, self._streams = self._streams, None
        if streams is not None:
            streams[1].close()
            with contextlib.suppress(OSError):
                await streams[1].wait_closed()

    async def _exchange(
        self,
        method: str,
        target: str,
        json_body: object,
        headers: collections.abc.Mapping[str, str] | None,
    ) -> Response:
        reader, head = await self._send(method, target, json_body, headers)
        body = await _body(reader, head, method)
        if not head.keeps_alive or _framing(head, method) == "close":
            await self.close()
        if not 200 <= head.status < 300:
            raise StatusError(head.status, body)
        return Response(head.status, head.headers, body)

    async def _read_until(
        self,
        method: str,
        target: str,
        found: collections.abc.Callable[[bytes], _T | None],
        headers: collections.abc.Mapping[str, str] | None,
    ) -> _T | None:
        reader, head = await self._send(method, target, None, headers)
        if not 200 <= head.status < 300:
            raise StatusError(head.status, await _body(reader, head, method))
        async for chunk in _body_chunks(reader, head, method):
            value = found(chunk)
            if value is not None:
                return value
        return None

    async def _send(
        self,
        method: str,
        target: str,
        json_body: object,
        headers: collections.abc.Mapping[str, str] | None,
    ) -> tuple[asyncio.StreamReader, _Head]:
        reader, writer = await self._open()
        writer.write(_request(method, target, self.host, json_body, headers))
        await writer.drain()
        return reader, await _head(reader)

    async def _open(self) -> _Streams:
        if self._streams is not None and self._streams[0].at_eof():
            await self.close()  # the server closed it while it was idle
        if self._streams is None:
            self._streams = await asyncio.open_connection(self.host, self.port, limit=MAX_HEAD)
        return self._streams


@contextlib.contextmanager
def _as_http_errors() -> collections.abc.Generator[None]:
    """Raise the block's failures as `HttpError`s."""
    try:
        yield
    except HttpError:
        raise
    except (asyncio.IncompleteReadError, ConnectionError) as error:
        raise ConnectionLostError(str(error) or type(error).__name__) from error
    except asyncio.LimitOverrunError as error:
        raise ProtocolError(f"a line over {MAX_HEAD} bytes") from error
    except asyncio.TimeoutError as error:
        raise ResponseTimeoutError("no answer within the timeout") from error
    except OSError as error:  # could not connect
        raise ConnectionLostError(str(error)) from error
    except ValueError as error:  # an undecodable head or chunk
        raise ProtocolError(str(error)) from error


def _request(
    method: str,
    target: str,
    host: str,
    json_body: object,
    headers: collections.abc.Mapping[str, str] | None,
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    body = b"" if json_body is None else json.dumps(json_body).encode()
    if json_body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return "\r\n".join([*lines, "", ""]).encode() + body


async def _head(reader: asyncio.StreamReader) -> _Head:
    """The status and headers of the final answer (interim 1xx ones skipped)."""
    while True:
        raw = await reader.readuntil(b"\r\n\r\n")
        status_line, *lines = raw[:-4].decode("latin-1").split("\r\n")
        matched = _STATUS_LINE.fullmatch(status_line)
        if matched is None:
            raise ProtocolError(f"not an HTTP/1.1 status line: {status_line[:100]!r}")
        status = int(matched.group(1))
        if status >= 200:  # a 101 answers only an Upgrade, which this client never asks
            return _Head(status, _headers(lines))


def _headers(lines: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for line in lines:
        name, colon, value = line.partition(":")
        if not colon or not name or name != name.strip():
            raise ProtocolError(f"not a header line: {line[:100]!r}")
        name, value = name.lower(), value.strip()
        headers[name] = f"{headers[name]}, {value}" if name in headers else value
    return headers


_Framing = typing.Literal["none", "chunked", "length", "close"]


def _framing(head: _Head, method: str) -> _Framing:
    """How the body ends (RFC 9112 section 6.3): it has none, after its last chunk, after
    `Content-Length` bytes, or when the server closes the connection."""
    if method == "HEAD" or head.status in (204, 304):
        return "none"
    codings = head.headers.get("transfer-encoding")
    if codings is not None:  # it wins over a Content-Length
        chunked = codings.rsplit(",", 1)[-1].strip().lower() == "chunked"
        return "chunked" if chunked else "close"
    return "length" if "content-length" in head.headers else "close"


async def _body(reader: asyncio.StreamReader, head: _Head, method: str) -> bytes:
    """The whole body, at most `MAX_BODY` bytes."""
    parts: list[bytes] = []
    size = 0
    async for chunk in _body_chunks(reader, head, method):
        size += len(chunk)
        if size > MAX_BODY:
            raise ProtocolError(f"a body over {MAX_BODY} bytes")
        parts.append(chunk)
    return b"".join(parts)


async def _body_chunks(
    reader: asyncio.StreamReader, head: _Head, method: str
) -> collections.abc.AsyncIterator[bytes]:
    """The body as it comes."""
    framing = _framing(head, method)
    if framing == "chunked":
        async for chunk in _chunks(reader):
            yield chunk
    elif framing == "length":
        length = _content_length(head.headers["content-length"])
        if length:
            yield await reader.readexactly(length)
    elif framing == "close":
        while chunk := await reader.read(MAX_CHUNK):
            yield chunk


def _content_length(value: str) -> int:
    # Repeated equal values are allowed (joined by `, `); anything else is an error.
    lengths = {part.strip() for part in value.split(",")}
    if len(lengths) != 1 or not (length := lengths.pop()).isdigit() or len(length) > 9:
        raise ProtocolError(f"not a Content-Length: {value[:100]!r}")
    if int(length) > MAX_BODY:
        raise ProtocolError(f"a body over {MAX_BODY} bytes")
    return int(length)


async def _chunks(reader: asyncio.StreamReader) -> collections.abc.AsyncIterator[bytes]:
    """The chunks of a chunked body, then its trailers read and dropped."""
    while True:
        line = await reader.readuntil(b"\r\n")
        matched = _CHUNK_SIZE.fullmatch(line)
        if matched is None:
            raise ProtocolError(f"not a chunk-size line: {line[:100]!r}")
        size = int(matched.group(1), 16)
        if size > MAX_CHUNK:
            raise ProtocolError(f"a chunk over {MAX_CHUNK} bytes")
        if size == 0:
            break
        data = await reader.readexactly(size + 2)
        if data[-2:] != b"\r\n":
            raise ProtocolError("a chunk not followed by CRLF")
        yield data[:-2]
    for _ in range(MAX_TRAILERS + 1):
        if await reader.readuntil(b"\r\n") == b"\r\n":
            return
    raise ProtocolError(f"over {MAX_TRAILERS} trailer lines")


@dataclasses.dataclass(frozen=True)
class Event:
    """One Server-Sent Event: its `event` name (`message` when it has none), its data
    lines joined by newlines, its `id` (None when it has none)."""

    name: str
    data: str
    id: str | None


class EventParser:
    """The events of a `text/event-stream` body (the WHATWG HTML standard's event stream
    format), from its bytes fed as they come; lines end in CRLF, LF or CR, comments
    (`:` lines) are skipped, an event is given when its blank line comes."""

    def __init__(self) -> None:
        self._pending = b""
        self._after_cr = False
        self._name = ""
        self._data: list[str] = []
        self._id: str | None = None

    def feed(self, data: bytes) -> list[Event]:
        """The events that `data` completes (`ProtocolError` for a line over
        `MAX_EVENT_LINE` bytes)."""
        if self._after_cr and data.startswith(b"\n"):
            data = data[1:]  # the second half of a CRLF split between two feeds
        self._after_cr = data.endswith(b"\r")
        *lines, rest = _LINE_END.split(self._pending + data)
        if len(rest) > MAX_EVENT_LINE:
            raise ProtocolError(f"an event stream line over {MAX_EVENT_LINE} bytes")
        self._pending = rest
        events: list[Event] = []
        for line in lines:
            event = self._line(line.decode("utf-8", "replace"))
            if event is not None:
                events.append(event)
        return events

    def _line(self, line: str) -> Event | None:
        if not line:
            return self._dispatch()
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            self._name = value
        elif field == "data":
            self._data.append(value)
        elif field == "id" and "\0" not in value:
            self._id = value
        return None  # comments (empty field), `retry` and unknown fields

    def _dispatch(self) -> Event | None:
        data, name = self._data, self._name
        self._data, self._name = [], ""
        if not data:
            return None  # an event without data is not dispatched
        return Event(name or "message", "\n".join(data), self._id)
