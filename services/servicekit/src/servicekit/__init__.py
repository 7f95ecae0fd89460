"""What the reference system's services share, so that it exists once.

The service template (services/README.md): `servicekit.settings`,
`servicekit.logs`, `servicekit.cli`, `servicekit.server`, `servicekit.health`,
`servicekit.storage`, `servicekit.migrations` (the schema under Alembic). The HTTP edge:

- `servicekit.problems`: the one error model, RFC 9457 `application/problem+json`.
- `servicekit.error_handling`: every error a FastAPI app can meet answered as a
  problem, 4xx for the client's mistakes, 503/500 without internals.
- `servicekit.request_body`: request bodies are JSON and bounded (415, 413).
- `servicekit.openapi`: the problem and health responses, declared per route.
- `servicekit.auth`: operator bearer tokens with scopes, customers open or by JWT.
- `servicekit.rate_limit`: a per-client budget, 429 with `Retry-After`.
- `servicekit.idempotency`: the `Idempotency-Key` header for `cqrs.idempotency`.
- `servicekit.telemetry`: traces and metrics from the `OTEL_*` variables, `GET /metrics`,
  and the current trace and span ids for log lines (imported on its own).

```
app = fastapi.FastAPI(title="inventory")
install_problem_details(app, service="inventory", client_errors={UnknownSkuError: 404})
app.add_middleware(RequestBodyLimits, max_bytes=16 * 1024)
```
"""

from servicekit.error_handling import ErrorAnswer, ErrorBoundary, install_problem_details
from servicekit.openapi import HealthReport, health_responses, problem_responses
from servicekit.problems import PROBLEM_JSON, VALIDATION_ERROR, Problem, ValidationIssue
from servicekit.request_body import RequestBodyLimits

__all__ = (
    "PROBLEM_JSON",
    "VALIDATION_ERROR",
    "ErrorAnswer",
    "ErrorBoundary",
    "HealthReport",
    "Problem",
    "RequestBodyLimits",
    "ValidationIssue",
    "health_responses",
    "install_problem_details",
    "problem_responses",
)
