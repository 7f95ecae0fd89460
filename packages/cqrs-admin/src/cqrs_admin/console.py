"""The console page: one static HTML file with a little JavaScript, no build step.

The page asks for an operator's token (or takes it from the URL fragment,
`#token=...`, which browsers never send to the server), keeps it in the
tab's `sessionStorage`, and calls the admin API with it. It lists dead outbox
rows, dead letters and the sagas that need a person, refreshes them every
few seconds, and asks for confirmation (and a reason where one is required)
before it replays, discards, retries or resolves anything. Everything it
shows is set as text, never as HTML: dead letters hold whatever a producer
sent.

>>> page = console_page(ConsoleSettings(outbox=True, sagas=False, dead_letters=False))
>>> '"outbox": true' in page, "<script" in page
(True, True)
"""

from __future__ import annotations

import dataclasses
import importlib.resources
import json

__all__ = ("ConsoleSettings", "console_page")

_SETTINGS_MARK = "/*SETTINGS*/{}"


@dataclasses.dataclass(frozen=True)
class ConsoleSettings:
    """What the page shows: which areas the router serves, and how it behaves."""

    outbox: bool
    sagas: bool
    dead_letters: bool
    retry: bool = False
    max_recovery_attempts: int = 5
    refresh_seconds: float = 5.0


def console_page(settings: ConsoleSettings) -> str:
    """The page's HTML, with `settings` written into its script."""
    template = importlib.resources.files("cqrs_admin").joinpath("console.html").read_text("utf-8")
    # The settings are ours (booleans and numbers), so plain JSON is safe inside the script.
    return template.replace(_SETTINGS_MARK, json.dumps(dataclasses.asdict(settings)))
