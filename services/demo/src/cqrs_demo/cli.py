"""The `cqrs-demo` console script."""

import sys


def main() -> int:
    print("cqrs-demo: not built yet", file=sys.stderr)
    return 1
