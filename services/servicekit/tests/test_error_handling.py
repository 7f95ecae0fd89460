"""Every error answered as a problem: 4xx saying what to fix, 5xx without internals."""

from __future__ import annotations

import asyncio
import logging
import typing

import fastapi
import httpx
import pytest

from servicekit import PROBLEM_JSON, VALIDATION_ERROR
from servicekit.problems import MAX_ISSUES

from .conftest import served


def assert_problem(response: httpx.Response, status: int) -> dict[str, typing.Any]:
    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_JSON
    body = response.json()
    assert body["status"] == status
    assert isinstance(body["title"], str)
    assert isinstance(body["detail"], str)
    return body


async def test_a_request_breaking_the_schema_is_a_422_listing_each_issue(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/brew", json={"cups": "3", "blend": "x" * 500})

    body = assert_problem(response, 422)
    assert body["type"] == VALIDATION_ERROR
    assert [(error["loc"], error["type"]) for error in body["errors"]] == [
        (["body", "cups"], "int_type"),
        (["body", "blend"], "string_too_long"),
    ]
    assert "x" * 20 not in response.text  # the refused value is not echoed back


async def test_a_validation_problem_lists_a_bounded_number_of_issues(
    client: httpx.AsyncClient,
) -> None:
    brews: list[dict[str, object]] = [{}] * 30  # two issues each
    response = await client.post("/brews", json=brews)

    body = assert_problem(response, 422)
    assert len(body["errors"]) == MAX_ISSUES
    assert f"the first {MAX_ISSUES} of 60 issues" in body["detail"]


async def test_a_client_error_answers_its_status_with_its_message(
    client: httpx.AsyncClient,
) -> None:
    body = assert_problem(await client.get("/fail/out-of-tea"), 404)

    assert body == {
        "type": "about:blank",
        "title": "Not Found",
        "status": 404,
        "detail": "no tea left; buy some",
    }


async def test_a_client_error_with_a_detail_of_its_own_hides_its_message(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/fail/secret")

    assert assert_problem(response, 422)["detail"] == "the teapot refused a value"
    assert "hunter2" not in response.text


@pytest.mark.parametrize(("how", "status"), [("database", 503), ("bug", 500)])
async def test_a_server_side_failure_is_logged_and_answered_without_internals(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, how: str, status: int
) -> None:
    with caplog.at_level(logging.ERROR, logger="servicekit.http"):
        response = await client.get(f"/fail/{how}")

    body = assert_problem(response, status)
    assert "teapot" in str(body["detail"])
    assert "db.internal" not in response.text
    assert "0xdeadbeef" not in response.text
    [record] = caplog.records
    assert record.getMessage() == f"GET /fail/{how} failed"
    assert record.exc_info is not None


async def test_an_unknown_route_and_a_wrong_method_are_problems(
    client: httpx.AsyncClient,
) -> None:
    assert_problem(await client.get("/nowhere"), 404)
    wrong_method = await client.delete("/ok")
    assert_problem(wrong_method, 405)
    assert wrong_method.headers["allow"] == "GET"


async def exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str
) -> tuple[int, bytes]:
    """One GET on an open HTTP/1.1 connection: (status, body)."""
    writer.write(f"GET {path} HTTP/1.1\r\nHost: teapot\r\n\r\n".encode())
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in header_lines if line)
    body = await reader.readexactly(int(headers["content-length"]))
    return int(status_line.split()[1]), body


async def test_the_connection_stays_open_after_a_500(app: fastapi.FastAPI) -> None:
    async with served(app) as (host, port):
        reader, writer = await asyncio.open_connection(host, port)
        try:
            failed = await asyncio.wait_for(exchange(reader, writer, "/fail/bug"), 10)
            # The same connection serves the next request.
            after = await asyncio.wait_for(exchange(reader, writer, "/ok"), 10)
        finally:
            writer.close()
            await writer.wait_closed()

    assert failed[0] == 500
    assert after == (200, b'{"ok":"yes"}')
