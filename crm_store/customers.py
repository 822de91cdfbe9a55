"""Customers: create, read, update (built-in and custom fields), follow changes, summarise."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import String, and_, bindparam, case, func, insert, or_, select, update
from sqlalchemy.engine import RowMapping
from sqlalchemy.sql.elements import ColumnElement

from crm_store.records import CustomerRecord, CustomerSummary
from crm_store.repo import Repo
from crm_store.tables import customers, interactions, orders, reminders, reps, tickets

BUILTIN_COLUMNS = (
    "name",
    "company",
    "email",
    "phone",
    "owner_rep_id",
    "status",
    "tags",
    "timezone",
    "external_ref",
    "country",
)


def visible_to(rep_id: int) -> ColumnElement[bool]:
    """Customers ``rep_id`` owns and those nobody owns: a rep's view of the book under
    CRM_CUSTOMER_ACCESS=owner (for queries that join ``customers``)."""
    return or_(customers.c.owner_rep_id.is_(None), customers.c.owner_rep_id == rep_id)


def _escaped(text: str) -> str:
    """``text`` for a LIKE pattern with ESCAPE '/': its own % and _ match only themselves."""
    return text.replace("/", "//").replace("%", "/%").replace("_", "/_")


def _record(row: RowMapping) -> CustomerRecord:
    return CustomerRecord(
        id=row["id"],
        name=row["name"],
        company=row["company"],
        email=row["email"],
        phone=row["phone"],
        owner_rep_id=row["owner_rep_id"],
        status=row["status"],
        source=row["source"],
        tags=tuple(row["tags"] or ()),
        custom=dict(row["custom"] or {}),
        timezone=row["timezone"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        deleted_at=row["deleted_at"],
        external_ref=row["external_ref"],
        country=row["country"],
    )


def _per_customer(column: Any, *where: ColumnElement[bool]) -> Any:
    """One figure about the customer of the enclosing row (a correlated scalar subquery)."""
    return select(column).where(*where).scalar_subquery()


# A card's figures in one statement (one round trip, not six), built once.
# The hottest reads, built once (a lookup reads its hits, a card or a press one customer).
_GET = select(customers).where(customers.c.id == bindparam("customer_id"), customers.c.deleted_at.is_(None))
_GET_MANY = select(customers).where(customers.c.id.in_(bindparam("ids", expanding=True)))

_SUMMARY = select(
    customers,
    _per_customer(reps.c.display_name, reps.c.id == customers.c.owner_rep_id).label("owner_name"),
    _per_customer(func.max(interactions.c.occurred_at), interactions.c.customer_id == customers.c.id).label(
        "last_contact"
    ),
    _per_customer(func.count(), interactions.c.customer_id == customers.c.id).label("interaction_count"),
    _per_customer(func.count(), orders.c.customer_id == customers.c.id).label("order_count"),
    _per_customer(
        func.coalesce(func.sum(orders.c.amount_cents), 0), orders.c.customer_id == customers.c.id
    ).label("revenue"),
    _per_customer(
        func.count(), tickets.c.customer_id == customers.c.id, tickets.c.status != "resolved"
    ).label("open_tickets"),
    _per_customer(
        func.count(), reminders.c.customer_id == customers.c.id, reminders.c.status != "done"
    ).label("pending_reminders"),
).where(customers.c.id == bindparam("customer_id"), customers.c.deleted_at.is_(None))


class CustomerRepo(Repo):
    # A customer's zone is part of who a chat account is (Store.write refreshes its SpeakerCache).
    changed_people = False

    async def add(
        self,
        *,
        name: str,
        company: str = "",
        email: str = "",
        phone: str = "",
        owner_rep_id: int | None = None,
        status: str = "active",
        source: str = "manual",
        tags: Sequence[str] = (),
        custom: Mapping[str, Any] | None = None,
        timezone: str | None = None,
        external_ref: str | None = None,
        country: str = "",
    ) -> CustomerRecord:
        values = {
            "name": name,
            "company": company,
            "email": email,
            "phone": phone,
            "owner_rep_id": owner_rep_id,
            "status": status,
            "source": source,
            "tags": list(tags),
            "custom": dict(custom or {}),
            "timezone": timezone,
            "external_ref": external_ref,
            "country": country,
            "created_at": self.now,
            "updated_at": self.now,
        }
        row = (
            (await self.conn.execute(insert(customers).values(**values).returning(customers)))
            .mappings()
            .one()
        )
        await self.audit.record("create", "customer", row["id"], name=name, source=source)
        return _record(row)

    async def add_many(self, rows: Iterable[Mapping[str, Any]], *, source: str) -> int:
        """Bulk insert (CSV import); one audit entry for the batch."""
        values = [
            {
                "name": r["name"],
                "company": r.get("company", ""),
                "email": r.get("email", ""),
                "phone": r.get("phone", ""),
                "owner_rep_id": r.get("owner_rep_id"),
                "status": r.get("status", "active"),
                "source": source,
                "tags": list(r.get("tags", ())),
                "custom": dict(r.get("custom", {})),
                "timezone": None,
                "external_ref": r.get("external_ref"),
                "country": r.get("country", ""),
                "created_at": self.now,
                "updated_at": self.now,
            }
            for r in rows
        ]
        if not values:
            return 0
        await self.conn.execute(insert(customers), values)
        await self.audit.record("import", "customer", None, rows=len(values), source=source)
        return len(values)

    async def get(self, customer_id: int) -> CustomerRecord | None:
        row = (await self.conn.execute(_GET, {"customer_id": customer_id})).mappings().first()
        return None if row is None else _record(row)

    async def get_many(self, ids: Sequence[int]) -> dict[int, CustomerRecord]:
        if not ids:
            return {}
        rows = (await self.conn.execute(_GET_MANY, {"ids": list(ids)})).mappings().all()
        return {r["id"]: _record(r) for r in rows}

    async def ids_by_email(self, emails: Iterable[str]) -> dict[str, list[int]]:
        """Live customers per email, for bulk imports (one query per 500 emails)."""
        wanted = sorted({e for e in emails if e})
        found: dict[str, list[int]] = {}
        for start in range(0, len(wanted), 500):
            rows = await self.conn.execute(
                select(customers.c.email, customers.c.id).where(
                    customers.c.email.in_(wanted[start : start + 500]), customers.c.deleted_at.is_(None)
                )
            )
            for email, customer_id in rows:
                found.setdefault(str(email), []).append(int(customer_id))
        return found

    async def ids_by_external_ref(self, refs: Iterable[str]) -> dict[str, int]:
        """Customer ids per external reference (deleted ones too: the reference stays taken),
        one query per 500 references."""
        wanted = sorted({r for r in refs if r})
        found: dict[str, int] = {}
        for start in range(0, len(wanted), 500):
            rows = await self.conn.execute(
                select(customers.c.external_ref, customers.c.id).where(
                    customers.c.external_ref.in_(wanted[start : start + 500])
                )
            )
            found.update({str(ref): int(customer_id) for ref, customer_id in rows})
        return found

    async def by_contact(self, *, email: str = "", phone: str = "") -> list[CustomerRecord]:
        """Live customers sharing this email or phone (duplicate detection, imports)."""
        conditions = []
        if email:
            conditions.append(customers.c.email == email)
        if phone:
            conditions.append(customers.c.phone == phone)
        if not conditions:
            return []
        rows = (
            (
                await self.conn.execute(
                    select(customers).where(or_(*conditions), customers.c.deleted_at.is_(None))
                )
            )
            .mappings()
            .all()
        )
        return [_record(r) for r in rows]

    async def update(
        self,
        customer_id: int,
        *,
        fields: Mapping[str, Any],
        custom: Mapping[str, Any | None] | None = None,
    ) -> CustomerRecord:
        """Set built-in ``fields`` and merge ``custom`` (a None value removes that key)."""
        if "timezone" in fields:
            self.changed_people = True
        current = await self.get(customer_id)
        if current is None:
            raise LookupError(f"customer {customer_id} not found")
        unknown = set(fields) - set(BUILTIN_COLUMNS)
        if unknown:
            raise ValueError(f"not built-in fields: {sorted(unknown)}")
        values: dict[str, Any] = dict(fields)
        if "tags" in values:
            values["tags"] = list(values["tags"])
        changes: dict[str, Any] = dict(values)
        if custom:
            merged = dict(current.custom)
            for key, value in custom.items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            values["custom"] = merged
            changes.update({f"custom.{k}": v for k, v in custom.items()})
        values["updated_at"] = self.now
        row = (
            (
                await self.conn.execute(
                    update(customers)
                    .where(customers.c.id == customer_id)
                    .values(**values)
                    .returning(customers)
                )
            )
            .mappings()
            .one()
        )
        await self.audit.record("update", "customer", customer_id, fields=sorted(changes))
        return _record(row)

    async def soft_delete(self, customer_id: int, *, reason: str) -> None:
        """Hide a record from every read (the row stays for the audit trail)."""
        await self.conn.execute(
            update(customers)
            .where(customers.c.id == customer_id, customers.c.deleted_at.is_(None))
            .values(deleted_at=self.now, updated_at=self.now)
        )
        await self.audit.record("delete", "customer", customer_id, reason=reason)

    async def changed_since(
        self, watermark: datetime | None, after_id: int = 0, *, limit: int = 20_000
    ) -> list[CustomerRecord]:
        """Customers changed after (``watermark``, ``after_id``), deleted ones too, in change
        order; page by passing the last row's ``updated_at`` and ``id`` back in."""
        query = select(customers).order_by(customers.c.updated_at, customers.c.id).limit(limit)
        if watermark is not None:
            # The plain >= lets the updated_at index start the scan at the watermark; as a bare
            # OR the planner scanned the whole index on every poll (a second at 1M customers).
            query = query.where(
                customers.c.updated_at >= watermark,
                or_(customers.c.updated_at > watermark, customers.c.id > after_id),
            )
        rows = (await self.conn.execute(query)).mappings().all()
        return [_record(r) for r in rows]

    async def page(
        self,
        *,
        limit: int,
        after: tuple[datetime, int] | None = None,
        ids: Sequence[int] | None = None,
        segment_id: int | None = None,
        tag: str | None = None,
        status: str | None = None,
        owner_rep_id: int | None = None,
        unowned: bool = False,
        updated_since: datetime | None = None,
        visible_to_rep: int | None = None,
    ) -> list[CustomerRecord]:
        """Live customers matching every filter given, in (updated_at, id) order after
        ``after``: a page of a list that a customer added or changed meanwhile joins at its end
        rather than shifting the rest (the HTTP API's cursor paging)."""
        c = customers.c
        where: list[ColumnElement[bool]] = [c.deleted_at.is_(None)]
        if ids is not None:
            where.append(c.id.in_(list(ids)))
        if segment_id is not None:
            from crm_store.segments import in_segment  # segments imports this module

            where.append(in_segment(segment_id))
        if tag is not None:
            # Tags are a JSON list of words; its text holds each one as a JSON string.
            where.append(func.cast(c.tags, String).like(f"%{_escaped(json.dumps(tag))}%", escape="/"))
        if status is not None:
            where.append(c.status == status)
        if unowned:
            where.append(c.owner_rep_id.is_(None))
        elif owner_rep_id is not None:
            where.append(c.owner_rep_id == owner_rep_id)
        if updated_since is not None:
            where.append(c.updated_at >= updated_since)
        if visible_to_rep is not None:
            where.append(visible_to(visible_to_rep))
        if after is not None:
            moment, last_id = after
            where.append(c.updated_at >= moment)
            where.append(or_(c.updated_at > moment, c.id > last_id))
        query = select(customers).where(*where).order_by(c.updated_at, c.id).limit(limit)
        return [_record(r) for r in (await self.conn.execute(query)).mappings().all()]

    async def by_external_ref(self, ref: str) -> CustomerRecord | None:
        """The customer with this external reference, deleted ones too (the reference stays taken)."""
        row = (
            (await self.conn.execute(select(customers).where(customers.c.external_ref == ref)))
            .mappings()
            .first()
        )
        return None if row is None else _record(row)

    async def latest_change(self) -> datetime | None:
        """The newest ``updated_at`` in the book (deleted rows too), None when it is empty."""
        latest: datetime | None = (
            await self.conn.execute(select(func.max(customers.c.updated_at)))
        ).scalar_one_or_none()
        return latest

    async def index_rows(self, after_id: int, *, limit: int = 20_000) -> list[tuple[int, str, str, str, str]]:
        """(id, name, company, email, phone) of live customers with ids above ``after_id``, in
        id order: what the customer index is built from, paged by the primary key."""
        c = customers.c
        query = (
            select(c.id, c.name, c.company, c.email, c.phone)
            .where(customers.c.id > after_id, customers.c.deleted_at.is_(None))
            .order_by(customers.c.id)
            .limit(limit)
        )
        return [(r[0], r[1], r[2], r[3], r[4]) for r in (await self.conn.execute(query)).all()]

    async def search_plain(
        self, *, text: str, words: Sequence[str], email: str, digits: str, limit: int
    ) -> list[CustomerRecord]:
        """Live customers whose name or company holds every one of ``words``, whose email starts
        with ``email``, or whose phone holds ``digits`` in order, case aside: the customer index's
        exact and prefix hits found by a scan, for while the index loads.  Names or companies
        equal to ``text`` come first, then those starting with it; typos and accents are not
        forgiven here."""
        c = customers.c

        def like(column: ColumnElement[str], pattern: str) -> ColumnElement[bool]:
            # SQLite's LIKE ignores ASCII case by itself (lower() on both sides, as ilike
            # renders there, made the scan three times slower); PostgreSQL needs ILIKE.
            if self.conn.dialect.name == "sqlite":
                return column.like(pattern, escape="/")
            return column.ilike(pattern, escape="/")

        def either(pattern: str) -> ColumnElement[bool]:
            return or_(like(c.name, pattern), like(c.company, pattern))

        conditions = []
        if words:
            # A name starting with the text holds its words too, so this covers prefix hits.
            conditions.append(and_(*(either(f"%{_escaped(word)}%") for word in words)))
        if email:
            conditions.append(like(c.email, f"{_escaped(email)}%"))
        if digits:
            # The digits in order with anything between them: "555 0100" also matches a
            # "+1 (555) 010-0100" as stored; the caller's scoring drops what only looks alike.
            conditions.append(like(c.phone, "%" + "%".join(d for d in digits if d.isdigit()) + "%"))
        if not conditions:
            return []
        rank = case((either(_escaped(text)), 0), (either(f"{_escaped(text)}%"), 1), else_=2) if text else c.id
        query = select(customers).where(c.deleted_at.is_(None), or_(*conditions))
        query = query.order_by(rank, c.id).limit(limit)
        return [_record(r) for r in (await self.conn.execute(query)).mappings().all()]

    async def iter_all(self, *, batch: int = 5_000) -> AsyncIterator[CustomerRecord]:
        last_id = 0
        while True:
            rows = (
                (
                    await self.conn.execute(
                        select(customers)
                        .where(customers.c.id > last_id, customers.c.deleted_at.is_(None))
                        .order_by(customers.c.id)
                        .limit(batch)
                    )
                )
                .mappings()
                .all()
            )
            if not rows:
                return
            for row in rows:
                yield _record(row)
            last_id = rows[-1]["id"]

    async def highest_id(self) -> int:
        """The largest customer id ever used (0 for none): a free upper bound of the book's size."""
        return int((await self.conn.execute(select(func.coalesce(func.max(customers.c.id), 0)))).scalar_one())

    async def count(self) -> int:
        query = select(func.count()).select_from(customers).where(customers.c.deleted_at.is_(None))
        return int((await self.conn.execute(query)).scalar_one())

    async def summary(self, customer_id: int) -> CustomerSummary | None:
        row = (await self.conn.execute(_SUMMARY, {"customer_id": customer_id})).mappings().first()
        if row is None:
            return None
        customer = _record(row)
        owner_name = row["owner_name"] if customer.owner_rep_id is not None else None
        last_contact = row["last_contact"]
        if isinstance(last_contact, str):  # aggregate results bypass the column type on SQLite
            last_contact = datetime.fromisoformat(last_contact)
        if last_contact is not None and last_contact.tzinfo is None:
            last_contact = last_contact.replace(tzinfo=UTC)
        return CustomerSummary(
            customer=customer,
            owner_name=owner_name,
            last_contact_at=last_contact,
            interaction_count=int(row["interaction_count"]),
            order_count=int(row["order_count"]),
            revenue_cents=int(row["revenue"]),
            open_tickets=int(row["open_tickets"]),
            pending_reminders=int(row["pending_reminders"]),
        )
