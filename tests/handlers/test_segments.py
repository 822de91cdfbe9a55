"""segments, segment <name> (paged), find segment:<name>, the card line, report segments and the
weekly digest's segment changes, with owner scoping and bad input."""

from __future__ import annotations

import io
from datetime import timedelta

import numpy as np
from matplotlib.image import imread

from crm_store.segments import NewSegment
from crm_store.store import Store
from handlers.digests import build_digest
from handlers.jobs import JobSettings, run_loyalty
from handlers.messages import Actor
from handlers.router import Router
from handlers.segment_run import recompute_segments
from tests.conftest import Chat, FakeClock, all_text, buttons, services_for
from tests.handlers.test_access import snapshot
from tests.segment_book import plant


async def test_before_any_run_every_command_says_how_segments_come(
    store: Store, rep: Actor, manager: Actor
) -> None:
    router = Router(services_for(store))
    boss, chat = Chat(router, manager), Chat(router, rep)
    assert "No segments yet" in (await boss.say("segments")).text
    assert "No segments yet" in (await chat.say("segment champions")).text
    assert "No segments yet" in (await chat.say("find segment:champions")).text


async def test_segments_table_with_chart_and_figures_in_text(store: Store, manager: Actor) -> None:
    await plant(store)
    await recompute_segments(store)
    reply = await Chat(Router(services_for(store)), manager).say("segments")
    text = all_text(reply)
    for name in ("Champions", "Slipping big spenders", "Leads who never ordered"):
        assert name in text
    assert "70 customers in" in reply.text and "Sizes: " in reply.text and "z-scores" in reply.text
    assert "Median: last order" in text and "no orders" in text  # leads have no order figures
    assert reply.image is not None and reply.image[:8] == b"\x89PNG\r\n\x1a\n"
    height, width = imread(io.BytesIO(reply.image)).shape[:2]
    assert width == 1100 and height > 200
    assert all(b.startswith("crm:segment:") for b in buttons(reply))


async def test_segments_is_for_managers_and_takes_no_words(store: Store, rep: Actor, manager: Actor) -> None:
    await plant(store)
    await recompute_segments(store)
    router = Router(services_for(store))
    refused = await Chat(router, rep).say("segments")
    assert refused.is_error and "Champions" not in all_text(refused)
    assert "takes no arguments" in (await Chat(router, manager).say("segments champions")).text


async def test_segment_members_are_paged_with_a_more_button(store: Store, rep: Actor) -> None:
    book = await plant(store, leads=23)
    await recompute_segments(store)
    chat = Chat(Router(services_for(store)), rep)
    first = await chat.say("segment leads")
    assert first.title == "Leads who never ordered: 23 customers" and "Showing 1–10 of 23" in first.text
    assert [b.label for b in first.buttons] == ["More"]
    second = await chat.press(first.buttons[0].action)
    third = await chat.press(second.buttons[0].action)
    assert "Showing 21–23 of 23" in third.text and third.buttons == ()
    seen = [i.text for r in (first, second, third) for i in r.items]
    assert len(seen) == len(set(seen)) == 23
    assert {f"#{c})" for c in book.groups["leads"]} == {t[t.rindex("#") :] for t in seen}


async def test_segment_by_part_of_its_name_and_bad_input(store: Store, rep: Actor) -> None:
    await plant(store)
    await recompute_segments(store)
    chat = Chat(Router(services_for(store)), rep)
    before = await snapshot(store)
    assert (await chat.say("segment slipping")).title.startswith("Slipping big spenders:")
    unknown = await chat.say("segment whales")
    assert unknown.is_error and "There is no segment 'whales'" in unknown.text and "Champions" in unknown.text
    assert "Usage: segment <name>" in (await chat.say("segment")).text
    empty = await chat.say("find segment:")
    assert empty.is_error and "Which segment? Segments: " in empty.text
    forged = await chat.press("crm:segment-more:abc")
    assert "not one I made" in all_text(forged)
    gone = await chat.press("crm:segment-more:999.0")
    assert "There is no segment '#999'" in all_text(gone)
    assert await snapshot(store) == before  # reading changes nothing


async def test_a_part_of_several_names_is_asked_about(store: Store, rep: Actor) -> None:
    figures = {"z": {}, "median": {}}
    async with store.write("test") as tx:
        await tx.customers.add_many([{"name": "C"}], source="test")
        await tx.segments.save_run(
            [
                NewSegment("big-spenders", "Big spenders", "spend high", 1, figures),
                NewSegment("slipping-big-spenders", "Slipping big spenders", "lapsed", 1, figures),
            ],
            customer_ids=np.array([1]),
            labels=np.array([0]),
        )
    chat = Chat(Router(services_for(store)), rep)
    reply = await chat.say("segment spenders")
    assert reply.is_error and "several segment names" in reply.text
    assert (await chat.say("segment big spenders")).title.startswith("Big spenders:")


async def test_owner_scoping_hides_others_customers(store: Store, rep: Actor, other_rep: Actor) -> None:
    book = await plant(store, owner_of={"champions": other_rep.rep_id, "slipping": rep.rep_id})
    await recompute_segments(store)
    chat = Chat(Router(services_for(store, customer_access="owner")), rep)
    theirs = await chat.say("segment champions")
    assert "No customers in your book in Champions" in theirs.text and theirs.items == ()
    mine = await chat.say("segment slipping")
    assert mine.title == f"Slipping big spenders: {len(book.groups['slipping'])} customers in your book"
    found = await chat.say("find segment:champions")
    assert found.items == ()
    searched = await chat.say("find segment:champions Champions 3")
    assert searched.is_error and "Champions 3" not in "".join(i.text for i in searched.items)
    pool = await chat.say("segment leads")  # nobody owns leads: the shared pool is visible
    assert "30 customers in your book" in pool.title


async def test_find_filters_by_segment(store: Store, rep: Actor) -> None:
    book = await plant(store)
    await recompute_segments(store)
    chat = Chat(Router(services_for(store)), rep)
    listed = await chat.say("find segment:champions")
    assert listed.title.startswith("Champions:") and len(listed.items) == 10
    hit = await chat.say('find Champions 3 segment:"champions"')
    assert hit.items[0].text == f"Champions 3, champions co 3 (#{book.groups['champions'][3]})"  # best first
    assert all(i.text.startswith("Champions") for i in hit.items)
    miss = await chat.say("find segment:leads Champions 3")
    assert miss.is_error and "No customer in Leads who never ordered matches" in miss.text


async def test_the_card_shows_the_segment(store: Store, rep: Actor) -> None:
    book = await plant(store)
    chat = Chat(Router(services_for(store)), rep)
    champion = book.groups["champions"][0]
    assert "Segment" not in all_text(await chat.say(f"show #{champion}"))
    await recompute_segments(store)
    card = all_text(await chat.say(f"show #{champion}"))
    assert "Segment: Champions — " in card


async def test_report_segments_lists_moves(store: Store, manager: Actor, clock: FakeClock) -> None:
    await _two_runs_with_a_move(store, clock)
    chat = Chat(Router(services_for(store)), manager)
    reply = await chat.say("report segments 7")
    assert reply.title == "Segments report, moves over the last 7 days" and reply.image is not None
    assert "Segment change: 1 customer moved Alpha → Beta" in all_text(reply)
    assert "Segment change" not in all_text(await chat.say("segments"))


async def test_the_weekly_digest_has_a_line_per_segment_change(store: Store, clock: FakeClock) -> None:
    await _two_runs_with_a_move(store, clock)
    until = clock() + timedelta(seconds=1)
    weekly = await build_digest(
        store, since=until - timedelta(days=7), until=until, tz="UTC", cadence="weekly"
    )
    daily = await build_digest(store, since=until - timedelta(days=1), until=until, tz="UTC", cadence="daily")
    assert "Segment change: 1 customer moved Alpha → Beta" in all_text(weekly)
    assert "Segment change" not in all_text(daily)


async def test_the_nightly_loyalty_run_recomputes_segments(store: Store) -> None:
    await plant(store)
    run = await run_loyalty(store, JobSettings(staff_platforms=("console",)))
    assert run.segments is not None and not run.segments.skipped
    async with store.read() as tx:
        live = await tx.segments.live()
    assert {s.name for s in live} == {s.name for s in run.segments.segments}
    assert all(s.figures["median"]["loyalty"] > 0 for s in live)  # today's scores were read


async def _two_runs_with_a_move(store: Store, clock: FakeClock) -> None:
    figures = {"z": {}, "median": {}}
    async with store.write("test") as tx:
        await tx.customers.add_many([{"name": f"C{i}"} for i in range(3)], source="test")
    for labels in ([0, 0, 1], [0, 1, 1]):
        async with store.write("test") as tx:
            await tx.segments.save_run(
                [NewSegment("alpha", "Alpha", "a", 1, figures), NewSegment("beta", "Beta", "b", 2, figures)],
                customer_ids=np.array([1, 2, 3]),
                labels=np.array(labels),
            )
        clock.advance(days=1)
