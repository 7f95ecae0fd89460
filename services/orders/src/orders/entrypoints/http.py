"""The orders HTTP API, its web page and its health check.

- `POST /orders`: 202 `{"order_id", "status": "pending", "screening"}` with
  `Location: /orders/{id}`; 422 when a screening rule refuses the order. With an
  `Idempotency-Key` header (a new random key per order, a UUID say) a retry under
  the same key and body answers what the first request answered (202, the same
  body and `Location`) and places nothing, even after a crash of the server; a
  retry arriving while the first request still runs waits for it. The same key
  with another body is a 409; a key that is not 1 to 255 visible ASCII characters
  a 422.
- `GET /orders?customer_id=...`: the customer's latest orders (the read side).
- `GET /orders/{id}`: 200, the order with its saga's history; 404 for an unknown or
  malformed id.
- `GET /orders/{id}/events`: `text/event-stream` of the saga's transitions (see
  `orders.entrypoints.sse`).
- `GET /screening`: the order screening's rules, in order, with their Mermaid diagram
  and the limits in force (a sync query handler, `DescribeScreening`).
- `GET /`: the web page that places an order and follows it live.
- `GET /health`: 200 when every probe answers, else 503; `"ok"`/`"unavailable"` per probe.

Who the customer is (`servicekit.auth.CustomerAuth`): in `open` mode whoever
the request names. In `jwt` mode every route above but the page, the
screening and the health check needs `Authorization: Bearer <JWT>` (else
401); the customer is the token's subject: `POST /orders` places the order
for it whatever `customer_id` the body names, `GET /orders` lists its orders
whatever `customer_id` asks for, and another customer's order (or its event
stream) answers 404, as an unknown one. `POST /orders` may be rate limited
per client (`servicekit.rate_limit`: the customer in `jwt` mode, else the peer
address): 429 with `Retry-After`.

Errors are RFC 9457 problems (`orders.entrypoints.errors`); each route's
OpenAPI entry declares every status it answers. A request body is JSON of at
most `MAX_BODY_BYTES` (else 415, 413), and a request breaking the contract
(`orders.application.contract`, shown in the OpenAPI document) is a 422.

`create_app` takes the request mediator that serves the use cases and the
streaming one of the event stream; the service's wiring (`orders.main`) adds
its lifespan, which runs the Kafka consumer and the background workers.
"""

from __future__ import annotations

import asyncio
import logging
import typing
import uuid

import fastapi
from fastapi.responses import HTMLResponse

import cqrs
from orders.application.errors import OrderNotFoundError
from orders.application.get_order import GetOrder, OrderDetails
from orders.application.order_history import CustomerOrders, ListCustomerOrders
from orders.application.place_order import OrderPlaced, PlaceOrder, PlaceOrderOnce
from orders.application.ports import OrderChanges
from orders.application.screening import DescribeScreening, ScreeningChain
from orders.application.watch_order import OrderSnapshot, WatchOrder
from orders.domain.limits import MAX_CUSTOMER_ID_LENGTH
from orders.entrypoints import sse
from orders.entrypoints.errors import install_error_handling
from orders.entrypoints.page import PageSettings, render
from servicekit import RequestBodyLimits, problem_responses
from servicekit.auth import Customer, CustomerAuth
from servicekit.health import Lifespan, Probe, add_health_route
from servicekit.idempotency import IdempotencyKey, idempotency_key
from servicekit.openapi import docs_routes
from servicekit.rate_limit import RateLimit, client_address
from servicekit.telemetry import HTTP_TELEMETRY

__all__ = ("create_app", "MAX_BODY_BYTES")

logger = logging.getLogger("orders.http")

#: The largest request body read: the largest valid order (100 items) is about 10 KiB,
#: or 45 KiB with every character of its skus escaped.
MAX_BODY_BYTES: typing.Final = 64 * 1024

_PLACED: typing.Final = {
    "description": "Accepted: the order is pending; its saga decides it",
    "headers": {
        "Location": {"description": "The order's URL", "schema": {"type": "string"}},
    },
}
_NO_PAGE_SETTINGS: typing.Final = PageSettings(
    inventory_url="", reply_timeout_seconds=30, admin_console=False, saga_diagram=""
)
_EVENT_STREAM: typing.Final = {
    200: {
        "description": "Successful Response",
        "content": {"text/event-stream": {"itemSchema": sse.EVENT_SCHEMA}},
    },
    204: {"description": "The client has seen every transition of a finished saga"},
}


def create_app(
    mediator: cqrs.RequestMediator,
    streams: cqrs.StreamingRequestMediator,
    *,
    probes: typing.Mapping[str, Probe] | None = None,
    lifespan: Lifespan | None = None,
    stopping: asyncio.Event | None = None,
    page: PageSettings | None = None,
    customers: CustomerAuth | None = None,
    rate_limit: RateLimit | None = None,
    changes: OrderChanges | None = None,
    docs: bool = True,
) -> fastapi.FastAPI:
    """The FastAPI app of the orders service.

    `mediator` serves the commands and queries, `streams` the streaming query
    of the event stream; `probes` name the dependencies `/health` checks;
    `stopping` set ends the event streams (the server is shutting down);
    `page` is what the web page is told (`orders.entrypoints.page`);
    `customers` says who the customer is (default: `open`); `rate_limit` bounds
    `POST /orders` per client (default: none); `changes` (the streams'
    `OrderChanges`, when given) lets an event stream start from the order its
    route read instead of reading it again; `docs` whether `/docs`, `/redoc`
    and `/openapi.json` are served.

    ```
    app = create_app(mediator, streams, probes={"database": database_answers})
    ```
    """
    app = fastapi.FastAPI(
        title="orders", lifespan=lifespan, telemetry=HTTP_TELEMETRY, **docs_routes(docs)
    )
    install_error_handling(app)
    app.add_exception_handler(_AllSeen, _nothing_to_send)
    app.add_middleware(RequestBodyLimits, max_bytes=MAX_BODY_BYTES)
    html = render(page or _NO_PAGE_SETTINGS)
    stopped = stopping or asyncio.Event()
    customers = customers or CustomerAuth()
    verified = customers.dependency()

    async def caller(
        customer: Customer = fastapi.Depends(verified),  # noqa: B008 - FastAPI's own idiom
    ) -> Customer:
        if customer.id is not None and len(customer.id) > MAX_CUSTOMER_ID_LENGTH:
            raise fastapi.HTTPException(
                403,
                f"the token's subject is longer than a customer id may be "
                f"({MAX_CUSTOMER_ID_LENGTH} characters); ask the token's issuer for another",
            )
        return customer

    # Customer routes answer 401 and 403 in jwt mode only (another's order is a 404).
    authenticated = problem_responses(401, 403) if customers.mode == "jwt" else {}
    limited = problem_responses(429) if rate_limit is not None else {}

    async def read_own(query: GetOrder, customer: Customer) -> OrderDetails:
        details = await mediator.send(query)
        if not customer.may_see(details.customer_id):
            raise OrderNotFoundError(str(query.order_id))
        return details

    async def own_order(
        order_id: str,
        customer: Customer = fastapi.Depends(caller),  # noqa: B008 - FastAPI's own idiom
    ) -> OrderDetails:
        """The order `order_id` if the customer may see it; 404 for another's."""
        return await read_own(_get_order(order_id), customer)

    async def within_rate(
        request: fastapi.Request,
        customer: Customer = fastapi.Depends(caller),  # noqa: B008 - FastAPI's own idiom
    ) -> None:
        if rate_limit is not None:
            rate_limit.charge(customer.id or client_address(request))

    # Without a limit, no dependency: FastAPI would solve it on every POST for nothing.
    charged = [fastapi.Depends(within_rate)] if rate_limit is not None else []

    async def watched(
        order_id: str,
        customer: Customer = fastapi.Depends(caller),  # noqa: B008 - FastAPI's own idiom
        last_event_id: typing.Annotated[str | None, fastapi.Header()] = None,
    ) -> WatchOrder:
        """The streaming query of a request, checked before the stream starts: 404 for
        an unknown order (or another customer's), 204 when the client has seen
        everything. The stream starts from the order read here (`OrderSnapshot`)
        while no change has been heard since."""
        query = _get_order(order_id)
        # Taken before the read: a change committed after it moves the version.
        version = changes.version(query.order_id) if changes is not None else None
        details = await read_own(query, customer)
        after = sse.resume_position(last_event_id)
        if details.finished and after >= len(details.history):
            raise _AllSeen
        known = None if version is None else OrderSnapshot(details=details, version=version)
        return WatchOrder(order_id=query.order_id, after=after, known=known)

    @app.post(
        "/orders",
        status_code=202,
        responses={
            202: _PLACED,
            **authenticated,
            **limited,
            **problem_responses(400, 409, 413, 415, 422, 500, 503),
        },
        dependencies=charged,
    )
    async def place_order(
        command: PlaceOrder,
        response: fastapi.Response,
        key: typing.Annotated[IdempotencyKey | None, fastapi.Depends(idempotency_key)],
        customer: Customer = fastapi.Depends(caller),  # noqa: B008 - FastAPI's own idiom
    ) -> OrderPlaced:
        """Place an order; its saga decides it (follow `Location`). In `jwt` mode the
        order is the token's subject's, whatever `customer_id` the body names.

        Send an `Idempotency-Key` to retry safely: the same key and body answer the
        first answer (202, the same order) for `ORDERS_IDEMPOTENCY_TTL_SECONDS`, a retry
        while the first request runs waits for it, and the same key with another body
        is a 409. Keys are per customer.
        """
        order = command.model_copy(update={"customer_id": customer.chosen(command.customer_id)})
        if key is None:
            placed = await mediator.send(order)
        else:
            placed = await mediator.send(
                PlaceOrderOnce(order=order, key=key.key, fingerprint=key.fingerprint)
            )
        response.headers["Location"] = f"/orders/{placed.order_id}"
        return placed

    @app.get("/orders", responses={**authenticated, **problem_responses(422, 500, 503)})
    async def list_orders(
        customer_id: typing.Annotated[
            str, fastapi.Query(min_length=1, max_length=MAX_CUSTOMER_ID_LENGTH)
        ],
        customer: Customer = fastapi.Depends(caller),  # noqa: B008 - FastAPI's own idiom
    ) -> CustomerOrders:
        """The customer's latest orders (the read side), newest first, with totals and how
        long each took to decide; in `jwt` mode the token subject's, whatever
        `customer_id` asks for."""
        return await mediator.send(ListCustomerOrders(customer_id=customer.chosen(customer_id)))

    @app.get("/orders/{order_id}", responses={**authenticated, **problem_responses(404, 500, 503)})
    async def get_order(
        details: OrderDetails = fastapi.Depends(own_order),  # noqa: B008 - FastAPI's own idiom
    ) -> OrderDetails:
        return details

    @app.get(
        "/orders/{order_id}/events",
        status_code=200,
        response_class=sse.EventStreamResponse,
        responses={**_EVENT_STREAM, **authenticated, **problem_responses(404, 500, 503)},
    )
    async def order_events(
        query: WatchOrder = fastapi.Depends(watched),  # noqa: B008 - FastAPI's own idiom
    ) -> sse.EventStreamResponse:
        """Server-Sent Events, one per saga transition (`id` its position, named
        `transition`, the last `status`), pushed as the saga writes them; the
        stream ends after the last."""
        return sse.EventStreamResponse(streams.stream(query), stopped)

    @app.get("/screening", responses=problem_responses(500))
    async def screening() -> ScreeningChain:
        """The rules `POST /orders` screens an order with, in the order they are tried
        (a chain of responsibility), its Mermaid sequence diagram, and the limits in
        force (blocked skus, the largest total)."""
        return await mediator.send(DescribeScreening())

    @app.get("/", response_class=HTMLResponse, responses=problem_responses(500))
    async def index() -> str:
        return html

    add_health_route(app, probes or {})
    return app


def _get_order(order_id: str) -> GetOrder:
    """The query for `order_id`; a malformed id names no order (404, not 422)."""
    try:
        return GetOrder(order_id=uuid.UUID(order_id))
    except ValueError:
        raise OrderNotFoundError(order_id) from None


class _AllSeen(Exception):
    """The client has seen every transition of a finished saga."""


async def _nothing_to_send(request: fastapi.Request, exc: Exception) -> fastapi.Response:
    # 204 tells an EventSource to stop reconnecting.
    return fastapi.Response(status_code=204)
