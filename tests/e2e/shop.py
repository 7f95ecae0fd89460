"""`Shop`: the end-to-end tests' client of a running reference system, over httpx.

Every wait polls with a deadline and, when it runs out, fails with the last
answer and the end of each process's output.
"""

from __future__ import annotations

import asyncio
import collections.abc
import time
import typing

import httpx

from cqrs_demo import PROCESSES, ReferenceSystem

#: Seconds between two polls.
POLL_INTERVAL = 0.2
#: Default deadline of a wait for an order's final status, in seconds.
FINAL_TIMEOUT = 60.0
FINAL_STATUSES = frozenset({"confirmed", "rejected"})

Json = dict[str, typing.Any]


class Shop:
    """Places orders and reads stock on `system` through `http`."""

    def __init__(self, http: httpx.AsyncClient, system: ReferenceSystem) -> None:
        self.http = http
        self.system = system
        self.orders_url = system.url("orders")
        self.inventory_url = system.url("inventory")

    async def restock(self, sku: str, quantity: int) -> Json:
        response = await self.http.post(
            f"{self.inventory_url}/stock/{sku}/restock",
            json={"quantity": quantity},
            headers=self.system.config.operator_headers,
        )
        assert response.status_code == 200, response.text
        return response.json()

    async def stock(self, sku: str) -> Json:
        response = await self.http.get(f"{self.inventory_url}/stock/{sku}")
        assert response.status_code == 200, response.text
        return response.json()

    async def place_order(
        self,
        sku: str,
        quantity: int,
        unit_price: str = "1.00",
        customer: str = "e2e",
        idempotency_key: str | None = None,
    ) -> str:
        """POST /orders with one item (under `idempotency_key`, if given); returns the
        order's id (asserting the 202)."""
        body = {
            "customer_id": customer,
            "items": [{"sku": sku, "quantity": quantity, "unit_price": unit_price}],
        }
        headers = {} if idempotency_key is None else {"Idempotency-Key": idempotency_key}
        response = await self.http.post(f"{self.orders_url}/orders", json=body, headers=headers)
        assert response.status_code == 202, response.text
        answer = response.json()
        assert answer["status"] == "pending"
        assert response.headers["location"] == f"/orders/{answer['order_id']}"
        return answer["order_id"]

    async def customer_orders(self, customer: str) -> list[Json]:
        """GET /orders?customer_id=: the customer's latest orders (the read side)."""
        response = await self.http.get(
            f"{self.orders_url}/orders", params={"customer_id": customer}
        )
        assert response.status_code == 200, response.text
        return response.json()["orders"]

    async def order(self, order_id: str) -> Json:
        response = await self.http.get(f"{self.orders_url}/orders/{order_id}")
        assert response.status_code == 200, response.text
        return response.json()

    async def wait_until_final(self, order_id: str, timeout: float = FINAL_TIMEOUT) -> Json:
        """Poll GET /orders/{id} until the order is confirmed or rejected."""
        return (await self.wait_until_all_final([order_id], timeout))[0]

    async def wait_until_all_final(
        self, order_ids: collections.abc.Sequence[str], timeout: float = FINAL_TIMEOUT
    ) -> list[Json]:
        """Poll until every order of `order_ids` is final; the orders, in the same order."""
        deadline = time.monotonic() + timeout
        final: dict[str, Json] = {}
        while True:
            waiting = [order_id for order_id in order_ids if order_id not in final]
            for order in await asyncio.gather(*(self._order_or_none(i) for i in waiting)):
                if order is not None and order["status"] in FINAL_STATUSES:
                    final[order["order_id"]] = order
            if len(final) == len(order_ids):
                return [final[order_id] for order_id in order_ids]
            if time.monotonic() >= deadline:
                pending = [order_id for order_id in order_ids if order_id not in final]
                raise AssertionError(
                    f"{len(pending)} of {len(order_ids)} orders still not final after "
                    f"{timeout:g}s, e.g. {pending[:3]}\n{self.diagnostics()}"
                )
            await asyncio.sleep(POLL_INTERVAL)

    async def _order_or_none(self, order_id: str) -> Json | None:
        # While orders restarts, its port refuses connections: keep polling.
        try:
            response = await self.http.get(f"{self.orders_url}/orders/{order_id}")
        except httpx.TransportError:
            return None
        assert response.status_code == 200, response.text
        return response.json()

    async def wait_for_stock(
        self,
        sku: str,
        condition: collections.abc.Callable[[Json], bool],
        timeout: float = FINAL_TIMEOUT,
    ) -> Json:
        """Poll GET /stock/{sku} until `condition(stock)` holds; returns that stock."""
        return await self._poll(lambda: self.stock(sku), condition, timeout, f"stock of {sku}")

    async def wait_until_sold(self, sku: str, sold: int) -> Json:
        """Poll GET /stock/{sku} until `sold` units are sold (the confirmed orders'
        notifications reached the inventory); returns that stock."""
        return await self.wait_for_stock(sku, lambda stock: stock["sold"] == sold)

    async def wait_for_order(
        self,
        order_id: str,
        condition: collections.abc.Callable[[Json], bool],
        timeout: float = FINAL_TIMEOUT,
    ) -> Json:
        """Poll GET /orders/{id} until `condition(order)` holds; returns that order.

        An order's status turns final a moment before its saga logs the last
        step (the step writes the outcome, then the engine logs it): a test
        about the history waits for the entry it needs.
        """

        async def read() -> Json:
            return await self._order_or_none(order_id) or {}

        return await self._poll(read, condition, timeout, f"order {order_id}")

    async def _poll(
        self,
        read: collections.abc.Callable[[], collections.abc.Awaitable[Json]],
        condition: collections.abc.Callable[[Json], bool],
        timeout: float,
        what: str,
    ) -> Json:
        deadline = time.monotonic() + timeout
        while True:
            value = await read()
            if condition(value):
                return value
            if time.monotonic() >= deadline:
                raise AssertionError(
                    f"{what} still {value} after {timeout:g}s\n{self.diagnostics()}"
                )
            await asyncio.sleep(POLL_INTERVAL)

    def diagnostics(self) -> str:
        """The end of every process's output, for failure messages."""
        return "\n".join(
            f"--- {name} (exit code {self.system.process(name).returncode}):\n"
            f"{self.system.process(name).tail()}"
            for name in PROCESSES
        )
