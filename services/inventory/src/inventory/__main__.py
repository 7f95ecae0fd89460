"""`python -m inventory serve|relay|migrate` (see `inventory.entrypoints.cli`)."""

from inventory.entrypoints.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
