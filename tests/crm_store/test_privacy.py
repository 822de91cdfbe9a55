"""Export and erasure of one contact (RELIABILITY 23, 24), on SQLite and PostgreSQL: the export
holds every record of theirs and nobody else's; after erasure nothing in any table names them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select

from crm_store.migrate import upgrade
from crm_store.privacy_match import ERASED
from crm_store.store import Store
from crm_store.tables import metadata, relationships
from handlers.context import HandlerSettings, Services
from handlers.jobs import JobSettings, queue_due_reminders, run_loyalty
from handlers.lookup import CustomerLookup
from handlers.messages import Attachment, Message
from handlers.people import customer_actor, staff_actor
from handlers.router import Router
from tests.conftest import T0, Chat, FakeClock

CARLA = "Carla Zoë Díaz"
CARLA_LEAD = "Carla Tele"  # the name her Telegram account had as a lead, before the invite
CARLA_TG, CARLA_SLACK = "7700123451", "U0CARLA9"
OSCAR_TG = "8800234562"
# Everything of Carla's carries one of these; after erasure none may be anywhere in the database.
CARLA_NEEDLES = (
    "carla",
    "díaz",
    "zoë",
    "diaz@",
    "+1 555 0142",
    "Zoe Diaz Consulting",
    CARLA_TG,
    CARLA_SLACK,
)
SETTINGS = HandlerSettings(support_platform="slack", support_channel="C0SUPPORT")
JOBS = JobSettings(staff_platforms=("console",), handlers=SETTINGS)


@dataclass
class Book:
    carla: int
    lead: int
    oscar: int
    company: int


async def _person(router: Router, store: Store, user_id: str, name: str) -> Chat:
    return Chat(router, await customer_actor(store, platform="telegram", user_id=user_id, display_name=name))


async def _seed(store: Store, clock: FakeClock) -> Book:
    """Carla and Oscar with the same kinds of data, made the way the bot makes them."""
    router = Router(Services(store=store, lookup=CustomerLookup(store, refresh_seconds=0), settings=SETTINGS))
    sam = Chat(router, await staff_actor(store, platform="console", user_id="sam", display_name="Sam"))
    await sam.say("add Northwind Traders")
    await sam.say(
        f"add {CARLA} email=carla.diaz@example.org phone=+1 555 0142 company=Zoe Diaz Consulting "
        "tags=vip shoe_size=CARLA-CUSTOM"
    )
    await sam.say(
        "add Oscar Other email=oscar@example.com phone=+44 20 7946 0000 tags=vip shoe_size=OSCAR-CUSTOM"
    )
    # Carla's Telegram writes first and becomes a lead with a ticket, then redeems an invite.
    lead_chat = await _person(router, store, CARLA_TG, CARLA_LEAD)
    await lead_chat.say("/ticket CARLA-lead ticket\nCARLA-TEXT lead wrote this")
    token = re.search(r"start[= ]([\w-]+)", (await sam.say("invite #2")).text)
    assert token is not None
    await lead_chat.say(f"/start {token.group(1)}")
    await sam.say("invite #2")  # an unused token stays behind
    carla = await _person(router, store, CARLA_TG, CARLA_LEAD)
    oscar_token = re.search(r"start[= ]([\w-]+)", (await sam.say("invite #3")).text)
    assert oscar_token is not None
    await (await _person(router, store, OSCAR_TG, "Oscar Other")).say(f"/start {oscar_token.group(1)}")
    oscar = await _person(router, store, OSCAR_TG, "Oscar Other")
    assert carla.actor.customer_id == 2 and oscar.actor.customer_id == 3
    async with store.write("test") as tx:
        await tx.people.link_customer(
            platform="slack", external_id=CARLA_SLACK, customer_id=2, display_name=CARLA
        )
        for who in (2, 3):
            await tx.conn.execute(
                insert(relationships).values(
                    from_customer_id=who, to_customer_id=1, kind="works_at", created_at=T0
                )
            )
    for chat, tag, ref in ((carla, "CARLA", "#2"), (oscar, "OSCAR", "#3")):
        photo = Attachment(file_id=f"{tag}-FILE", name=f"{tag.lower()}-passport.jpg", size=10, kind="photo")
        await router.handle(
            Message(actor=chat.actor, text=f"/ticket {tag}-subject\n{tag}-TEXT broken", attachments=(photo,))
        )
        await chat.say(f"/feedback {tag}-TEXT feedback")
        await chat.say("/stop")
        await sam.say(f"log {ref} call: {tag}-TEXT call notes")
        await sam.say(f"order {ref} 1200 {tag}-TEXT order note")
        await sam.say(f"remind {ref} in 1 hour: {tag}-TEXT call back")
        await sam.say(f"remind {ref} in 3 days: {tag}-TEXT later")
    tickets = {2: 2, 3: 3}  # ticket 1 was the lead's, now Carla's
    await sam.say(f"reply {tickets[2]} CARLA-TEXT on it")
    await sam.say(f"reply {tickets[3]} OSCAR-TEXT on it")
    await sam.say("resolve 1")
    await carla.say("/ticket")  # a draft waits in conversations
    await oscar.say("/ticket")
    async with store.write("test") as tx:
        await tx.outbox.enqueue(
            platform="slack", target=CARLA_SLACK, payload={"text": "CARLA-TEXT dm"}, key="dm:1"
        )
        await tx.outbox.enqueue(
            platform="slack",
            target="C0MGR",
            payload={"text": f"Loyalty alert: {CARLA} (#2) carla.diaz@example.org; Oscar Other (#3)"},
            key="digest:1:2026-11-23",
        )
        await tx.pending.add(actor_key="console:sam", command="log #2 call: CARLA-TEXT pick", label=CARLA)
        await tx.pending.add(actor_key="console:sam", command="log #3 call: OSCAR-TEXT pick", label="Oscar")
        for event, user, tag in (("90001", CARLA_TG, "CARLA"), ("90002", OSCAR_TG, "OSCAR")):
            update = {
                "update_id": int(event),
                "message": {"from": {"id": int(user)}, "text": f"{tag}-TEXT raw"},
            }
            await tx.inbox.add("telegram", event, update)
        # Handled updates: the payload is gone, the key of the message they carried stays.
        for event, user in (("90003", CARLA_TG), ("90004", OSCAR_TG)):
            await tx.inbox.add("telegram", event, {"update_id": int(event)}, dedupe_key=f"{user}:message:5")
            await tx.inbox.claim("telegram", event)
            await tx.inbox.finish("telegram", event)
    clock.advance(hours=1, minutes=1)
    assert await queue_due_reminders(store, JOBS) == 2  # one each: "About Carla (#2)" to Sam
    await run_loyalty(store, JOBS)
    async with store.write("test") as tx:  # some pushes went out, the rest wait
        for row in await tx.outbox.claim_due(
            platforms=["telegram", "slack", "console"], limit=100, lease=timedelta(0)
        ):
            await tx.outbox.mark_sent(row.id, f"m{row.id}")
    return Book(carla=2, lead=4, oscar=3, company=1)


async def _dump(store: Store) -> str:
    """Every row of every table, as text."""
    lines = []
    async with store.read() as tx:
        for table in metadata.sorted_tables:
            for row in (await tx.conn.execute(select(table))).mappings():
                lines.append(f"{table.name} {json.dumps(dict(row), default=str, ensure_ascii=False)}")
    return "\n".join(lines)


def _ids(export: dict[str, Any], section: str) -> set[int]:
    return {int(r["id"]) for r in export[section]}


async def _rows(store: Store, sql: str) -> list[dict[str, Any]]:
    async with store.read() as tx:
        return [dict(r) for r in (await tx.conn.exec_driver_sql(sql)).mappings()]


async def _check(store: Store, clock: FakeClock) -> None:
    book = await _seed(store, clock)
    async with store.write("console:ada") as tx:
        export = await tx.privacy.export_customer(book.carla)
        oscar_before = await tx.privacy.export_customer(book.oscar)
    text = json.dumps(export, ensure_ascii=False)
    assert json.loads(text) == export
    assert export["format"] == "crm-bot/contact-export" and export["version"] == 1
    assert export["exported_at"].startswith("2026-11-23T10:01:00")
    assert export["customer"]["email"] == "carla.diaz@example.org"
    assert export["customer"]["custom"] == {"shoe_size": "CARLA-CUSTOM"}
    assert [r["id"] for r in export["merged_records"]] == [book.lead]
    assert {(r["platform"], r["external_id"]) for r in export["identities"]} == {
        ("telegram", CARLA_TG),
        ("slack", CARLA_SLACK),
    }
    # Every linked record, checked against the tables themselves.
    for section, sql in (
        ("interactions", "SELECT id FROM interactions WHERE customer_id = 2"),
        ("orders", "SELECT id FROM orders WHERE customer_id = 2"),
        ("tickets", "SELECT id FROM tickets WHERE customer_id = 2"),
        (
            "ticket_messages",
            "SELECT m.id FROM ticket_messages m JOIN tickets t ON t.id = m.ticket_id WHERE t.customer_id = 2",
        ),
        ("feedback", "SELECT id FROM feedback WHERE customer_id = 2"),
        ("reminders", "SELECT id FROM reminders WHERE customer_id = 2"),
        ("link_tokens", "SELECT id FROM link_tokens WHERE customer_id = 2"),
        ("relationships", "SELECT id FROM relationships WHERE from_customer_id = 2"),
        ("inbox", "SELECT id FROM inbox WHERE event_id IN ('90001', '90003')"),
    ):
        expected = {int(r["id"]) for r in await _rows(store, sql)}
        assert expected and _ids(export, section) == expected, section
    assert [(r["customer_id"], r["state"], r["source"]) for r in export["customer_consents"]] == [
        (2, "stopped", "command")
    ]
    assert len(export["tickets"]) == 2 and len(export["reminders"]) == 2 and len(export["link_tokens"]) == 2
    assert all("token_hash" not in r for r in export["link_tokens"])
    assert any(
        m["attachments"] and m["attachments"][0]["file_id"] == "CARLA-FILE" for m in export["ticket_messages"]
    )
    assert export["loyalty_scores"] and all(r["customer_id"] == 2 for r in export["loyalty_scores"])
    assert {(r["platform"], r["target"]) for r in export["outbox"]} >= {
        ("telegram", CARLA_TG),
        ("slack", CARLA_SLACK),
    }
    assert any(r["thread_key"] == "ticket:2" for r in export["outbox"])
    assert any(r["idempotency_key"].startswith("reminder:") for r in export["outbox"])
    assert [r["actor_key"] for r in export["conversations"]] == [f"telegram:{CARLA_TG}"]
    assert any(r["action"] == "merge" for r in export["audit_log"])
    assert any(r["entity"] == "link_token" and r["action"] == "redeem" for r in export["audit_log"])
    # Nothing of anybody else.
    assert "oscar" not in text.lower() and OSCAR_TG not in text
    for section in ("interactions", "orders", "tickets", "feedback", "reminders", "loyalty_scores"):
        assert all(r["customer_id"] in (2, 4) for r in export[section]), section

    async with store.write("console:ada") as tx:
        counts = await tx.privacy.erase_customer(book.carla)
    assert counts["customers"] == 2 and counts["identities"] == 2 and counts["reminders"] == 2
    assert counts["interactions"] == 1 and counts["ticket_messages"] >= 3 and counts["inbox"] == 1
    assert counts["inbox_keys"] == 1
    assert counts["outbox_scrubbed"] == 1 and counts["conversations"] == 1 and counts["link_tokens"] == 2

    dump = await _dump(store)
    for needle in CARLA_NEEDLES:
        assert needle.lower() not in dump.lower(), (
            needle,
            [line for line in dump.splitlines() if needle.lower() in line.lower()],
        )
    assert "CARLA-" not in dump  # every text, file id and custom value of hers
    for needle in (
        "Oscar Other",
        "oscar@example.com",
        "OSCAR-TEXT broken",
        OSCAR_TG,
        "OSCAR-CUSTOM",
        "OSCAR-FILE",
    ):
        assert needle in dump, needle

    async with store.read() as tx:
        assert await tx.customers.get(book.carla) is None
        stub = await tx.customers.get_many([book.carla, book.lead])
        assert stub[book.carla].name == "Erased customer #2" and stub[book.lead].name == "Erased customer #4"
        assert stub[book.carla].email == stub[book.carla].phone == "" and stub[book.carla].custom == {}
        assert stub[book.carla].status == "erased" and stub[book.carla].deleted_at is not None
        assert await tx.people.identity("telegram", CARLA_TG) is None
        assert await tx.people.identities_of_customer(book.carla) == []
        assert await tx.conversations.get(f"telegram:{CARLA_TG}") is None
        assert await tx.conversations.get(f"telegram:{OSCAR_TG}") is not None
        assert await tx.inbox.state("telegram", "90001") is None
        assert await tx.inbox.state("telegram", "90002") == "pending"
    keys = await _rows(store, "SELECT event_id, dedupe_key FROM inbox WHERE event_id IN ('90003', '90004')")
    assert sorted((r["event_id"], r["dedupe_key"]) for r in keys) == [
        ("90003", None),
        ("90004", f"{OSCAR_TG}:message:5"),
    ]
    async with store.write("test") as tx:
        # A repeat of that update is still refused, by its update_id, which names nobody.
        assert not await tx.inbox.add("telegram", "90003", {"update_id": 90003})
    async with store.read() as tx:
        rows = await tx.outbox.listing(limit=1000)
    assert not [r for r in rows if r.target in (CARLA_TG, CARLA_SLACK)]
    assert all(r.payload == {} for r in rows if r.thread_key in ("ticket:1", "ticket:2"))
    digest = next(r for r in rows if r.idempotency_key.startswith("digest:"))
    assert digest.payload["text"] == f"Loyalty alert: {ERASED} (#2) {ERASED}; Oscar Other (#3)"
    for table, column in (("interactions", "text"), ("feedback", "text"), ("tickets", "subject")):
        values = {
            r["v"] for r in await _rows(store, f"SELECT {column} AS v FROM {table} WHERE customer_id = 2")
        }
        assert values == {ERASED}, table
    messages = await _rows(
        store,
        "SELECT m.text, m.attachments FROM ticket_messages m JOIN tickets t "
        "ON t.id = m.ticket_id WHERE t.customer_id = 2",
    )
    assert {m["text"] for m in messages} == {ERASED} and {str(m["attachments"]) for m in messages} <= {"[]"}
    orders = await _rows(store, "SELECT amount_cents, note FROM orders WHERE customer_id = 2")
    assert orders == [{"amount_cents": 120_000, "note": ""}]  # kept for accounting, note gone
    assert await _rows(store, "SELECT id FROM reminders WHERE customer_id = 2") == []
    assert counts["customer_consents"] == 1
    assert await _rows(store, "SELECT id FROM customer_consents WHERE customer_id IN (2, 4)") == []
    assert await _rows(store, "SELECT * FROM loyalty_scores WHERE customer_id = 2") == []

    # The audit log keeps stubs: ids, action and time, and the erasure itself with counts only.
    async with store.read() as tx:
        audit = await tx.audit.recent(limit=10_000)
    about = [a for a in audit if (a.entity, a.entity_id) in (("customer", "2"), ("customer", "4"))]
    erase = next(a for a in about if a.action == "erase")
    assert erase.actor == "console:ada" and erase.detail == counts
    assert all(isinstance(v, int) for v in erase.detail.values())
    assert all(a.detail == {} for a in about if a is not erase) and {"create", "merge", "export"} <= {
        a.action for a in about
    }
    assert not [a for a in audit if a.actor == f"telegram:{CARLA_TG}"]
    assert any(a.actor == "erased-customer:2" for a in audit)

    # Oscar is untouched.
    async with store.write("test") as tx:
        oscar_after = await tx.privacy.export_customer(book.oscar)
    for key in oscar_before:
        if key not in ("exported_at", "audit_log", "relationships"):
            assert oscar_after[key] == oscar_before[key], key
    assert len(oscar_after["relationships"]) == 1


async def test_export_and_erasure_on_sqlite(store: Store, clock: FakeClock) -> None:
    await _check(store, clock)


async def test_export_and_erasure_on_postgres(pg_url: str, clock: FakeClock) -> None:
    store = Store.open(pg_url, clock=clock)
    await upgrade(store.engine)
    try:
        await _check(store, clock)
    finally:
        await store.close()


async def test_unknown_customer_and_second_erasure(store: Store, clock: FakeClock) -> None:
    import pytest

    async with store.write("t") as tx:
        with pytest.raises(LookupError):
            await tx.privacy.export_customer(99)
        with pytest.raises(LookupError):
            await tx.privacy.erase_customer(99)
        customer = await tx.customers.add(name="Lone Contact", email="lone@example.net")
        await tx.privacy.erase_customer(customer.id)
    async with store.write("t") as tx:
        again = await tx.privacy.erase_customer(customer.id)  # idempotent: a sweep, nothing left
        export = await tx.privacy.export_customer(customer.id)
    assert again["customers"] == 1 and again["identities"] == 0
    assert export["customer"]["name"] == "Erased customer #1" and export["customer"]["erased_at"]


async def test_erasure_forgets_only_their_own_chats_message_keys(store: Store) -> None:
    async with store.write("t") as tx:
        customer = await tx.customers.add(name="Short Id")
        await tx.people.link_customer(platform="telegram", external_id="12", customer_id=customer.id)
        for event, key in (("1", "12:message:1"), ("2", "123:message:1"), ("3", "12:callback:77")):
            await tx.inbox.add("telegram", event, {"update_id": int(event)}, dedupe_key=key)
            await tx.inbox.claim("telegram", event)
            await tx.inbox.finish("telegram", event)
        counts = await tx.privacy.erase_customer(customer.id)
    assert counts["inbox_keys"] == 2
    keys = await _rows(store, "SELECT event_id, dedupe_key FROM inbox ORDER BY event_id")
    assert [(r["event_id"], r["dedupe_key"]) for r in keys] == [
        ("1", None),
        ("2", "123:message:1"),
        ("3", None),
    ]


async def _check_pushes_quoting_one_contact_detail(store: Store) -> None:
    """Queued pushes to other people that quote only her email, or only her phone, are blanked
    too: neither her name nor her #id is there to find them by."""
    email, phone = "carla.diaz@example.org", "+1 555 0142"
    pushes = {
        "email-only": {"text": f"Bounce from {email.upper()}: mailbox full"},
        "phone-only": {"text": f"Missed call from {phone}, call back"},
        "email-in-blocks": {"blocks": [{"type": "section", "text": {"text": f"Reply-To: <{email}>"}}]},
        "someone-else": {"text": "Bounce from oscar@example.com: mailbox full"},
    }
    async with store.write("t") as tx:
        carla = await tx.customers.add(name="Carla Diaz", email=email, phone=phone)
        await tx.customers.add(name="Oscar Other", email="oscar@example.com", phone="+44 20 7946 0000")
        for key, payload in pushes.items():
            await tx.outbox.enqueue(platform="slack", target="C0MGR", payload=payload, key=key)
    async with store.write("console:ada") as tx:
        counts = await tx.privacy.erase_customer(carla.id)
    assert counts["outbox_scrubbed"] == 3 and counts["outbox_dropped"] == 0
    async with store.read() as tx:
        rows = {r.idempotency_key: r for r in await tx.outbox.listing(limit=100)}
    assert {key: row.payload for key, row in rows.items()} == {
        "email-only": {"text": f"Bounce from {ERASED}: mailbox full"},
        "phone-only": {"text": f"Missed call from {ERASED}, call back"},
        "email-in-blocks": {"blocks": [{"type": "section", "text": {"text": f"Reply-To: <{ERASED}>"}}]},
        "someone-else": pushes["someone-else"],
    }
    assert {row.state for row in rows.values()} == {"pending"}  # still sent, without her details


async def test_erasure_blanks_pushes_quoting_only_the_email_or_phone_on_sqlite(store: Store) -> None:
    await _check_pushes_quoting_one_contact_detail(store)


async def test_erasure_blanks_pushes_quoting_only_the_email_or_phone_on_postgres(
    pg_url: str, clock: FakeClock
) -> None:
    store = Store.open(pg_url, clock=clock)
    await upgrade(store.engine)
    try:
        await _check_pushes_quoting_one_contact_detail(store)
    finally:
        await store.close()


async def test_export_holds_order_lines_and_erasure_drops_the_shop_reference(store: Store) -> None:
    async with store.write("t") as tx:
        carla = (await tx.customers.add(name="Carla", external_ref="17850", country="France")).id
        other = (await tx.customers.add(name="Other")).id
        mug = await tx.catalog.add_product(sku="MUG-1", name="Blue mug")
        await tx.orders.add_with_lines(customer_id=carla, lines=[(mug, 2, 500)], external_ref="536365")
        await tx.orders.add_with_lines(customer_id=other, lines=[(mug, 1, 500)])
    async with store.write("t") as tx:
        export = await tx.privacy.export_customer(carla)
        await tx.privacy.erase_customer(carla)
    assert [(r["customer_id"], r["quantity"]) for r in export["order_lines"]] == [(carla, 2)]
    async with store.read() as tx:
        stub = (await tx.customers.get_many([carla]))[carla]
        assert (stub.external_ref, stub.country) == (None, "")
        assert await tx.customers.ids_by_external_ref(["17850"]) == {}
        assert await tx.orders.existing_refs(["536365"]) == {"536365"}  # kept for accounting


async def test_a_contacts_segment_is_exported_and_erased(store: Store) -> None:
    """The segment is profiling about the person: in their export, gone with the erasure."""
    from handlers.segment_run import recompute_segments
    from tests.segment_book import plant

    book = await plant(store)
    await recompute_segments(store)
    carla, other = book.groups["champions"][:2]
    async with store.write("t") as tx:
        export = await tx.privacy.export_customer(carla)
        await tx.privacy.erase_customer(carla)
    assert [r["customer_id"] for r in export["customer_segments"]] == [carla]
    async with store.read() as tx:
        assert await tx.segments.of_customer(carla) is None
        assert await tx.segments.of_customer(other) is not None


async def test_what_a_contact_wrote_in_their_companys_group_is_exported_and_erased(store: Store) -> None:
    """A group chat's ticket is the company's, but each message is its writer's: in their
    export and blanked with them; an erased company's group chat is unlinked."""
    async with store.write("t") as tx:
        acme = await tx.customers.add(name="Acme")
        gus = await tx.customers.add(name="Gus")
        await tx.chat_groups.link("telegram", "-100", customer_id=acme.id, linked_by="t")
        ticket = await tx.tickets.open(
            customer_id=acme.id, subject="Jam", source="telegram", first_message="Gus here, call 555-0199"
        )
        await tx.tickets.add_message(
            ticket.id, author_kind="customer", text="mine", author_customer_id=gus.id
        )
        export = await tx.privacy.export_customer(gus.id)
        await tx.privacy.erase_customer(gus.id)
    assert [m["text"] for m in export["ticket_messages"]] == ["mine"]
    async with store.read() as tx:
        texts = [m.text for m in await tx.tickets.messages(ticket.id)]
    assert texts == ["Gus here, call 555-0199", ERASED]
    async with store.write("t") as tx:
        company = await tx.privacy.export_customer(acme.id)
        counts = await tx.privacy.erase_customer(acme.id)
    assert [g["chat_id"] for g in company["chat_groups"]] == ["-100"]
    assert counts["group_chats_unlinked"] == 1
    async with store.read() as tx:
        assert await tx.chat_groups.linked("telegram", "-100") is None
        assert (await tx.chat_groups.get("telegram", "-100")) is not None
