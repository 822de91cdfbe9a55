"""The dispatcher's lanes: a conversation's row queued during a campaign overtakes the bulk rows
within a few sends, at Telegram's real limits (on a fake clock); a Telegram 403 parks the row,
marks the chat blocked and records the campaign recipient as failed, never retried."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.delivery import DeliverySettings, Dispatcher
from bot.telegram.adapter import TelegramFrontEnd, TelegramSettings
from crm_store.campaigns import NewRecipient
from crm_store.outbox import BULK, CONVERSATION
from crm_store.store import Store
from handlers.campaign_outcomes import outbox_key
from handlers.messages import Reply
from handlers.router import Router
from tests.conftest import FakeClock
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi


@pytest.fixture
async def fake_tg(clock: FakeClock) -> AsyncIterator[FakeTelegramApi]:
    fake = await FakeTelegramApi(clock=lambda: clock.now.timestamp()).start()
    yield fake
    await fake.stop()


@pytest.fixture
async def telegram(router: Router, store: Store, fake_tg: FakeTelegramApi) -> AsyncIterator[TelegramFrontEnd]:
    frontend = TelegramFrontEnd(
        router=router,
        store=store,
        settings=TelegramSettings(
            token=TOKEN, api_url=fake_tg.url, webhook_url="https://x.example/h", webhook_secret="s"
        ),
    )
    await frontend.start()
    yield frontend
    await frontend.stop()


class ReplyArrives:
    """The real sender, and a support reply queued as the ``after``-th bulk message goes out."""

    platform = "telegram"

    def __init__(self, inner: object, store: Store, clock: FakeClock, *, after: int) -> None:
        self.inner, self.store, self.clock, self.after = inner, store, clock, after
        self.sent = 0
        self.queued_at: float | None = None

    async def send(self, target: str, reply: Reply, *, thread: str | None) -> str:
        message_id = await self.inner.send(target, reply, thread=thread)  # type: ignore[attr-defined]
        self.sent += 1
        if self.sent == self.after:
            async with self.store.write("support") as tx:
                await tx.outbox.enqueue(
                    platform="telegram",
                    target="42",
                    payload={"text": "ticket reply"},
                    key="reply",
                    priority=CONVERSATION,
                )
            self.queued_at = self.clock.now.timestamp()
        return str(message_id)


async def test_a_ticket_reply_overtakes_the_campaign_within_a_few_sends(
    store: Store, clock: FakeClock, fake_tg: FakeTelegramApi, telegram: TelegramFrontEnd
) -> None:
    async with store.write("campaign") as tx:
        for n in range(200):
            await tx.outbox.enqueue(
                platform="telegram",
                target=str(5000 + n),
                payload={"text": f"c{n}"},
                key=f"c{n}",
                priority=BULK,
            )
    sender = ReplyArrives(telegram.sender, store, clock, after=20)

    async def _sleep(seconds: float) -> None:
        clock.advance(seconds=seconds)

    dispatcher = Dispatcher.of(
        store,
        [sender],  # type: ignore[list-item]
        settings=DeliverySettings(bulk_batch=4),
        clock=lambda: clock.now.timestamp(),
        sleep=_sleep,
    )
    await dispatcher.run_once()
    texts = [c.params["text"] for c in fake_tg.of("sendMessage")]
    assert len(texts) == 201 and len(set(texts)) == 201
    position = texts.index("ticket reply")
    assert 20 <= position <= 20 + 4  # behind at most the bulk rows already claimed
    reply_at = next(c.at for c in fake_tg.of("sendMessage") if c.params["text"] == "ticket reply")
    assert sender.queued_at is not None and reply_at - sender.queued_at < 0.5
    # The campaign still ran at Telegram's pace: 30 per 1.1 s at most, no window broken.
    times = sorted(c.at for c in fake_tg.of("sendMessage"))
    assert all(times[i + 30] - times[i] >= 1.0 for i in range(len(times) - 30))


async def test_a_403_marks_the_chat_blocked_and_fails_the_recipient_once(
    store: Store, clock: FakeClock, fake_tg: FakeTelegramApi, telegram: TelegramFrontEnd
) -> None:
    async with store.write("t") as tx:
        customer = await tx.customers.add(name="Gone")
        await tx.people.link_customer(platform="telegram", external_id="77", customer_id=customer.id)
        campaign = await tx.campaigns.create("Sale", created_by_rep_id=None)
        await tx.campaigns.mark_sending(campaign.id)
        await tx.campaigns.add_recipients(campaign.id, [NewRecipient(customer.id)])
        key = outbox_key(campaign.id, customer.id)
        await tx.outbox.enqueue(
            platform="telegram", target="77", payload={"text": "offer"}, key=key, priority=BULK
        )
        await tx.campaigns.set_recipient(campaign.id, customer.id, state="queued", outbox_key=key)
    fake_tg.refuse("sendMessage", status=403, description="Forbidden: bot was blocked by the user")
    report = await Dispatcher.of(store, [telegram.sender]).run_once()
    assert (report.failed, report.retried) == (1, 0)
    async with store.read() as tx:
        recipient = await tx.campaigns.recipient(campaign.id, customer.id)
        assert recipient is not None and (recipient.state, recipient.reason) == ("failed", "blocked the bot")
        assert await tx.consents.unreachable([customer.id]) == {customer.id: "blocked the bot"}
        assert (await tx.outbox.counts())["failed"] == 1
    assert await Dispatcher.of(store, [telegram.sender]).run_once() == type(report)()  # not retried
    assert [c.status for c in fake_tg.calls if c.method == "sendMessage"] == [403]


async def test_a_sent_campaign_row_records_its_message_id(
    store: Store, fake_tg: FakeTelegramApi, telegram: TelegramFrontEnd
) -> None:
    async with store.write("t") as tx:
        customer = await tx.customers.add(name="Here")
        campaign = await tx.campaigns.create("Sale", created_by_rep_id=None)
        await tx.campaigns.mark_sending(campaign.id)
        await tx.campaigns.add_recipients(campaign.id, [NewRecipient(customer.id)])
        key = outbox_key(campaign.id, customer.id)
        await tx.outbox.enqueue(
            platform="telegram", target="78", payload={"text": "offer"}, key=key, priority=BULK
        )
        await tx.campaigns.set_recipient(campaign.id, customer.id, state="queued", outbox_key=key)
    await Dispatcher.of(store, [telegram.sender]).run_once()
    async with store.read() as tx:
        recipient = await tx.campaigns.recipient(campaign.id, customer.id)
    assert recipient is not None and recipient.state == "sent" and recipient.message_id == "1000"


class DiesMidSend:
    """A sender whose process dies once the request has left (Telegram may have the message)."""

    platform = "telegram"

    def __init__(self) -> None:
        self.calls: list[str] = []

    async def send(self, target: str, reply: Reply, *, thread: str | None) -> str:
        self.calls.append(target)
        raise Crash()


class Crash(BaseException):
    """The process dying (not an Exception: nothing catches it)."""


async def test_a_campaign_row_whose_sender_died_mid_send_is_never_sent_again(
    store: Store, clock: FakeClock
) -> None:
    async with store.write("t") as tx:
        customer = await tx.customers.add(name="Once")
        campaign = await tx.campaigns.create("Sale", created_by_rep_id=None)
        await tx.campaigns.mark_sending(campaign.id)
        await tx.campaigns.add_recipients(campaign.id, [NewRecipient(customer.id)])
        key = outbox_key(campaign.id, customer.id)
        await tx.outbox.enqueue(
            platform="telegram", target="79", payload={"text": "offer"}, key=key, priority=BULK
        )
        await tx.outbox.enqueue(platform="telegram", target="80", payload={"text": "note"}, key="note")
        await tx.campaigns.set_recipient(campaign.id, customer.id, state="queued", outbox_key=key)
    dying = DiesMidSend()
    with pytest.raises(Crash):
        await Dispatcher.of(store, [dying]).run_once()  # type: ignore[list-item]
    clock.advance(seconds=60)  # its claims' leases run out
    survivor = FakeSender()
    report = await Dispatcher.of(store, [survivor]).run_once()  # type: ignore[list-item]
    # The notice went first (its lane) and died in flight: sent again (notices: at least once).
    # The campaign row was claimed but its send had not begun: sent, once.
    assert dying.calls == ["80"] and survivor.sent == ["80", "79"] and report.sent == 2
    async with store.write("t") as tx:  # a second campaign row, whose send dies under way
        other = await tx.customers.add(name="Twice never")
        await tx.campaigns.add_recipients(campaign.id, [NewRecipient(other.id)])
        key = outbox_key(campaign.id, other.id)
        await tx.outbox.enqueue(
            platform="telegram", target="81", payload={"text": "offer"}, key=key, priority=BULK
        )
        await tx.campaigns.set_recipient(campaign.id, other.id, state="queued", outbox_key=key)
    dying = DiesMidSend()
    with pytest.raises(Crash):
        await Dispatcher.of(store, [dying]).run_once()  # type: ignore[list-item]
    assert dying.calls == ["81"]
    clock.advance(seconds=60)
    survivor = FakeSender()
    report = await Dispatcher.of(store, [survivor]).run_once()  # type: ignore[list-item]
    assert survivor.sent == [] and (report.sent, report.failed) == (0, 1)
    async with store.read() as tx:
        first = await tx.campaigns.recipient(campaign.id, customer.id)
        second = await tx.campaigns.recipient(campaign.id, other.id)
        row = next(r for r in await tx.outbox.listing() if r.idempotency_key == key)
    assert first is not None and first.state == "sent"
    assert second is not None and (second.state, second.reason) == ("failed", "interrupted")
    assert row.state == "failed" and row.last_error is not None and "may have arrived" in row.last_error


class FakeSender:
    platform = "telegram"

    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, target: str, reply: Reply, *, thread: str | None) -> str:
        self.sent.append(target)
        return f"m{len(self.sent)}"
