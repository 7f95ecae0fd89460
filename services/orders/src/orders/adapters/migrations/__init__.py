"""The orders tables under Alembic: `orders migrate` runs these revisions and cqrs-sqla's.

`versions/` holds one revision per change of the orders tables
(`orders.adapters.tables`), on the branch `orders`; `servicekit.migrations`
upgrades it together with the library's branch. A revision spells its DDL
out instead of importing the tables, so it stays what it was when released;
one that creates a table adopts it when an older release's `create_all`
made it already, so such a database upgrades in place, rows kept.

| revision | change |
|---|---|
| `orders_0001` | `orders` and `order_items` (the first release) |
| `orders_0002` | the read side's `order_summaries`, filled from the orders there |

A new revision: copy the newest, give it the next id and `down_revision` the
newest's, and run `test_migrations.py` (it fails while the models and the
revisions disagree).

>>> MIGRATIONS.heads()
('cqrs_sqla_0004', 'orders_0002')
"""

from __future__ import annotations

import typing

from servicekit.migrations import Migrations

__all__ = ("BRANCH", "MIGRATIONS")

#: The branch label of the orders revisions.
BRANCH: typing.Final = "orders"
#: The orders revisions and the library's, upgraded together.
MIGRATIONS: typing.Final = Migrations("orders", "orders.adapters.migrations:versions")
