"""Request bodies are JSON (415 otherwise) and bounded (413), before a route reads them."""

from __future__ import annotations

import collections.abc
import json

import httpx

from servicekit import PROBLEM_JSON

from .conftest import MAX_BODY_BYTES

BREW = {"cups": 2, "blend": "assam"}


def padded(size: int) -> bytes:
    """A valid brew whose JSON is `size` bytes long (the route ignores the padding)."""
    body = json.dumps({**BREW, "padding": ""})
    return json.dumps({**BREW, "padding": "x" * (size - len(body))}).encode()


async def test_a_body_at_the_limit_is_served(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/brew", content=padded(MAX_BODY_BYTES), headers={"content-type": "application/json"}
    )
    assert (response.status_code, response.json()) == (200, {"cups": 2})


async def test_a_body_declared_over_the_limit_is_a_413(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/brew", content=padded(MAX_BODY_BYTES + 1), headers={"content-type": "application/json"}
    )

    assert (response.status_code, response.headers["content-type"]) == (413, PROBLEM_JSON)
    assert str(MAX_BODY_BYTES) in response.json()["detail"]


async def test_a_chunked_body_is_cut_off_once_over_the_limit(client: httpx.AsyncClient) -> None:
    sent: list[int] = []

    async def chunks() -> collections.abc.AsyncIterator[bytes]:
        body = padded(10 * MAX_BODY_BYTES)
        for start in range(0, len(body), 100):
            sent.append(start)
            yield body[start : start + 100]

    response = await client.post(
        "/brew", content=chunks(), headers={"content-type": "application/json"}
    )

    assert (response.status_code, response.headers["content-type"]) == (413, PROBLEM_JSON)
    assert len(sent) < 20  # reading stopped soon after the limit, not at the end


async def test_a_body_that_is_not_json_is_a_415(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/brew", content=json.dumps(BREW), headers={"content-type": "text/plain"}
    )

    assert (response.status_code, response.headers["content-type"]) == (415, PROBLEM_JSON)
    assert "application/json" in response.json()["detail"]


async def test_json_with_parameters_or_a_json_suffix_is_json(client: httpx.AsyncClient) -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = await client.post(
            "/brew", content=json.dumps(BREW), headers={"content-type": content_type}
        )
        assert response.status_code == 200, content_type
