"""The admin console page in headless Chromium (the `browser` fixture of tests/conftest.py),
served by `admin_router` over in-memory ports: it lists a dead letter and replays it,
confirmation first; it resolves a saga only with a reason; it shows what arrives later
without a reload."""

from __future__ import annotations

import asyncio
import collections.abc
import dataclasses
import threading
import time

import pytest
import uvicorn
from fastapi import FastAPI
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from cqrs.admin.dead_letters import DeadLetterId, RawRecord
from cqrs.admin.memory import MemoryDeadLetters
from cqrs.admin.saga_admin import SagaAdmin
from cqrs.outbox.memory import MemoryOutbox
from cqrs.saga.models import SagaStatus
from cqrs.saga.recovery import SagaRecoveryWorker
from cqrs.saga.storage.memory import MemorySagaStorage
from cqrs.testing.saga_admin import ParcelContext, ParcelSaga, leave_compensation_failed
from cqrs_admin import BearerTokens, admin_router
from cqrs_kafka.local import free_port

TOKEN = "alice-9f2c5e71d04b88aa71d0"
WAIT = 30  # seconds: a page update on a loaded machine, not a measure of speed


@dataclasses.dataclass
class Console:
    url: str
    dead_letters: MemoryDeadLetters
    storage: MemorySagaStorage


def _keep(dead_letters: MemoryDeadLetters, offset: int) -> DeadLetterId:
    return dead_letters.add(
        "parcels.dlq",
        RawRecord("parcels", b"p-1", b'{"parcel_id": "p-1"}', {"message_id": f"m-{offset}"}),
        original_partition=0,
        original_offset=offset,
        reason="<b>no handler</b> for 'weighed'",  # shown as text, never as markup
    )


@pytest.fixture
def console() -> collections.abc.Iterator[Console]:
    dead_letters, storage = MemoryDeadLetters(), MemorySagaStorage()
    worker = SagaRecoveryWorker(
        storage=storage, sagas={ParcelSaga.saga_name(): (ParcelSaga, ParcelContext)}
    )
    app = FastAPI()
    app.include_router(
        admin_router(
            outbox=MemoryOutbox(),
            sagas=SagaAdmin(storage, worker),
            dead_letters=dead_letters,
            authenticate=BearerTokens({TOKEN: "alice"}),
            refresh_seconds=0.5,
        ),
        prefix="/admin",
    )
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT
    while not server.started:
        assert thread.is_alive(), "the console's server stopped"
        assert time.monotonic() < deadline, "the console did not start"
        time.sleep(0.05)
    try:
        yield Console(f"http://127.0.0.1:{port}/admin/", dead_letters, storage)
    finally:
        server.should_exit = True
        thread.join(timeout=WAIT)


def _row(browser: webdriver.Chrome, table: str, key: str) -> WebElement | None:
    rows = browser.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr[data-key='{key}']")
    return rows[0] if rows else None


def _wait(browser: webdriver.Chrome) -> WebDriverWait[webdriver.Chrome]:
    # The page redraws its lists every refresh: an element found a moment ago may be gone.
    return WebDriverWait(browser, WAIT, ignored_exceptions=(StaleElementReferenceException,))


def _row_text(browser: webdriver.Chrome, table: str, key: str) -> str | None:
    """The text of the row of `table` with that key once it shows, or `None` after `WAIT`."""

    def text(_: object) -> str | None:
        row = _row(browser, table, key)
        return None if row is None else row.text

    return _wait(browser).until(text)


def _click(browser: webdriver.Chrome, table: str, key: str, action: str) -> None:
    """Click the `action` button of the row of `table` with that key."""

    def clicked(_: object) -> bool:
        row = _row(browser, table, key)
        if row is None:
            return False
        row.find_element(By.CSS_SELECTOR, f"button.{action}").click()
        return True

    _wait(browser).until(clicked)


def _confirm(browser: webdriver.Chrome, reason: str | None) -> None:
    dialog = browser.find_element(By.ID, "confirm")
    WebDriverWait(browser, WAIT).until(lambda _: dialog.get_attribute("open") is not None)
    if reason is not None:
        browser.find_element(By.ID, "confirm-reason").send_keys(reason)
    browser.find_element(By.ID, "confirm-ok").click()


def test_the_page_lists_a_dead_letter_and_replays_it_after_confirmation(
    console: Console, browser: webdriver.Chrome
) -> None:
    where = _keep(console.dead_letters, offset=41)
    browser.get(f"{console.url}#token={TOKEN}")

    text = _row_text(browser, "dead-letter-list", where.cursor)
    assert text is not None
    assert "<b>no handler</b> for 'weighed'" in text
    assert "parcels/0/41" in text
    assert "#token" not in browser.current_url  # the token left the address bar

    _click(browser, "dead-letter-list", where.cursor, "replay")
    browser.find_element(By.ID, "confirm-cancel").click()  # sends nothing: see the end
    _click(browser, "dead-letter-list", where.cursor, "replay")
    _confirm(browser, "the handler is deployed")

    def replayed(_: object) -> bool:
        current = _row(browser, "dead-letter-list", where.cursor)
        return current is not None and "by alice" in current.text

    _wait(browser).until(replayed)
    # One replay: had the cancelled one gone out, this one would have been refused.
    assert [(record.topic, record.key) for record in console.dead_letters.replayed] == [
        ("parcels", b"p-1")
    ]
    WebDriverWait(browser, WAIT).until(
        lambda _: "dead_letter.replay" in browser.find_element(By.ID, "audit-log").text
    )
    assert "the handler is deployed" in browser.find_element(By.ID, "audit-log").text


def test_a_saga_is_resolved_only_with_a_reason(console: Console, browser: webdriver.Chrome) -> None:
    saga_id = asyncio.run(leave_compensation_failed(console.storage))
    browser.get(f"{console.url}#token={TOKEN}")

    _click(browser, "saga-list", str(saga_id), "resolve")
    _confirm(browser, None)  # no reason: the form refuses to close
    assert browser.find_element(By.ID, "confirm").get_attribute("open") is not None
    _confirm(browser, "refunded by hand")

    _wait(browser).until(lambda _: _row(browser, "saga-list", str(saga_id)) is None)
    state = asyncio.run(console.storage.load_saga_state(saga_id))
    assert (state.status, console.storage.audit[-1].reason) == (
        SagaStatus.RESOLVED,
        "refunded by hand",
    )


def test_the_page_shows_what_arrives_later_without_a_reload(
    console: Console, browser: webdriver.Chrome
) -> None:
    browser.get(f"{console.url}#token={TOKEN}")
    WebDriverWait(browser, WAIT).until(
        lambda _: "no dead letters" in browser.find_element(By.ID, "dead-letter-list").text
    )

    where = _keep(console.dead_letters, offset=7)

    assert _row_text(browser, "dead-letter-list", where.cursor) is not None


def test_a_wrong_token_shows_the_refusal_and_no_data(
    console: Console, browser: webdriver.Chrome
) -> None:
    _keep(console.dead_letters, offset=3)
    browser.get(f"{console.url}#token=not-the-token")

    WebDriverWait(browser, WAIT).until(
        lambda _: "token refused" in browser.find_element(By.ID, "status").text
    )
    assert browser.find_elements(By.CSS_SELECTOR, "#dead-letter-list tbody tr[data-key]") == []
