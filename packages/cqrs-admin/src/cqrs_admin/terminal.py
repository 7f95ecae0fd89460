"""What the command line prints for people: aligned tables and a progress bar.

>>> print(table(["ID", "TOPIC"], [[1, "orders"], [12, None]]))
ID  TOPIC
1   orders
12
>>> import io
>>> stream = io.StringIO()
>>> bar = ProgressBar(4, stream, enabled=True, width=4)
>>> bar.update(2); bar.finish(4)
>>> stream.getvalue().split("\\r")[-1]
'[####] 4/4\\n'
"""

from __future__ import annotations

import typing

__all__ = ("table", "ProgressBar", "MAX_CELL")

#: Characters a table cell shows before it is cut with "…".
MAX_CELL: typing.Final = 60


def _cell(value: object) -> str:
    text = "" if value is None else " ".join(str(value).split())
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def table(headers: typing.Sequence[str], rows: typing.Iterable[typing.Sequence[object]]) -> str:
    """`rows` under `headers`, in columns as wide as their widest cell (cut at `MAX_CELL`),
    one line each, without trailing spaces."""
    cells = [list(headers), *([_cell(value) for value in row] for row in rows)]
    widths = [max(len(line[column]) for line in cells) for column in range(len(headers))]
    return "\n".join(
        "  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)).rstrip()
        for line in cells
    )


class ProgressBar:
    """A one-line bar on `stream` (standard error), redrawn in place; silent unless
    `enabled` (the command line enables it when standard error is a terminal)."""

    def __init__(
        self, total: int, stream: typing.TextIO, *, enabled: bool, width: int = 30
    ) -> None:
        self.total: int = max(total, 0)
        self.stream = stream
        self.enabled = enabled
        self.width = width

    def update(self, done: int) -> None:
        """Show `done` of `total` (more than `total` once more came meanwhile)."""
        if not self.enabled:
            return
        total = max(self.total, done)
        filled = self.width if total == 0 else self.width * done // total
        self.stream.write(f"\r[{'#' * filled}{'.' * (self.width - filled)}] {done}/{total}")
        self.stream.flush()

    def finish(self, done: int) -> None:
        """Show the final count and end the line."""
        self.update(done)
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
