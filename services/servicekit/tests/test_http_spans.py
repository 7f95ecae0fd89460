"""FastAPI's server span per HTTP request, as the services configure it: named by route,
the parent of what the handler does, the child of the client's traceparent, none for the
health checks."""

from __future__ import annotations

import fastapi
import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan

from cqrs.testing.telemetry import (
    CapturedTelemetry,
    capture_telemetry,
    parent_id,
    span_id,
    trace_id,
)
from servicekit.telemetry import HTTP_TELEMETRY

CLIENT_TRACE = 0x0AF7651916CD43DD8448EB211C80319C
CLIENT_SPAN = 0xB7AD6B7169203331


@pytest.fixture
def captured() -> CapturedTelemetry:
    telemetry = capture_telemetry()
    telemetry.clear()
    return telemetry


def traced_app() -> fastapi.FastAPI:
    app = fastapi.FastAPI(telemetry=HTTP_TELEMETRY)
    tracer = trace.get_tracer("test")

    @app.post("/orders/{order_id}")
    async def place(order_id: str) -> dict[str, str]:  # pyright: ignore[reportUnusedFunction]
        with tracer.start_as_current_span("send PlaceOrder"):
            return {"order_id": order_id}

    @app.get("/health")
    async def health() -> dict[str, str]:  # pyright: ignore[reportUnusedFunction]
        return {"status": "ok"}

    @app.get("/broken")
    async def broken() -> fastapi.Response:  # pyright: ignore[reportUnusedFunction]
        return fastapi.Response(status_code=503)

    return app


def ancestors(span: ReadableSpan, spans: list[ReadableSpan]) -> list[int]:
    """The span ids above `span`, its parent first."""
    by_id = {span_id(each): each for each in spans}
    found: list[int] = []
    parent = parent_id(span)
    while parent is not None:
        found.append(parent)
        parent = parent_id(by_id[parent]) if parent in by_id else None
    return found


async def request(method: str, path: str, headers: dict[str, str] | None = None) -> int:
    transport = httpx.ASGITransport(app=traced_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return (await client.request(method, path, headers=headers)).status_code


async def test_a_request_is_a_server_span_named_by_its_route_around_the_handling(
    captured: CapturedTelemetry,
) -> None:
    assert await request("POST", "/orders/o-1") == 200

    (server,) = [span for span in captured.spans() if span.kind is trace.SpanKind.SERVER]
    (handling,) = captured.spans("send PlaceOrder")
    assert server.name == "POST /orders/{order_id}"
    assert server.kind is trace.SpanKind.SERVER
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/orders/{order_id}"
    assert server.attributes["url.path"] == "/orders/o-1"
    assert server.attributes["http.response.status_code"] == 200
    assert span_id(server) in ancestors(handling, captured.spans())
    assert parent_id(server) is None


async def test_the_span_continues_the_clients_trace(captured: CapturedTelemetry) -> None:
    traceparent = f"00-{CLIENT_TRACE:032x}-{CLIENT_SPAN:016x}-01"

    await request("POST", "/orders/o-2", headers={"traceparent": traceparent})

    (server,) = [span for span in captured.spans() if span.kind is trace.SpanKind.SERVER]
    assert (trace_id(server), parent_id(server)) == (CLIENT_TRACE, CLIENT_SPAN)


async def test_a_5xx_is_an_error_and_health_checks_get_no_span(
    captured: CapturedTelemetry,
) -> None:
    assert await request("GET", "/health") == 200
    assert await request("GET", "/broken") == 503

    (broken,) = [span for span in captured.spans() if span.kind is trace.SpanKind.SERVER]
    assert broken.name == "GET /broken"
    assert broken.status.status_code is trace.StatusCode.ERROR
