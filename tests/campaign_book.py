"""A small book for the audience and campaign tests: customers that differ in one filter kind each
(tag, status, owner, country, custom field, loyalty band, last order, segment), some reachable on
Telegram, one stopped, one blocked."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import insert

from crm_store.store import Store
from crm_store.tables import customer_segments, loyalty_scores, segments


@dataclass(frozen=True, slots=True)
class Book:
    ids: dict[str, int]  # name -> customer id
    segment_id: int

    def __getitem__(self, name: str) -> int:
        return self.ids[name]


async def build(store: Store, *, owner_rep_id: int | None = None) -> Book:
    ids: dict[str, int] = {}
    async with store.write("test:book") as tx:
        now = tx.now
        specs = [
            ("Ada Vip", dict(tags=["vip"], country="DE", custom={"industry": "retail"})),
            ("Bo Lead", dict(status="lead", country="FR", custom={"industry": "media"})),
            ("Cy Owned", dict(owner_rep_id=owner_rep_id, country="de", company="Cy Corp")),
            ("Di Quiet", dict(country="AT")),
            ("Ed Stopped", dict(tags=["vip"], country="DE")),
            ("Fay Blocked", dict(tags=["vip", "partner"], country="DE")),
            ("Gus Unlinked", dict(tags=["vip"], country="DE")),
        ]
        for name, values in specs:
            ids[name.split()[0].lower()] = (await tx.customers.add(name=name, **values)).id  # type: ignore[arg-type]
        for number, who in enumerate(("ada", "bo", "cy", "di", "ed", "fay"), start=1):
            await tx.people.link_customer(
                platform="telegram", external_id=f"70{number}", customer_id=ids[who]
            )
        await tx.consents.record(ids["ed"], "stopped", source="command")
        await tx.consents.mark_blocked("telegram", "706")
        # Ada ordered last week, Bo a year ago; the others never did.
        await tx.orders.add(
            customer_id=ids["ada"], rep_id=None, amount_cents=5000, ordered_at=now - timedelta(days=7)
        )
        await tx.orders.add(
            customer_id=ids["bo"], rep_id=None, amount_cents=9000, ordered_at=now - timedelta(days=365)
        )
        segment_id = (
            await tx.conn.execute(
                insert(segments)
                .values(
                    slug="champions",
                    name="Champions",
                    description="buy often",
                    size=2,
                    figures={},
                    computed_at=now,
                )
                .returning(segments.c.id)
            )
        ).scalar_one()
        await tx.conn.execute(
            insert(customer_segments),
            [{"customer_id": ids[w], "segment_id": segment_id, "moved_at": now} for w in ("ada", "cy")],
        )
        await tx.conn.execute(
            insert(loyalty_scores),
            [
                {
                    "run_date": now.date().isoformat(),
                    "customer_id": ids[who],
                    "score": score,
                    "churn_risk": 0.1,
                    "order_count": 0,
                    "revenue_cents": 0,
                    "negatives": 0,
                    "open_tickets": 0,
                    "breached_tickets": 0,
                    "computed_at": now,
                }
                for who, score in (("ada", 85.0), ("bo", 20.0), ("cy", 55.0))
            ],
        )
    return Book(ids, int(segment_id))
