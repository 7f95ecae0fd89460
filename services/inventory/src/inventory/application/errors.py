"""Errors of the inventory's use cases (the domain's own are in `inventory.domain.errors`).

>>> str(UnknownSkuError("tea"))
"no stock is known for sku 'tea'; restock it first (POST /stock/tea/restock)"
"""

from __future__ import annotations

__all__ = ("UnknownSkuError", "StorageUnavailableError")


class UnknownSkuError(LookupError):
    """The sku was never restocked."""

    def __init__(self, sku: str) -> None:
        self.sku = sku
        super().__init__(
            f"no stock is known for sku {sku!r}; restock it first (POST /stock/{sku}/restock)"
        )


class StorageUnavailableError(ConnectionError):
    """The database did not answer; try again once it is back (see GET /health)."""
