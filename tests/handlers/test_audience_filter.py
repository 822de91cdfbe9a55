"""The audience filter language: its parser, and each kind selecting the right customers through
`find` (the same words campaigns use), on SQLite and PostgreSQL; bad values get a clear answer."""

from __future__ import annotations

import pytest

from crm_store.store import Store
from handlers.audience_filter import AudienceWords, parse_audience
from handlers.messages import Actor, Reply
from tests.campaign_book import build
from tests.conftest import Chat, all_text


def test_filter_words_anywhere_with_the_rest_kept() -> None:
    assert parse_audience("segment:champions") == AudienceWords((("segment", "champions"),), "")
    assert parse_audience('acme Segment:"slipping big" corp') == AudienceWords(
        (("segment", "slipping big"),), "acme corp"
    )
    assert parse_audience("tag:vip,partner country:DE industry:retail custom.size:big") == AudienceWords(
        (("tag", "vip,partner"), ("country", "DE"), ("custom.industry", "retail"), ("custom.size", "big")),
        "",
    )
    assert parse_audience("last_order_before:90d ordered-after:2026-01-01").kinds == {
        "last-order-before",
        "last-order-after",
    }
    assert parse_audience("segment:").terms == (("segment", ""),)  # asked about, not dropped


def test_words_that_are_no_filter_stay_text() -> None:
    assert parse_audience("acme corp") == AudienceWords((), "acme corp")
    assert parse_audience("acme corp: note").terms == ()  # an empty custom value is text
    assert parse_audience("meet at 10:30").terms == ()  # a key starts with a letter


def names(reply: Reply) -> set[str]:
    return {item.text.split(" (")[0].split(",")[0] for item in reply.items}


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("tag:vip", {"Ada Vip", "Ed Stopped", "Fay Blocked", "Gus Unlinked"}),
        ("tag:partner,nothing", {"Fay Blocked"}),
        ("status:lead", {"Bo Lead"}),
        ("owner:me", {"Cy Owned"}),
        ("country:de", {"Ada Vip", "Cy Owned", "Ed Stopped", "Fay Blocked", "Gus Unlinked"}),
        ("country:AT,FR", {"Di Quiet", "Bo Lead"}),
        ("industry:RETAIL", {"Ada Vip"}),
        ("custom.industry:media", {"Bo Lead"}),
        ("loyalty:high", {"Ada Vip"}),
        ("loyalty:low,middle", {"Bo Lead", "Cy Owned"}),
        ("last-order-after:30d", {"Ada Vip"}),
        ("last-order-before:30d status:lead", {"Bo Lead"}),
        ("segment:champions country:DE", {"Ada Vip", "Cy Owned"}),
        ("tag:vip country:DE industry:retail", {"Ada Vip"}),
    ],
)
async def test_each_filter_kind_selects_its_customers(
    store: Store, chat: Chat, rep: Actor, words: str, expected: set[str]
) -> None:
    await build(store, owner_rep_id=rep.rep_id)
    reply = await chat.say(f"find {words}")
    assert not reply.is_error, reply.text
    assert names(reply) == expected


async def test_filters_with_text_search_among_the_selected(store: Store, chat: Chat, rep: Actor) -> None:
    await build(store, owner_rep_id=rep.rep_id)
    reply = await chat.say("find tag:vip fay")
    assert names(reply) == {"Fay Blocked"}


@pytest.mark.parametrize(
    ("words", "answer"),
    [
        ("status:asleep", "is not a status"),
        ("loyalty:great", "is not a band"),
        ("last-order-before:someday", "is not a date"),
        ("owner:nobodyhere", "No team member matches"),
        ("segment:nonesuch", "There is no segment"),
        ("tag:", "needs a value"),
        ("tag:nothing", "No customer fits"),
    ],
)
async def test_bad_values_get_a_clear_answer(
    store: Store, chat: Chat, rep: Actor, words: str, answer: str
) -> None:
    await build(store, owner_rep_id=rep.rep_id)
    reply = await chat.say(f"find {words}")
    assert reply.is_error and answer in all_text(reply)
