"""The inventory tables under Alembic: `inventory migrate` runs these revisions and cqrs-sqla's.

`versions/` holds one revision per change of the inventory tables
(`inventory.adapters.tables`), on the branch `inventory`;
`servicekit.migrations` upgrades it together with the library's branch. A
revision spells its DDL out instead of importing the tables, so it stays what
it was when released; one that creates a table or a column adopts it when an
older release's `create_all` made it already, so such a database upgrades in
place, rows kept.

| revision | change |
|---|---|
| `inventory_0001` | `stock` and `reservations` (the first release) |
| `inventory_0002` | 64-bit `available` and `reserved`, bounded together by 10¹² |
| `inventory_0003` | `stock.sold` (0 for the skus there), never negative |
| `inventory_0004` | `stock.revenue_cents` (0 for the skus there), never negative |

A new revision: copy the newest, give it the next id and `down_revision` the
newest's, and run `test_migrations.py` (it fails while the models and the
revisions disagree).

>>> MIGRATIONS.heads()
('cqrs_sqla_0004', 'inventory_0004')
"""

from __future__ import annotations

import typing

from servicekit.migrations import Migrations

__all__ = ("BRANCH", "MIGRATIONS")

#: The branch label of the inventory revisions.
BRANCH: typing.Final = "inventory"
#: The inventory revisions and the library's, upgraded together.
MIGRATIONS: typing.Final = Migrations("inventory", "inventory.adapters.migrations:versions")
