"""Chains of `CORRequestHandler`s: each link handles the request or passes it on."""

import cqrs
from cqrs.requests.bootstrap import bootstrap


class Paid(cqrs.Response):
    by: str


class Pay(cqrs.Request[Paid | None]):
    method: str


class LinkRan(cqrs.DomainEvent):
    link: str


def chain_mediator(
    constructed: list[str], dispatched: list[str] | None = None
) -> cqrs.RequestMediator:
    """Card -> Cash -> Last; each link records a `LinkRan` and logs its construction."""

    class Link(cqrs.CORRequestHandler[Pay, Paid]):
        name = ""

        def __init__(self) -> None:
            constructed.append(self.name)
            self._events: list[cqrs.IEvent] = []

        @property
        def events(self) -> list[cqrs.IEvent]:
            return self._events

        async def handle(self, request: Pay) -> Paid | None:
            self._events.append(LinkRan(link=self.name))
            if request.method == self.name:
                return Paid(by=self.name)
            return await self.next(request)

    class Card(Link):
        name = "card"

    class Cash(Link):
        name = "cash"

    class Last(Link):
        name = "last"

    class RecordLink(cqrs.EventHandler[LinkRan]):
        async def handle(self, event: LinkRan) -> None:
            if dispatched is not None:
                dispatched.append(event.link)

    return bootstrap(
        commands_mapper=lambda mapper: mapper.bind(Pay, [Card, Cash, Last]),
        domain_events_mapper=lambda mapper: mapper.bind(LinkRan, RecordLink),
    )


async def test_first_link_that_returns_wins() -> None:
    mediator = chain_mediator(constructed=[])

    assert await mediator.send(Pay(method="card")) == Paid(by="card")


async def test_next_passes_the_request_to_the_following_link() -> None:
    mediator = chain_mediator(constructed=[])

    assert await mediator.send(Pay(method="cash")) == Paid(by="cash")


async def test_next_of_the_last_link_returns_none() -> None:
    mediator = chain_mediator(constructed=[])

    assert await mediator.send(Pay(method="crypto")) is None


async def test_links_after_the_winner_are_never_constructed() -> None:
    constructed: list[str] = []
    mediator = chain_mediator(constructed)

    await mediator.send(Pay(method="card"))

    assert constructed == ["card"]


async def test_events_of_every_link_that_ran_are_dispatched() -> None:
    constructed: list[str] = []
    dispatched: list[str] = []
    mediator = chain_mediator(constructed, dispatched)

    await mediator.send(Pay(method="cash"))

    assert dispatched == ["card", "cash"]
    assert constructed == ["card", "cash"]


async def test_next_without_a_following_link_returns_none() -> None:
    class Lonely(cqrs.CORRequestHandler[Pay, Paid]):
        async def handle(self, request: Pay) -> Paid | None:
            return await self.next(request)

    assert await Lonely().handle(Pay(method="card")) is None
