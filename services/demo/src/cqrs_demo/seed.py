"""The demo's starting stock: a few SKUs restocked through inventory's HTTP API.

Only SKUs inventory does not know yet are restocked, so a second run on the
same data keeps what the first run's orders left.

```
restock_new_skus("http://127.0.0.1:8001", {"tea": 100, "cup": 20}, operator_token)
# {"tea": 100, "cup": 20} on a fresh database, {} on the next run
```
"""

from __future__ import annotations

import collections.abc

from cqrs_demo.errors import DemoError
from cqrs_demo.webapi import call_json

__all__ = ("DEMO_STOCK", "restock_new_skus")

#: What the demo starts with: SKU -> quantity.
DEMO_STOCK: dict[str, int] = {"tea": 100, "cup": 20, "kettle": 5}


def restock_new_skus(
    inventory_url: str, stock: collections.abc.Mapping[str, int], token: str
) -> dict[str, int]:
    """Restock each SKU of `stock` that inventory answers 404 for, as the operator holding
    `token` (scope `stock.restock`); returns those restocked."""
    restocked: dict[str, int] = {}
    for sku, quantity in stock.items():
        status, body = call_json("GET", f"{inventory_url}/stock/{sku}")
        if status == 200:
            continue
        if status != 404:
            raise DemoError(f"GET /stock/{sku} answered {status} {body}; is inventory healthy?")
        status, body = call_json(
            "POST",
            f"{inventory_url}/stock/{sku}/restock",
            {"quantity": quantity},
            headers={"Authorization": f"Bearer {token}"},
        )
        if status != 200:
            raise DemoError(f"restocking {sku} answered {status} {body}; see inventory's output.")
        restocked[sku] = quantity
    return restocked
