"""Requests: pydantic `Request`, dataclass `DCRequest` and custom `IRequest` classes."""

import dataclasses
import datetime
import typing
import uuid

import pydantic
import pytest

import cqrs
from cqrs.requests.bootstrap import bootstrap

ORDER_ID = uuid.UUID("12345678-1234-5678-1234-567812345678")
PLACED_AT = datetime.datetime(2024, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc)


class PlaceOrder(cqrs.Request):
    order_id: uuid.UUID
    placed_at: datetime.datetime
    quantity: int


@dataclasses.dataclass
class PlaceOrderDC(cqrs.DCRequest):
    order_id: uuid.UUID
    placed_at: datetime.datetime
    quantity: int


class Shout(cqrs.IRequest[str]):
    """A request that implements the interface by hand."""

    def __init__(self, text: str) -> None:
        self.text = text

    def to_dict(self) -> dict[str, typing.Any]:
        return {"text": self.text}

    @classmethod
    def from_dict(cls, **kwargs: typing.Any) -> "Shout":
        return cls(text=kwargs["text"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Shout) and other.text == self.text

    __hash__ = None  # type: ignore[assignment]


REQUEST_CLASSES = [PlaceOrder, PlaceOrderDC]


@pytest.mark.parametrize("request_cls", REQUEST_CLASSES)
def test_request_round_trips_through_to_dict_and_from_dict(request_cls: typing.Any) -> None:
    request = request_cls(order_id=ORDER_ID, placed_at=PLACED_AT, quantity=3)

    assert request_cls.from_dict(**request.to_dict()) == request


@pytest.mark.parametrize("request_cls", REQUEST_CLASSES)
def test_request_to_dict_renders_uuid_and_datetime_as_strings(request_cls: typing.Any) -> None:
    data = request_cls(order_id=ORDER_ID, placed_at=PLACED_AT, quantity=3).to_dict()

    assert data["order_id"] == str(ORDER_ID)
    assert isinstance(data["placed_at"], str)
    assert datetime.datetime.fromisoformat(data["placed_at"]) == PLACED_AT
    assert data["quantity"] == 3


def test_pydantic_request_rejects_invalid_input_on_creation() -> None:
    with pytest.raises(pydantic.ValidationError):
        PlaceOrder(order_id="not-a-uuid", placed_at=PLACED_AT, quantity=1)  # type: ignore[arg-type]


@pytest.mark.parametrize("request_cls", REQUEST_CLASSES)
def test_from_dict_rejects_invalid_input(request_cls: typing.Any) -> None:
    with pytest.raises(pydantic.ValidationError):
        request_cls.from_dict(order_id=str(ORDER_ID), placed_at="yesterday", quantity="many")


def test_dc_request_subclass_is_a_dataclass_with_its_fields() -> None:
    names = [field.name for field in dataclasses.fields(PlaceOrderDC)]

    assert names == ["order_id", "placed_at", "quantity"]


def test_custom_irequest_round_trips_through_its_own_methods() -> None:
    request = Shout("hi")

    assert Shout.from_dict(**request.to_dict()) == request


def test_irequest_subclass_without_to_dict_cannot_be_instantiated() -> None:
    class Incomplete(cqrs.IRequest[str]):
        @classmethod
        def from_dict(cls, **kwargs: typing.Any) -> "Incomplete":
            return cls()

    with pytest.raises(TypeError, match="to_dict"):
        Incomplete()  # type: ignore[abstract]


async def test_custom_irequest_is_sent_through_the_mediator() -> None:
    class ShoutHandler(cqrs.RequestHandler[Shout, str]):
        async def handle(self, request: Shout) -> str:
            return request.text.upper()

    mediator = bootstrap(commands_mapper=lambda mapper: mapper.bind(Shout, ShoutHandler))

    assert await mediator.send(Shout("hi")) == "HI"
