"""Mermaid sequence diagrams drawn as SVG, in Python, for the web page.

The page shows the saga's diagram that `cqrs.saga.mermaid.SagaMermaid`
writes without any JavaScript library: this module reads the part of the
Mermaid sequence syntax that generator emits and draws it.

- `participant A` (and `participant A as Label`), each a box and a lifeline;
- messages `A->>B: text` (call), `A-->>B: text` (reply), `A--xB` / `A-xB`
  (failure), `A->B` / `A-->B` (no head);
- `Note over A: text`, `Note over A,B: text`, `Note left of A`, `Note right of A`;
- blocks `alt`/`else`, `opt`, `loop`, `break`, `critical`/`option`, `par`/`and`,
  each closed by `end`.

Anything else is a `DiagramSyntaxError` naming the line. Every message is a
`<g class="message">` with `data-from`, `data-to`, `data-arrow` and
`data-text`, and `data-sections` listing the block sections around it (each a
`<g class="section" data-section="n">`); participants are
`<g class="participant" data-participant="A">`. The page highlights them by
those attributes, its own stylesheet colouring the classes it adds.

>>> svg = sequence_svg('''sequenceDiagram
...     participant Saga
...     participant Reserve
...     Saga->>Reserve: act(context)
...     Reserve-->>Saga: None''')
>>> svg.startswith('<svg class="sequence-diagram"')
True
>>> 'data-from="Saga" data-to="Reserve" data-arrow="-&gt;&gt;"' in svg
True
"""

from __future__ import annotations

import dataclasses
import html
import re
import typing

__all__ = ("DiagramSyntaxError", "sequence_svg")

#: The width the drawing assumes for one character of its monospace font (pixels).
CHAR_WIDTH: typing.Final = 7.3
_FONT: typing.Final = "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace"
_FONT_SIZE: typing.Final = 12
_BOX_HEIGHT: typing.Final = 32
_BOX_PADDING: typing.Final = 14
_COLUMN_GAP: typing.Final = 28
_MARGIN: typing.Final = 12
_MESSAGE_ROW: typing.Final = 34
_NOTE_ROW: typing.Final = 34
_BLOCK_ROW: typing.Final = 28
_END_ROW: typing.Final = 10
_BLOCK_INSET: typing.Final = 6

_ARROWS: typing.Final = ("-->>", "->>", "--x", "-x", "-->", "->")
_MESSAGE = re.compile(
    r"^(?P<source>[^\s:>-]+)\s*(?P<arrow>-->>|->>|--x|-x|-->|->)\s*(?P<target>[^\s:]+)\s*"
    r"(?::\s*(?P<text>.*))?$"
)
_PARTICIPANT = re.compile(r"^(?:participant|actor)\s+(?P<name>\S+)(?:\s+as\s+(?P<label>.+))?$")
_NOTE = re.compile(
    r"^note\s+(?P<place>over|left of|right of)\s+(?P<who>[^:]+?)\s*:\s*(?P<text>.*)$",
    re.IGNORECASE,
)
_OPENERS: typing.Final = frozenset({"alt", "opt", "loop", "break", "critical", "par", "rect"})
_DIVIDERS: typing.Final = frozenset({"else", "and", "option"})


class DiagramSyntaxError(ValueError):
    """The text is not a Mermaid sequence diagram of the subset drawn here."""


@dataclasses.dataclass(frozen=True)
class _Message:
    source: str
    target: str
    arrow: str
    text: str


@dataclasses.dataclass(frozen=True)
class _Note:
    place: str
    who: tuple[str, ...]
    text: str


@dataclasses.dataclass(frozen=True)
class _Open:
    kind: str
    label: str


@dataclasses.dataclass(frozen=True)
class _Divide:
    kind: str
    label: str


@dataclasses.dataclass(frozen=True)
class _End:
    pass


_Statement = _Message | _Note | _Open | _Divide | _End


@dataclasses.dataclass
class _Diagram:
    labels: dict[str, str]
    statements: list[_Statement]


def sequence_svg(mermaid: str, *, standalone: bool = False) -> str:
    """`mermaid` (a `sequenceDiagram`) drawn as an `<svg>` element to put in an HTML page
    (`standalone`: with the SVG namespace, to save as an `.svg` file);
    `DiagramSyntaxError` when it holds a line this renderer does not read."""
    return _Drawing(_parse(mermaid)).svg(standalone=standalone)


def _parse(mermaid: str) -> _Diagram:
    lines = [(number, line.strip()) for number, line in enumerate(mermaid.splitlines(), 1)]
    lines = [(number, line) for number, line in lines if line and not line.startswith("%%")]
    if not lines or lines[0][1] != "sequenceDiagram":
        raise DiagramSyntaxError("a sequence diagram starts with the line `sequenceDiagram`")
    diagram = _Diagram(labels={}, statements=[])
    depth = 0
    for number, line in lines[1:]:
        statement = _statement(line, number, diagram.labels)
        if isinstance(statement, _Open):
            depth += 1
        elif isinstance(statement, _Divide | _End) and depth == 0:
            raise DiagramSyntaxError(f"line {number}: `{line}` outside a block")
        elif isinstance(statement, _End):
            depth -= 1
        if statement is not None:
            diagram.statements.append(statement)
    if depth:
        raise DiagramSyntaxError(f"{depth} block(s) not closed with `end`")
    return diagram


def _statement(line: str, number: int, labels: dict[str, str]) -> _Statement | None:
    keyword = line.split(maxsplit=1)[0].lower()
    rest = line[len(keyword) :].strip()
    if match := _PARTICIPANT.match(line):
        labels.setdefault(match["name"], (match["label"] or match["name"]).strip())
        return None
    if keyword == "end":
        return _End()
    if keyword in _OPENERS:
        return _Open(keyword, rest)
    if keyword in _DIVIDERS:
        return _Divide(keyword, rest)
    if match := _NOTE.match(line):
        who = tuple(name.strip() for name in match["who"].split(","))
        for name in who:
            labels.setdefault(name, name)
        return _Note(match["place"].lower(), who, match["text"])
    if match := _MESSAGE.match(line):
        for name in (match["source"], match["target"]):
            labels.setdefault(name, name)
        return _Message(match["source"], match["target"], match["arrow"], match["text"] or "")
    raise DiagramSyntaxError(
        f"line {number}: `{line}` is none of participant, a message "
        f"({', '.join(_ARROWS)}), Note, a block or end"
    )


def _width(text: str) -> float:
    return len(text) * CHAR_WIDTH


class _Drawing:
    """Lays the diagram out (columns, then rows) and writes the SVG."""

    def __init__(self, diagram: _Diagram) -> None:
        self._diagram = diagram
        self._names = list(diagram.labels)
        self._centres = self._columns()
        self._left, self._right = self._extent()
        self._parts: list[str] = []
        self._y = float(_MARGIN + _BOX_HEIGHT + 12)

    def svg(self, *, standalone: bool) -> str:
        body = self._rows()
        height = self._y + _MARGIN
        width = self._right - self._left
        namespace = ' xmlns="http://www.w3.org/2000/svg"' if standalone else ""
        header = (
            f'<svg class="sequence-diagram"{namespace} role="img" '
            f'viewBox="{self._left:.0f} 0 {width:.0f} {height:.0f}" '
            f'width="{width:.0f}" height="{height:.0f}" font-family="{_FONT}" '
            f'font-size="{_FONT_SIZE}">'
        )
        return "".join([header, _DEFS, *self._participants(height), *body, "</svg>"])

    # --- layout ------------------------------------------------------------------

    def _box_width(self, name: str) -> float:
        return _width(self._diagram.labels[name]) + 2 * _BOX_PADDING

    def _columns(self) -> dict[str, float]:
        """Each participant's centre: boxes apart, and every message's text fitting
        between its two ends."""
        gaps = [
            (self._box_width(a) + self._box_width(b)) / 2 + _COLUMN_GAP
            for a, b in zip(self._names, self._names[1:], strict=False)
        ]
        index = {name: position for position, name in enumerate(self._names)}
        spans = sorted(
            (
                (min(index[m.source], index[m.target]), max(index[m.source], index[m.target]), m)
                for m in self._diagram.statements
                if isinstance(m, _Message) and m.source != m.target
            ),
            key=lambda span: span[1] - span[0],
        )
        for first, last, message in spans:
            short = _width(message.text) + 24 - sum(gaps[first:last])
            if short > 0:
                gaps[last - 1] += short
        centres: dict[str, float] = {}
        x = self._box_width(self._names[0]) / 2 if self._names else 0.0
        for position, name in enumerate(self._names):
            centres[name] = x
            if position < len(gaps):
                x += gaps[position]
        return centres

    def _note_box(self, note: _Note) -> tuple[float, float]:
        width = _width(note.text) + 16
        xs = [self._centres[name] for name in note.who]
        if note.place == "left of":
            return xs[0] - 10 - width, xs[0] - 10
        if note.place == "right of":
            return xs[0] + 10, xs[0] + 10 + width
        left, right = min(xs) - 24, max(xs) + 24
        if right - left < width:
            middle = (left + right) / 2
            left, right = middle - width / 2, middle + width / 2
        return left, right

    def _extent(self) -> tuple[float, float]:
        lefts = [self._centres[n] - self._box_width(n) / 2 for n in self._names] or [0.0]
        rights = [self._centres[n] + self._box_width(n) / 2 for n in self._names] or [0.0]
        for statement in self._diagram.statements:
            if isinstance(statement, _Note):
                left, right = self._note_box(statement)
                lefts.append(left)
                rights.append(right)
        left, right = min(lefts) - _MARGIN - 8, max(rights) + _MARGIN + 8
        for statement in self._diagram.statements:
            if isinstance(statement, _Open | _Divide):
                right = max(right, left + _width(f"{statement.kind} [{statement.label}]") + 40)
        return left, right

    # --- drawing -----------------------------------------------------------------

    def _participants(self, height: float) -> list[str]:
        parts: list[str] = []
        for name in self._names:
            x, width = self._centres[name], self._box_width(name)
            quoted = _attribute(name)
            parts += [
                f'<line class="lifeline" data-participant="{quoted}" x1="{x:.1f}" '
                f'y1="{_MARGIN + _BOX_HEIGHT}" x2="{x:.1f}" y2="{height - _MARGIN:.1f}"/>',
                f'<g class="participant" data-participant="{quoted}">'
                f'<rect x="{x - width / 2:.1f}" y="{_MARGIN}" width="{width:.1f}" '
                f'height="{_BOX_HEIGHT}" rx="4"/>'
                f'<text x="{x:.1f}" y="{_MARGIN + _BOX_HEIGHT / 2 + 4:.1f}" text-anchor="middle">'
                f"{html.escape(self._diagram.labels[name])}</text></g>",
            ]
        return parts

    def _rows(self) -> list[str]:
        """Draw the statements top to bottom; block frames go first, under the rest."""
        frames: list[str] = []
        parts: list[str] = []
        # Each open block: its kind, its frame's top, its sections' (id, top, label) so far.
        open_blocks: list[tuple[str, float, list[tuple[int, float, str]]]] = []
        sections = 0
        for statement in self._diagram.statements:
            depth = len(open_blocks)
            if isinstance(statement, _Open):
                sections += 1
                open_blocks.append(
                    (statement.kind, self._y, [(sections, self._y, statement.label)])
                )
                self._y += _BLOCK_ROW
            elif isinstance(statement, _Divide):
                sections += 1
                open_blocks[-1][2].append((sections, self._y, statement.label))
                self._y += _BLOCK_ROW
            elif isinstance(statement, _End):
                kind, top, block_sections = open_blocks.pop()
                self._y += _END_ROW
                frames.append(self._frame(kind, top, self._y, block_sections, depth - 1))
                self._y += 4
            else:
                within = " ".join(str(s[0]) for block in open_blocks for s in block[2][-1:])
                if isinstance(statement, _Message):
                    parts.append(self._message(statement, within))
                else:
                    parts.append(self._note(statement, within))
        return frames + parts

    def _frame(
        self,
        kind: str,
        top: float,
        bottom: float,
        sections: list[tuple[int, float, str]],
        depth: int,
    ) -> str:
        left = self._left + _MARGIN + depth * _BLOCK_INSET
        right = self._right - _MARGIN - depth * _BLOCK_INSET
        tag = _width(kind) + 14
        parts = [
            f'<g class="block" data-block="{_attribute(kind)}">'
            f'<rect class="frame" x="{left:.1f}" y="{top:.1f}" width="{right - left:.1f}" '
            f'height="{bottom - top:.1f}"/>'
            f'<path class="tag" d="M{left:.1f} {top:.1f}h{tag:.1f}v12l-6 6h{-tag + 6:.1f}z"/>'
            f'<text class="kind" x="{left + 5:.1f}" y="{top + 13:.1f}">{html.escape(kind)}</text>'
        ]
        ends = [s[1] for s in sections[1:]] + [bottom]
        for (number, section_top, label), section_bottom in zip(sections, ends, strict=True):
            divider = (
                ""
                if section_top == top
                else f'<line class="divider" x1="{left:.1f}" y1="{section_top:.1f}" '
                f'x2="{right:.1f}" y2="{section_top:.1f}"/>'
            )
            parts.append(
                f'<g class="section" data-section="{number}">'
                f'<rect class="area" x="{left:.1f}" y="{section_top:.1f}" '
                f'width="{right - left:.1f}" height="{section_bottom - section_top:.1f}"/>'
                f"{divider}"
                f'<text class="label" x="{left + tag + 8:.1f}" y="{section_top + 14:.1f}">'
                f"[{html.escape(label)}]</text></g>"
            )
        parts.append("</g>")
        return "".join(parts)

    def _message(self, message: _Message, within: str) -> str:
        start, end = self._centres[message.source], self._centres[message.target]
        y = self._y + _MESSAGE_ROW - 8
        dotted = message.arrow.startswith("--")
        head = "arrow" if message.arrow.endswith(">>") else ""
        head = "cross" if message.arrow.endswith("x") else head
        marker = f' marker-end="url(#sd-{head})"' if head else ""
        dash = ' stroke-dasharray="5 3"' if dotted else ""
        if start == end:
            line = (
                f'<path class="arrow" d="M{start:.1f} {y - 10:.1f}h36v14h-34" fill="none"'
                f"{dash}{marker}/>"
            )
            text_x, anchor = start + 40, "start"
        else:
            towards = 1 if end > start else -1
            line = (
                f'<line class="arrow" x1="{start:.1f}" y1="{y:.1f}" x2="{end - towards * 2:.1f}" '
                f'y2="{y:.1f}"{dash}{marker}/>'
            )
            text_x, anchor = (start + end) / 2, "middle"
        self._y += _MESSAGE_ROW
        return (
            f'<g class="message" data-from="{_attribute(message.source)}" '
            f'data-to="{_attribute(message.target)}" data-arrow="{_attribute(message.arrow)}" '
            f'data-text="{_attribute(message.text)}" data-sections="{within}">'
            f'<text x="{text_x:.1f}" y="{y - 6:.1f}" text-anchor="{anchor}">'
            f"{html.escape(message.text)}</text>{line}</g>"
        )

    def _note(self, note: _Note, within: str) -> str:
        left, right = self._note_box(note)
        top = self._y + 4
        self._y += _NOTE_ROW
        return (
            f'<g class="note" data-sections="{within}">'
            f'<rect x="{left:.1f}" y="{top:.1f}" width="{right - left:.1f}" height="24"/>'
            f'<text x="{(left + right) / 2:.1f}" y="{top + 16:.1f}" text-anchor="middle">'
            f"{html.escape(note.text)}</text></g>"
        )


def _attribute(value: str) -> str:
    return html.escape(value, quote=True)


# Arrow heads, and the look of an SVG shown on its own (the page restyles the classes).
_DEFS: typing.Final = (
    "<defs>"
    '<marker id="sd-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="9" '
    'markerHeight="9" markerUnits="userSpaceOnUse" orient="auto-start-reverse">'
    '<path d="M0 0L10 5L0 10z" fill="context-stroke"/></marker>'
    '<marker id="sd-cross" viewBox="0 0 10 10" refX="5" refY="5" markerWidth="10" '
    'markerHeight="10" markerUnits="userSpaceOnUse" orient="auto">'
    '<path d="M1 1L9 9M9 1L1 9" stroke="context-stroke" stroke-width="2"/></marker>'
    "</defs>"
    "<style>"
    ".sequence-diagram .participant rect{fill:#eef2f7;stroke:#8c959f}"
    ".sequence-diagram .lifeline{stroke:#c4cbd3;stroke-dasharray:3 3}"
    ".sequence-diagram .arrow{stroke:#57606a;stroke-width:1.3}"
    ".sequence-diagram .frame{fill:none;stroke:#8c959f}"
    ".sequence-diagram .area{fill:transparent}"
    ".sequence-diagram .divider{stroke:#8c959f;stroke-dasharray:4 3}"
    ".sequence-diagram .tag{fill:#eef2f7;stroke:#8c959f}"
    ".sequence-diagram .label,.sequence-diagram .kind{fill:#59636e}"
    ".sequence-diagram .note rect{fill:#fff8c5;stroke:#d4a72c}"
    "</style>"
)
