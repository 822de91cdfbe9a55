"""A small store book in planted groups (champions, slipping big spenders, leads), written with
plain inserts, for the segment store and handler tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert

from crm_store.store import Store
from crm_store.tables import customers, feedback, order_lines, orders, products, tickets


@dataclass(frozen=True, slots=True)
class PlantedBook:
    groups: dict[str, list[int]]  # group -> customer ids

    def group_of(self, customer_id: int) -> str:
        return next(g for g, ids in self.groups.items() if customer_id in ids)


async def plant(
    store: Store,
    *,
    champions: int = 24,
    slipping: int = 16,
    leads: int = 30,
    owner_of: dict[str, int | None] | None = None,
) -> PlantedBook:
    """Champions order every few days, buy many products and are happy; slipping big spenders
    spent a lot months ago and have open, breached tickets and angry feedback; leads never ordered."""
    owner_of = owner_of or {}
    groups: dict[str, list[int]] = {}
    async with store.write("test:book") as tx:
        now: datetime = tx.now
        await tx.conn.execute(
            insert(products),
            [
                {"sku": f"SKU-{p}", "name": f"Product {p}", "created_at": now, "updated_at": now}
                for p in range(1, 21)
            ],
        )
        for group, count in (("champions", champions), ("slipping", slipping), ("leads", leads)):
            ids = []
            for i in range(count):
                result = await tx.conn.execute(
                    insert(customers).values(
                        name=f"{group.capitalize()} {i}",
                        company=f"{group} co {i}",
                        owner_rep_id=owner_of.get(group),
                        created_at=now - timedelta(days=400 + i),
                        updated_at=now,
                    )
                )
                ids.append(int(result.inserted_primary_key[0]))
            groups[group] = ids
        for n, cid in enumerate(groups["champions"]):
            for o in range(12 + n % 3):
                at = now - timedelta(days=2 + 5 * o + n % 4)
                order = await tx.conn.execute(
                    insert(orders).values(
                        customer_id=cid, amount_cents=15_000 + 500 * o, ordered_at=at, created_at=at
                    )
                )
                oid = int(order.inserted_primary_key[0])
                await tx.conn.execute(
                    insert(order_lines),
                    [
                        {
                            "order_id": oid,
                            "product_id": 1 + (o + k + n) % 20,
                            "customer_id": cid,
                            "quantity": 1,
                            "unit_price_cents": 5_000,
                            "line_cents": 5_000,
                            "ordered_at": at,
                        }
                        for k in range(3)
                    ],
                )
            await tx.conn.execute(
                insert(feedback).values(
                    customer_id=cid,
                    text="love it",
                    rating=5,
                    sentiment_label="positive",
                    sentiment_score=0.7,
                    created_at=now - timedelta(days=10),
                )
            )
        for n, cid in enumerate(groups["slipping"]):
            for o in range(5 + n % 2):
                at = now - timedelta(days=140 + 7 * o + n % 5)
                await tx.conn.execute(
                    insert(orders).values(
                        customer_id=cid, amount_cents=90_000 + 1_000 * o, ordered_at=at, created_at=at
                    )
                )
            await tx.conn.execute(
                insert(feedback).values(
                    customer_id=cid,
                    text="awful",
                    rating=1,
                    sentiment_label="negative",
                    sentiment_score=-0.7,
                    created_at=now - timedelta(days=20),
                )
            )
            for t in range(2):
                await tx.conn.execute(
                    insert(tickets).values(
                        customer_id=cid,
                        subject="broken",
                        status="open",
                        created_at=now - timedelta(days=30),
                        updated_at=now,
                        breached_at=now - timedelta(days=25) if t == 0 else None,
                    )
                )
    return PlantedBook(groups)
