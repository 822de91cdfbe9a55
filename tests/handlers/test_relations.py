"""relate, unrelate, relations, and relations on the card."""

from __future__ import annotations

from datetime import timedelta

from crm_store.store import Store
from tests.conftest import Chat, FakeClock, all_text


async def _book(chat: Chat) -> None:
    for name in ("Acme Corp", "Globex Industries", "Jane Doe", "Initech"):
        assert "Added" in (await chat.say(f"add {name}")).text


async def test_relate_records_both_sides_with_dates(chat: Chat, store: Store) -> None:
    await _book(chat)
    reply = await chat.say("relate jane doe works-at acme from 2024-03-01")
    assert reply.text == "Recorded: Jane Doe (#3) works at Acme Corp (#1) (since 2024-03-01)."
    assert "Recorded" in (await chat.say("relate globex subsidiary acme")).text
    acme = await chat.say("show acme")
    fields = {f.label: f.value for f in acme.fields}
    assert fields["Contacts"] == "Jane Doe (#3)"
    assert fields["Relations"] == "Parent company of Globex Industries (#2)"
    jane = {f.label: f.value for f in (await chat.say("show jane doe")).fields}
    assert jane["Relations"] == "Works at Acme Corp (#1)"
    async with store.read() as tx:
        rows = await tx.relationships.for_customer(1)
    assert sorted((r.from_customer_id, r.kind, r.to_customer_id) for r in rows) == [
        (2, "subsidiary", 1),
        (3, "works-at", 1),
    ]


async def test_ended_relations_stay_in_history_and_leave_the_card(chat: Chat, clock: FakeClock) -> None:
    await _book(chat)
    await chat.say("relate acme partner initech from 2023-01-10 until 2024-06-30")
    await chat.say("relate jane works-at acme")
    assert "It stays in the history" in (await chat.say("unrelate jane works-at acme")).text
    listing = await chat.say("relations acme")
    assert listing.text == "0 current, 2 ended."
    details = {i.text: i.detail for i in listing.items}
    assert details["Partner of Initech (#4)"] == "2023-01-10 – 2024-06-30 (ended)"
    assert details["Employs Jane Doe (#3)"] == f"until {clock.now.date().isoformat()} (ended)"
    card = {f.label for f in (await chat.say("show acme")).fields}
    assert "Contacts" not in card and "Relations" not in card
    # Working there again later is a new relation; the old one stays.
    assert "Recorded" in (await chat.say("relate jane works-at acme")).text
    assert (await chat.say("relations acme")).text == "1 current, 2 ended."


async def test_until_on_a_current_relation_sets_its_end(chat: Chat, clock: FakeClock) -> None:
    await _book(chat)
    await chat.say("relate acme reseller globex from 2024-01-01")
    later = (clock.now + timedelta(days=40)).date().isoformat()
    assert f"ends {later}" in (await chat.say(f"relate acme reseller globex until {later}")).text
    assert "Reseller of Globex Industries" in all_text(await chat.say("show acme"))
    assert "Sold through Acme Corp (#1)" in all_text(await chat.say("show globex"))
    assert "Already recorded" in (await chat.say("relate acme reseller globex")).text


async def test_bad_input_is_answered_and_changes_nothing(chat: Chat, store: Store) -> None:
    await _book(chat)
    for text, needle in [
        ("relate acme", "Usage: relate"),
        ("relate acme friend-of globex", "how they are related"),
        ("relate acme partner", "how they are related"),
        ("relate acme partner acme", "cannot be related to itself"),
        ("relate acme partner globex from 2024-13-01", "is not a date"),
        ("relate acme partner globex from 2024-05-01 until 2024-01-01", "end date is before"),
        ("relate acme partner nobodyknown", "No customer matches"),
        ("relate acme partner #99999999999999999999", "no customer"),
        ("unrelate acme partner globex", "is not partner of"),
    ]:
        reply = await chat.say(text)
        assert reply.is_error and needle.lower() in reply.text.lower(), (text, reply.text)
    async with store.read() as tx:
        assert await tx.relationships.for_customer(1) == []
        assert await tx.relationships.for_customer(2) == []


async def test_another_reps_customer_cannot_be_related(store: Store, chat: Chat) -> None:
    from handlers.people import staff_actor
    from handlers.router import Router
    from tests.conftest import services_for

    await _book(chat)
    await chat.say("update acme owner=me")
    router = Router(services_for(store, customer_access="owner"))
    other = await staff_actor(store, platform="slack", user_id="U9", display_name="Olga", role="rep")
    reply = await Chat(router, other).say("relate #1 partner globex")
    assert reply.is_error
    async with store.read() as tx:
        assert await tx.relationships.for_customer(1) == []
