"""`LoggingMiddleware`: a client's mistake is one INFO line, a bug an ERROR with its traceback."""

from __future__ import annotations

import logging

import pytest

import cqrs
from cqrs.requests.bootstrap import bootstrap

LOGGER = "tests.mediator"


class UnknownItemError(LookupError):
    """What a handler raises for a client asking for something that is not there."""


class GetItem(cqrs.Request[str]):
    item_id: str


class GetItemHandler(cqrs.RequestHandler[GetItem, str]):
    async def handle(self, request: GetItem) -> str:
        if request.item_id == "missing":
            raise UnknownItemError(f"no item {request.item_id!r}")
        if request.item_id == "bug":
            raise KeyError("a bug in the handler")
        return f"item {request.item_id}"


def mediator(middleware: cqrs.LoggingMiddleware) -> cqrs.RequestMediator:
    return bootstrap(
        queries_mapper=lambda mapper: mapper.bind(GetItem, GetItemHandler),
        middlewares=[middleware],
    )


def records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.name == LOGGER]


async def test_a_handled_message_is_logged_at_the_level_with_its_duration(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, LOGGER)
    logged = mediator(cqrs.LoggingMiddleware(logging.getLogger(LOGGER)))

    assert await logged.send(GetItem(item_id="tea")) == "item tea"

    assert [(r.levelno, r.getMessage().split(" in ")[0]) for r in records(caplog)] == [
        (logging.DEBUG, "handling GetItem"),
        (logging.DEBUG, "handled GetItem"),
    ]


async def test_an_expected_error_is_one_info_line_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, LOGGER)
    middleware = cqrs.LoggingMiddleware(logging.getLogger(LOGGER), expected=(UnknownItemError,))

    with pytest.raises(UnknownItemError):
        await mediator(middleware).send(GetItem(item_id="missing"))

    (refused,) = [r for r in records(caplog) if r.levelno > logging.DEBUG]
    assert refused.levelno == logging.INFO
    assert refused.exc_info is None
    assert refused.getMessage().startswith("GetItem refused in ")
    assert refused.getMessage().endswith(": UnknownItemError: no item 'missing'")


async def test_the_level_of_expected_errors_is_configurable(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, LOGGER)
    middleware = cqrs.LoggingMiddleware(
        logging.getLogger(LOGGER), expected=(LookupError,), expected_level=logging.WARNING
    )

    with pytest.raises(UnknownItemError):
        await mediator(middleware).send(GetItem(item_id="missing"))

    assert [r.levelno for r in records(caplog) if r.levelno > logging.DEBUG] == [logging.WARNING]


async def test_an_unexpected_error_is_an_error_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, LOGGER)
    middleware = cqrs.LoggingMiddleware(logging.getLogger(LOGGER), expected=(UnknownItemError,))

    with pytest.raises(KeyError):
        await mediator(middleware).send(GetItem(item_id="bug"))

    (failed,) = [r for r in records(caplog) if r.levelno > logging.DEBUG]
    assert failed.levelno == logging.ERROR
    assert failed.exc_info is not None
    assert failed.exc_info[0] is KeyError
    assert "GetItem failed in " in failed.getMessage()


async def test_without_tracebacks_an_unexpected_error_is_one_error_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG, LOGGER)
    middleware = cqrs.LoggingMiddleware(logging.getLogger(LOGGER), tracebacks=False)

    with pytest.raises(KeyError):
        await mediator(middleware).send(GetItem(item_id="bug"))

    (failed,) = [r for r in records(caplog) if r.levelno > logging.DEBUG]
    assert failed.levelno == logging.ERROR
    assert not failed.exc_info
    assert failed.getMessage().endswith("KeyError: 'a bug in the handler'")
