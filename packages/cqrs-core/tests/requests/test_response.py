"""Responses: pydantic `Response` and dataclass `DCResponse`."""

import dataclasses
import datetime
import typing
import uuid

import pydantic
import pytest

import cqrs

USER_ID = uuid.UUID("87654321-4321-8765-4321-876543210987")
JOINED_AT = datetime.datetime(2023, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)


class UserDto(cqrs.Response):
    user_id: uuid.UUID
    joined_at: datetime.datetime
    name: str


@dataclasses.dataclass
class UserDtoDC(cqrs.DCResponse):
    user_id: uuid.UUID
    joined_at: datetime.datetime
    name: str


RESPONSE_CLASSES = [UserDto, UserDtoDC]


@pytest.mark.parametrize("response_cls", RESPONSE_CLASSES)
def test_response_round_trips_through_to_dict_and_from_dict(response_cls: typing.Any) -> None:
    response = response_cls(user_id=USER_ID, joined_at=JOINED_AT, name="Ada")

    assert response_cls.from_dict(**response.to_dict()) == response


@pytest.mark.parametrize("response_cls", RESPONSE_CLASSES)
def test_response_to_dict_renders_uuid_and_datetime_as_strings(response_cls: typing.Any) -> None:
    data = response_cls(user_id=USER_ID, joined_at=JOINED_AT, name="Ada").to_dict()

    assert data["user_id"] == str(USER_ID)
    assert isinstance(data["joined_at"], str)
    assert datetime.datetime.fromisoformat(data["joined_at"]) == JOINED_AT
    assert data["name"] == "Ada"


def test_pydantic_response_rejects_invalid_input_on_creation() -> None:
    with pytest.raises(pydantic.ValidationError):
        UserDto(user_id=USER_ID, joined_at="not-a-date", name="Ada")  # type: ignore[arg-type]


@pytest.mark.parametrize("response_cls", RESPONSE_CLASSES)
def test_from_dict_rejects_invalid_input(response_cls: typing.Any) -> None:
    with pytest.raises(pydantic.ValidationError):
        response_cls.from_dict(user_id="nope", joined_at=JOINED_AT.isoformat(), name="Ada")


def test_response_and_dc_response_implement_iresponse() -> None:
    assert isinstance(UserDto(user_id=USER_ID, joined_at=JOINED_AT, name="a"), cqrs.IResponse)
    assert isinstance(UserDtoDC(user_id=USER_ID, joined_at=JOINED_AT, name="a"), cqrs.IResponse)
