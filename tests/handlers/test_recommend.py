"""recommend <customer> and the card's "Next to offer" line: planted co-purchases with their
reasons, nothing bought offered again, best sellers without history, and the clear answers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, insert

from crm_store import tables
from crm_store.store import Store
from handlers.context import Services
from handlers.messages import Actor
from handlers.router import Router
from tests.conftest import Chat, all_text, services_for


async def seed_shop(store: Store, *, owner: int | None = None) -> dict[str, int]:
    """Ten tea drinkers bought a Blue mug and a Red teapot (six of them Tea leaves too); five
    coffee drinkers a Grinder and Beans; Ann only a Blue mug; Newbie nothing."""
    async with store.write("test") as tx:
        ids = {
            name: await tx.catalog.add_product(sku=sku, name=name)
            for sku, name in (
                ("MUG", "Blue mug"),
                ("POT", "Red teapot"),
                ("TEA", "Tea leaves"),
                ("GRD", "Grinder"),
                ("BNS", "Beans"),
            )
        }
        when = tx.now - timedelta(days=20)
        for n in range(10):
            buyer = await tx.customers.add(name=f"Tea drinker {n}")
            lines = [(ids["Blue mug"], 1, 800), (ids["Red teapot"], 1, 2500)]
            if n < 6:
                lines.append((ids["Tea leaves"], 2, 600))
            await tx.orders.add_with_lines(customer_id=buyer.id, lines=lines, ordered_at=when)
        coffee = {}
        for n in range(5):
            buyer = await tx.customers.add(name=f"Coffee drinker {n}")
            coffee[f"coffee {n}"] = buyer.id
            lines = [(ids["Grinder"], 1, 4000), (ids["Beans"], 3, 900)]
            await tx.orders.add_with_lines(customer_id=buyer.id, lines=lines, ordered_at=when)
        ann = await tx.customers.add(name="Ann Smith", owner_rep_id=owner)
        await tx.orders.add_with_lines(customer_id=ann.id, lines=[(ids["Blue mug"], 1, 800)], ordered_at=when)
        newbie = await tx.customers.add(name="Newbie Jones")
    return {**ids, **coffee, "ann": ann.id, "newbie": newbie.id}


async def test_planted_co_purchases_are_offered_with_their_reasons(chat: Chat, store: Store) -> None:
    await seed_shop(store)
    reply = await chat.say("recommend ann")
    assert reply.title.startswith("Next to offer: Ann Smith")
    assert [i.text for i in reply.items[:2]] == ["1. Red teapot (POT)", "2. Tea leaves (TEA)"]
    assert reply.items[0].detail == "bought by 10 of the 11 customers who bought Blue mug"
    assert reply.items[1].detail == "bought by 6 of the 11 customers who bought Blue mug"
    assert all("Blue mug" not in i.text for i in reply.items)  # already bought
    assert len(reply.items) == 4 and reply.items[2].detail.startswith("a best seller")  # 4 left


async def test_what_was_bought_after_the_model_was_built_is_not_offered(
    chat: Chat, store: Store, services: Services
) -> None:
    ids = await seed_shop(store)
    await services.recommender.rebuild(store)
    async with store.write("test") as tx:
        await tx.orders.add_with_lines(customer_id=ids["ann"], lines=[(ids["Red teapot"], 1, 2500)])
    reply = await chat.say(f"recommend #{ids['ann']} 2")
    assert [i.text for i in reply.items] == ["1. Tea leaves (TEA)", "2. Grinder (GRD)"]


async def test_no_history_gets_the_best_sellers(chat: Chat, store: Store) -> None:
    await seed_shop(store)
    reply = await chat.say("recommend newbie 3")
    assert "no order history yet" in reply.text
    assert [i.text for i in reply.items] == [
        "1. Blue mug (MUG)",
        "2. Red teapot (POT)",
        "3. Tea leaves (TEA)",
    ]
    assert reply.items[0].detail == "a best seller: bought by 11 of the 16 customers"


async def test_the_card_names_the_next_products_once_the_model_is_built(
    chat: Chat, store: Store, services: Services
) -> None:
    await seed_shop(store)
    before = await chat.say("show ann")
    assert "Next to offer" not in all_text(before)  # the card never waits for a build
    await services.recommender.rebuild(store)
    after = await chat.say("show ann")
    assert "Next to offer: Red teapot, Tea leaves, Grinder, …" in all_text(after)


async def test_unknown_customer_empty_catalogue_and_bad_input_get_clear_answers(
    chat: Chat, store: Store
) -> None:
    assert "Usage: recommend <customer>" in (await chat.say("recommend")).text
    assert "No customer matches 'nobody'" in (await chat.say("recommend nobody")).text
    async with store.write("test") as tx:
        await tx.customers.add(name="Ann Smith")
    empty = await chat.say("recommend ann")
    assert "No products have been sold yet" in empty.text and not empty.items
    await seed_shop(store)
    assert "No customer matches 'ann 99'" in (await chat.say("recommend ann 99")).text


async def test_owner_scoping_refuses_another_reps_customer(
    store: Store, rep: Actor, other_rep: Actor
) -> None:
    ids = await seed_shop(store, owner=other_rep.rep_id)
    chat = Chat(Router(services_for(store, customer_access="owner")), rep)
    reply = await chat.say(f"recommend #{ids['ann']}")
    assert reply.is_error and "Teapot" not in all_text(reply) and "teapot" not in all_text(reply)


async def test_no_history_gets_the_best_sellers_of_the_customers_segment(
    chat: Chat, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    segments = getattr(tables, "segments", None)
    members = getattr(tables, "customer_segments", None)
    if segments is None or members is None:  # the segments area is not merged: stand-ins of its tables
        meta = MetaData()
        segments = Table(
            "segments",
            meta,
            Column("id", Integer, primary_key=True),
            Column("slug", String(64)),
            Column("name", String(100)),
            Column("size", Integer),
            Column("computed_at", DateTime),
        )
        members = Table(
            "customer_segments",
            meta,
            Column("customer_id", Integer, primary_key=True),
            Column("segment_id", Integer),
            Column("moved_at", DateTime),
        )
        async with store.engine.begin() as conn:
            await conn.run_sync(meta.create_all)
        monkeypatch.setattr(tables, "segments", segments, raising=False)
        monkeypatch.setattr(tables, "customer_segments", members, raising=False)
    ids = await seed_shop(store)
    async with store.write("test") as tx:
        await tx.conn.execute(
            insert(segments).values(
                id=1, slug="coffee-lovers", name="Coffee lovers", size=6, computed_at=tx.now
            )
        )
        for customer_id in (*(ids[f"coffee {n}"] for n in range(5)), ids["newbie"]):
            await tx.conn.execute(
                insert(members).values(customer_id=customer_id, segment_id=1, moved_at=tx.now)
            )
    reply = await chat.say("recommend newbie 2")
    assert [i.text for i in reply.items] == ["1. Grinder (GRD)", "2. Beans (BNS)"]
    assert reply.items[0].detail == "a best seller: bought by 5 of the 6 customers in Coffee lovers"
