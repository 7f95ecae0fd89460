"""`CoRMermaid`: Mermaid sequence and class diagrams of a handler chain."""

from __future__ import annotations

import dataclasses
import re
import types
import typing

import pytest

import cqrs
from cqrs.requests.mermaid import CoRMermaid


class Charge(cqrs.Request):
    order_id: str
    amount_cents: int
    note: str | None = None


class Receipt(cqrs.Response):
    provider: str


@dataclasses.dataclass
class Refund(cqrs.DCRequest):
    order_id: str
    lines: list[str]


@dataclasses.dataclass
class RefundDone(cqrs.DCResponse):
    accepted: bool


def link(
    name: str, request: type[cqrs.IRequest] = Charge, response: type[object] | None = Receipt
) -> type[cqrs.CORRequestHandler[typing.Any, typing.Any]]:
    """A chain link class called `name` that always passes the request on."""

    async def handle(self: typing.Any, request: typing.Any) -> typing.Any:
        return await self.next(request)

    return types.new_class(
        name,
        (cqrs.CORRequestHandler[request, response],),
        exec_body=lambda namespace: namespace.update(handle=handle),
    )


WalletHandler = link("WalletHandler")
CardHandler = link("CardHandler")
InvoiceHandler = link("InvoiceHandler")
CHAIN = [WalletHandler, CardHandler, InvoiceHandler]

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def participants(sequence: str) -> list[str]:
    return re.findall(r"^\s*(?:participant|actor) (\S+)$", sequence, flags=re.MULTILINE)


def next_calls(sequence: str) -> list[tuple[str, str]]:
    return re.findall(r"^\s*(\w+)->>(\w+): next\(request\)$", sequence, flags=re.MULTILINE)


def next_edges(class_diagram: str) -> list[tuple[str, str]]:
    return re.findall(r"^\s*(\w+) --> (\w+) : next$", class_diagram, flags=re.MULTILINE)


def class_body(class_diagram: str, name: str) -> list[str]:
    match = re.search(rf"^\s*class {name} \{{\n(.*?)\n\s*\}}$", class_diagram, re.M | re.S)
    assert match, f"no class {name} with a body in:\n{class_diagram}"
    return [line.strip() for line in match.group(1).splitlines()]


# --- sequence diagram ----------------------------------------------------------


def test_sequence_declares_client_then_handlers_in_chain_order() -> None:
    sequence = CoRMermaid(CHAIN).sequence()

    assert sequence.splitlines()[0] == "sequenceDiagram"
    assert participants(sequence) == ["Client", "WalletHandler", "CardHandler", "InvoiceHandler"]


def test_sequence_client_sends_the_request_type_to_the_first_link() -> None:
    sequence = CoRMermaid(CHAIN).sequence()

    assert "    Client->>WalletHandler: Charge" in sequence.splitlines()


def test_sequence_forwards_with_next_in_chain_order() -> None:
    sequence = CoRMermaid(CHAIN).sequence()

    assert next_calls(sequence) == [
        ("WalletHandler", "CardHandler"),
        ("CardHandler", "InvoiceHandler"),
    ]


def test_sequence_each_link_answers_its_caller_in_an_alt_block() -> None:
    lines = [line.strip() for line in CoRMermaid(CHAIN).sequence().splitlines()]

    for handler, caller in (
        ("WalletHandler", "Client"),
        ("CardHandler", "WalletHandler"),
        ("InvoiceHandler", "CardHandler"),
    ):
        alt = lines.index(f"alt {handler} handles it")
        assert lines[alt + 1] == f"{handler}-->>{caller}: Receipt"
    # Blocks nest: one `end` per `alt`, never more `end`s than open blocks.
    depth = 0
    for line in lines:
        depth += line.startswith("alt ") - (line == "end")
        assert depth >= 0
    assert depth == 0
    assert sum(line.startswith("alt ") for line in lines) == len(CHAIN)


def test_sequence_last_link_returns_the_response_or_none() -> None:
    lines = [line.strip() for line in CoRMermaid(CHAIN).sequence().splitlines()]

    last_alt = lines.index("alt InvoiceHandler handles it")
    assert lines[last_alt : last_alt + 5] == [
        "alt InvoiceHandler handles it",
        "InvoiceHandler-->>CardHandler: Receipt",
        "else end of chain",
        "InvoiceHandler-->>CardHandler: None",
        "end",
    ]
    # What `next` gave back travels up to the client.
    assert lines[-2:] == ["WalletHandler-->>Client: Receipt | None", "end"]


def test_sequence_of_a_single_link_has_no_next() -> None:
    sequence = CoRMermaid([link("OnlyHandler", Refund, RefundDone)]).sequence()

    assert next_calls(sequence) == []
    assert sequence.splitlines() == [
        "sequenceDiagram",
        "    actor Client",
        "    participant OnlyHandler",
        "    Client->>OnlyHandler: Refund",
        "    alt OnlyHandler handles it",
        "        OnlyHandler-->>Client: RefundDone",
        "    else end of chain",
        "        OnlyHandler-->>Client: None",
        "    end",
    ]


# --- class diagram -------------------------------------------------------------


def test_class_diagram_lists_every_link_with_handle_and_next() -> None:
    diagram = CoRMermaid(CHAIN).class_diagram()

    assert diagram.splitlines()[0] == "classDiagram"
    for handler in ("WalletHandler", "CardHandler", "InvoiceHandler"):
        assert class_body(diagram, handler) == ["+handle(request)", "+next(request)"]


def test_class_diagram_next_edges_follow_the_chain() -> None:
    diagram = CoRMermaid([InvoiceHandler, WalletHandler, CardHandler]).class_diagram()

    assert next_edges(diagram) == [
        ("InvoiceHandler", "WalletHandler"),
        ("WalletHandler", "CardHandler"),
    ]


def test_class_diagram_shows_pydantic_request_and_response_fields() -> None:
    diagram = CoRMermaid(CHAIN).class_diagram()

    assert class_body(diagram, "Charge") == [
        "+order_id: str",
        "+amount_cents: int",
        "+note: str | None",
    ]
    assert class_body(diagram, "Receipt") == ["+provider: str"]


def test_class_diagram_shows_dataclass_fields() -> None:
    diagram = CoRMermaid([link("RefundHandler", Refund, RefundDone)]).class_diagram()

    # This module's annotations are strings, and are shown as written.
    assert class_body(diagram, "Refund") == ["+order_id: str", "+lines: list[str]"]
    assert class_body(diagram, "RefundDone") == ["+accepted: bool"]


def test_class_diagram_links_each_handler_to_its_request_and_response() -> None:
    lines = CoRMermaid(CHAIN).class_diagram().splitlines()

    for handler in ("WalletHandler", "CardHandler", "InvoiceHandler"):
        assert f"    {handler} ..> Charge : handles" in lines
        assert f"    {handler} ..> Receipt : returns" in lines
    assert sum(line.strip().startswith("class Charge") for line in lines) == 1


def test_class_diagram_skips_a_none_response() -> None:
    diagram = CoRMermaid([link("FireAndForget", Charge, None)]).class_diagram()

    assert "FireAndForget ..> Charge : handles" in diagram
    assert "returns" not in diagram
    assert "NoneType" not in diagram


# --- names ---------------------------------------------------------------------


def test_handlers_sharing_a_name_get_distinct_ids() -> None:
    first, second = link("RetryHandler"), link("RetryHandler")
    mermaid = CoRMermaid([first, second])

    assert participants(mermaid.sequence()) == ["Client", "RetryHandler", "RetryHandler_2"]
    assert next_calls(mermaid.sequence()) == [("RetryHandler", "RetryHandler_2")]
    assert next_edges(mermaid.class_diagram()) == [("RetryHandler", "RetryHandler_2")]


def test_mermaid_keywords_and_the_client_name_are_not_used_as_ids() -> None:
    # `End` closes a block and `Note` starts a note: Mermaid reads them as keywords.
    mermaid = CoRMermaid([link("End"), link("Note"), link("Client")])

    assert participants(mermaid.sequence()) == ["Client", "End_2", "Note_2", "Client_2"]
    assert next_edges(mermaid.class_diagram()) == [("End_2", "Note_2"), ("Note_2", "Client_2")]


def test_ids_are_mermaid_identifiers() -> None:
    generic_request = cqrs.Request[Receipt]  # a pydantic class named "Request[Receipt]"
    mermaid = CoRMermaid([link("Zahlungsprüfer", generic_request)])

    ids = participants(mermaid.sequence())
    assert ids == ["Client", "Zahlungspr_fer"]
    assert all(IDENTIFIER.fullmatch(name) for name in ids)
    assert "Client->>Zahlungspr_fer: Request_Receipt_" in mermaid.sequence()
    assert "class Request_Receipt_" in mermaid.class_diagram()


def test_a_link_without_type_arguments_is_drawn_with_placeholders() -> None:
    class Untyped(cqrs.CORRequestHandler):
        async def handle(self, request: typing.Any) -> typing.Any:
            return await self.next(request)

    mermaid = CoRMermaid([Untyped])

    assert "Client->>Untyped: request" in mermaid.sequence()
    assert "Untyped-->>Client: response" in mermaid.sequence()
    assert "..>" not in mermaid.class_diagram()


# --- invalid input -------------------------------------------------------------


@pytest.mark.parametrize(
    "handlers",
    [
        pytest.param([], id="empty list"),
        pytest.param((), id="empty tuple"),
        pytest.param(WalletHandler, id="a class, not a list"),
        pytest.param([WalletHandler, str], id="not a handler"),
        pytest.param([WalletHandler()], id="an instance"),
        pytest.param([cqrs.RequestHandler], id="a plain request handler"),
        pytest.param("WalletHandler", id="a string"),
        pytest.param(None, id="None"),
    ],
)
def test_rejects_anything_but_a_non_empty_list_of_chain_links(handlers: typing.Any) -> None:
    with pytest.raises(cqrs.InvalidBindingError, match="non-empty list of CORRequestHandler"):
        CoRMermaid(handlers)
