"""Ids as people write them: one reader for every command, button, form and CLI argument; an id
no record can have (zero, negative, beyond 64 bits) is "no such ...", never a crash."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from crm_store.migrate import upgrade
from crm_store.store import Store
from crm_store.tables import metadata
from handlers.errors import NotFound
from handlers.messages import Actor, Message, Reply
from handlers.parsing import MAX_ID, id_in, parse_id
from handlers.people import customer_actor, staff_actor
from handlers.router import APOLOGY, Router
from tests.conftest import FakeClock, services_for

HUGE = "99999999999999999999"  # 20 digits: past 2**64 too
PAST_INT64 = str(2**63)


@dataclass(frozen=True, slots=True)
class Case:
    """One way an id reaches a handler: ``{}`` stands for the id."""

    template: str
    kind: str  # what the answer says does not exist
    press: bool = False  # a button press rather than typed text
    customer: bool = False  # said by a customer on Telegram rather than by staff


CASES = (
    Case("show #{}", "customer"),
    Case("timeline #{}", "customer"),
    Case("loyalty #{}", "customer"),
    Case("invite #{}", "customer"),
    Case("tickets #{}", "customer"),
    Case("update #{} status=lead", "customer"),
    Case("log #{} call: discussed renewal", "customer"),
    Case("order #{} 1200", "customer"),
    Case("remind #{} tomorrow 10:00: send quote", "customer"),
    Case("open-ticket #{}: wrong VAT", "customer"),
    Case("export-contact #{}", "customer"),
    Case("erase #{}", "customer"),
    Case("ticket {}", "ticket"),
    Case("assign {} me", "ticket"),
    Case("reply {} A replacement ships today.", "ticket"),
    Case("resolve {} replaced", "ticket"),
    Case("reopen {}", "ticket"),
    Case("done {}", "reminder"),
    Case("snooze {} in 2 hours", "reminder"),
    Case("crm:show:{}", "customer", press=True),
    Case("crm:timeline:{}", "customer", press=True),
    Case("crm:ticket:{}", "ticket", press=True),
    Case("crm:assign-me:{}", "ticket", press=True),
    Case("crm:resolve:{}", "ticket", press=True),
    Case("crm:reopen:{}", "ticket", press=True),
    Case("crm:done:{}", "reminder", press=True),
    Case("crm:snooze-1h:{}", "reminder", press=True),
    Case("crm:snooze-tomorrow:{}", "reminder", press=True),
    Case("/status {}", "ticket", customer=True),
    Case("crm:csat:{}-5", "ticket", press=True, customer=True),
)


async def _row_counts(store: Store) -> dict[str, int]:
    async with store.read() as tx:
        return {
            table.name: (await tx.conn.execute(select(func.count()).select_from(table))).scalar_one()
            for table in metadata.sorted_tables
        }


async def _people(store: Store) -> tuple[Actor, Actor]:
    admin = await staff_actor(store, platform="console", user_id="ada", display_name="Ada", role="admin")
    carla = await customer_actor(store, platform="telegram", user_id="1001", display_name="Carla")
    return admin, carla


async def _ask(router: Router, actor: Actor, case: Case, number: str) -> Reply:
    said = case.template.format(number)
    message = Message(actor=actor, action=said) if case.press else Message(actor=actor, text=said)
    return await router.handle(message)


async def _check_refused(store: Store, router: Router, people: tuple[Actor, Actor], case: Case) -> None:
    """The id is answered as missing, with its kind; nothing is written."""
    before = await _row_counts(store)
    for number in (HUGE, PAST_INT64):
        reply = await _ask(router, people[1] if case.customer else people[0], case, number)
        assert reply.is_error and reply.text != APOLOGY, (case.template, number, reply.text)
        assert f"There is no {case.kind} #{number}." in reply.text, (case.template, number, reply.text)
    assert await _row_counts(store) == before, case.template


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.template)
async def test_an_id_beyond_64_bits_is_no_such_record_on_sqlite(
    store: Store, router: Router, case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    people = await _people(store)
    with caplog.at_level(logging.ERROR):
        await _check_refused(store, router, people, case)
    assert not caplog.records, [r.getMessage() for r in caplog.records]  # no traceback logged


async def test_an_id_beyond_64_bits_is_no_such_record_on_postgresql(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = Store.open(pg_url, clock=FakeClock())
    try:
        await upgrade(store.engine)
        router = Router(services_for(store))
        people = await _people(store)
        with caplog.at_level(logging.ERROR):
            for case in CASES:
                await _check_refused(store, router, people, case)
        assert not caplog.records, [r.getMessage() for r in caplog.records]
    finally:
        await store.close()


async def test_the_largest_id_and_written_forms_reach_the_store(store: Store, router: Router) -> None:
    admin, _ = await _people(store)
    await router.handle(Message(actor=admin, text="add Acme Corp"))  # #2: Carla's lead is #1
    for written in ("#2", "#0002", "#٢", "#２"):  # leading zeros; Arabic-Indic and fullwidth digits
        shown = await router.handle(Message(actor=admin, text=f"show {written}"))
        assert not shown.is_error and shown.title == "Acme Corp (#2)", written
    largest = await router.handle(Message(actor=admin, text=f"show #{MAX_ID}"))
    assert largest.text == f"There is no customer #{MAX_ID}."
    for written in ("#0", "#-1", "#+1"):
        refused = await router.handle(Message(actor=admin, text=f"show {written}"))
        assert refused.text == f"There is no customer {written}.", written
    # "²" passes str.isdigit() but int() refuses it: it is no number, so the usage answer.
    superscript = await router.handle(Message(actor=admin, text="ticket ²"))
    assert superscript.is_error and "must be a number like 12 or #12" in superscript.text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12", 12),
        ("#12", 12),
        (" #0012 ", 12),
        ("١٢", 12),  # Arabic-Indic digits: int() reads every script's decimal digits
        ("#１２", 12),  # fullwidth, as a Japanese input method types them
        (str(MAX_ID), MAX_ID),
        ("abc", None),
        ("", None),
        ("#", None),
        ("12a", None),
        ("1_000", None),  # int() would read it as 1000
        ("0x10", None),
        ("1 2", None),
        ("²", None),  # a digit to str.isdigit(), not to int()
        ("①", None),
        ("##12", None),
    ],
)
def test_id_in_reads_written_ids(text: str, expected: int | None) -> None:
    assert id_in(text, kind="ticket") == expected


@pytest.mark.parametrize("text", ["0", "#0", "000", "-1", "#-5", "+7", PAST_INT64, HUGE, "9" * 5000])
def test_id_in_answers_impossible_ids_as_missing(text: str) -> None:
    with pytest.raises(NotFound) as raised:
        id_in(text, kind="reminder")
    assert raised.value.message.startswith("There is no reminder #")
    assert len(raised.value.message) < 60  # a 5,000-digit "id" is not echoed whole


def test_hash_only_leaves_bare_numbers_to_the_name_search() -> None:
    assert id_in("12", kind="customer", hash_only=True) is None
    assert id_in("3M", kind="customer", hash_only=True) is None
    assert id_in("#12", kind="customer", hash_only=True) == 12
    with pytest.raises(NotFound):
        id_in(f"#{HUGE}", kind="customer", hash_only=True)


def test_parse_id_says_what_a_non_number_should_be() -> None:
    with pytest.raises(NotFound):
        parse_id(HUGE, kind="ticket", usage="ticket <id>")
    with pytest.raises(Exception, match="The ticket id must be a number like 12 or #12") as raised:
        parse_id("twelve", kind="ticket", usage="ticket <id>")
    assert not isinstance(raised.value, NotFound)
