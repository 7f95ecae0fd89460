"""python-cqrs `examples/request_response_types.py`: pydantic, dataclass and custom messages."""

from __future__ import annotations

import dataclasses
import typing

import di

import cqrs
from cqrs.requests import bootstrap


class CreateUserCommand(cqrs.Request):
    username: str
    email: str


class UserResponse(cqrs.Response):
    user_id: str
    username: str


@dataclasses.dataclass
class CreateProductCommand(cqrs.DCRequest):
    name: str
    price: float


@dataclasses.dataclass
class ProductResponse(cqrs.DCResponse):
    product_id: str
    name: str


class CustomRequest(cqrs.IRequest):
    def __init__(self, user_id: str, action: str) -> None:
        self.user_id = user_id
        self.action = action

    def to_dict(self) -> dict[str, typing.Any]:
        return {"user_id": self.user_id, "action": self.action}

    @classmethod
    def from_dict(cls, **kwargs: typing.Any) -> CustomRequest:
        return cls(user_id=kwargs["user_id"], action=kwargs["action"])


class CustomResponse(cqrs.IResponse):
    def __init__(self, result: str, status: int) -> None:
        self.result = result
        self.status = status

    def to_dict(self) -> dict[str, typing.Any]:
        return {"result": self.result, "status": self.status}

    @classmethod
    def from_dict(cls, **kwargs: typing.Any) -> CustomResponse:
        return cls(result=kwargs["result"], status=kwargs["status"])


class CreateUserHandler(cqrs.RequestHandler[CreateUserCommand, UserResponse]):
    async def handle(self, request: CreateUserCommand) -> UserResponse:
        return UserResponse(user_id=f"u-{request.username}", username=request.username)


class CreateProductHandler(cqrs.RequestHandler[CreateProductCommand, ProductResponse]):
    async def handle(self, request: CreateProductCommand) -> ProductResponse:
        return ProductResponse(product_id=f"p-{request.name}", name=request.name)


class CustomHandler(cqrs.RequestHandler[CustomRequest, CustomResponse]):
    async def handle(self, request: CustomRequest) -> CustomResponse:
        return CustomResponse(result=f"{request.action} by {request.user_id}", status=200)


def commands(mapper: cqrs.RequestMap) -> None:
    mapper.bind(CreateUserCommand, CreateUserHandler)
    mapper.bind(CreateProductCommand, CreateProductHandler)
    mapper.bind(CustomRequest, CustomHandler)


async def test_every_kind_of_request_reaches_its_handler() -> None:
    mediator = bootstrap.bootstrap(di_container=di.Container(), commands_mapper=commands)

    user = await mediator.send(CreateUserCommand(username="ada", email="ada@example.com"))
    product = await mediator.send(CreateProductCommand(name="tea", price=2.5))
    custom = await mediator.send(CustomRequest(user_id="u1", action="archive"))

    assert user.to_dict() == {"user_id": "u-ada", "username": "ada"}
    assert product.to_dict() == {"product_id": "p-tea", "name": "tea"}
    assert custom.to_dict() == {"result": "archive by u1", "status": 200}


def test_the_python_cqrs_names_and_round_trips() -> None:
    assert cqrs.PydanticRequest is cqrs.Request
    assert cqrs.PydanticResponse is cqrs.Response
    product = CreateProductCommand(name="tea", price=2.5)
    assert CreateProductCommand.from_dict(**product.to_dict()) == product
    custom = CustomRequest.from_dict(**CustomRequest("u1", "archive").to_dict())
    assert (custom.user_id, custom.action) == ("u1", "archive")
