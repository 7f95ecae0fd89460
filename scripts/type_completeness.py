"""Fail when a published package's public API is less than 95 % typed for its users.

`pyright --verifytypes` scores the share of the exported symbols whose types
are known and unambiguous (annotated, not inferred); a user's type checker
sees the others as unknown. Run by `make lint`:

```
python scripts/type_completeness.py            # every package, threshold 0.95
python scripts/type_completeness.py cqrs_sqla  # one package
```
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import typing

PACKAGES: typing.Final = ("cqrs", "cqrs_sqla", "cqrs_kafka", "cqrs_admin")
THRESHOLD: typing.Final = 0.95


def completeness(package: str) -> tuple[float, list[str]]:
    """The package's completeness score, and the symbols that lower it."""
    pyright = shutil.which("pyright") or "pyright"
    result = subprocess.run(
        [pyright, "--verifytypes", package, "--ignoreexternal", "--outputjson"],
        capture_output=True,
        text=True,
        check=False,
    )
    report = json.loads(result.stdout)["typeCompleteness"]
    incomplete = [
        symbol["name"]
        for symbol in report["symbols"]
        if not symbol["isTypeKnown"] or symbol.get("isTypeAmbiguous")
    ]
    return report["completenessScore"], incomplete


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("packages", nargs="*", default=list(PACKAGES))
    parser.add_argument("--threshold", type=float, default=THRESHOLD)
    arguments = parser.parse_args(argv)
    failed = False
    for package in arguments.packages:
        score, incomplete = completeness(package)
        ok = score >= arguments.threshold
        failed |= not ok
        print(f"{package}: {score:.1%} of its public symbols typed ({'ok' if ok else 'too low'})")
        if not ok:
            for name in incomplete:
                print(f"  not fully typed: {name}")
    if failed:
        print(
            f"below {arguments.threshold:.0%}: annotate the symbols listed "
            f"(`pyright --verifytypes PACKAGE` says why)"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
