"""`campaign …` through the router on a temporary store: drafting, preview counts by reason, test to
yourself, send now / at a time / with a confirmation, cancel, reps refused, and bad ids, unknown
campaigns and wrong states answered clearly with nothing changed."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete

from crm_store.store import Store
from crm_store.tables import identities, reps
from handlers.campaign_start import CONTROL_REASON, split_control, start_campaign
from handlers.messages import Actor, Message, reply_from_dict
from handlers.router import Router
from tests.campaign_book import build
from tests.conftest import Chat, FakeClock, all_text, buttons


@pytest.fixture
def boss(router: Router, manager: Actor) -> Chat:
    return Chat(router, manager)


async def drafted(boss: Chat, audience: str = "tag:vip") -> int:
    reply = await boss.say("campaign new Spring promo")
    assert not reply.is_error, reply.text
    campaign_id = int(reply.title.split("#")[1].split(":")[0])
    for line in (
        f"campaign audience {campaign_id} {audience}",
        f"campaign text {campaign_id} Hi <b>{{first_name|there}}</b>, "
        "spring is here at {company|our shop}.",
    ):
        answer = await boss.say(line)
        assert not answer.is_error, answer.text
    return campaign_id


async def test_a_draft_says_what_is_missing_and_takes_each_part(store: Store, boss: Chat) -> None:
    await build(store)
    reply = await boss.say("campaign new Spring promo")
    assert reply.title == "Campaign #1: Spring promo"
    assert (
        "Still needed" in reply.text
        and "campaign audience 1" in reply.text
        and "campaign text 1" in reply.text
    )
    reply = await boss.say("campaign audience 1 tag:vip country:DE")
    assert "4 customers fit it today" in reply.text
    reply = await boss.say("campaign text 1 Hi {first_name|there}, <b>20% off</b> this week.")
    assert "Text set" in reply.text and "campaign preview 1" in reply.text
    reply = await boss.say('campaign button 1 link "Shop now" https://shop.example/spring')
    assert 'link "Shop now" https://shop.example/spring' in all_text(reply)
    reply = await boss.say("campaign control 1 10%")
    assert "Control group: 10%" in all_text(reply)
    async with store.read() as tx:
        got = await tx.campaigns.get(1)
        actions = [a.action for a in await tx.audit.recent(entity="campaign", entity_id=1)]
    assert got is not None
    assert (got.audience, got.control_pct, got.button_kind, got.button_url) == (
        "tag:vip country:DE",
        10,
        "link",
        "https://shop.example/spring",
    )
    assert actions.count("update") == 4 and "create" in actions
    reply = await boss.say("campaign button 1 talk")
    assert "Talk to us" in all_text(reply)
    reply = await boss.say("campaign button 1 none")
    async with store.read() as tx:
        got = await tx.campaigns.get(1)
    assert got is not None and got.button_kind is None
    listing = await boss.say("campaign list")
    assert [i.text for i in listing.items] == ["#1 Spring promo · draft"]


@pytest.mark.parametrize(
    ("line", "answer"),
    [
        ("campaign text 1 Hi {first_name}!", "needs a fallback"),
        ("campaign text 1 <script>x</script>", "is not allowed"),
        ("campaign audience 1 vip customers", "is not a filter"),
        ("campaign audience 1 segment:nonesuch", "There is no segment"),
        ("campaign button 1 link Shop http://plain.example", "is not an https:// address"),
        ("campaign button 1 sparkle", "Say link, talk or none"),
        ("campaign control 1 80%", "from 0% to 50%"),
        ("campaign control 1 lots", "from 0% to 50%"),
        ("campaign show 99", "There is no campaign #99"),
        ("campaign show abc", "Which campaign"),
        ("campaign text 0 hi", "There is no campaign #0"),
        ("campaign frobnicate 1", "is not something `campaign` does"),
        ("campaign send 1", "still needs the audience"),
        ("campaign report 1", "has not started"),
        ("campaign send 1 at someday", "still needs"),
    ],
)
async def test_bad_input_gets_a_clear_answer_and_changes_nothing(
    store: Store, boss: Chat, line: str, answer: str
) -> None:
    await build(store)
    await boss.say("campaign new Spring promo")
    async with store.read() as tx:
        before = await tx.campaigns.get(1)
    reply = await boss.say(line)
    assert reply.is_error and answer in all_text(reply), all_text(reply)
    async with store.read() as tx:
        assert await tx.campaigns.get(1) == before
        assert await tx.campaigns.counts(1) == {}


async def test_reps_are_refused(store: Store, chat: Chat, boss: Chat) -> None:
    await build(store)
    campaign_id = await drafted(boss)
    for line in ("campaign list", "campaign new Mine", f"campaign send {campaign_id}"):
        reply = await chat.say(line)
        assert reply.is_error and "manager" in reply.text.lower(), reply.text
    async with store.read() as tx:
        assert [c.id for c in await tx.campaigns.listing()] == [campaign_id]
        got = await tx.campaigns.get(campaign_id)
    assert got is not None and got.state == "draft"


async def test_preview_counts_reachable_and_each_reason_and_renders_real_recipients(
    store: Store, boss: Chat
) -> None:
    book = await build(store)
    campaign_id = await drafted(boss, "tag:vip")
    reply = await boss.say(f"campaign preview {campaign_id}")
    fields = {f.label: f.value for f in reply.fields}
    assert fields["Audience"] == "4 customers"
    assert fields["Reachable"].startswith("1 ")
    assert fields["Unreachable: stopped"] == "1"
    assert fields["Unreachable: blocked the bot"] == "1"
    assert fields["Unreachable: no Telegram"] == "1"
    assert [i.text for i in reply.items] == [f"As Ada Vip (#{book['ada']}) sees it"]
    assert reply.items[0].detail == "Hi Ada, spring is here at our shop."
    # a wider audience: two real recipients rendered, with their own values
    await boss.say(f"campaign audience {campaign_id} country:DE,FR")
    reply = await boss.say(f"campaign preview {campaign_id}")
    assert [i.text for i in reply.items] == [
        f"As Ada Vip (#{book['ada']}) sees it",
        f"As Bo Lead (#{book['bo']}) sees it",
    ]
    async with store.read() as tx:
        assert await tx.campaigns.counts(campaign_id) == {}  # a preview fixes nothing


async def test_test_sends_the_message_to_yourself_through_the_outbox(
    store: Store, boss: Chat, manager: Actor
) -> None:
    await build(store)
    campaign_id = await drafted(boss)
    await boss.say(f'campaign button {campaign_id} link "Shop now" https://shop.example')
    reply = await boss.say(f"campaign test {campaign_id}")
    assert "sent to you" in reply.text and "Ada Vip" in reply.text
    async with store.read() as tx:
        rows = await tx.outbox.listing()
        assert await tx.campaigns.counts(campaign_id) == {}
    assert [(r.platform, r.target) for r in rows] == [(manager.platform, manager.user_id)]
    sent = reply_from_dict(rows[0].payload)
    assert sent.markup.startswith(f"<b>TEST of campaign #{campaign_id}</b>")
    assert "Hi <b>Ada</b>" in sent.markup
    assert [b.label for b in sent.buttons] == ["Shop now", "Stop these messages"]
    assert sent.buttons[0].url == "https://shop.example"


async def test_send_fixes_the_audience_once_and_another_send_or_edit_changes_nothing(
    store: Store, boss: Chat
) -> None:
    book = await build(store)
    campaign_id = await drafted(boss)
    reply = await boss.say(f"campaign send {campaign_id}")
    assert reply.title == f"Campaign #{campaign_id} is sending", all_text(reply)
    assert "1 customers will get it" in reply.text and "3 skipped" in reply.text
    async with store.read() as tx:
        counts = await tx.campaigns.counts(campaign_id)
        got = await tx.campaigns.get(campaign_id)
        pending = await tx.campaigns.next_pending(campaign_id, tx.now, 10)
    assert counts == {
        ("send", "pending", None): 1,
        ("send", "skipped", "stopped"): 1,
        ("send", "skipped", "blocked the bot"): 1,
        ("send", "skipped", "no Telegram"): 1,
    }
    assert got is not None and got.state == "sending" and got.started_at is not None
    assert [r.customer_id for r in pending] == [book["ada"]]
    for line, answer in (
        (f"campaign send {campaign_id}", "is sending already"),
        (f"campaign text {campaign_id} Hi {{first_name|x}}", "can no longer be changed"),
        (f"campaign audience {campaign_id} country:DE", "can no longer be changed"),
        (f"campaign control {campaign_id} 20%", "can no longer be changed"),
        (f"campaign preview {campaign_id}", "is sending"),
    ):
        reply = await boss.say(line)
        assert reply.is_error and answer in reply.text, reply.text
    async with store.read() as tx:
        assert await tx.campaigns.counts(campaign_id) == counts
        assert await tx.campaigns.get(campaign_id) == got
    # the start itself is safe to repeat (the scheduler and a command racing)
    again = await start_campaign(store, campaign_id, got.started_at)
    assert not again.started


async def test_send_at_a_time_schedules_and_the_start_comes_when_due(
    store: Store, boss: Chat, clock: FakeClock
) -> None:
    await build(store)
    campaign_id = await drafted(boss)
    reply = await boss.say(f"campaign send {campaign_id} at tomorrow 10:00")
    assert "scheduled for tomorrow 10:00" in reply.text, reply.text
    async with store.read() as tx:
        got = await tx.campaigns.get(campaign_id)
        assert got is not None and got.state == "scheduled" and got.send_at is not None
        assert await tx.campaigns.due_to_start(clock.now) == []
        assert await tx.campaigns.counts(campaign_id) == {}
    # still editable until it starts
    reply = await boss.say(f"campaign control {campaign_id} 0%")
    assert not reply.is_error
    clock.now = got.send_at + timedelta(minutes=1)
    async with store.read() as tx:
        assert await tx.campaigns.due_to_start(clock.now) == [campaign_id]
    started = await start_campaign(store, campaign_id, clock.now)
    assert started.started and started.plan is not None and len(started.plan.send) == 1
    async with store.read() as tx:
        assert await tx.campaigns.due_to_start(clock.now) == []


async def test_a_scheduled_campaign_whose_audience_no_longer_reads_is_cancelled_saying_why(
    store: Store, boss: Chat, clock: FakeClock
) -> None:
    await build(store)
    campaign_id = await drafted(boss, "owner:dana")
    await boss.say(f"campaign send {campaign_id} at tomorrow 10:00")
    async with store.write("test") as tx:  # the owner's account is gone by then
        await tx.conn.execute(delete(identities).where(identities.c.external_id == "dana"))
        await tx.conn.execute(delete(reps).where(reps.c.display_name == "Dana"))
    clock.advance(days=2)
    started = await start_campaign(store, campaign_id, clock.now)
    assert not started.started and "No team member matches" in started.error
    async with store.read() as tx:
        got = await tx.campaigns.get(campaign_id)
        assert got is not None and got.state == "cancelled"
        assert await tx.campaigns.due_to_start(clock.now) == []


async def test_cancel_stops_every_pending_recipient(store: Store, boss: Chat) -> None:
    book = await build(store)
    campaign_id = await drafted(boss, "country:DE,FR,AT")
    await boss.say(f"campaign send {campaign_id}")
    async with store.write("pump") as tx:  # one went out already
        await tx.campaigns.set_recipient(campaign_id, book["ada"], state="sent", message_id="9")
    reply = await boss.say(f"campaign cancel {campaign_id}")
    assert "3 messages not yet sent will not go out" in reply.text, reply.text
    async with store.read() as tx:
        counts = await tx.campaigns.counts(campaign_id)
        assert await tx.campaigns.next_pending(campaign_id, tx.now, 10) == []
    assert counts[("send", "sent", None)] == 1 and counts[("send", "cancelled", None)] == 3
    reply = await boss.say(f"campaign cancel {campaign_id}")
    assert reply.is_error and "cancelled already" in reply.text
    assert (await boss.say(f"campaign send {campaign_id}")).is_error


async def test_the_control_group_is_held_out_deterministically_at_its_exact_size(
    store: Store, boss: Chat
) -> None:
    async with store.write("test") as tx:
        ids = []
        for n in range(40):
            made = await tx.customers.add(name=f"Member {n}", tags=["club"])
            await tx.people.link_customer(platform="telegram", external_id=f"9{n:03d}", customer_id=made.id)
            ids.append(made.id)
    reply = await boss.say("campaign new Club news")
    await boss.say("campaign audience 1 tag:club")
    await boss.say("campaign text 1 News for {first_name|you}")
    await boss.say("campaign control 1 25%")
    preview = {f.label: f.value for f in (await boss.say("campaign preview 1")).fields}
    assert preview["Control group"].startswith("10 (25%)") and preview["Will receive it"] == "30"
    assert not reply.is_error
    await boss.say("campaign send 1")
    async with store.read() as tx:
        counts = await tx.campaigns.counts(1)
        arms = await tx.campaigns.arms(1)
        pending = {r.customer_id for r in await tx.campaigns.next_pending(1, tx.now, 100)}
    assert counts == {("send", "pending", None): 30, ("control", "skipped", CONTROL_REASON): 10}
    assert pending == set(arms["send"]) and not pending & set(arms["control"])
    # the same draw every time; another campaign draws differently; sizes round
    assert split_control(1, ids, 25) == (arms["send"], arms["control"])
    assert split_control(2, ids, 25)[1] != arms["control"]
    for size, pct, held in ((7, 10, 1), (5, 50, 2), (3, 0, 0), (0, 30, 0), (101, 33, 33)):
        send, control = split_control(1, list(range(size)), pct)
        assert len(control) == held and len(send) + len(control) == size


async def test_a_large_send_asks_for_a_confirmation_first(store: Store, boss: Chat, router: Router) -> None:
    async with store.write("test") as tx:
        for n in range(101):
            made = await tx.customers.add(name=f"Member {n}", tags=["club"])
            await tx.people.link_customer(platform="telegram", external_id=f"9{n:03d}", customer_id=made.id)
    await boss.say("campaign new Big news")
    await boss.say("campaign audience 1 tag:club")
    await boss.say("campaign text 1 News for {first_name|you}")
    ask = await boss.say("campaign send 1")
    assert ask.title == "Send campaign #1 to 101 customers?"
    async with store.read() as tx:
        got = await tx.campaigns.get(1)
    assert got is not None and got.state == "draft"
    [press] = buttons(ask)
    done = await router.handle(Message(actor=boss.actor, action=press))
    assert done.title == "Campaign #1 is sending", all_text(done)
    async with store.read() as tx:
        assert (await tx.campaigns.counts(1))[("send", "pending", None)] == 101


async def test_help_lists_the_campaign_command_for_managers_only(chat: Chat, boss: Chat) -> None:
    assert "campaign new" in all_text(await boss.say("help"))
    assert "campaign new" not in all_text(await chat.say("help"))
    assert "fallback" in all_text(await boss.say("help campaign"))


async def test_a_send_that_would_reach_nobody_is_refused(store: Store, boss: Chat) -> None:
    await build(store)
    campaign_id = await drafted(boss, "tag:partner")  # Fay, who blocked the bot
    reply = await boss.say(f"campaign send {campaign_id}")
    assert reply.is_error and "can be reached now (1 in the audience, 0 held out)" in reply.text
    async with store.read() as tx:
        got = await tx.campaigns.get(campaign_id)
        assert got is not None and got.state == "draft"
        assert await tx.campaigns.counts(campaign_id) == {}


async def test_new_takes_the_whole_draft_in_one_message_or_nothing(store: Store, boss: Chat) -> None:
    await build(store)
    reply = await boss.say(
        "campaign new Spring promo\n"
        "audience: tag:vip country:DE\n"
        "control: 10%\n"
        'button: link "Shop now" https://shop.example/spring\n'
        "text: Hi {first_name|there},\n<b>20% off</b> this week.\n\nSee you!"
    )
    assert not reply.is_error, reply.text
    assert "campaign preview 1" in reply.text
    async with store.read() as tx:
        got = await tx.campaigns.get(1)
    assert got is not None
    assert (got.name, got.audience, got.control_pct, got.button_text) == (
        "Spring promo",
        "tag:vip country:DE",
        10,
        "Shop now",
    )
    assert got.body == "Hi {first_name|there},\n<b>20% off</b> this week.\n\nSee you!"
    for bad, answer in (
        ("campaign new Bad\naudience: segment:nonesuch\ntext: Hi", "There is no segment"),
        ("campaign new Bad\ncontrol: 90%", "from 0% to 50%"),
        ("campaign new Bad\ntext: Hi {first_name}", "needs a fallback"),
        ("campaign new Bad\ncolour: blue", "after the name, say"),
    ):
        reply = await boss.say(bad)
        assert reply.is_error and answer in reply.text, reply.text
    async with store.read() as tx:
        assert [c.id for c in await tx.campaigns.listing()] == [1]  # none of those made a draft
