"""Errors of the inventory's use cases (the domain's own are in `inventory.domain.errors`).

>>> str(UnknownSkuError("tea"))
"no stock is known for sku 'tea'; restock it first (POST /stock/tea/restock)"
"""

from __future__ import annotations

__all__ = ("DataRejectedError", "StorageUnavailableError", "UnknownSkuError")


class UnknownSkuError(LookupError):
    """The sku was never restocked."""

    def __init__(self, sku: str) -> None:
        self.sku = sku
        super().__init__(
            f"no stock is known for sku {sku!r}; restock it first (POST /stock/{sku}/restock)"
        )


class StorageUnavailableError(ConnectionError):
    """The database did not answer; try again once it is back (see GET /health)."""


class DataRejectedError(ValueError):
    """The database refused a value of the request (a character it cannot store, a
    number out of its range): the request cannot succeed as it is; change the value."""
