"""Mermaid building blocks shared by `CoRMermaid` and `SagaMermaid`.

Identifiers that both the sequence and the class lexers accept, type labels
without module paths, class fields and class blocks.

>>> ids = Ids()
>>> ids.add("a", "End")
>>> ids.add("b", "Zahlungsprüfer")
>>> ids["a"], ids["b"]
('End_2', 'Zahlungspr_fer')
>>> import uuid
>>> type_label(typing.Optional[uuid.UUID])
'Optional[UUID]'
>>> class_block("Empty", [])
['    class Empty']
"""

from __future__ import annotations

import dataclasses
import re
import typing

import pydantic

__all__ = (
    "INDENT",
    "Ids",
    "class_block",
    "class_fields",
    "is_message_class",
    "message_label",
    "message_text",
    "type_label",
)

INDENT = "    "

# Words the Mermaid lexers take as keywords wherever a name is expected; the
# sequence lexer ignores case, so `End` or `Details` would break a diagram too.
# fmt: off
_KEYWORDS = frozenset({
    "accdescr", "acctitle", "activate", "actor", "alt", "and", "as", "autonumber", "box",
    "break", "call", "callback", "class", "classdef", "classdiagram", "click", "create",
    "critical", "cssclass", "deactivate", "destroy", "details", "else", "end", "href", "link",
    "links", "loop", "namespace", "note", "o", "off", "opt", "option", "over", "par",
    "par_over", "participant", "properties", "rect", "sequencediagram", "style", "title",
    "_blank", "_parent", "_self", "_top",
})
# fmt: on

# Both lexers accept ASCII names everywhere but only some Unicode ranges.
_NOT_ID_CHAR = re.compile(r"[^0-9A-Za-z_]")
# Member lines end at a brace or newline, and `~` opens a Mermaid generic.
_NOT_MEMBER_CHAR = re.compile(r"[{}~\n]")
# `#` starts an entity code and `;` ends a statement in a sequence message.
_NOT_MESSAGE_CHAR = re.compile(r"[#;\n]")
# `typing.Optional[uuid.UUID]` reads better as `Optional[UUID]`.
# (Not inside a quoted literal, where the dots are data.)
_MODULE_PATH = re.compile(r"(?<![\w.'\"])(?:[A-Za-z_]\w*\.)+(?=[A-Za-z_])")


class Ids:
    """Mermaid identifiers for Python objects: unique, ASCII and never a keyword.

    The first object added under a name keeps it; later ones get `_2`, `_3`...
    """

    def __init__(self) -> None:
        self._ids: dict[object, str] = {}

    def add(self, key: object, name: str) -> None:
        """Give `key` an identifier made from `name`, unless it has one already."""
        if key in self._ids:
            return
        base = _NOT_ID_CHAR.sub("_", name)
        if not base or base[0].isdigit():
            base = f"_{base}"
        taken = set(self._ids.values())
        candidate, number = base, 1
        while candidate in taken or candidate.lower() in _KEYWORDS:
            number += 1
            candidate = f"{base}_{number}"
        self._ids[key] = candidate

    def __getitem__(self, key: object) -> str:
        return self._ids[key]


def is_message_class(candidate: object) -> typing.TypeGuard[type[object]]:
    """A real class that can be drawn: not `None`, a TypeVar or `list[int]`."""
    # `list[int]` passes `isinstance(..., type)` on Python 3.10, hence the origin check.
    return (
        isinstance(candidate, type)
        and typing.get_origin(candidate) is None
        and candidate is not type(None)
    )


def class_fields(message: type[object]) -> list[tuple[str, str]]:
    """`(name, type label)` of a pydantic model's or a dataclass's fields, else none."""
    if issubclass(message, pydantic.BaseModel):
        return [(name, type_label(info.annotation)) for name, info in message.model_fields.items()]
    if dataclasses.is_dataclass(message):
        return [(field.name, type_label(field.type)) for field in dataclasses.fields(message)]
    return []


def type_label(annotation: object) -> str:
    """An annotation as a class-member type: short names, no Mermaid delimiters."""
    if isinstance(annotation, str):
        # A dataclass field under `from __future__ import annotations`.
        text = annotation
    elif isinstance(annotation, typing.ForwardRef):
        text = annotation.__forward_arg__
    elif is_message_class(annotation):
        text = annotation.__name__
    else:
        text = _MODULE_PATH.sub("", str(annotation))
    return _NOT_MEMBER_CHAR.sub("", text)


def message_text(text: str) -> str:
    """`text` without the characters that end a sequence message, note or block label."""
    return _NOT_MESSAGE_CHAR.sub("", text)


def message_label(ids: Ids, message_type: object) -> str:
    """A message type as sequence-message text: its id if it is a drawn class."""
    if message_type is type(None):
        return "None"
    if is_message_class(message_type):
        return ids[message_type]
    # A TypeVar, an alias or a placeholder: say what it is.
    return message_text(type_label(message_type))


def class_block(name: str, members: typing.Sequence[str]) -> list[str]:
    """`class name { members }`, or a bare `class name` when there are no members."""
    if not members:
        return [f"{INDENT}class {name}"]
    return [
        f"{INDENT}class {name} {{",
        *(f"{INDENT * 2}{member}" for member in members),
        f"{INDENT}}}",
    ]
