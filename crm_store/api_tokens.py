"""HTTP API tokens by hash, and the stored first answers of writes sent with an Idempotency-Key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, insert, or_, select, update

from crm_store.repo import Repo
from crm_store.tables import api_idempotency, api_tokens


@dataclass(frozen=True, slots=True)
class ApiTokenRecord:
    name: str
    scopes: tuple[str, ...]
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    """One Idempotency-Key's request and, once the first run finished, its answer."""

    request: str
    request_hash: str
    status: int | None
    body: str | None
    created_at: datetime


def _token(row: object) -> ApiTokenRecord:
    r = row._mapping  # type: ignore[attr-defined]
    return ApiTokenRecord(
        name=r["name"],
        scopes=tuple(s for s in str(r["scopes"]).split(",") if s),
        created_at=r["created_at"],
        last_used_at=r["last_used_at"],
        revoked_at=r["revoked_at"],
    )


class ApiTokenRepo(Repo):
    async def create(self, *, name: str, token_hash: str, scopes: tuple[str, ...]) -> None:
        """A new token; its name must be unused (IntegrityError otherwise)."""
        await self.conn.execute(
            insert(api_tokens).values(
                name=name, token_hash=token_hash, scopes=",".join(scopes), created_at=self.now
            )
        )
        await self.audit.record("create", "api_token", name, scopes=list(scopes))

    async def by_name(self, name: str) -> ApiTokenRecord | None:
        row = (await self.conn.execute(select(api_tokens).where(api_tokens.c.name == name))).first()
        return None if row is None else _token(row)

    async def by_hash(self, token_hash: str) -> ApiTokenRecord | None:
        """The token with this hash, revoked or not (the caller tells them apart)."""
        query = select(api_tokens).where(api_tokens.c.token_hash == token_hash)
        row = (await self.conn.execute(query)).first()
        return None if row is None else _token(row)

    async def all(self) -> list[ApiTokenRecord]:
        rows = await self.conn.execute(select(api_tokens).order_by(api_tokens.c.name))
        return [_token(r) for r in rows]

    async def any_live(self) -> bool:
        query = select(api_tokens.c.id).where(api_tokens.c.revoked_at.is_(None)).limit(1)
        return (await self.conn.execute(query)).first() is not None

    async def revoke(self, name: str) -> bool:
        """True when ``name`` was live and is now revoked."""
        result = await self.conn.execute(
            update(api_tokens)
            .where(api_tokens.c.name == name, api_tokens.c.revoked_at.is_(None))
            .values(revoked_at=self.now)
        )
        if not result.rowcount:
            return False
        await self.audit.record("revoke", "api_token", name)
        return True

    async def touch(self, name: str, *, every: timedelta) -> None:
        """Record a use, unless one was recorded less than ``every`` ago (not audited: a use is
        not a change)."""
        await self.conn.execute(
            update(api_tokens)
            .where(
                api_tokens.c.name == name,
                or_(api_tokens.c.last_used_at.is_(None), api_tokens.c.last_used_at <= self.now - every),
            )
            .values(last_used_at=self.now)
        )

    # -- Idempotency-Key -----------------------------------------------------------------------

    async def claim_key(self, token_name: str, key: str, *, request: str, request_hash: str) -> bool:
        """True when this is the key's first request (it is now claimed); False when the key
        was seen before (``answer`` tells what came of it)."""
        statement = (
            self.dialect_insert(api_idempotency)
            .values(
                token_name=token_name,
                key=key,
                request=request[:300],
                request_hash=request_hash,
                status=None,
                body=None,
                created_at=self.now,
            )
            .on_conflict_do_nothing(index_elements=["token_name", "key"])
        )
        return bool((await self.conn.execute(statement)).rowcount)

    async def answer(self, token_name: str, key: str) -> StoredAnswer | None:
        query = select(api_idempotency).where(
            api_idempotency.c.token_name == token_name, api_idempotency.c.key == key
        )
        row = (await self.conn.execute(query)).mappings().first()
        if row is None:
            return None
        return StoredAnswer(
            request=row["request"],
            request_hash=row["request_hash"],
            status=row["status"],
            body=row["body"],
            created_at=row["created_at"],
        )

    async def save_answer(self, token_name: str, key: str, *, status: int, body: str) -> None:
        await self.conn.execute(
            update(api_idempotency)
            .where(api_idempotency.c.token_name == token_name, api_idempotency.c.key == key)
            .values(status=status, body=body)
        )

    async def release_key(self, token_name: str, key: str) -> None:
        """Forget a claim whose request failed on our side, so a retry runs it again."""
        await self.conn.execute(
            delete(api_idempotency).where(
                api_idempotency.c.token_name == token_name,
                api_idempotency.c.key == key,
                api_idempotency.c.status.is_(None),
            )
        )

    async def purge_keys_before(self, moment: datetime) -> int:
        result = await self.conn.execute(delete(api_idempotency).where(api_idempotency.c.created_at < moment))
        return int(result.rowcount or 0)
