"""Handler refusals with an HTTP meaning of their own: a bad named input (422 naming it) and a
state that does not allow the request (409)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse

from bot.api.errors import FieldError, error_json, invalid
from handlers.errors import Conflict, InvalidField


async def on_invalid_field(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidField)
    err = invalid([FieldError(field=exc.field, message=exc.message)])
    return error_json(err.status, err.code, err.message, err.fields)


async def on_conflict(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Conflict)
    return error_json(409, "conflict", exc.message)


# Registered in bot/api/app.py; Starlette picks the handler of the most specific class.
HANDLERS = ((InvalidField, on_invalid_field), (Conflict, on_conflict))
