"""`RequestMap`: one binding per request type, validated when it is made."""

import typing

import pytest

import cqrs
from cqrs.requests.map import RequestMap


class Ping(cqrs.Request[str]):
    pass


class LoudPing(Ping):
    pass


class Other(cqrs.Request[str]):
    pass


class PingHandler(cqrs.RequestHandler[Ping, str]):
    async def handle(self, request: Ping) -> str:
        return "pong"


class SyncPingHandler(cqrs.SyncRequestHandler[Ping, str]):
    def handle(self, request: Ping) -> str:
        return "pong"


class OtherHandler(cqrs.RequestHandler[Other, str]):
    async def handle(self, request: Other) -> str:
        return "other"


class FirstLink(cqrs.CORRequestHandler[Ping, str]):
    async def handle(self, request: Ping) -> str | None:
        return await self.next(request)


class SecondLink(cqrs.CORRequestHandler[Ping, str]):
    async def handle(self, request: Ping) -> str | None:
        return "second"


class OtherLink(cqrs.CORRequestHandler[Other, str]):
    async def handle(self, request: Other) -> str | None:
        return "other"


def test_bound_handler_is_returned_by_get() -> None:
    mapper = RequestMap()
    mapper.bind(Ping, PingHandler)

    assert mapper.get(Ping) is PingHandler
    assert Ping in mapper
    assert len(mapper) == 1


def test_sync_handler_can_be_bound() -> None:
    mapper = RequestMap()
    mapper.bind(Ping, SyncPingHandler)

    assert mapper.get(Ping) is SyncPingHandler


def test_get_of_unbound_request_raises_not_found() -> None:
    with pytest.raises(cqrs.RequestHandlerNotFoundError) as error:
        RequestMap().get(Ping)

    assert error.value.request_type is Ping


def test_second_binding_of_a_request_type_raises_duplicate() -> None:
    mapper = RequestMap()
    mapper.bind(Ping, PingHandler)

    with pytest.raises(cqrs.DuplicateBindingError):
        mapper.bind(Ping, SyncPingHandler)
    assert mapper.get(Ping) is PingHandler


def a_function(request: object) -> str:
    return "pong"


@pytest.mark.parametrize(
    "handler",
    [object, PingHandler(), "PingHandler", a_function, None],
    ids=["plain-class", "instance", "string", "function", "none"],
)
def test_binding_something_that_is_not_a_handler_raises_invalid(handler: typing.Any) -> None:
    with pytest.raises(cqrs.InvalidBindingError):
        RequestMap().bind(Ping, handler)


def test_binding_non_class_request_type_raises_invalid() -> None:
    with pytest.raises(cqrs.InvalidBindingError):
        RequestMap().bind(Ping(), PingHandler)  # type: ignore[arg-type]


def test_handler_declaring_another_request_type_is_rejected() -> None:
    with pytest.raises(cqrs.InvalidBindingError, match="OtherHandler"):
        RequestMap().bind(Ping, OtherHandler)


def test_handler_of_a_base_request_type_accepts_a_subclass_request() -> None:
    mapper = RequestMap()
    mapper.bind(LoudPing, PingHandler)

    assert mapper.get(LoudPing) is PingHandler


def test_chain_is_stored_in_order() -> None:
    mapper = RequestMap()
    mapper.bind(Ping, [FirstLink, SecondLink])

    assert mapper.get(Ping) == (FirstLink, SecondLink)


def test_empty_chain_is_rejected() -> None:
    with pytest.raises(cqrs.InvalidBindingError):
        RequestMap().bind(Ping, [])


def test_chain_with_a_plain_handler_is_rejected() -> None:
    with pytest.raises(cqrs.InvalidBindingError):
        RequestMap().bind(Ping, [FirstLink, PingHandler])  # type: ignore[list-item]


def test_chain_link_declaring_another_request_type_is_rejected() -> None:
    with pytest.raises(cqrs.InvalidBindingError, match="OtherLink"):
        RequestMap().bind(Ping, [FirstLink, OtherLink])


def test_fallback_binding_is_stored() -> None:
    binding = cqrs.RequestHandlerFallback(primary=PingHandler, fallback=PingHandler)
    mapper = RequestMap()
    mapper.bind(Ping, binding)

    assert mapper.get(Ping) is binding


def test_fallback_whose_primary_declares_another_request_type_is_rejected() -> None:
    binding = cqrs.RequestHandlerFallback(primary=OtherHandler, fallback=OtherHandler)

    with pytest.raises(cqrs.InvalidBindingError):
        RequestMap().bind(Ping, binding)


def test_items_lists_bindings_in_binding_order() -> None:
    mapper = RequestMap()
    mapper.bind(Other, OtherHandler)
    mapper.bind(Ping, PingHandler)

    assert list(mapper.items()) == [(Other, OtherHandler), (Ping, PingHandler)]
