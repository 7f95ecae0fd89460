"""python-cqrs `examples/dependency_injector_integration_practical_example.py`: a FastAPI
application whose handlers and repository come from a dependency-injector container,
attached to `DependencyInjectorCQRSContainer` and cached in the mediator factory."""

from __future__ import annotations

import abc
import functools

import fastapi
import httpx
import pydantic
from dependency_injector import containers, providers

import cqrs
from cqrs.container.dependency_injector import DependencyInjectorCQRSContainer
from cqrs.container.protocol import Container as CQRSContainer
from cqrs.requests import bootstrap

REGISTERED: list[str] = []


class UserRepository(abc.ABC):
    @abc.abstractmethod
    async def save_user(self, name: str) -> None: ...

    @abc.abstractmethod
    async def list_users(self) -> list[str]: ...


class InMemoryUserRepository(UserRepository):
    def __init__(self) -> None:
        self._users: list[str] = []

    async def save_user(self, name: str) -> None:
        self._users.append(name)

    async def list_users(self) -> list[str]:
        return list(self._users)


class UserRegisteredEvent(cqrs.DomainEvent, frozen=True):  # pyright: ignore[reportGeneralTypeIssues]
    user_name: str


class RegisterUserCommand(cqrs.Request):
    name: str


class RegisterUserCommandHandler(cqrs.RequestHandler[RegisterUserCommand, None]):
    def __init__(self, user_repository: UserRepository) -> None:
        self._user_repository = user_repository
        self._events: list[cqrs.Event] = []

    @property
    def events(self) -> list[cqrs.Event]:
        return self._events

    async def handle(self, request: RegisterUserCommand) -> None:
        await self._user_repository.save_user(request.name)
        self._events.append(UserRegisteredEvent(user_name=request.name))


class UserRegisteredEventHandler(cqrs.EventHandler[UserRegisteredEvent]):
    async def handle(self, event: UserRegisteredEvent) -> None:
        REGISTERED.append(event.user_name)


class ListUsersQuery(cqrs.Request):
    pass


class ListUsersQueryResponse(cqrs.Response):
    users: list[str]


class ListUsersQueryHandler(cqrs.RequestHandler[ListUsersQuery, ListUsersQueryResponse]):
    def __init__(self, user_repository: UserRepository) -> None:
        self._user_repository = user_repository

    async def handle(self, request: ListUsersQuery) -> ListUsersQueryResponse:
        return ListUsersQueryResponse(users=await self._user_repository.list_users())


class Container(containers.DeclarativeContainer):
    user_repository = providers.Singleton(InMemoryUserRepository)
    register_user_command_handler = providers.Factory(
        RegisterUserCommandHandler, user_repository=user_repository
    )
    user_registered_event_handler = providers.Factory(UserRegisteredEventHandler)
    list_users_query_handler = providers.Factory(
        ListUsersQueryHandler, user_repository=user_repository
    )


@functools.cache
def setup_di_container() -> CQRSContainer:
    cqrs_container = DependencyInjectorCQRSContainer()
    cqrs_container.attach_external_container(Container())
    return cqrs_container


@functools.cache
def request_mediator_factory() -> cqrs.RequestMediator:
    return bootstrap.bootstrap(
        di_container=setup_di_container(),
        commands_mapper=lambda mapper: mapper.bind(RegisterUserCommand, RegisterUserCommandHandler),
        queries_mapper=lambda mapper: mapper.bind(ListUsersQuery, ListUsersQueryHandler),
        domain_events_mapper=lambda mapper: mapper.bind(
            UserRegisteredEvent, UserRegisteredEventHandler
        ),
    )


class NewUser(pydantic.BaseModel):
    name: str


app = fastapi.FastAPI()


@app.post("/api/users", status_code=201)
async def register_user(
    user: NewUser,
    mediator: cqrs.RequestMediator = fastapi.Depends(request_mediator_factory),  # noqa: B008
) -> None:
    await mediator.send(RegisterUserCommand(name=user.name))


@app.get("/api/users")
async def list_users(
    mediator: cqrs.RequestMediator = fastapi.Depends(request_mediator_factory),  # noqa: B008
) -> ListUsersQueryResponse:
    return await mediator.send(ListUsersQuery())


async def test_handlers_built_by_the_container_serve_the_api() -> None:
    REGISTERED.clear()
    transport = httpx.ASGITransport(app=app)

    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        created = await client.post("/api/users", json={"name": "Ada"})
        listed = await client.get("/api/users")

    assert created.status_code == 201
    assert listed.json() == {"users": ["Ada"]}
    assert REGISTERED == ["Ada"]
