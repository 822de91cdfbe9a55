"""The API's one error shape, ``{"error": {"code", "message", "fields": [...]}}``, and what maps to it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from handlers.errors import Forbidden, NotFound, UserError


class FieldError(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    code: str
    message: str
    fields: list[FieldError] = []


class ErrorResponse(BaseModel):
    error: ErrorBody


class ApiError(Exception):
    """An answer other than success: ``status`` with a machine-readable ``code``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        fields: Sequence[FieldError] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = list(fields)
        self.headers = dict(headers or {})


_DESCRIPTIONS = {
    401: "No token, or a wrong or revoked one",
    403: "The token lacks the scope, or the customer is not in its book",
    404: "No such id (ids beyond 64 bits too)",
    409: "A conflict: a likely duplicate, a taken reference, or an Idempotency-Key still running",
    413: "The body is over 1 MB",
    422: "A field is not valid (each one named in fields), or an Idempotency-Key reused",
    429: "Over the token's rate; see Retry-After",
}


def documented(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The error answers an endpoint may give, for its OpenAPI ``responses`` (401, 403, 422 and
    429 always: every endpoint checks its token and its input)."""
    wanted = sorted({401, 403, 422, 429, *statuses})
    return {status: {"model": ErrorResponse, "description": _DESCRIPTIONS[status]} for status in wanted}


def error_json(
    status: int,
    code: str,
    message: str,
    fields: Sequence[FieldError] = (),
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body = ErrorResponse(error=ErrorBody(code=code, message=message, fields=list(fields)))
    return JSONResponse(body.model_dump(), status_code=status, headers=dict(headers or {}))


def invalid(fields: Sequence[FieldError]) -> ApiError:
    names = ", ".join(f.field for f in fields)
    return ApiError(422, "invalid", f"Some fields are not valid: {names}.", fields=fields)


# The codes an HTTP status gets when the framework itself answers (unknown route, wrong method).
_CODES = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}


async def on_api_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_json(exc.status, exc.code, exc.message, exc.fields, exc.headers)


async def on_user_error(_: Request, exc: Exception) -> JSONResponse:
    """A handler's refusal, worded for people as in chat."""
    assert isinstance(exc, UserError)
    if isinstance(exc, NotFound):
        return error_json(404, "not_found", exc.message)
    if isinstance(exc, Forbidden):
        return error_json(403, "forbidden", exc.message)
    return error_json(422, "invalid", exc.message)


def _field(loc: Sequence[object]) -> str:
    # ("body", "lines", 0, "sku") -> "lines.0.sku"; where it came from is in the message.
    parts = list(loc[1:]) if loc and loc[0] in ("body", "query", "path", "header") else list(loc)
    return ".".join(str(p) for p in parts) or str(loc[0] if loc else "body")


async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = [FieldError(field=_field(e.get("loc", ())), message=str(e.get("msg", ""))) for e in exc.errors()]
    if not fields:
        fields = [FieldError(field="body", message="not valid")]
    err = invalid(fields)
    return error_json(err.status, err.code, err.message, err.fields)


async def on_http_error(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    code = _CODES.get(exc.status_code, "error")
    message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
    return error_json(exc.status_code, code, message, headers=exc.headers)
