"""The one error model of the services: RFC 9457 problem details.

Every error answer of both services is an `application/problem+json` object:

| member   | holds                                                               |
|----------|---------------------------------------------------------------------|
| `type`   | `VALIDATION_ERROR` for a request breaking the contract, else `about:blank` |
| `title`  | the status's reason phrase, e.g. `Not Found`                         |
| `status` | the HTTP status code                                                 |
| `detail` | what went wrong with this request, and what to do about it           |
| `errors` | validation problems only: each refused value, where, and which rule  |

Nothing a client sent is echoed back whole: an issue's location is cut to
`MAX_LOCATION_TEXT` characters per part, its message to `MAX_MESSAGE_TEXT`,
and a problem lists at most `MAX_ISSUES` issues.

>>> import json
>>> json.loads(problem(404, "no such sku").body)
{'type': 'about:blank', 'title': 'Not Found', 'status': 404, 'detail': 'no such sku'}
"""

from __future__ import annotations

import http
import typing

import pydantic
from fastapi.responses import JSONResponse

__all__ = (
    "MAX_ISSUES",
    "MAX_LOCATION_TEXT",
    "MAX_MESSAGE_TEXT",
    "PROBLEM_JSON",
    "VALIDATION_ERROR",
    "Problem",
    "ValidationIssue",
    "problem",
    "title_of",
)

PROBLEM_JSON: typing.Final = "application/problem+json"
"""The media type of every error answer."""

VALIDATION_ERROR: typing.Final = (
    "https://github.com/cqrs-toolkit/cqrs/blob/main/services/servicekit/README.md#validation-error"
)
"""The `type` of a problem listing the request's values that break the contract."""

MAX_ISSUES: typing.Final = 20
MAX_LOCATION_TEXT: typing.Final = 64
MAX_MESSAGE_TEXT: typing.Final = 300


class ValidationIssue(pydantic.BaseModel):
    """One value the request got wrong: where it is (`loc`, e.g. `["body", "items", 0,
    "sku"]`), what is wrong (`msg`) and the rule it breaks (`type`, e.g. `string_too_long`).

    >>> issue = ValidationIssue.of({"loc": ("body", "x" * 100), "msg": "?", "type": "extra"})
    >>> issue.loc[0], len(issue.loc[1])
    ('body', 64)
    """

    loc: list[str | int]
    msg: str
    type: str

    @classmethod
    def of(cls, error: typing.Mapping[str, typing.Any]) -> ValidationIssue:
        """The issue of one pydantic/FastAPI error dict, cut to size (its `input` is dropped)."""
        return cls(
            loc=[
                part if isinstance(part, int) else _cut(str(part), MAX_LOCATION_TEXT)
                for part in error.get("loc", ())
            ],
            msg=_cut(str(error.get("msg", "")), MAX_MESSAGE_TEXT),
            type=_cut(str(error.get("type", "")), MAX_LOCATION_TEXT),
        )


class Problem(pydantic.BaseModel):
    """An error answer (RFC 9457); see the module's table."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    errors: list[ValidationIssue] | None = pydantic.Field(
        default=None, description="Present on validation problems only."
    )


def problem(
    status: int,
    detail: str,
    *,
    errors: typing.Sequence[ValidationIssue] | None = None,
    headers: typing.Mapping[str, str] | None = None,
) -> JSONResponse:
    """The `application/problem+json` answer of `status` saying `detail`; with `errors`,
    a validation problem listing them."""
    body = Problem(
        type="about:blank" if errors is None else VALIDATION_ERROR,
        title=title_of(status),
        status=status,
        detail=detail,
        errors=None if errors is None else list(errors),
    )
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True),
        status_code=status,
        headers=headers,
        media_type=PROBLEM_JSON,
    )


def title_of(status: int) -> str:
    """The reason phrase of `status` (`"Error"` for a code HTTP does not name).

    >>> title_of(404), title_of(599)
    ('Not Found', 'Error')
    """
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 1]}…"
