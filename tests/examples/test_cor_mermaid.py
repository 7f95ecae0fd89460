"""examples/cor_mermaid.py prints a payment chain as two Mermaid diagrams."""

from __future__ import annotations

import re
import typing

import pytest

from cqrs.requests import bootstrap
from examples import cor_mermaid as example

LINKS = ["PrepaidWalletHandler", "CardNetworkHandler", "PayByInvoiceHandler"]


def mermaid_blocks(output: str) -> list[str]:
    return re.findall(r"```mermaid\n(.*?)\n```", output, flags=re.DOTALL)


def test_prints_a_sequence_and_a_class_diagram(capsys: pytest.CaptureFixture[str]) -> None:
    diagrams = example.main()
    output = capsys.readouterr().out

    sequence, class_diagram = mermaid_blocks(output)
    assert sequence == diagrams.sequence()
    assert class_diagram == diagrams.class_diagram()
    assert sequence.startswith("sequenceDiagram\n")
    assert class_diagram.startswith("classDiagram\n")


def test_sequence_walks_the_payment_chain_in_order(capsys: pytest.CaptureFixture[str]) -> None:
    example.main()
    sequence, _ = mermaid_blocks(capsys.readouterr().out)

    assert re.findall(r"participant (\w+)", sequence) == LINKS
    assert "Client->>PrepaidWalletHandler: AuthorizePayment" in sequence
    assert re.findall(r"(\w+)->>(\w+): next\(request\)", sequence) == [
        ("PrepaidWalletHandler", "CardNetworkHandler"),
        ("CardNetworkHandler", "PayByInvoiceHandler"),
    ]
    assert "PayByInvoiceHandler-->>CardNetworkHandler: None" in sequence


def test_class_diagram_shows_links_and_message_fields(capsys: pytest.CaptureFixture[str]) -> None:
    example.main()
    _, class_diagram = mermaid_blocks(capsys.readouterr().out)

    assert re.findall(r"(\w+) --> (\w+) : next", class_diagram) == [
        ("PrepaidWalletHandler", "CardNetworkHandler"),
        ("CardNetworkHandler", "PayByInvoiceHandler"),
    ]
    for link in LINKS:
        assert f"class {link} {{" in class_diagram
        assert f"{link} ..> AuthorizePayment : handles" in class_diagram
        assert f"{link} ..> PaymentDecision : returns" in class_diagram
    for field in ("+order_id: str", "+amount_cents: int", "+card_token: str | None"):
        assert field in class_diagram
    for field in ("+approved: bool", "+provider: str", "+reference: str"):
        assert field in class_diagram


async def test_the_drawn_chain_is_the_one_the_mediator_runs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(example, "WALLET_BALANCES_CENTS", {"cust-1": 5_000})
    mediator = bootstrap.bootstrap(commands_mapper=example.payments_mapper)

    def pay(amount: int, card_token: str | None = None) -> typing.Any:
        return example.AuthorizePayment(
            order_id="o-1", customer_id="cust-1", amount_cents=amount, card_token=card_token
        )

    assert (await mediator.send(pay(1_000))).provider == "wallet"
    assert (await mediator.send(pay(9_000, "tok-4242"))).provider == "card"
    assert (await mediator.send(pay(9_000))).approved is True
    assert (await mediator.send(pay(90_000))).approved is False
