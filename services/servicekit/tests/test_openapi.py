"""The OpenAPI document declares the problems each route answers, with one schema."""

from __future__ import annotations

import fastapi

from servicekit import PROBLEM_JSON, health_responses


def test_declared_problems_refer_to_the_problem_schema(app: fastapi.FastAPI) -> None:
    document = app.openapi()

    responses = document["paths"]["/brew"]["post"]["responses"]
    assert sorted(responses) == ["200", "413", "415", "422"]
    for status in ("413", "415", "422"):
        assert responses[status]["content"] == {
            PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}
        }
    schemas = document["components"]["schemas"]
    assert schemas["Problem"]["required"] == ["title", "status", "detail"]
    assert schemas["Problem"]["properties"]["errors"]["anyOf"][0]["items"] == {
        "$ref": "#/components/schemas/ValidationIssue"
    }
    assert "HTTPValidationError" not in schemas


def test_the_health_report_is_documented_for_200_and_503(app: fastapi.FastAPI) -> None:
    @app.get("/health", response_model=None, responses=health_responses())
    async def health() -> fastapi.Response:
        return fastapi.Response()

    document = app.openapi()

    responses = document["paths"]["/health"]["get"]["responses"]
    assert {status: responses[status]["content"] for status in ("200", "503")} == {
        status: {"application/json": {"schema": {"$ref": "#/components/schemas/HealthReport"}}}
        for status in ("200", "503")
    }
    report = document["components"]["schemas"]["HealthReport"]
    assert report["additionalProperties"] == {"enum": ["ok", "unavailable"], "type": "string"}


def test_the_422_fastapi_declares_by_itself_is_the_validation_problem(
    app: fastapi.FastAPI,
) -> None:
    @app.get("/echo/{word}")
    async def echo(word: str) -> str:
        return word

    document = app.openapi()

    assert document["paths"]["/echo/{word}"]["get"]["responses"]["422"]["content"] == {
        PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}
    }
    assert "HTTPValidationError" not in document["components"]["schemas"]
