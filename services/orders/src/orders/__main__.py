"""`python -m orders serve|relay|migrate` (see `orders.entrypoints.cli`)."""

from orders.entrypoints.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
