"""One-time invite tokens that link a chat account to a customer; only their hashes are stored."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import insert, select, update

from crm_store.repo import Repo
from crm_store.tables import link_tokens

DEFAULT_TTL = timedelta(days=7)
# What a token links: a person's private chat, or a company's group chat.
PURPOSES = ("chat", "group")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class LinkTokenRepo(Repo):
    async def create(
        self, customer_id: int, *, created_by: str, ttl: timedelta = DEFAULT_TTL, purpose: str = "chat"
    ) -> str:
        """A new token for ``customer_id``; the plain token is returned once and never stored."""
        if purpose not in PURPOSES:
            raise ValueError(f"unknown link purpose {purpose!r}")
        token = secrets.token_urlsafe(16)  # [A-Za-z0-9_-], as a Telegram deep link's start value allows
        new_id = (
            await self.conn.execute(
                insert(link_tokens)
                .values(
                    token_hash=token_hash(token),
                    customer_id=customer_id,
                    created_by=created_by[:96],
                    created_at=self.now,
                    expires_at=self.now + ttl,
                    purpose=purpose,
                )
                .returning(link_tokens.c.id)
            )
        ).scalar_one()
        await self.audit.record("create", "link_token", new_id, customer_id=customer_id, purpose=purpose)
        return token

    async def redeem(self, token: str, *, used_by: str, purpose: str = "chat") -> int | None:
        """The customer id if ``token`` is known, unused, unexpired and made for ``purpose``; it
        is used up at once (one UPDATE, so two simultaneous redemptions cannot both win)."""
        if not token or len(token) > 64:
            return None
        customer_id = (
            await self.conn.execute(
                update(link_tokens)
                .where(
                    link_tokens.c.token_hash == token_hash(token),
                    link_tokens.c.used_at.is_(None),
                    link_tokens.c.expires_at > self.now,
                    link_tokens.c.purpose == purpose,
                )
                .values(used_at=self.now, used_by=used_by[:96])
                .returning(link_tokens.c.customer_id)
            )
        ).scalar_one_or_none()
        if customer_id is None:
            await self.audit.record("refuse", "link_token", None, by=used_by[:96])
            return None
        await self.audit.record("redeem", "link_token", None, customer_id=customer_id, by=used_by[:96])
        return int(customer_id)

    async def count_unused(self, customer_id: int) -> int:
        rows = await self.conn.execute(
            select(link_tokens.c.id).where(
                link_tokens.c.customer_id == customer_id, link_tokens.c.used_at.is_(None)
            )
        )
        return len(rows.all())
