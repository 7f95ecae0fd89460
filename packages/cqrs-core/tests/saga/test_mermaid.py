"""`SagaMermaid`: Mermaid sequence and class diagrams of a saga."""

from __future__ import annotations

import dataclasses
import re
import types
import typing

import pytest

import cqrs
from cqrs.saga.fallback import Fallback
from cqrs.saga.mermaid import SagaMermaid
from cqrs.saga.models import SagaContext
from cqrs.saga.saga import Saga
from cqrs.saga.step import SagaStepHandler, SagaStepResult


@dataclasses.dataclass
class BookingContext(SagaContext):
    booking_id: str
    seats: list[str]
    paid: bool = False


@dataclasses.dataclass
class SeatHold(cqrs.DCResponse):
    hold_id: str


class Payment(cqrs.Response):
    payment_id: str
    amount_cents: int


def step(name: str, response: object = None) -> type[SagaStepHandler[typing.Any, typing.Any]]:
    """A step class called `name` over `BookingContext` that returns `response`."""

    async def act(self: typing.Any, context: typing.Any) -> typing.Any:
        return self._generate_step_result(None)

    return types.new_class(
        name,
        (SagaStepHandler[BookingContext, response],),
        exec_body=lambda namespace: namespace.update(act=act),
    )


T = typing.TypeVar("T")


class StubBreaker:
    """Stands in for a circuit breaker; only its class name is drawn, it is never called."""

    async def call(
        self,
        identifier: str | type[typing.Any],
        func: typing.Callable[..., typing.Awaitable[T]],
        *args: typing.Any,
        **kwargs: typing.Any,
    ) -> T:
        raise AssertionError("a diagram never runs its steps")

    def is_circuit_breaker_error(self, exc: BaseException) -> bool:
        return False


HoldSeats = step("HoldSeats", SeatHold)
ChargeCard = step("ChargeCard", Payment)
ChargeWallet = step("ChargeWallet", Payment)
SendTickets = step("SendTickets")


class BookingSaga(Saga[BookingContext]):
    steps = [
        HoldSeats,
        Fallback(
            step=ChargeCard,
            fallback=ChargeWallet,
            circuit_breaker=StubBreaker(),
            failure_exceptions=(ConnectionError, TimeoutError),
        ),
        SendTickets,
    ]


class PlainSaga(Saga[BookingContext]):
    steps = [step("First"), step("Second"), step("Third")]


def participants(sequence: str) -> list[str]:
    return re.findall(r"^\s*participant (\S+)$", sequence, flags=re.MULTILINE)


def calls(sequence: str, method: str) -> list[tuple[str, str]]:
    pattern = rf"^\s*(\w+)->>(\w+): {method}\(context\)$"
    return re.findall(pattern, sequence, flags=re.MULTILINE)


def stripped(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines()]


def class_body(class_diagram: str, name: str) -> list[str]:
    match = re.search(rf"^\s*class {name} \{{\n(.*?)\n\s*\}}$", class_diagram, re.M | re.S)
    assert match, f"no class {name} with a body in:\n{class_diagram}"
    return [line.strip() for line in match.group(1).splitlines()]


# --- sequence diagram ----------------------------------------------------------


def test_sequence_declares_the_saga_then_each_step_and_its_fallback() -> None:
    sequence = SagaMermaid(BookingSaga).sequence()

    assert sequence.splitlines()[0] == "sequenceDiagram"
    assert participants(sequence) == [
        "BookingSaga",
        "HoldSeats",
        "ChargeCard",
        "ChargeWallet",
        "SendTickets",
    ]


def test_sequence_calls_act_in_step_order_with_the_fallback_in_place() -> None:
    sequence = SagaMermaid(BookingSaga).sequence()

    assert calls(sequence, "act") == [
        ("BookingSaga", "HoldSeats"),
        ("BookingSaga", "ChargeCard"),
        ("BookingSaga", "ChargeWallet"),
        ("BookingSaga", "SendTickets"),
    ]


def test_sequence_each_act_returns_its_response_type() -> None:
    lines = stripped(SagaMermaid(BookingSaga).sequence())

    assert "HoldSeats-->>BookingSaga: SeatHold" in lines
    assert "ChargeCard-->>BookingSaga: Payment" in lines
    assert "ChargeWallet-->>BookingSaga: Payment" in lines
    assert "SendTickets-->>BookingSaga: None" in lines


def test_sequence_fallback_acts_in_an_alt_block_marked_fallback() -> None:
    lines = stripped(SagaMermaid(BookingSaga).sequence())

    start = lines.index("alt ChargeCard succeeds")
    assert lines[start - 1] == "BookingSaga->>ChargeCard: act(context)"
    assert lines[start : start + 8] == [
        "alt ChargeCard succeeds",
        "ChargeCard-->>BookingSaga: Payment",
        "else ChargeCard fails or its circuit breaker is open",
        "ChargeCard--xBookingSaga: ConnectionError or TimeoutError",
        "Note over ChargeCard,ChargeWallet: fallback for ChargeCard, circuit breaker StubBreaker",
        "BookingSaga->>ChargeWallet: act(context)",
        "ChargeWallet-->>BookingSaga: Payment",
        "end",
    ]


def test_sequence_fallback_without_breaker_or_exception_list() -> None:
    class Saga2(Saga[BookingContext]):
        steps = [Fallback(step=step("Primary"), fallback=step("Backup"))]

    lines = stripped(SagaMermaid(Saga2).sequence())

    assert "else Primary fails" in lines
    assert "Primary--xSaga2: any exception" in lines
    assert "Note over Primary,Backup: fallback for Primary" in lines
    assert "circuit breaker" not in "\n".join(lines)


def test_sequence_steps_without_fallback_have_no_alt_block() -> None:
    sequence = SagaMermaid(PlainSaga).sequence()

    assert "alt " not in sequence
    assert "fallback" not in sequence


def test_sequence_compensates_completed_steps_in_reverse_order() -> None:
    sequence = SagaMermaid(PlainSaga).sequence()

    # The last step never completes before a failure, so it is never compensated.
    assert calls(sequence, "compensate") == [("PlainSaga", "Second"), ("PlainSaga", "First")]
    lines = stripped(sequence)
    block = lines.index("break a step fails")
    assert block > lines.index("PlainSaga->>Third: act(context)")
    assert lines[block + 1].startswith("Note over PlainSaga: compensate")
    assert lines[-1] == "end"


def test_sequence_compensates_whichever_of_primary_and_fallback_acted() -> None:
    sequence = SagaMermaid(BookingSaga).sequence()
    lines = stripped(sequence)

    undo = lines.index("break a step fails")
    assert lines[undo + 2 :] == [
        "alt ChargeCard acted",
        "BookingSaga->>ChargeCard: compensate(context)",
        "else ChargeWallet acted",
        "BookingSaga->>ChargeWallet: compensate(context)",
        "end",
        "BookingSaga->>HoldSeats: compensate(context)",
        "end",
    ]


def test_sequence_blocks_are_balanced() -> None:
    depth = 0
    for line in stripped(SagaMermaid(BookingSaga).sequence()):
        depth += line.startswith(("alt ", "opt ", "break ")) - (line == "end")
        assert depth >= 0
    assert depth == 0


def test_sequence_of_a_single_step_saga_has_nothing_to_compensate() -> None:
    class OneStep(Saga[BookingContext]):
        steps = [step("Only", SeatHold)]

    assert SagaMermaid(OneStep).sequence().splitlines() == [
        "sequenceDiagram",
        "    participant OneStep",
        "    participant Only",
        "    OneStep->>Only: act(context)",
        "    Only-->>OneStep: SeatHold",
    ]


# --- class diagram -------------------------------------------------------------


def test_class_diagram_lists_saga_steps_and_fallback() -> None:
    diagram = SagaMermaid(BookingSaga).class_diagram()

    assert diagram.splitlines()[0] == "classDiagram"
    assert class_body(diagram, "BookingSaga") == ["<<saga>>"]
    for name in ("HoldSeats", "ChargeCard", "SendTickets"):
        assert class_body(diagram, name) == ["+act(context)", "+compensate(context)"]
    assert class_body(diagram, "ChargeWallet") == [
        "<<fallback>>",
        "+act(context)",
        "+compensate(context)",
    ]


def test_class_diagram_shows_the_context_fields() -> None:
    diagram = SagaMermaid(BookingSaga).class_diagram()

    # This module's annotations are strings, and are shown as written.
    assert class_body(diagram, "BookingContext") == [
        "+booking_id: str",
        "+seats: list[str]",
        "+paid: bool",
    ]


def test_class_diagram_shows_response_classes_once_and_skips_none() -> None:
    diagram = SagaMermaid(BookingSaga).class_diagram()

    assert class_body(diagram, "SeatHold") == ["+hold_id: str"]
    assert class_body(diagram, "Payment") == ["+payment_id: str", "+amount_cents: int"]
    assert sum(line.startswith("class Payment") for line in stripped(diagram)) == 1
    assert "None" not in diagram


def test_class_diagram_relations() -> None:
    lines = stripped(SagaMermaid(BookingSaga).class_diagram())

    steps = [line for line in lines if re.fullmatch(r"\w+ --> \w+ : .+", line)]
    assert steps == [
        "BookingSaga --> HoldSeats : step 1",
        "BookingSaga --> ChargeCard : step 2",
        "ChargeCard --> ChargeWallet : fallback",
        "BookingSaga --> SendTickets : step 3",
    ]
    for name in ("BookingSaga", "HoldSeats", "ChargeCard", "ChargeWallet", "SendTickets"):
        assert f"{name} ..> BookingContext : context" in lines
    assert "HoldSeats ..> SeatHold : returns" in lines
    assert "ChargeCard ..> Payment : returns" in lines
    assert "ChargeWallet ..> Payment : returns" in lines
    assert not any(line.startswith("SendTickets ..>") and "returns" in line for line in lines)


# --- arguments and names -------------------------------------------------------


def test_a_saga_instance_draws_the_same_as_its_class() -> None:
    from_class, from_instance = SagaMermaid(BookingSaga), SagaMermaid(BookingSaga())

    assert from_instance.sequence() == from_class.sequence()
    assert from_instance.class_diagram() == from_class.class_diagram()


def test_mermaid_keywords_are_not_used_as_ids() -> None:
    class End(SagaStepHandler[BookingContext, None]):
        async def act(self, context: BookingContext) -> SagaStepResult[BookingContext, None]:
            return self._generate_step_result(None)

    class Note(End):
        pass

    class KeywordSaga(Saga[BookingContext]):
        steps = [End, Note]

    mermaid = SagaMermaid(KeywordSaga)
    assert participants(mermaid.sequence()) == ["KeywordSaga", "End_2", "Note_2"]
    assert "KeywordSaga --> End_2 : step 1" in mermaid.class_diagram()


class _GenericSaga(Saga[typing.Any]):
    """A saga base without steps of its own."""


@pytest.mark.parametrize(
    "saga",
    [
        pytest.param(Saga, id="Saga itself"),
        pytest.param(_GenericSaga, id="a saga without steps"),
        pytest.param(HoldSeats, id="a step class"),
        pytest.param(Fallback(step=ChargeCard, fallback=ChargeWallet), id="a fallback"),
        pytest.param([HoldSeats], id="a list of steps"),
        pytest.param("BookingSaga", id="a string"),
        pytest.param(None, id="None"),
    ],
)
def test_rejects_anything_but_a_saga_with_steps(saga: typing.Any) -> None:
    with pytest.raises(cqrs.InvalidBindingError, match="SagaMermaid takes a Saga subclass"):
        SagaMermaid(saga)
