"""Text cleaned where it enters: no NUL, terminal escape or bidi override reaches either store,
and ordinary Unicode (emoji with joiners, right-to-left text, tabs, newlines) is kept."""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from crm_store.migrate import upgrade
from crm_store.store import Store
from crm_store.tables import metadata
from handlers.cleaning import clean_input
from handlers.imports import import_customers
from handlers.messages import Actor, Attachment, Message
from handlers.people import customer_actor, staff_actor
from handlers.router import Router
from tests.conftest import FakeClock, services_for

BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
LINE_BREAKS = frozenset("\r\x85\u2028\u2029")
FAMILY = "👩\u200d👩\u200d👧"  # one emoji: three people joined by zero-width joiners
ENGLAND = "🏴\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"  # a flag made of tag characters


def _unwanted(ch: str) -> bool:
    """What must never be kept, by Unicode category rather than by the cleaner's own list."""
    category = unicodedata.category(ch)
    return (
        (category == "Cc" and ch not in "\n\t") or category == "Cs" or ch in BIDI_CONTROLS or ch == "\ufeff"
    )


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("A\x00B", "AB"),
        ("\x1b[31mred\x1b[0m alert", "red alert"),
        ("x\x1b]0;window title\x07y", "xy"),
        ("\x9b1mbold", "bold"),
        ("bell\x07 back\x08space del\x7f", "bell backspace del"),
        ("a\r\nb\rc\x85d\u2028e\u2029f", "a\nb\nc\nd\ne\nf"),
        ("col1\tcol2\nline2", "col1\tcol2\nline2"),
        ("invoice\u202egpj.exe", "invoicegpj.exe"),
        ("\u2066isolated\u2069 \u202aembedded\u202c", "isolated embedded"),
        ("\ufeffname", "name"),
        ("lone \ud800surrogate\udfff", "lone surrogate"),
        (f"{FAMILY} {ENGLAND} ❤️", f"{FAMILY} {ENGLAND} ❤️"),
        ("שלום עולם \u200f(2)", "שלום עולם \u200f(2)"),  # right-to-left text keeps its RLM mark
        ("مرحبا بالعالم", "مرحبا بالعالم"),
        ("می\u200cخواهم", "می\u200cخواهم"),  # Persian needs its zero-width non-joiner
        ("Zoë Díaz 株式会社", "Zoë Díaz 株式会社"),
    ],
)
def test_clean_input_drops_controls_and_keeps_text(raw: str, clean: str) -> None:
    assert clean_input(raw) == clean


_ANY_CHARACTER = st.one_of(
    st.characters(exclude_categories=()),  # surrogates too
    st.sampled_from(sorted("\x00\x1b\x9b[]\r\n\t\x07\x85\u2028\u202e\u2066\ufeff\ud800m0;")),
)


@given(st.text(_ANY_CHARACTER))
def test_cleaning_leaves_nothing_unwanted_and_is_idempotent(text: str) -> None:
    cleaned = clean_input(text)
    assert not [ch for ch in cleaned if _unwanted(ch) or ch in LINE_BREAKS]
    assert clean_input(cleaned) == cleaned


@given(st.text(st.characters(exclude_categories=(), exclude_characters="\x1b\x9b")))
def test_cleaning_keeps_every_other_character_in_order(text: str) -> None:
    # Without escape sequences nothing but the unwanted characters goes; line breaks become "\n".
    breaks = ["\n" if ch in LINE_BREAKS else ch for ch in text.replace("\r\n", "\n")]
    assert list(clean_input(text)) == [ch for ch in breaks if not _unwanted(ch)]


def test_every_message_is_cleaned_whoever_builds_it() -> None:
    rep = Actor(platform="console", user_id="sam", role="rep")
    message = Message(actor=rep, text="log acme note: A\x00B", action="crm:show:1\x00", value="1\x1b[0m")
    assert (message.text, message.action, message.value) == ("log acme note: AB", "crm:show:1", "1")
    assert Attachment(file_id="F", name="photo\u202egnp.exe").name == "photognp.exe"


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


async def _unclean_values(store: Store) -> list[tuple[str, str]]:
    """Every stored string (JSON ones too) holding a character that should have been cleaned."""
    found = []
    async with store.read() as tx:
        for table in metadata.sorted_tables:
            for row in (await tx.conn.execute(select(table))).mappings():
                for column, value in row.items():
                    where = f"{table.name}.{column}"
                    found += [(where, s) for s in _strings(value) if any(map(_unwanted, s))]
    return found


async def _talk_with_control_characters(store: Store) -> None:
    """A rep and a Telegram customer whose names and words carry NUL, escapes and overrides."""
    router = Router(services_for(store))
    sam = await staff_actor(store, platform="slack", user_id="U0SAM", display_name="Sam\x1b[2J\x00")
    eve = await customer_actor(
        store, platform="telegram", user_id="1001", display_name="Eve\x00\u202eexe.txt"
    )
    photo = Attachment(file_id="F1", name="invoice\u202egpj.exe", size=10, kind="document")
    said = [
        (sam, "add A\x00B", ()),
        (sam, "log #2 note: \x1b[31mred alert\x1b[0m for \x00A", ()),
        (eve, "/ticket Printer\x00 broken\nIt prints \x00nothing\x1b[2J", (photo,)),
        (eve, "Still \x00broken \u202eton", ()),
        (sam, "reply 1 On\x00 it \x1b[1mtoday", ()),
        (sam, "remind #2 tomorrow 10:00: call\x00 back", ()),
    ]
    for actor, text, attachments in said:
        reply = await router.handle(Message(actor=actor, text=text, attachments=attachments))
        assert not reply.is_error, (text, reply.text)
    imported = await import_customers(
        store,
        '\ufeffname,company,notes\r\nNUL\x00 Ltd,"\x1b[1mBold\x1b[0m Co","line one\r\nline\x07 two"\r\n',
        actor="cli:import",
    )
    assert imported.imported == 1 and imported.errors == []
    async with store.read() as tx:
        customer = await tx.customers.get(2)
        notes = await tx.interactions.for_customer(2)
        messages = await tx.tickets.messages(1, limit=10)
        ticket = await tx.tickets.get(1)
        lead = await tx.customers.get(1)
        rep = await tx.people.rep(sam.rep_id or 0)
        from_csv = await tx.customers.get(3)
    assert customer is not None and customer.name == "AB"
    assert [n.text for n in notes] == ["red alert for A"]
    assert ticket is not None and ticket.subject == "Printer broken"
    assert [m.text for m in messages] == ["It prints nothing", "Still broken ton", "On it today"]
    assert messages[0].attachments[0]["name"] == "invoicegpj.exe"
    assert lead is not None and lead.name == "Eveexe.txt"
    assert rep is not None and rep.display_name == "Sam"
    assert from_csv is not None and (from_csv.name, from_csv.company) == ("NUL Ltd", "Bold Co")
    assert from_csv.custom == {"notes": "line one\nline two"}
    assert await _unclean_values(store) == []


async def test_control_characters_never_reach_sqlite(store: Store) -> None:
    await _talk_with_control_characters(store)


async def test_control_characters_never_reach_postgresql(pg_url: str) -> None:
    store = Store.open(pg_url, clock=FakeClock())
    try:
        await upgrade(store.engine)
        await _talk_with_control_characters(store)
    finally:
        await store.close()
