"""log and timeline."""

from __future__ import annotations

from crm_store.store import Store
from tests.conftest import Chat, FakeClock, all_text


async def test_log_stores_interaction_with_kind_and_rep(chat: Chat, store: Store) -> None:
    await chat.say("add Acme Corp email=ops@acme.example")
    reply = await chat.say("log acme call: discussed renewal")
    assert reply.text == "Logged a call with Acme Corp (#1)."
    reply = await chat.say("log acme corp meeting: demo: went well")  # colons in the text are kept
    assert "Logged a meeting" in reply.text
    async with store.read() as tx:
        items = await tx.interactions.for_customer(1)
    assert [(i.kind, i.text, i.rep_name) for i in items] == [
        ("meeting", "demo: went well", "Sam"),
        ("call", "discussed renewal", "Sam"),
    ]


async def test_log_refusals_change_nothing(chat: Chat, store: Store) -> None:
    await chat.say("add Acme Corp")
    # Words that don't fit the command are read as free text: asked about, with the reading.
    asked = await chat.say("log acme call discussed renewal")
    assert asked.title == "Did you mean…" and any(b.label.startswith("log ") for b in asked.buttons)
    for text, needle in [
        ("log acme phone: hi", "not a kind of interaction"),
        ("log acme call:   ", "What happened"),
        ("log call: hello", "Usage: log"),
        ("log nobodyknown call: hi", "No customer matches"),
        ("log acme note: " + "x" * 3990, "too long"),
    ]:
        reply = await chat.say(text)
        assert reply.is_error and needle in reply.text, (text, reply.text)
    async with store.read() as tx:
        assert await tx.interactions.all_in_range() == []


async def test_timeline_merges_newest_first(chat: Chat, clock: FakeClock) -> None:
    await chat.say("add Acme Corp")
    await chat.say("log acme email: sent quote")
    clock.advance(hours=1)
    await chat.say("order acme 1200 licence")
    clock.advance(hours=1)
    await chat.say("log acme call: they accepted")
    reply = await chat.say("timeline acme")
    texts = [i.text for i in reply.items]
    assert texts[0] == "Call by Sam: they accepted"
    assert texts[1].startswith("Order $1,200.00")
    assert texts[2] == "Email by Sam: sent quote"


async def test_timeline_empty_and_unknown(chat: Chat) -> None:
    await chat.say("add Acme Corp")
    assert "Nothing logged" in (await chat.say("timeline acme")).text
    assert (await chat.say("timeline")).is_error
    assert "No customer matches" in all_text(await chat.say("timeline zzzzzz"))
