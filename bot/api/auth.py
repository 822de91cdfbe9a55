"""Bearer tokens and scopes: who is calling (401), whether they may (403), and how often (429)."""

from __future__ import annotations

import hmac
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from fastapi import Request
from starlette.datastructures import Headers

from bot.api.errors import ApiError
from bot.api.limits import Buckets
from handlers.api_tokens import ENV_TOKEN_NAME, SCOPES, token_hash
from handlers.context import Context, Services
from handlers.messages import Actor, Message

# A token's last use is written at most this often: not a write per request.
TOUCH_EVERY = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Caller:
    name: str
    scopes: tuple[str, ...]

    @property
    def actor_key(self) -> str:
        return f"api:{self.name}"


@dataclass(slots=True)
class ApiState:
    """What every request of one API app shares (app.state.api)."""

    services: Services
    env_token: str | None
    buckets: Buckets
    max_body: int = 1_000_000
    _touched: dict[str, datetime] = field(default_factory=dict)

    @classmethod
    def of(cls, request_or_app: object) -> ApiState:
        state: ApiState = request_or_app.app.state.api  # type: ignore[attr-defined]
        return state


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


async def identify(state: ApiState, headers: Headers) -> Caller:
    """The caller the Authorization header names, or a 401 ApiError."""
    scheme, _, token = headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("Send a token: Authorization: Bearer <token> (crm-bot api-token create).")
    if state.env_token and hmac.compare_digest(token.encode(), state.env_token.encode()):
        return Caller(ENV_TOKEN_NAME, SCOPES)
    async with state.services.store.read() as tx:
        found = await tx.api_tokens.by_hash(token_hash(token))
    if found is None or found.revoked_at is not None:
        # The same answer for both: a caller learns nothing about which tokens existed.
        raise _unauthorized("That token is not valid (unknown or revoked).")
    caller = Caller(found.name, found.scopes)
    await _touch(state, caller)
    return caller


async def _touch(state: ApiState, caller: Caller) -> None:
    now = state.services.store.clock()
    last = state._touched.get(caller.name)
    if last is not None and now - last < TOUCH_EVERY:
        return
    state._touched[caller.name] = now
    async with state.services.store.write(caller.actor_key) as tx:
        await tx.api_tokens.touch(caller.name, every=TOUCH_EVERY)


def require_scope(scope: str) -> Callable[[Request], Awaitable[Caller]]:
    """A dependency: the caller, once authenticated, allowed ``scope`` and within its rate."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}")

    async def dependency(request: Request) -> Caller:
        state = ApiState.of(request)
        caller = await identify(state, request.headers)
        if scope not in caller.scopes:
            raise ApiError(403, "forbidden", f"This token lacks the {scope!r} scope.")
        wait = state.buckets.take(caller.name)
        if wait > 0:
            raise ApiError(
                429,
                "rate_limited",
                f"Too many requests for token {caller.name!r}; retry in {math.ceil(wait)} s.",
                headers={"Retry-After": str(max(1, math.ceil(wait)))},
            )
        return caller

    return dependency


def api_context(request: Request, caller: Caller) -> Context:
    """The handlers' Context for this caller: an admin acting as ``api:<token name>``."""
    actor = Actor(platform="api", user_id=caller.name, role="admin", display_name=f"API token {caller.name}")
    services = ApiState.of(request).services
    return Context(message=Message(actor=actor), args="", services=services, command="api")


__all__ = ["ApiState", "Caller", "api_context", "identify", "require_scope"]
