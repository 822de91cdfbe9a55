"""Customer-level authorization (RELIABILITY 20) with CRM_CUSTOMER_ACCESS=owner: manager A owns
customer #1, manager B owns #2, #3 is in the unowned lead pool. Whatever A sends for #2 (typed
command, crafted button, pick-list token) is refused, shows nothing of #2, changes nothing, and
leaves a "denied" audit entry naming #2; lists and fuzzy search leave #2 out."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import insert, select

from crm_store.records import AuditRecord
from crm_store.store import Store
from crm_store.tables import loyalty_scores, metadata
from handlers.access import Scope, scope_of
from handlers.messages import Actor, Message, Reply, reply_to_dict
from handlers.people import staff_actor
from handlers.router import Router
from tests.conftest import T0, Chat, all_text, services_for

# Everything about customer #2 that must never reach A: name, email, phone, ticket and reminder text.
SECRETS = (
    "Holdings",
    "olga",
    "petrov",
    "nwh.example",
    "7946",
    "0991",
    "invoice dispute",
    "VAT",
    "renewal call",
)


@dataclass(frozen=True)
class Book:
    a: Actor  # manager, owns #1
    b: Actor  # manager, owns #2
    ticket_1: int
    ticket_2: int
    reminder_2: int  # B's reminder about #2


def owner_router(store: Store) -> Router:
    return Router(services_for(store, customer_access="owner"))


@pytest.fixture
def strict(store: Store) -> Router:
    return owner_router(store)


@pytest.fixture
async def manager_b(store: Store) -> Actor:
    return await staff_actor(store, platform="console", user_id="bea", display_name="Bea", role="manager")


@pytest.fixture
async def book(store: Store, manager: Actor, manager_b: Actor) -> Book:
    async with store.write("test") as tx:
        one = await tx.customers.add(
            name="Northwind Traders", email="ops@northwind-traders.example", owner_rep_id=manager.rep_id
        )
        two = await tx.customers.add(
            name="Northwind Holdings",
            email="olga.petrov@nwh.example",
            phone="+442079460991",
            owner_rep_id=manager_b.rep_id,
        )
        three = await tx.customers.add(name="Northwind Leads", email="hello@nw-leads.example")
        assert (one.id, two.id, three.id) == (1, 2, 3)
        t1 = await tx.tickets.open(
            customer_id=1, subject="Late delivery", source="telegram", first_message="x"
        )
        t2 = await tx.tickets.open(
            customer_id=2, subject="Holdings invoice dispute", source="telegram", first_message="VAT is wrong"
        )
        assert manager_b.rep_id is not None
        r2 = await tx.reminders.add(
            rep_id=manager_b.rep_id, customer_id=2, text="renewal call", due_at=T0.replace(hour=15)
        )
    return Book(a=manager, b=manager_b, ticket_1=t1.id, ticket_2=t2.id, reminder_2=r2.id)


def assert_no_leak(reply: Reply) -> None:
    """Nothing of customer #2 anywhere in the payload: text, title, fields, items, buttons."""
    data = reply_to_dict(reply)
    data.pop("image")  # a chart's base64 spells short words by chance; charts carry no names
    dumped = json.dumps(data, ensure_ascii=False).lower()
    # A pick list's button carries a random one-time token ("crm:run:0vatihuq…"), which spells
    # short words by chance too; the token names no one (it is looked up in the store).
    dumped = re.sub(r"crm:run:[0-9a-z]+", "crm:run:<token>", dumped)
    for secret in SECRETS:
        assert secret.lower() not in dumped, (secret, reply)


async def snapshot(store: Store, *, skip: tuple[str, ...] = ("audit_log",)) -> dict[str, list[Any]]:
    async with store.read() as tx:
        return {
            t.name: [tuple(r) for r in (await tx.conn.execute(select(t))).all()]
            for t in metadata.sorted_tables
            if t.name not in skip
        }


async def denials(store: Store) -> list[AuditRecord]:
    async with store.read() as tx:
        return [r for r in await tx.audit.recent(entity="customer") if r.action == "denied"]


# (how, what): "say" types a command, "press" sends a crafted button id.
REFUSED = [
    ("say", "show #2"),
    ("say", "update #2 phone=+1 555 0111 status=churned"),
    ("say", "log #2 call: pitched the upgrade"),
    ("say", "timeline #2"),
    ("say", "order #2 1200 upsell"),
    ("say", "loyalty #2"),
    ("say", "invite #2"),
    ("say", "remind #2 tomorrow 10:00: call them"),
    ("say", "open-ticket #2: fake ticket"),
    ("say", "tickets #2"),
    ("say", "ticket {t2}"),
    ("say", "reply {t2} we refund you"),
    ("say", "resolve {t2} done"),
    ("say", "assign {t2} me"),
    ("say", "reopen {t2}"),
    ("say", "done {r2}"),
    ("say", "snooze {r2} in 2 hours"),
    ("press", "crm:show:2"),
    ("press", "crm:timeline:2"),
    ("press", "crm:ticket:{t2}"),
    ("press", "crm:resolve:{t2}"),
    ("press", "crm:assign-me:{t2}"),
    ("press", "crm:done:{r2}"),
    ("press", "crm:snooze-1h:{r2}"),
]


@pytest.mark.parametrize(("how", "what"), REFUSED)
async def test_a_is_refused_on_bs_customer(
    strict: Router, store: Store, book: Book, how: str, what: str
) -> None:
    chat = Chat(strict, book.a)
    text = what.format(t2=book.ticket_2, r2=book.reminder_2)
    before = await snapshot(store)
    reply = await (chat.say(text) if how == "say" else chat.press(text))
    assert reply.is_error and "#2" in reply.text and "someone else's" in reply.text, reply
    assert_no_leak(reply)
    assert await snapshot(store) == before
    [denied] = await denials(store)
    assert denied.actor == "console:dana" and denied.entity_id == "2"
    if how == "press":
        assert denied.detail["button"] == text
    else:
        assert denied.detail["command"] in text


async def test_pick_list_tokens_are_checked_when_pressed(strict: Router, store: Store, book: Book) -> None:
    async with store.write("test") as tx:
        b_token = await tx.pending.add(actor_key=book.b.key, command="show #2", label="Northwind Holdings")
        # A's own token from before #2 went to B's book (or from before the setting changed).
        a_token = await tx.pending.add(actor_key=book.a.key, command="log #2 call: hi", label="x")
    chat = Chat(strict, book.a)
    before = await snapshot(store)
    stolen = await chat.press(f"crm:run:{b_token}")
    assert stolen.is_error
    assert_no_leak(stolen)
    assert await snapshot(store) == before  # B's token is not used up either
    stale = await chat.press(f"crm:run:{a_token}")
    assert stale.is_error and "someone else's" in stale.text
    assert_no_leak(stale)
    assert [d.entity_id for d in await denials(store)] == ["2"]
    after = await snapshot(store, skip=("audit_log", "pending_actions"))
    assert after == {k: v for k, v in before.items() if k != "pending_actions"}
    # B's own token still works for B.
    assert "Northwind Holdings" in (await Chat(strict, book.b).press(f"crm:run:{b_token}")).title


async def test_fuzzy_search_and_lists_leave_bs_customers_out(
    strict: Router, store: Store, book: Book
) -> None:
    async with store.write("test") as tx:
        await tx.conn.execute(
            insert(loyalty_scores),
            [
                {
                    "run_date": "2026-11-23",
                    "customer_id": cid,
                    "score": 10.0,
                    "churn_risk": 0.9,
                    "recency_days": 200,
                    "order_count": 1,
                    "revenue_cents": 100,
                    "negatives": 0,
                    "open_tickets": 1,
                    "breached_tickets": 0,
                    "computed_at": T0,
                }
                for cid in (1, 2, 3)
            ],
        )
    assert book.a.rep_id is not None
    async with store.write("test") as tx:
        await tx.reminders.add(rep_id=book.a.rep_id, customer_id=1, text="send quote", due_at=T0)
        await tx.reminders.add(rep_id=book.a.rep_id, customer_id=2, text="old note", due_at=T0)
    chat = Chat(strict, book.a)
    found = await chat.say("find northwind")
    assert "Northwind Traders" in all_text(found) and "Northwind Leads" in all_text(found)
    for command in ("find northwind", "show northwind", "log northwind note: x"):
        assert_no_leak(await chat.say(command))
    near = await chat.say("find northwind holdings")  # the typed words come back in the title only
    assert sorted(i.text for i in near.items) == ["Northwind Leads (#3)", "Northwind Traders (#1)"]
    for query in ("olga petrov", "nwh.example", "7946 0991"):
        # Only the typed query comes back: no match, no "closest" hint, no pick list.
        reply = await chat.say(f"find {query}")
        assert reply.is_error and reply.text == f"No customer matches {query!r}. Add one with `add {query}`."
    for command in ("tickets", "tickets all", "tickets mine", "at-risk", "report loyalty", "reminders"):
        reply = await chat.say(command)
        assert not reply.is_error, (command, reply)
        assert_no_leak(reply)
    tickets = await chat.say("tickets all")
    assert [i.text.split()[0] for i in tickets.items] == [f"#{book.ticket_1}"]
    risky = await chat.say("at-risk")
    assert [i.text.split(" (#")[1][0] for i in risky.items] == ["1", "3"]
    mine = all_text(await chat.say("reminders"))
    assert "send quote" in mine and "customer #2 (no longer in your book)" in mine
    assert await denials(store) == []  # nothing of #2 was even offered, so nothing was refused


async def test_duplicate_and_clash_warnings_name_bs_customer_by_id_only(
    strict: Router, store: Store, book: Book
) -> None:
    chat = Chat(strict, book.a)
    dup = await chat.say("add Petra Import email=olga.petrov@nwh.example")
    assert dup.title == "Possible duplicate" and "customer #2 (not in your book): same email" in dup.text
    assert "crm:show:2" not in json.dumps(reply_to_dict(dup))
    clash = await chat.say("update #1 phone=+44 20 7946 0991")
    assert clash.is_error and "customer #2 (not in your book)" in clash.text


async def test_admin_and_owner_reach_b_customer_and_everyone_reaches_the_pool(
    strict: Router, store: Store, book: Book, admin: Actor, rep: Actor
) -> None:
    boss = Chat(strict, admin)
    assert (await boss.say("show #2")).title == "Northwind Holdings (#2)"
    assert "Northwind Holdings" in all_text(await boss.say("find northwind"))
    assert "invoice dispute" in (await boss.say(f"ticket {book.ticket_2}")).title
    assert "Replied" in (await boss.say(f"reply {book.ticket_2} on it")).text
    owner = Chat(strict, book.b)
    assert "Logged a call" in (await owner.say("log northwind holdings call: fine")).text
    # The lead pool: anyone may work an unowned customer, and claim it.
    assert "Logged a note" in (await Chat(strict, rep).say("log #3 note: first touch")).text
    assert "Logged a call" in (await Chat(strict, book.a).say("log #3 call: intro")).text
    assert not (await Chat(strict, rep).say("update #3 owner=me")).is_error
    assert (await Chat(strict, book.a).say("show #3")).is_error
    # A rep is held to the same rule as a manager.
    assert (await Chat(strict, rep).say("show #1")).is_error
    # Handing a customer over gives the new owner access.
    assert not (await owner.say("update #2 owner=Dana")).is_error
    assert (await Chat(strict, book.a).say("show #2")).title == "Northwind Holdings (#2)"
    assert (await owner.say("show #2")).is_error
    assert await denials(store)  # each refusal above was audited


async def test_team_mode_keeps_the_shared_book(router: Router, store: Store, book: Book) -> None:
    chat = Chat(router, book.a)
    assert (await chat.say("show #2")).title == "Northwind Holdings (#2)"
    assert "Northwind Holdings" in all_text(await chat.say("find northwind"))
    assert len((await chat.say("tickets")).items) == 2
    assert "Done" in (await chat.say(f"done {book.reminder_2}")).text
    # What the Remind button and the Slack form send: "#2" is the customer, not part of the time.
    set_ = await chat.say("remind #2 tomorrow 10:00: call back")
    assert "about Northwind Holdings (#2)" in set_.text and "10:00" in set_.text, set_
    assert await denials(store) == []


async def test_role_denials_still_audit_as_commands(
    strict: Router, store: Store, book: Book, rep: Actor
) -> None:
    reply = await strict.handle(Message(actor=rep, text="digest"))
    assert reply.is_error
    async with store.read() as tx:
        [denied] = [r for r in await tx.audit.recent(entity="command") if r.action == "denied"]
    assert denied.entity_id is None and denied.detail["command"] == "digest"


def test_scope_rules() -> None:
    def actor(role: str, rep_id: int | None = 5, customer_id: int | None = None) -> Actor:
        return Actor("console", "x", role, rep_id=rep_id, customer_id=customer_id)  # type: ignore[arg-type]

    assert scope_of(actor("manager"), "team") == Scope("all")
    assert scope_of(actor("admin"), "owner") == Scope("all")
    owner = scope_of(actor("rep"), "owner")
    assert owner.allows(1, 5) and owner.allows(1, None) and not owner.allows(1, 6)
    assert owner.owner_filter == 5
    nobody = scope_of(actor("rep", rep_id=None), "owner")
    assert nobody.allows(1, None) and not nobody.allows(1, 5)
    own = scope_of(actor("customer", rep_id=None, customer_id=7), "team")
    assert own.allows(7, 5) and not own.allows(8, None)
    assert not scope_of(actor("customer", rep_id=None), "team").allows(1, None)


async def test_setting_reaches_the_handlers(db_url: str) -> None:
    from bot.app import build_app
    from config.settings import settings_from_mapping

    assert settings_from_mapping({}).customer_access == "team"
    assert settings_from_mapping({"CRM_CUSTOMER_ACCESS": " Owner "}).customer_access == "owner"
    with pytest.raises(ValueError, match="CRM_CUSTOMER_ACCESS"):
        settings_from_mapping({"CRM_CUSTOMER_ACCESS": "nobody"})
    app = build_app(settings_from_mapping({"CRM_DATABASE_URL": db_url, "CRM_CUSTOMER_ACCESS": "owner"}))
    try:
        assert app.services.settings.customer_access == "owner"
    finally:
        await app.store.close()
