"""`mediator_middlewares`: every message timed and logged; a client's mistake only at INFO."""

from __future__ import annotations

import logging

import pytest

import cqrs
from cqrs.requests.bootstrap import bootstrap
from servicekit.middlewares import HandlerTimings, mediator_middlewares

LOGGER = "shop.mediator"


class UnknownTeaError(LookupError):
    """The shop's client error (its HTTP layer answers 404)."""


class GetTea(cqrs.Request[str]):
    name: str


class GetTeaHandler(cqrs.RequestHandler[GetTea, str]):
    async def handle(self, request: GetTea) -> str:
        if request.name == "earl":
            return "earl grey"
        if request.name == "bug":
            raise ZeroDivisionError("a bug")
        raise UnknownTeaError(f"no tea {request.name!r}")


def shop(timings: HandlerTimings) -> cqrs.RequestMediator:
    return bootstrap(
        queries_mapper=lambda mapper: mapper.bind(GetTea, GetTeaHandler),
        middlewares=mediator_middlewares("shop", timings, expected=[UnknownTeaError]),
    )


def logged(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str, bool]]:
    return [
        (record.levelno, record.getMessage().split(" in ")[0], bool(record.exc_info))
        for record in caplog.records
        if record.name == LOGGER
    ]


async def test_a_handled_message_is_timed_and_logged_at_debug(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, LOGGER)
    timings = HandlerTimings()

    assert await shop(timings).send(GetTea(name="earl")) == "earl grey"

    assert logged(caplog) == [
        (logging.DEBUG, "handling GetTea", False),
        (logging.DEBUG, "handled GetTea", False),
    ]
    assert (timings.report()["GetTea"].count, timings.report()["GetTea"].failed) == (1, 0)


async def test_a_clients_mistake_is_one_info_line_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, LOGGER)
    timings = HandlerTimings()

    with pytest.raises(UnknownTeaError):
        await shop(timings).send(GetTea(name="oolong"))

    assert logged(caplog) == [(logging.INFO, "GetTea refused", False)]
    assert timings.report()["GetTea"].failed == 1


async def test_a_bug_is_an_error_line_leaving_the_traceback_to_the_entry_point(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, LOGGER)

    with pytest.raises(ZeroDivisionError):
        await shop(HandlerTimings()).send(GetTea(name="bug"))

    assert logged(caplog) == [(logging.ERROR, "GetTea failed", False)]
    assert "ZeroDivisionError: a bug" in caplog.text
