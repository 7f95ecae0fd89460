"""Restocking on the running system is an operator's: refused without a token (401) or with
one lacking the scope (403), and done with the token the launcher generates (and prints).
"""

from __future__ import annotations

import collections.abc

import httpx
import pytest

from cqrs_demo import ReferenceSystem
from servicekit import PROBLEM_JSON
from servicekit.auth import new_token

from .running import started_system

#: An operator of the console only: a valid token, without scope stock.restock.
CONSOLE_ONLY = new_token()


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> collections.abc.Iterator[ReferenceSystem]:
    folder = tmp_path_factory.mktemp("operator-tokens")
    environment = {"OPERATOR_TOKENS": f"ann:{CONSOLE_ONLY}:admin"}
    with started_system("sqlite", folder, environment) as system:
        yield system


def test_a_restock_needs_the_operators_token_with_its_scope(
    system: ReferenceSystem, sku: str
) -> None:
    restock = f"{system.url('inventory')}/stock/{sku}/restock"
    with httpx.Client(timeout=30.0) as http:
        anonymous = http.post(restock, json={"quantity": 5})
        unknown = http.post(restock, json={"quantity": 5}, headers=bearer(new_token()))
        console_only = http.post(restock, json={"quantity": 5}, headers=bearer(CONSOLE_ONLY))
        nothing_yet = http.get(f"{system.url('inventory')}/stock/{sku}")
        done = http.post(restock, json={"quantity": 5}, headers=system.config.operator_headers)

    for refused, status in ((anonymous, 401), (unknown, 401), (console_only, 403)):
        assert (refused.status_code, refused.headers["content-type"]) == (status, PROBLEM_JSON)
        assert refused.headers["www-authenticate"].startswith("Bearer")
    assert nothing_yet.status_code == 404
    assert done.status_code == 200, done.text
    assert done.json()["available"] == 5
    system.supervisor.check()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
