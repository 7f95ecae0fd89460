"""The Mermaid sequence diagrams drawn as SVG for the web page (`orders.entrypoints.diagram`)."""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ElementTree

import pytest

from cqrs.saga.mermaid import SagaMermaid
from orders.application.saga import OrderSaga
from orders.application.screening import SCREENING_CHAIN, ScreeningChain
from orders.entrypoints.diagram import DiagramSyntaxError, sequence_svg
from orders.entrypoints.page import PageSettings, render

_MESSAGE_LINE = re.compile(r"^\s*(\w+)(-->>|->>|--x)(\w+): (.*)$")


def drawn(mermaid: str) -> ElementTree.Element:
    """The SVG of `mermaid`, parsed: it is well-formed XML."""
    return ElementTree.fromstring(sequence_svg(mermaid, standalone=True))


def of_class(root: ElementTree.Element, name: str) -> list[ElementTree.Element]:
    return [e for e in root.iter() if name in (e.get("class") or "").split()]


def test_the_order_saga_is_drawn_with_every_participant_and_message_in_order() -> None:
    mermaid = SagaMermaid(OrderSaga).sequence()

    root = drawn(mermaid)

    participants = [e.get("data-participant") for e in of_class(root, "participant")]
    assert participants == [
        "OrderSaga",
        "OpenOrder",
        "ReserveStock",
        "ChargePayment",
        "ChargeBackupPayment",
        "ConfirmOrder",
    ]
    expected = [match.groups() for match in map(_MESSAGE_LINE.match, mermaid.splitlines()) if match]
    messages = [
        (e.get("data-from"), e.get("data-arrow"), e.get("data-to"), e.get("data-text"))
        for e in of_class(root, "message")
    ]
    assert messages == expected
    assert ("OrderSaga", "->>", "ReserveStock", "compensate(context)") in messages
    notes = ["".join(e.itertext()) for e in of_class(root, "note")]
    assert notes == [
        "fallback for ChargePayment, circuit breaker AioBreakerAdapter",
        "compensate the steps that completed, newest first",
    ]


def test_a_message_names_the_block_sections_it_is_drawn_in() -> None:
    root = drawn(SagaMermaid(OrderSaga).sequence())

    sections = {e.get("data-section"): "".join(e.itertext()) for e in of_class(root, "section")}
    where = {
        (e.get("data-from"), e.get("data-arrow"), e.get("data-to"), e.get("data-text")): [
            sections[number] for number in (e.get("data-sections") or "").split()
        ]
        for e in of_class(root, "message")
    }
    failing = "[ChargePayment fails or its circuit breaker is open]"
    assert where[("OrderSaga", "->>", "ChargePayment", "act(context)")] == []
    assert where[("ChargePayment", "-->>", "OrderSaga", "None")] == ["[ChargePayment succeeds]"]
    assert where[("ChargePayment", "--x", "OrderSaga", "PaymentUnavailableError")] == [failing]
    assert where[("ChargeBackupPayment", "-->>", "OrderSaga", "None")] == [failing]
    # The compensations sit in the break block, the payment's in an alt inside it.
    assert where[("OrderSaga", "->>", "ReserveStock", "compensate(context)")] == ["[a step fails]"]
    assert where[("OrderSaga", "->>", "ChargePayment", "compensate(context)")] == [
        "[a step fails]",
        "[ChargePayment acted]",
    ]
    blocks = [e.get("data-block") or "" for e in of_class(root, "block")]
    assert sorted(blocks) == ["alt", "alt", "break"]


def test_the_screening_chain_is_drawn_with_nested_blocks() -> None:
    root = drawn(ScreeningChain.of(SCREENING_CHAIN).mermaid)

    assert [e.get("data-participant") for e in of_class(root, "participant")] == [
        "Client",
        "BlockedSkuRule",
        "OrderTotalRule",
        "AcceptRule",
    ]
    assert len(of_class(root, "block")) == 3
    nested = [e for e in of_class(root, "message") if e.get("data-text") == "None"]
    assert [len((e.get("data-sections") or "").split()) for e in nested] == [3]


def test_text_is_escaped_and_the_inline_svg_names_no_url() -> None:
    mermaid = 'sequenceDiagram\n    participant A\n    A->>B: x < y & "z"\n    Note right of B: <b>'

    svg = sequence_svg(mermaid)

    assert "<b>" not in svg
    assert "http" not in svg
    root = drawn(mermaid)
    assert [e.get("data-text") for e in of_class(root, "message")] == ['x < y & "z"']
    # A participant named only by a message or a note is drawn too.
    assert [e.get("data-participant") for e in of_class(root, "participant")] == ["A", "B"]


@pytest.mark.parametrize(
    ("mermaid", "names"),
    [
        ("graph TD\n    A --> B", "starts with the line `sequenceDiagram`"),
        ("sequenceDiagram\n    A->>B: go\n    activate B", "line 3: `activate B`"),
        ("sequenceDiagram\n    end", "line 2: `end` outside a block"),
        ("sequenceDiagram\n    alt yes\n    A->>B: go", "1 block(s) not closed"),
    ],
)
def test_a_line_it_does_not_read_is_an_error_naming_it(mermaid: str, names: str) -> None:
    with pytest.raises(DiagramSyntaxError, match=re.escape(names)):
        sequence_svg(mermaid)


def page_with(saga_diagram: str) -> str:
    return render(
        PageSettings(
            inventory_url="",
            reply_timeout_seconds=30,
            admin_console=False,
            saga_diagram=saga_diagram,
        )
    )


def test_the_page_holds_the_saga_drawn_and_its_mermaid_source() -> None:
    page = page_with(SagaMermaid(OrderSaga).sequence())

    assert '<div id="diagram"><svg class="sequence-diagram"' in page
    assert "participant ChargeBackupPayment" in page  # the source, in the page's settings


def test_a_diagram_it_cannot_draw_leaves_the_page_with_the_text(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING, logger="orders.http"):
        page = page_with("sequenceDiagram\n    activate Saga")

    assert '<div id="diagram"></div>' in page
    assert "activate Saga" in page
    assert "shows the saga's diagram as text only: line 2" in caplog.text
