"""`RequestMediator`, built with `cqrs.requests.bootstrap.bootstrap`."""

import asyncio
import typing

import di
import di.dependent
import pytest

import cqrs
from cqrs.message_brokers.memory import InMemoryMessageBroker
from cqrs.requests.bootstrap import bootstrap

WAIT = 5  # seconds; a deadlock guard only, never used to order anything


class Ping(cqrs.Request[str]):
    pass


class PlaceOrder(cqrs.Request[None]):
    order_id: str


class OrderPlaced(cqrs.DomainEvent):
    order_id: str


class Tick(cqrs.DomainEvent):
    number: int


class OrderPayload(cqrs.Response):
    order_id: str


class Greeter(typing.Protocol):
    def greet(self) -> str: ...


class EnglishGreeter:
    def greet(self) -> str:
        return "hello"


class GreetingHandler(cqrs.RequestHandler[Ping, str]):
    def __init__(self, greeter: Greeter) -> None:
        self.greeter = greeter

    async def handle(self, request: Ping) -> str:
        return self.greeter.greet()


class PingHandler(cqrs.RequestHandler[Ping, str]):
    async def handle(self, request: Ping) -> str:
        return "pong"


def ping_mapper(mapper: cqrs.RequestMap) -> None:
    mapper.bind(Ping, PingHandler)


def order_handler(events: list[cqrs.IEvent], log: list[str] | None = None) -> type:
    """A PlaceOrder handler that records `events` and logs when `handle` ends."""

    class PlaceOrderHandler(cqrs.RequestHandler[PlaceOrder, None]):
        @property
        def events(self) -> list[cqrs.IEvent]:
            return events

        async def handle(self, request: PlaceOrder) -> None:
            if log is not None:
                log.append("handle done")

    return PlaceOrderHandler


def notification(order_id: str) -> cqrs.NotificationEvent[OrderPayload]:
    return cqrs.NotificationEvent[OrderPayload](
        event_name="order_placed", topic="orders", payload=OrderPayload(order_id=order_id)
    )


async def yield_to_loop() -> None:
    """Let every other ready task run once (a scheduling point, not a sleep)."""
    loop = asyncio.get_running_loop()
    future = loop.create_future()
    loop.call_soon(future.set_result, None)
    await future


async def test_send_returns_the_async_handler_response() -> None:
    mediator = bootstrap(commands_mapper=ping_mapper)

    assert await mediator.send(Ping()) == "pong"


async def test_send_runs_a_sync_request_handler() -> None:
    class SyncPing(cqrs.SyncRequestHandler[Ping, str]):
        def handle(self, request: Ping) -> str:
            return "sync pong"

    mediator = bootstrap(queries_mapper=lambda mapper: mapper.bind(Ping, SyncPing))

    assert await mediator.send(Ping()) == "sync pong"


async def test_handler_dependency_is_resolved_from_a_raw_di_container() -> None:
    container = di.Container()
    container.bind(
        di.bind_by_type(di.dependent.Dependent(EnglishGreeter, scope="request"), Greeter)
    )
    mediator = bootstrap(
        di_container=container,
        commands_mapper=lambda mapper: mapper.bind(Ping, GreetingHandler),
    )

    assert await mediator.send(Ping()) == "hello"


async def test_domain_events_are_dispatched_to_event_handlers_after_handle() -> None:
    log: list[str] = []

    class LogOrderPlaced(cqrs.EventHandler[OrderPlaced]):
        async def handle(self, event: OrderPlaced) -> None:
            log.append(f"event {event.order_id}")

    handler = order_handler([OrderPlaced(order_id="o1")], log)
    mediator = bootstrap(
        commands_mapper=lambda mapper: mapper.bind(PlaceOrder, handler),
        domain_events_mapper=lambda mapper: mapper.bind(OrderPlaced, LogOrderPlaced),
    )

    await mediator.send(PlaceOrder(order_id="o1"))

    assert log == ["handle done", "event o1"]


async def test_notification_events_are_published_to_the_broker_as_messages() -> None:
    broker = InMemoryMessageBroker()
    event = notification("o1")
    handler = order_handler([event])
    mediator = bootstrap(
        message_broker=broker,
        commands_mapper=lambda mapper: mapper.bind(PlaceOrder, handler),
    )

    await mediator.send(PlaceOrder(order_id="o1"))

    assert broker.messages == [
        cqrs.Message(
            message_name="order_placed",
            topic="orders",
            payload=event.to_dict(),
            message_id=event.event_id,
        )
    ]
    assert broker.messages[0].message_id == event.event_id


async def test_sending_an_unbound_request_raises_not_found() -> None:
    mediator = bootstrap(commands_mapper=lambda mapper: None)

    with pytest.raises(cqrs.RequestHandlerNotFoundError):
        await mediator.send(Ping())


@pytest.mark.parametrize("max_concurrent", [1, 3])
async def test_failing_event_handler_does_not_stop_the_others_and_send_raises(
    max_concurrent: int,
) -> None:
    handled: list[str] = []
    broker = InMemoryMessageBroker()

    class Failing(cqrs.EventHandler[OrderPlaced]):
        async def handle(self, event: OrderPlaced) -> None:
            raise RuntimeError("projection down")

    class Working(cqrs.EventHandler[OrderPlaced]):
        async def handle(self, event: OrderPlaced) -> None:
            handled.append(event.order_id)

    def events_mapper(mapper: cqrs.EventMap) -> None:
        mapper.bind(OrderPlaced, Failing)
        mapper.bind(OrderPlaced, Working)

    placed = OrderPlaced(order_id="o1")
    handler = order_handler([placed, notification("o1")])
    mediator = bootstrap(
        message_broker=broker,
        commands_mapper=lambda mapper: mapper.bind(PlaceOrder, handler),
        domain_events_mapper=events_mapper,
        max_concurrent_event_handlers=max_concurrent,
    )

    with pytest.raises(RuntimeError, match="projection down") as error:
        await mediator.send(PlaceOrder(order_id="o1"))

    # The dispatcher sets it on the raised exception.
    report: cqrs.EventHandlingError = vars(error.value)["event_handling_error"]
    [(event, failed_handler, exc)] = report.failures
    assert (event, failed_handler, exc) == (placed, Failing, error.value)
    assert "Failing" in str(report)
    assert handled == ["o1"]
    assert [message.message_name for message in broker.messages] == ["order_placed"]


async def test_max_concurrent_event_handlers_bounds_handlers_in_flight() -> None:
    started: asyncio.Queue[int] = asyncio.Queue()
    release = asyncio.Event()
    in_flight = 0
    max_in_flight = 0

    class Slow(cqrs.EventHandler[Tick]):
        async def handle(self, event: Tick) -> None:
            nonlocal in_flight, max_in_flight
            in_flight += 1
            max_in_flight = max(max_in_flight, in_flight)
            started.put_nowait(event.number)
            await release.wait()
            in_flight -= 1

    handler = order_handler([Tick(number=n) for n in range(5)])
    mediator = bootstrap(
        commands_mapper=lambda mapper: mapper.bind(PlaceOrder, handler),
        domain_events_mapper=lambda mapper: mapper.bind(Tick, Slow),
        max_concurrent_event_handlers=2,
    )

    sending = asyncio.create_task(mediator.send(PlaceOrder(order_id="o1")))
    # Two handlers must be able to run at once: neither finishes before both started.
    first_two = {await asyncio.wait_for(started.get(), WAIT) for _ in range(2)}
    release.set()
    await asyncio.wait_for(sending, WAIT)

    assert first_two == {0, 1}
    assert max_in_flight == 2
    assert started.qsize() == 3


async def test_sequential_mode_runs_event_handlers_one_by_one_in_binding_order() -> None:
    log: list[str] = []

    def logging_handler(name: str) -> type:
        class Handler(cqrs.EventHandler[OrderPlaced]):
            async def handle(self, event: OrderPlaced) -> None:
                log.append(f"{name} start")
                await yield_to_loop()
                log.append(f"{name} end")

        return Handler

    def events_mapper(mapper: cqrs.EventMap) -> None:
        for name in ("a", "b", "c"):
            mapper.bind(OrderPlaced, logging_handler(name))

    handler = order_handler([OrderPlaced(order_id="o1")])
    mediator = bootstrap(
        commands_mapper=lambda mapper: mapper.bind(PlaceOrder, handler),
        domain_events_mapper=events_mapper,
        max_concurrent_event_handlers=5,
        concurrent_event_handle_enable=False,
    )

    await mediator.send(PlaceOrder(order_id="o1"))

    assert log == ["a start", "a end", "b start", "b end", "c start", "c end"]


async def test_middlewares_wrap_the_handler_first_one_outermost() -> None:
    log: list[str] = []

    def middleware(name: str) -> cqrs.Middleware:
        class Tag:
            async def __call__(self, request: typing.Any, handle: typing.Any) -> typing.Any:
                log.append(f"{name} before")
                response = await handle(request)
                log.append(f"{name} after")
                return f"{name}({response})"

        return Tag()

    class LoggedPing(cqrs.RequestHandler[Ping, str]):
        async def handle(self, request: Ping) -> str:
            log.append("handle")
            return "pong"

    mediator = bootstrap(
        commands_mapper=lambda mapper: mapper.bind(Ping, LoggedPing),
        middlewares=[middleware("outer"), middleware("inner")],
    )

    assert await mediator.send(Ping()) == "outer(inner(pong))"
    assert log == ["outer before", "inner before", "handle", "inner after", "outer after"]


async def test_middleware_can_short_circuit_the_handler() -> None:
    constructed: list[str] = []

    class Cached:
        async def __call__(self, request: typing.Any, handle: typing.Any) -> typing.Any:
            return "cached"

    class Tracked(cqrs.RequestHandler[Ping, str]):
        def __init__(self) -> None:
            constructed.append("handler")

        async def handle(self, request: Ping) -> str:
            return "pong"

    mediator = bootstrap(
        commands_mapper=lambda mapper: mapper.bind(Ping, Tracked), middlewares=[Cached()]
    )

    assert await mediator.send(Ping()) == "cached"
    assert constructed == []


def test_on_startup_hooks_run_in_order_at_bootstrap() -> None:
    ran: list[str] = []

    bootstrap(
        commands_mapper=ping_mapper,
        on_startup=[lambda: ran.append("first"), lambda: ran.append("second")],
    )

    assert ran == ["first", "second"]


# -- python-cqrs 4.x arguments --------------------------------------------------


class Tagging:
    """A middleware that appends its name to a shared log around the handler."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    async def __call__(self, request: object, handle: typing.Any) -> object:
        self.log.append(f"{self.name} in")
        response = await handle(request)
        self.log.append(f"{self.name} out")
        return response


async def test_a_middleware_chain_is_accepted_as_middleware_chain() -> None:
    log: list[str] = []
    chain = cqrs.middlewares.MiddlewareChain()
    chain.add(Tagging("outer", log))
    chain.add(Tagging("inner", log))
    requests = cqrs.RequestMap()
    requests.bind(Ping, PingHandler)

    mediator = cqrs.RequestMediator(
        requests, cqrs.container.di.DIContainer(), middleware_chain=chain
    )

    assert await mediator.send(Ping()) == "pong"
    assert log == ["outer in", "inner in", "inner out", "outer out"]


def test_middlewares_and_middleware_chain_together_are_refused() -> None:
    with pytest.raises(cqrs.ConfigurationError, match="not both"):
        cqrs.RequestMediator(
            cqrs.RequestMap(),
            cqrs.container.di.DIContainer(),
            middlewares=[Tagging("a", [])],
            middleware_chain=cqrs.middlewares.MiddlewareChain(),
        )


async def test_an_event_map_without_an_emitter_gets_its_handlers_called() -> None:
    handled: list[str] = []

    class Project(cqrs.EventHandler[OrderPlaced]):
        async def handle(self, event: OrderPlaced) -> None:
            handled.append(event.order_id)

    requests, events = cqrs.RequestMap(), cqrs.EventMap()
    requests.bind(PlaceOrder, order_handler([OrderPlaced(order_id="o1")]))
    events.bind(OrderPlaced, Project)

    mediator = cqrs.RequestMediator(requests, cqrs.container.di.DIContainer(), event_map=events)
    await mediator.send(PlaceOrder(order_id="o1"))

    assert handled == ["o1"]


async def test_concurrency_arguments_apply_to_a_given_emitter() -> None:
    running = 0
    peak = 0

    class Slow(cqrs.EventHandler[Tick]):
        async def handle(self, event: Tick) -> None:
            nonlocal running, peak
            running += 1
            peak = max(peak, running)
            await asyncio.sleep(0)
            running -= 1

    container = cqrs.container.di.DIContainer()
    requests, events = cqrs.RequestMap(), cqrs.EventMap()
    requests.bind(PlaceOrder, order_handler([Tick(number=n) for n in range(6)]))
    events.bind(Tick, Slow)
    emitter = cqrs.EventEmitter(events, container)  # one handler at a time by default

    mediator = cqrs.RequestMediator(
        requests,
        container,
        event_emitter=emitter,
        max_concurrent_event_handlers=3,
        concurrent_event_handle_enable=True,
    )
    await asyncio.wait_for(mediator.send(PlaceOrder(order_id="o1")), WAIT)

    assert peak == 3


async def test_bootstrap_takes_none_for_on_startup_and_middlewares() -> None:
    mediator = bootstrap(commands_mapper=ping_mapper, on_startup=None, middlewares=None)

    assert await mediator.send(Ping()) == "pong"
