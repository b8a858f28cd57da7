"""Every error the API gives is JSON: `{"code", "detail", "field"}` (see `wire.bots.ApiError`)."""

import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from unmixed.wire.bots import ApiError, FieldError

_FIELD_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")
_LOCATIONS = frozenset({"body", "query", "path", "header"})


class ApiProblem(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        field: str | None = None,
        *,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.error = ApiError(code=code, detail=detail, field=field)
        self.headers = None if retry_after is None else {"Retry-After": str(retry_after)}

    def response(self) -> JSONResponse:
        return error_response(self.status, self.error, self.headers)


def error_response(
    status: int, error: ApiError, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(error.model_dump(exclude_none=True), status_code=status, headers=headers)


INTERNAL_ERROR = ApiError(
    code="internal_error",
    detail="the server failed to answer this request; it has been logged",
)


def field_path(location: tuple[int | str, ...]) -> str:
    """("body", "recording_config", "realtime_endpoints", 0, "url") ->
    "recording_config.realtime_endpoints[0].url", ("query", "page") -> "page";
    pydantic's type tags are left out."""
    path = ""
    for part in location[1:] if location and location[0] in _LOCATIONS else location:
        if isinstance(part, int):
            path += f"[{part}]"
        elif _FIELD_NAME.match(part):
            path += f".{part}" if path else part
    return path or "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiProblem)
    async def _problem(_: Request, problem: ApiProblem) -> JSONResponse:
        return problem.response()

    @app.exception_handler(FieldError)
    async def _field(_: Request, error: FieldError) -> JSONResponse:
        return error_response(
            400, ApiError(code="invalid_request", detail=error.detail, field=error.field)
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, error: RequestValidationError) -> JSONResponse:
        first = error.errors()[0]
        location = () if first.get("type") == "json_invalid" else tuple(first.get("loc", ()))
        field = field_path(location)
        detail = f"{field}: {first.get('msg', 'invalid value')}"
        return error_response(400, ApiError(code="invalid_request", detail=detail, field=field))

    @app.exception_handler(HTTPException)
    async def _http(_: Request, error: HTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(error.status_code, "http_error")
        return error_response(
            error.status_code,
            ApiError(code=code, detail=str(error.detail)),
            dict(error.headers or {}),
        )
