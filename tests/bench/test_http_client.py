"""bench/http_client.py, the benchmark's HTTP/1.1 client, against a real uvicorn server:
chunked and Content-Length bodies, keep-alive, Server-Sent Events as the orders service
writes them, and the failures a worker turns into an outcome."""

from __future__ import annotations

import asyncio
import collections.abc
import contextlib
import datetime
import json
import socket

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from bench.http_client import (
    MAX_CHUNK,
    MAX_EVENT_LINE,
    Connection,
    ConnectionLostError,
    Event,
    EventParser,
    ProtocolError,
    ResponseTimeoutError,
    StatusError,
)
from orders.application.watch_order import OrderTransition
from orders.domain.order import OrderStatus
from orders.entrypoints.sse import EventStreamResponse

# The events of one stream, split where a reader could go wrong: a CRLF across two
# chunks, a comment, an event of two data lines, LF and CR line ends.
SPLIT_EVENTS = (
    b"event: transition\r",
    b'\ndata: {"n": 1}\r\nid: 1\r\n\r\n: ping\r\n\r\n',
    b"data: first line\ndata: second line\n\n",
    b'event: status\rdata: {"order_status"',
    b': "confirmed"}\r\r',
)


async def echo(request: Request) -> Response:
    """The JSON body it got and the client's port (one port: one connection)."""
    client = request.client
    assert client is not None
    return JSONResponse({"got": await request.json(), "port": client.port})


async def pieces(request: Request) -> Response:
    """A body in three chunks (no length: uvicorn sends it chunked)."""
    return StreamingResponse(iter([b"one ", b"two ", b"three"]), media_type="text/plain")


async def split_events(request: Request) -> Response:
    return StreamingResponse(iter(SPLIT_EVENTS), media_type="text/event-stream")


async def closing(request: Request) -> Response:
    return JSONResponse(
        {"port": request.client.port if request.client else 0}, headers={"Connection": "close"}
    )


async def broken(request: Request) -> Response:
    """A chunk, then the server gives up mid-body (it closes the connection)."""

    async def body() -> collections.abc.AsyncIterator[bytes]:
        yield b"data: a\n\n"
        raise RuntimeError("the server fails mid-body")

    return StreamingResponse(body(), media_type="text/event-stream")


async def huge_chunk(request: Request) -> Response:
    return StreamingResponse(iter([b"x" * (MAX_CHUNK + 1)]))


async def long_line(request: Request) -> Response:
    return StreamingResponse(iter([b"data: " + b"x" * MAX_EVENT_LINE]))


async def endless(request: Request) -> Response:
    """One event, then nothing, ever."""

    async def body() -> collections.abc.AsyncIterator[bytes]:
        yield b"event: transition\ndata: {}\n\n"
        await asyncio.Event().wait()

    return StreamingResponse(body(), media_type="text/event-stream")


async def order_events(request: Request) -> Response:
    """What `GET /orders/{id}/events` sends for a saga of two transitions."""
    at = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)

    async def transitions() -> collections.abc.AsyncGenerator[OrderTransition, None]:
        for position, status in ((1, OrderStatus.PENDING), (2, OrderStatus.CONFIRMED)):
            yield OrderTransition(
                position=position, order_id="o-1", step="ReserveStock", action="act",
                status="completed", at=at, order_status=status, reason=None,
                last=status is OrderStatus.CONFIRMED,
            )  # fmt: skip

    return EventStreamResponse(transitions(), asyncio.Event())


APP = Starlette(
    routes=[
        Route("/echo", echo, methods=["POST"]),
        Route("/pieces", pieces),
        Route("/split-events", split_events),
        Route("/closing", closing),
        Route("/broken", broken),
        Route("/huge-chunk", huge_chunk),
        Route("/long-line", long_line),
        Route("/endless", endless),
        Route("/order-events", order_events),
    ]
)


@pytest.fixture
async def port() -> collections.abc.AsyncIterator[int]:
    """The port of `APP` under uvicorn on 127.0.0.1, for the test. The socket listens
    before uvicorn starts, so a connection made meanwhile waits in its backlog."""
    listening = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(APP, log_level="critical"))
    serving = asyncio.ensure_future(server.serve(sockets=[listening]))
    try:
        yield listening.getsockname()[1]
    finally:
        server.should_exit = True
        await serving
        listening.close()


@contextlib.asynccontextmanager
async def connected(port: int, timeout: float = 10.0) -> collections.abc.AsyncGenerator[Connection]:
    connection = Connection("127.0.0.1", port, timeout=timeout)
    try:
        yield connection
    finally:
        await connection.close()


def collect(
    events: list[Event], parser: EventParser
) -> collections.abc.Callable[[bytes], str | None]:
    """A `read_until` reader: keeps every event, stops at the `status` event with its data."""

    def found(chunk: bytes) -> str | None:
        for event in parser.feed(chunk):
            events.append(event)
            if event.name == "status":
                return event.data
        return None

    return found


async def test_a_json_post_and_its_answer_on_one_kept_alive_connection(port: int) -> None:
    async with connected(port) as connection:
        first = await connection.request("POST", "/echo", json_body={"order": 1})
        second = await connection.request("POST", "/echo", json_body={"order": [2, "é"]})

    assert first.status == 200
    assert first.headers["content-type"] == "application/json"
    assert int(first.headers["content-length"]) == len(first.body)
    assert first.json()["got"] == {"order": 1}
    assert second.json()["got"] == {"order": [2, "é"]}
    assert second.json()["port"] == first.json()["port"]


async def test_a_chunked_body_comes_whole_or_chunk_by_chunk(port: int) -> None:
    chunks: list[bytes] = []

    def keep(chunk: bytes) -> None:
        chunks.append(chunk)

    async with connected(port) as connection:
        whole = await connection.request("GET", "/pieces")
        ended = await connection.read_until("GET", "/pieces", keep)

    assert whole.headers["transfer-encoding"] == "chunked"
    assert whole.body == b"one two three"
    assert ended is None  # the body ended before `keep` returned a value
    assert b"".join(chunks) == b"one two three"
    assert len(chunks) >= 2


async def test_events_split_anywhere_are_read_until_the_status_event(port: int) -> None:
    events: list[Event] = []

    async with connected(port) as connection:
        status = await connection.read_until("GET", "/split-events", collect(events, EventParser()))

    assert status == '{"order_status": "confirmed"}'
    assert events == [
        Event("transition", '{"n": 1}', "1"),
        Event("message", "first line\nsecond line", "1"),
        Event("status", '{"order_status": "confirmed"}', "1"),
    ]


async def test_the_orders_services_event_stream_is_read_to_its_status(port: int) -> None:
    events: list[Event] = []

    async with connected(port) as connection:
        status = await connection.read_until("GET", "/order-events", collect(events, EventParser()))

    assert status is not None
    assert json.loads(status)["order_status"] == "confirmed"
    assert [(event.name, event.id) for event in events] == [("transition", "1"), ("status", "2")]


async def test_an_answer_other_than_2xx_is_a_status_error_and_the_connection_goes_on(
    port: int,
) -> None:
    async with connected(port) as connection:
        with pytest.raises(StatusError) as raised:
            await connection.request("GET", "/nowhere")
        with pytest.raises(StatusError):
            await connection.read_until("GET", "/nowhere", lambda chunk: chunk)
        after = await connection.request("POST", "/echo", json_body={})

    assert raised.value.status == 404
    assert raised.value.body == b"Not Found"
    assert after.status == 200


async def test_an_answer_that_closes_the_connection_gets_the_next_request_a_new_one(
    port: int,
) -> None:
    async with connected(port) as connection:
        first = await connection.request("GET", "/closing")
        second = await connection.request("GET", "/closing")

    assert first.headers["connection"] == "close"
    assert second.json()["port"] != first.json()["port"]


async def test_a_body_cut_short_is_a_lost_connection(port: int) -> None:
    async with connected(port) as connection:
        with pytest.raises(ConnectionLostError):
            await connection.read_until("GET", "/broken", lambda chunk: None)


async def test_no_server_is_a_lost_connection() -> None:
    unused = socket.create_server(("127.0.0.1", 0))
    closed_port = unused.getsockname()[1]
    unused.close()

    async with connected(closed_port) as connection:
        with pytest.raises(ConnectionLostError):
            await connection.request("GET", "/pieces")


@pytest.mark.parametrize("path", ["/huge-chunk", "/long-line"])
async def test_a_chunk_or_an_event_line_over_its_bound_is_a_protocol_error(
    port: int, path: str
) -> None:
    async with connected(port) as connection:
        with pytest.raises(ProtocolError):
            await connection.read_until("GET", path, collect([], EventParser()))


async def test_a_stream_that_does_not_end_in_time_is_a_timeout(port: int) -> None:
    events: list[Event] = []

    async with connected(port, timeout=0.5) as connection:
        with pytest.raises(ResponseTimeoutError):
            await connection.read_until("GET", "/endless", collect(events, EventParser()))

    assert events == [Event("transition", "{}", None)]


def test_an_event_stream_parser_fed_byte_by_byte_finds_each_event() -> None:
    parser = EventParser()
    found = [event for byte in b"".join(SPLIT_EVENTS) for event in parser.feed(bytes([byte]))]

    assert [event.name for event in found] == ["transition", "message", "status"]


def test_an_event_without_data_is_not_given() -> None:
    parser = EventParser()

    assert parser.feed(b"event: status\nid: 3\n\n") == []
    assert parser.feed(b"data: x\n\n") == [Event("message", "x", "3")]


async def test_an_interim_answer_is_skipped_and_a_body_without_length_ends_at_close() -> None:
    """Against a bare socket server: uvicorn always sends a length or chunks."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nto the end")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    async with server, connected(server.sockets[0].getsockname()[1]) as connection:
        response = await connection.request("GET", "/")

    assert (response.status, response.body) == (200, b"to the end")
