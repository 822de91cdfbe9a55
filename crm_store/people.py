"""Reps and identities: who a Slack, Telegram or console user is in the CRM."""

from __future__ import annotations

from sqlalchemy import and_, bindparam, func, insert, select, update
from sqlalchemy.engine import RowMapping

from crm_store.records import IdentityRecord, RepRecord
from crm_store.repo import Repo
from crm_store.speakers import Speaker
from crm_store.tables import customers, identities, reps

ROLES = ("rep", "manager", "admin")


def _rep(row: RowMapping) -> RepRecord:
    return RepRecord(
        id=row["id"],
        display_name=row["display_name"],
        role=row["role"],
        timezone=row["timezone"],
        created_at=row["created_at"],
    )


def _identity(row: RowMapping) -> IdentityRecord:
    return IdentityRecord(
        id=row["id"],
        platform=row["platform"],
        external_id=row["external_id"],
        rep_id=row["rep_id"],
        customer_id=row["customer_id"],
        display_name=row["display_name"],
        blocked=row["blocked_at"] is not None,
    )


# Who an account is, in one statement built once.
_SPEAKER_QUERY = (
    select(
        identities,
        reps.c.display_name.label("rep_display_name"),
        reps.c.role.label("rep_role"),
        reps.c.timezone.label("rep_timezone"),
        reps.c.created_at.label("rep_created_at"),
        customers.c.timezone.label("customer_timezone"),
    )
    .select_from(
        identities.outerjoin(reps, reps.c.id == identities.c.rep_id).outerjoin(
            customers, and_(customers.c.id == identities.c.customer_id, customers.c.deleted_at.is_(None))
        )
    )
    .where(
        identities.c.platform == bindparam("platform"), identities.c.external_id == bindparam("external_id")
    )
)


class PeopleRepo(Repo):
    # Set by every change to who an account is (Store.write then refreshes its SpeakerCache).
    changed_people = False

    async def speaker(self, platform: str, external_id: str) -> Speaker | None:
        """The account with its rep (a team member's) and its customer's zone, in one query."""
        found = await self.conn.execute(_SPEAKER_QUERY, {"platform": platform, "external_id": external_id})
        row = found.mappings().first()
        if row is None:
            return None
        rep = None
        if row["rep_id"] is not None and row["rep_role"] is not None:
            rep = RepRecord(
                id=row["rep_id"],
                display_name=row["rep_display_name"],
                role=row["rep_role"],
                timezone=row["rep_timezone"],
                created_at=row["rep_created_at"],
            )
        return Speaker(identity=_identity(row), rep=rep, customer_timezone=row["customer_timezone"])

    async def lock_identity(self, platform: str, external_id: str) -> None:
        """Hold this chat account until the transaction ends, so two first messages at once (two
        replicas, or two requests in one) cannot both find no identity and both create one. On
        SQLite the write transaction already holds the one write lock."""
        if self.conn.dialect.name == "postgresql":
            key = f"crm-identity:{platform}:{external_id}"
            await self.conn.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))

    async def identity(self, platform: str, external_id: str) -> IdentityRecord | None:
        row = (
            (
                await self.conn.execute(
                    select(identities).where(
                        identities.c.platform == platform, identities.c.external_id == external_id
                    )
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else _identity(row)

    async def identities_of_customer(self, customer_id: int) -> list[IdentityRecord]:
        rows = (
            (await self.conn.execute(select(identities).where(identities.c.customer_id == customer_id)))
            .mappings()
            .all()
        )
        return [_identity(r) for r in rows]

    async def identities_of_rep(self, rep_id: int) -> list[IdentityRecord]:
        rows = (
            (await self.conn.execute(select(identities).where(identities.c.rep_id == rep_id)))
            .mappings()
            .all()
        )
        return [_identity(r) for r in rows]

    async def add_rep(
        self,
        *,
        display_name: str,
        role: str = "rep",
        timezone: str | None = None,
        platform: str | None = None,
        external_id: str | None = None,
    ) -> RepRecord:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        self.changed_people = True
        row = (
            (
                await self.conn.execute(
                    insert(reps)
                    .values(display_name=display_name, role=role, timezone=timezone, created_at=self.now)
                    .returning(reps)
                )
            )
            .mappings()
            .one()
        )
        if platform is not None and external_id is not None:
            await self.conn.execute(
                insert(identities).values(
                    platform=platform,
                    external_id=external_id,
                    rep_id=row["id"],
                    display_name=display_name,
                    created_at=self.now,
                )
            )
        await self.audit.record("create", "rep", row["id"], role=role, platform=platform)
        return _rep(row)

    async def link_customer(
        self, *, platform: str, external_id: str, customer_id: int, display_name: str = ""
    ) -> IdentityRecord:
        self.changed_people = True
        row = (
            (
                await self.conn.execute(
                    insert(identities)
                    .values(
                        platform=platform,
                        external_id=external_id,
                        customer_id=customer_id,
                        display_name=display_name,
                        created_at=self.now,
                    )
                    .returning(identities)
                )
            )
            .mappings()
            .one()
        )
        await self.audit.record("link", "customer", customer_id, platform=platform)
        return _identity(row)

    async def relink_customer(self, *, platform: str, external_id: str, customer_id: int) -> None:
        """Point an existing customer identity at another customer record."""
        self.changed_people = True
        await self.conn.execute(
            update(identities)
            .where(
                identities.c.platform == platform,
                identities.c.external_id == external_id,
                identities.c.rep_id.is_(None),
            )
            .values(customer_id=customer_id)
        )
        await self.audit.record("link", "customer", customer_id, platform=platform)

    async def rep(self, rep_id: int) -> RepRecord | None:
        row = (await self.conn.execute(select(reps).where(reps.c.id == rep_id))).mappings().first()
        return None if row is None else _rep(row)

    async def reps(self) -> list[RepRecord]:
        rows = (await self.conn.execute(select(reps).order_by(reps.c.id))).mappings().all()
        return [_rep(r) for r in rows]

    async def rep_identities(self) -> list[IdentityRecord]:
        """Every team member's chat accounts (their handles), for finding people by name."""
        rows = (
            (
                await self.conn.execute(
                    select(identities).where(identities.c.rep_id.is_not(None)).order_by(identities.c.id)
                )
            )
            .mappings()
            .all()
        )
        return [_identity(r) for r in rows]

    async def set_role(self, rep_id: int, role: str) -> RepRecord:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        self.changed_people = True
        row = (
            (
                await self.conn.execute(
                    update(reps).where(reps.c.id == rep_id).values(role=role).returning(reps)
                )
            )
            .mappings()
            .one()
        )
        await self.audit.record("set_role", "rep", rep_id, role=role)
        return _rep(row)

    async def set_rep_timezone(self, rep_id: int, timezone: str) -> None:
        self.changed_people = True
        await self.conn.execute(update(reps).where(reps.c.id == rep_id).values(timezone=timezone))
        await self.audit.record("set_timezone", "rep", rep_id, timezone=timezone)
