"""The served OpenAPI document, made to say what the API really answers.

FastAPI documents a 422 for every route with parameters; unmixed answers bad
input with 400 (as Recall does), and every error with one JSON schema,
`ApiError`. Tools that generate clients or tests from the document (the test
suite runs schemathesis on it) must find exactly that.
"""

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from unmixed.api import idempotency
from unmixed.wire.bots import ApiError

COMMON_ERRORS = (401, 405, 413, 429)
"""What any API route may answer: no key, wrong method, body too large, too fast."""

_DESCRIPTIONS = {
    400: "Bad input: `field` names what is wrong.",
    401: "No API key, or not a valid one.",
    404: "No such bot for this key (or no such page).",
    405: "The route does not take this method (DELETE of a bot: it has been dispatched).",
    409: "A request with this `Idempotency-Key` is still in progress; retry it later.",
    413: "The request body is over the server's cap.",
    422: "This `Idempotency-Key` was used within the hour for a request with another body.",
    429: "Too many requests for this key; wait `Retry-After` seconds.",
    503: "The bot slots cannot be counted now (Redis is out of reach); retry later.",
    507: "Every bot slot of the server is busy; retry after `Retry-After` seconds.",
}
_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "integer"}}}
_IDEMPOTENCY_KEY = {
    "name": idempotency.HEADER,
    "in": "header",
    "required": False,
    "description": "A retry with the same key within an hour gets the first answer again, "
    "without the request running twice.",
    "schema": {"type": "string", "minLength": 1, "maxLength": idempotency.MAX_KEY_LENGTH},
}
_IDEMPOTENCY_ERRORS = (400, 409, 422)


def documented_errors(statuses: tuple[int, ...]) -> dict[int | str, dict[str, Any]]:
    """FastAPI `responses=` for a route that may answer `statuses` besides the common ones."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in sorted({*COMMON_ERRORS, *statuses}):
        responses[status] = {"model": ApiError, "description": _DESCRIPTIONS[status]}
        if status in (429, 503, 507):
            responses[status]["headers"] = _RETRY_AFTER
    return responses


def install_openapi(app: FastAPI) -> None:
    """Serve the corrected document from `/openapi.json`."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _corrected(
                get_openapi(
                    title=app.title,
                    version=app.version,
                    summary=app.summary,
                    routes=app.routes,
                )
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _corrected(document: dict[str, Any]) -> dict[str, Any]:
    for path_item in document.get("paths", {}).values():
        for method, operation in path_item.items():
            operation["responses"].pop("422", None)
            operation["security"] = [{"ApiKey": []}]
            if method.upper() in idempotency.METHODS:
                _document_idempotency(operation)
    components = document.setdefault("components", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.get("schemas", {}).pop(unused, None)
    components["securitySchemes"] = {
        "ApiKey": {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Token <key>` (also a bare key, or `Bearer <key>`).",
        }
    }
    return document


def _document_idempotency(operation: dict[str, Any]) -> None:
    """`RequestGuard` takes an `Idempotency-Key` on every POST, PUT and PATCH."""
    operation.setdefault("parameters", []).append(_IDEMPOTENCY_KEY)
    for status in _IDEMPOTENCY_ERRORS:
        operation["responses"].setdefault(
            str(status),
            {
                "description": _DESCRIPTIONS[status],
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}
                },
            },
        )
