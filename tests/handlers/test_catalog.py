"""The product commands: add (managers), find, show with sales, returns and top buyers in scope."""

from __future__ import annotations

from crm_store.store import Store
from handlers.messages import Actor
from handlers.router import Router
from tests.conftest import Chat, all_text, buttons, services_for


async def _products(store: Store) -> list[tuple[str, str, str, int | None, str]]:
    async with store.read() as tx:
        names = await tx.catalog.all_names()
        found = await tx.catalog.get_many(pid for pid, _, _ in names)
    return [(p.sku, p.name, p.category, p.price_cents, p.currency) for p in found.values()]


async def test_a_manager_adds_products_with_fields(router: Router, manager: Actor, store: Store) -> None:
    chat = Chat(router, manager)
    reply = await chat.say("product add MUG-1 Blue mug price=12.50 category=kitchen")
    assert not reply.is_error and reply.text == "Added product Blue mug (MUG-1) at $12.50."
    assert (
        await chat.say('product add TEA-9 "Green tea, loose" price=€4 category="hot drinks"')
    ).text.startswith("Added product Green tea, loose (TEA-9) at €4.00")
    assert not (await chat.say("product add PEN Pen")).is_error
    assert sorted(await _products(store)) == [
        ("MUG-1", "Blue mug", "kitchen", 1250, "USD"),
        ("PEN", "Pen", "", None, "USD"),
        ("TEA-9", "Green tea, loose", "hot drinks", 400, "EUR"),
    ]


async def test_product_add_refusals_change_nothing(
    router: Router, manager: Actor, rep: Actor, store: Store
) -> None:
    boss = Chat(router, manager)
    await boss.say("product add MUG-1 Blue mug")
    for actor, text, needle in [
        (rep, "product add CUP Cup", "for managers"),
        (manager, "product add", "Usage: product"),
        (manager, "product add CUP", "Give the SKU and the product's name"),
        (manager, "product add MUG-1 Red mug", "SKU MUG-1 is already 'Blue mug'"),
        (manager, "product add mug-1 Red mug", "SKU MUG-1 is already"),
        (manager, "product add 'bad sku' Cup", "is not a SKU"),
        (manager, "product add CUP Cup price=lots", "is not an amount"),
        (manager, "product add CUP Cup colour=red", "'colour' is not a product field"),
        (manager, "product add CUP Cup currency=XYZ", "is not one of"),
        (manager, "product add CUP Cup price=$5 currency=EUR", "different currencies"),
        (manager, 'product add CUP "Cup', "quote is not closed"),
        (manager, "product add CUP " + "x" * 201, "too long"),
        (manager, "product sell CUP", "Usage: product"),
    ]:
        reply = await Chat(router, actor).say(text)
        assert reply.is_error and needle in reply.text, (text, reply.text)
    assert [sku for sku, *_ in await _products(store)] == ["MUG-1"]
    async with store.read() as tx:
        denials = await tx.audit.recent(entity="command")
    assert any(d.action == "denied" for d in denials)


async def test_product_find_by_sku_prefix_and_fuzzy_name(router: Router, manager: Actor, rep: Actor) -> None:
    boss = Chat(router, manager)
    for text in ("MUG-1 Blue mug", "MUG-2 Red mug", "TEA-1 Green tea", "LAMP Desk lamp"):
        await boss.say(f"product add {text}")
    chat = Chat(router, rep)
    by_sku = await chat.say("product find mug-")
    assert [i.text for i in by_sku.items][:2] == ["Blue mug (MUG-1)", "Red mug (MUG-2)"]
    typo = await chat.say("product find blu mugg")
    assert typo.items[0].text == "Blue mug (MUG-1)"
    assert "crm:product:1" in buttons(typo)
    missing = await chat.say("product find zzzzqqq")
    assert missing.is_error and "No product matches 'zzzzqqq'" in missing.text
    assert (await chat.say("product find")).is_error


async def test_product_show_counts_sales_returns_and_top_buyers(router: Router, manager: Actor) -> None:
    chat = Chat(router, manager)
    await chat.say("product add MUG-1 Blue mug price=10")
    await chat.say("add Acme Corp")
    await chat.say("add Initech")
    await chat.say("order acme 3x MUG-1")
    await chat.say("order initech 5x MUG-1")
    await chat.say("order acme 1x MUG-1")
    async with router.services.store.write("t") as tx:  # a cancelled line, as imports write them
        mug = await tx.catalog.product_by_sku("MUG-1")
        assert mug is not None
        await tx.orders.add_with_lines(customer_id=1, lines=[(mug.id, -2, 1000)])
    reply = await chat.say("product show blue mug")
    text = all_text(reply)
    assert reply.title == "Blue mug (MUG-1)"
    for needle in ("Units sold: 7", "Revenue: $70.00", "Orders: 3", "Returns: 1 (2 units)", "Buyers: 2"):
        assert needle in text, (needle, text)
    assert [i.text for i in reply.items] == ["Initech (#2)", "Acme Corp (#1)"]
    assert "crm:show:2" in buttons(reply)
    assert (await chat.press("crm:product:1")).title == "Blue mug (MUG-1)"
    assert (await chat.say("product show MUG-1")).title == "Blue mug (MUG-1)"


async def test_product_show_unknown_or_unclear_names_the_close_ones(router: Router, manager: Actor) -> None:
    chat = Chat(router, manager)
    await chat.say("product add MUG-1 Blue mug")
    await chat.say("product add MUG-2 Blue mugs")
    unclear = await chat.say("product show blue mu")
    assert (
        unclear.is_error and "Close:" in unclear.text and "MUG-1" in unclear.text and "MUG-2" in unclear.text
    )
    unknown = await chat.say("product show teapot")
    assert unknown.is_error and "No product matches 'teapot'" in unknown.text
    assert (await chat.say("product show #99")).is_error
    assert (await chat.say("product show")).is_error


async def test_product_card_shows_only_buyers_in_the_readers_scope(
    store: Store, manager: Actor, rep: Actor
) -> None:
    router = Router(services_for(store, customer_access="owner"))
    async with store.write("t") as tx:
        other = await tx.people.add_rep(display_name="Other", role="rep")
        mine = (await tx.customers.add(name="Mine Ltd", owner_rep_id=rep.rep_id)).id
        theirs = (await tx.customers.add(name="Theirs Ltd", owner_rep_id=other.id)).id
        mug = await tx.catalog.add_product(sku="MUG-1", name="Blue mug", price_cents=100)
        await tx.orders.add_with_lines(customer_id=mine, lines=[(mug, 1, 100)])
        await tx.orders.add_with_lines(customer_id=theirs, lines=[(mug, 9, 100)])
    reply = await Chat(router, rep).say("product show MUG-1")
    text = all_text(reply)
    assert "Units sold: 1" in text and "Buyers: 1" in text
    assert "Theirs Ltd" not in text and [i.text for i in reply.items] == [f"Mine Ltd (#{mine})"]
