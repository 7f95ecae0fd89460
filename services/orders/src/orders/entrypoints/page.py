"""The web page at `GET /`: what it needs to know, written into it once.

The page is one static file (`static/index.html`, no external resources). The
app fills in its settings as JSON in the `data-page` attribute of `<body>`:
the inventory's URL (its stock view and API docs), how long the saga waits
for the inventory's reply (the page's countdown), whether the admin console
is mounted, and the saga's Mermaid sequence diagram, which the page shows as
text. The diagram is also drawn, as SVG (`orders.entrypoints.diagram`), into
the page's `<div id="diagram">`; the page highlights the messages of the step
the saga is in as the transitions arrive. A diagram the drawing cannot read is
logged as a warning and shown as text only.

Each order the page places goes with a new `Idempotency-Key`
(`crypto.randomUUID`); a lost answer (no answer, 502, 503, 504) is retried a
few times with the same key and body, and placing the same order again
after a failure reuses the key, so the page never places an order twice.

>>> html = render(PageSettings(inventory_url="http://127.0.0.1:8001", reply_timeout_seconds=30,
...                            admin_console=False, saga_diagram="sequenceDiagram"))
>>> 'data-page="{&quot;inventory_url&quot;' in html
True
>>> '<div id="diagram"><svg class="sequence-diagram"' in render(PageSettings(
...     inventory_url="", reply_timeout_seconds=30, admin_console=False,
...     saga_diagram="sequenceDiagram\\n    participant A\\n    participant B\\n    A->>B: go"))
True
"""

from __future__ import annotations

import html
import importlib.resources
import logging
import typing

import pydantic

from orders.entrypoints.diagram import DiagramSyntaxError, sequence_svg

__all__ = ("PageSettings", "render")

logger = logging.getLogger("orders.http")

_PLACEHOLDER: typing.Final = 'data-page="{}"'
_DIAGRAM: typing.Final = '<div id="diagram"></div>'


class PageSettings(pydantic.BaseModel):
    """What the page is told about the system."""

    inventory_url: str
    reply_timeout_seconds: float
    admin_console: bool
    saga_diagram: str
    #: A tracing UI's page of one trace, `{trace_id}` where its id goes (`None`: no links).
    trace_url_template: str | None = None


def render(settings: PageSettings) -> str:
    """The page's HTML with `settings` in it."""
    page = (importlib.resources.files("orders.entrypoints") / "static" / "index.html").read_text(
        "utf-8"
    )
    page = page.replace(_PLACEHOLDER, f'data-page="{html.escape(settings.model_dump_json())}"')
    if settings.saga_diagram:
        try:
            svg = sequence_svg(settings.saga_diagram)
        except DiagramSyntaxError as error:
            # The page still shows the diagram's Mermaid source; the service still serves.
            logger.warning("the page shows the saga's diagram as text only: %s", error)
        else:
            page = page.replace(_DIAGRAM, f'<div id="diagram">{svg}</div>')
    return page
