"""HTTP API tokens: create one (shown once, only its hash kept), list them, revoke one."""

from __future__ import annotations

import hashlib
import re
import secrets

from sqlalchemy.exc import IntegrityError

from crm_store.api_tokens import ApiTokenRecord
from crm_store.store import Store
from handlers.errors import NotFound, UserError

SCOPES = ("read", "write")
# CRM_API_TOKEN's name in the audit log (api:env) and the rate limiter.
ENV_TOKEN_NAME = "env"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_PREFIX = "crm_"


def token_hash(token: str) -> str:
    """SHA-256 is enough: a token is 256 random bits, nothing a dictionary could guess."""
    return hashlib.sha256(token.encode()).hexdigest()


def parse_scopes(text: str) -> tuple[str, ...]:
    scopes = tuple(dict.fromkeys(s.strip().lower() for s in text.split(",") if s.strip()))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise UserError(f"Scopes are a comma-separated list of {', '.join(SCOPES)}; got {text!r}.")
    return scopes


def check_name(name: str) -> str:
    if not _NAME.match(name) or name == ENV_TOKEN_NAME:
        raise UserError(
            f"{name!r} is not a token name: lower-case letters, digits, . _ -, at most 64, "
            f"and not {ENV_TOKEN_NAME!r} (that is CRM_API_TOKEN's)."
        )
    return name


async def create_token(store: Store, *, name: str, scopes: str, actor: str) -> str:
    """A new token named ``name``; the token itself is returned once and never stored."""
    name = check_name(name.strip())
    wanted = parse_scopes(scopes)
    token = _PREFIX + secrets.token_urlsafe(32)
    try:
        async with store.write(actor) as tx:
            await tx.api_tokens.create(name=name, token_hash=token_hash(token), scopes=wanted)
    except IntegrityError:
        raise UserError(f"There is already a token named {name!r}; revoke it or pick another name.") from None
    return token


async def list_tokens(store: Store) -> list[ApiTokenRecord]:
    async with store.read() as tx:
        return await tx.api_tokens.all()


async def revoke_token(store: Store, *, name: str, actor: str) -> None:
    async with store.write(actor) as tx:
        if await tx.api_tokens.revoke(name):
            return
        found = await tx.api_tokens.by_name(name)
    if found is None:
        raise NotFound(f"There is no API token named {name!r}.")
    raise UserError(f"The token {name!r} was already revoked.")
