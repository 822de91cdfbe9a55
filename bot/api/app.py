"""``build_api``: the FastAPI app served at /api/v1 (see bot/api/__init__.py to add a resource)."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from bot.api import customers, orders, products
from bot.api.auth import ApiState
from bot.api.errors import (
    ApiError,
    error_json,
    on_api_error,
    on_http_error,
    on_user_error,
    on_validation_error,
)
from bot.api.idempotency import Crashes, Idempotency
from bot.api.limits import Buckets
from bot.api.transport import MAX_BODY, BodyLimit
from config.settings import Rate
from handlers.context import Services
from handlers.errors import UserError

PREFIX = "/api/v1"
ROUTERS = (customers.router, products.router, orders.router)


async def outside_not_found(request: Request, exc: Exception) -> Response:
    """The HTTP server's 404: in the API's error shape under /api/v1, plain text elsewhere."""
    if request.url.path.startswith(PREFIX + "/") or request.url.path == PREFIX:
        return error_json(404, "not_found", "No such path in the API.")
    return PlainTextResponse("Not Found", status_code=404)


def build_api(
    services: Services,
    *,
    env_token: str | None = None,
    rate: Rate | None = None,
    max_body: int = MAX_BODY,
) -> FastAPI:
    """The API over ``services`` (its store must live on the loop the app runs on; bot/http.py
    brings requests there). ``env_token`` is CRM_API_TOKEN: one admin token, all scopes, named
    "env". With no token at all every endpoint answers 401; the OpenAPI document and the docs
    are open."""
    app = FastAPI(
        title="crm-bot API",
        version="1",
        description=(
            "The CRM's customers, products and orders for other systems. Bearer tokens "
            "(`crm-bot api-token create --name erp --scopes read,write`); errors are "
            '`{"error": {"code", "message", "fields": [...]}}`; writes accept `Idempotency-Key`.'
        ),
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.api = ApiState(
        services=services, env_token=env_token or None, buckets=Buckets(rate), max_body=max_body
    )
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(UserError, on_user_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)
    for router in ROUTERS:
        app.include_router(router)
    # Outermost last: the body limit first, then a crash's 500, then Idempotency-Key.
    app.add_middleware(Idempotency)
    app.add_middleware(Crashes)
    app.add_middleware(BodyLimit, limit=max_body)
    return app
