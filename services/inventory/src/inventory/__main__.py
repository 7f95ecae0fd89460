"""`python -m inventory serve|relay|migrate` (see `inventory.entrypoints.cli`)."""

import sys

from inventory.entrypoints.cli import main

if __name__ == "__main__":
    sys.exit(main())
