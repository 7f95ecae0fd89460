"""What the OpenAPI documents say about errors and health, so they describe the API.

- `problem_responses(404, 503, ...)`: a route's `responses=`, each status
  answering `application/problem+json` with the `Problem` schema, which
  `document_problems` (called by `install_problem_details`) adds to the
  document's components.
- `health_responses()`: `GET /health`'s 200 and 503, a `HealthReport` each.
- `docs_routes(enabled)`: `FastAPI(**docs_routes(settings.docs_enabled))` serves
  `/docs`, `/redoc` and `/openapi.json`, or none of them (404).

```
@app.get("/stock/{sku}", responses=problem_responses(404, 422, 500, 503))
async def get_stock(sku: Sku) -> StockView: ...
```
"""

from __future__ import annotations

import typing

import fastapi
import pydantic

from servicekit.problems import PROBLEM_JSON, Problem, title_of

__all__ = (
    "DocsRoutes",
    "HealthReport",
    "docs_routes",
    "document_problems",
    "health_responses",
    "problem_responses",
)

Responses = dict[int | str, dict[str, typing.Any]]
"""FastAPI's `responses=` argument of a route."""

_SCHEMAS: typing.Final = "#/components/schemas/"


class HealthReport(pydantic.BaseModel):
    """`GET /health`'s answer: `status` and, per dependency (`database`, `broker`),
    `"ok"` or `"unavailable"`."""

    model_config = pydantic.ConfigDict(extra="allow")

    status: typing.Literal["ok", "unavailable"]
    __pydantic_extra__: dict[str, typing.Literal["ok", "unavailable"]]  # pyright: ignore[reportIncompatibleVariableOverride]


def problem_responses(*statuses: int) -> Responses:
    """The `responses=` declaring that a route may answer each of `statuses` with a problem.

    >>> problem_responses(404)[404]["content"]
    {'application/problem+json': {'schema': {'$ref': '#/components/schemas/Problem'}}}
    """
    return {
        status: {
            "description": title_of(status),
            "content": {PROBLEM_JSON: {"schema": {"$ref": f"{_SCHEMAS}Problem"}}},
        }
        for status in statuses
    }


class DocsRoutes(typing.TypedDict):
    """FastAPI's arguments for where the API's documents are served (`None`: nowhere)."""

    openapi_url: str | None
    docs_url: str | None
    redoc_url: str | None


def docs_routes(enabled: bool) -> DocsRoutes:
    """Where `FastAPI(...)` serves its documents: FastAPI's own paths, or none (a
    service's `PREFIX_DOCS_ENABLED=false`).

    >>> docs_routes(False)
    {'openapi_url': None, 'docs_url': None, 'redoc_url': None}
    """
    if not enabled:
        return DocsRoutes(openapi_url=None, docs_url=None, redoc_url=None)
    return DocsRoutes(openapi_url="/openapi.json", docs_url="/docs", redoc_url="/redoc")


def health_responses() -> Responses:
    """The `responses=` of a health route: 200 when every dependency answers, else 503."""
    report = {"application/json": {"schema": {"$ref": f"{_SCHEMAS}HealthReport"}}}
    return {
        200: {"description": "Every dependency answers", "content": report},
        503: {"description": "Some dependency does not answer", "content": report},
    }


def document_problems(app: fastapi.FastAPI) -> None:
    """Add the `Problem` and `HealthReport` schemas to `app`'s OpenAPI components, and
    make the 422 FastAPI declares by itself (on a route with parameters but no 422 of
    its own) the validation problem it is, in place of FastAPI's own error body."""
    build = app.openapi

    def openapi() -> dict[str, typing.Any]:
        document = build()  # FastAPI builds it once and keeps it
        schemas = document.setdefault("components", {}).setdefault("schemas", {})
        for model in (Problem, HealthReport):
            schema = model.model_json_schema(ref_template=f"{_SCHEMAS}{{model}}")
            schemas.update(schema.pop("$defs", {}))
            schemas[model.__name__] = schema
        _replace_fastapi_validation_errors(document)
        return document

    app.openapi = openapi


def _replace_fastapi_validation_errors(document: dict[str, typing.Any]) -> None:
    fastapi_error = {"$ref": f"{_SCHEMAS}HTTPValidationError"}
    problem = problem_responses(422)[422]
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            declared = operation.get("responses", {}).get("422", {})
            if declared.get("content", {}).get("application/json", {}).get("schema") == (
                fastapi_error
            ):
                operation["responses"]["422"] = problem
    for name in ("HTTPValidationError", "ValidationError"):
        document["components"]["schemas"].pop(name, None)
