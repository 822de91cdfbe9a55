"""Segments in the store: features read in bulk, runs stored and moves recorded, the filter."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import adjusted_rand_score
from sqlalchemy import func, insert, select, update

from crm_store.segments import NewSegment, in_segment
from crm_store.store import Store
from crm_store.tables import customers, loyalty_scores
from handlers.segment_run import recompute_segments
from insight.segment_features import COLUMN
from tests.conftest import FakeClock
from tests.segment_book import plant


async def test_features_are_read_per_customer_as_documented(store: Store) -> None:
    book = await plant(store, champions=2, slipping=1, leads=1)
    async with store.write("test") as tx:
        await tx.conn.execute(
            insert(loyalty_scores).values(
                run_date="2026-11-22",
                customer_id=book.groups["leads"][0],
                score=12.5,
                churn_risk=0.9,
                order_count=0,
                revenue_cents=0,
                negatives=0,
                open_tickets=0,
                breached_tickets=0,
                computed_at=tx.now,
            )
        )
    async with store.read() as tx:
        found = await tx.segments.features()
    assert found.customer_ids.tolist() == sorted(c for ids in book.groups.values() for c in ids)
    row = {cid: found.raw[i] for i, cid in enumerate(found.customer_ids.tolist())}
    champion = row[book.groups["champions"][0]]
    assert champion[COLUMN["frequency"]] == 12
    assert champion[COLUMN["monetary"]] == sum(15_000 + 500 * o for o in range(12))
    assert champion[COLUMN["aov"]] == champion[COLUMN["monetary"]] / 12
    assert champion[COLUMN["recency_days"]] == 2
    assert champion[COLUMN["breadth"]] == 14  # products 1..14 over 12 orders of 3 consecutive
    assert champion[COLUMN["sentiment"]] == 0.7 and champion[COLUMN["csat"]] == 5
    assert champion[COLUMN["tenure_days"]] == 400
    slipping = row[book.groups["slipping"][0]]
    assert slipping[COLUMN["open_tickets"]] == 2 and slipping[COLUMN["breached_tickets"]] == 1
    assert np.isnan(slipping[COLUMN["breadth"]])  # no order lines: filled later
    lead = row[book.groups["leads"][0]]
    assert np.isnan(lead[COLUMN["frequency"]])  # never ordered: filled with 0 by the model
    assert np.isnan(lead[COLUMN["recency_days"]]) and np.isnan(lead[COLUMN["sentiment"]])
    assert lead[COLUMN["loyalty"]] == 12.5
    assert np.isnan(champion[COLUMN["loyalty"]])


async def test_deleted_customers_are_left_out(store: Store) -> None:
    book = await plant(store, champions=2, slipping=1, leads=1)
    gone = book.groups["champions"][0]
    async with store.write("test") as tx:
        await tx.conn.execute(update(customers).where(customers.c.id == gone).values(deleted_at=tx.now))
    async with store.read() as tx:
        found = await tx.segments.features()
    assert gone not in found.customer_ids.tolist()


async def test_a_run_recovers_the_planted_groups_and_names_them(store: Store) -> None:
    book = await plant(store)
    run = await recompute_segments(store)
    assert not run.skipped
    names = {s.name for s in run.segments}
    assert {"Champions", "Slipping big spenders", "Leads who never ordered"} <= names
    async with store.read() as tx:
        live = await tx.segments.live()
        truth, found = [], []
        for group, ids in book.groups.items():
            for cid in ids:
                segment = await tx.segments.of_customer(cid)
                assert segment is not None
                truth.append(group)
                found.append(segment.slug)
    assert adjusted_rand_score(truth, found) > 0.9
    assert sum(s.size for s in live) == sum(len(v) for v in book.groups.values())
    assert run.new == sum(len(v) for v in book.groups.values()) and run.moved == 0


async def test_a_rerun_keeps_names_and_moves_nobody(store: Store, clock: FakeClock) -> None:
    await plant(store)
    first = await recompute_segments(store)
    clock.advance(days=1)
    second = await recompute_segments(store)
    assert [(s.slug, s.name, s.size) for s in second.segments] == [
        (s.slug, s.name, s.size) for s in first.segments
    ]
    assert second.moved == 0 and second.new == 0


async def test_moves_are_recorded_with_the_segment_left(store: Store, clock: FakeClock) -> None:
    async with store.write("test") as tx:
        await tx.customers.add_many([{"name": f"C{i}"} for i in range(4)], source="test")
        ids = [r for (r,) in (await tx.conn.execute(select(customers.c.id).order_by(customers.c.id))).all()]
    figures = {"z": {}, "median": {}}
    two = [NewSegment("a", "Alpha", "", 2, figures), NewSegment("b", "Beta", "", 2, figures)]
    async with store.write("test") as tx:
        saved = await tx.segments.save_run(two, customer_ids=np.array(ids), labels=np.array([0, 0, 1, 1]))
    assert (saved.moved, saved.new) == (0, 4)
    since = clock()
    clock.advance(days=1)
    async with store.write("test") as tx:
        saved = await tx.segments.save_run(
            [NewSegment("a", "Alpha", "", 1, figures), NewSegment("c", "Gamma", "", 3, figures)],
            customer_ids=np.array(ids),
            labels=np.array([0, 1, 1, 1]),
        )
    assert (saved.moved, saved.new) == (3, 0)
    clock.advance(seconds=1)
    async with store.read() as tx:
        moves = await tx.segments.moves_between(since, clock())
        live = await tx.segments.live()
        beta = await tx.segments.matching("beta")
        in_gamma = (
            await tx.conn.execute(select(func.count()).select_from(customers).where(in_segment(live[0].id)))
        ).scalar_one()
    assert [(m.from_name, m.to_name, m.customers) for m in moves] == [
        ("Beta", "Gamma", 2),
        ("Alpha", "Gamma", 1),
    ]
    assert [s.name for s in live] == ["Gamma", "Alpha"]  # Beta is gone (size 0)
    assert beta == [] and in_gamma == 3


async def test_segment_names_match_by_slug_or_unambiguous_part(store: Store) -> None:
    figures = {"z": {}, "median": {}}
    async with store.write("test") as tx:
        await tx.customers.add_many([{"name": "C"}], source="test")
        await tx.segments.save_run(
            [
                NewSegment("big-spenders", "Big spenders", "", 1, figures),
                NewSegment("slipping-big-spenders", "Slipping big spenders", "", 1, figures),
                NewSegment("champions", "Champions", "", 1, figures),
            ],
            customer_ids=np.array([1]),
            labels=np.array([0]),
        )
    async with store.read() as tx:
        assert [s.slug for s in await tx.segments.matching("Big Spenders")] == ["big-spenders"]
        assert [s.slug for s in await tx.segments.matching("champ")] == ["champions"]
        assert len(await tx.segments.matching("spenders")) == 2
        assert await tx.segments.matching("whales") == []
        assert await tx.segments.matching("!!") == []


async def test_too_small_a_book_is_not_segmented(store: Store) -> None:
    await plant(store, champions=3, slipping=2, leads=2)
    run = await recompute_segments(store)
    assert run.skipped and "too few" in run.summary()
    async with store.read() as tx:
        assert await tx.segments.live() == []
