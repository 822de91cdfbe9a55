"""Customers' say over marketing: /stop, /subscribe, and a campaign message's two buttons."""

from __future__ import annotations

from handlers.campaign_text import STOP_VERB, TALK_VERB
from handlers.context import Context
from handlers.errors import NotFound
from handlers.messages import Reply
from handlers.parsing import id_in
from handlers.registry import Area, ButtonVerb, Command
from handlers.ticket_flow import customer_of, open_in, opened

TOPIC = "marketing"
STOPPED = (
    "Done — we won't send you news or offers any more. Answers about your tickets still reach "
    "you here. Changed your mind? Send /subscribe."
)
ALREADY_STOPPED = "You're already off our news and offers list. Send /subscribe to hear from us again."
SUBSCRIBED = "Welcome back — you'll get our news and offers again (never at night). /stop ends them."
ALREADY_SUBSCRIBED = "You're on our news and offers list. /stop ends them whenever you like."


async def _stop(ctx: Context, *, source: str, campaign_id: int | None) -> Reply:
    customer_id = customer_of(ctx)
    async with ctx.store.write(ctx.actor.key) as tx:
        if customer_id in await tx.consents.stopped([customer_id], TOPIC):
            return Reply(text=ALREADY_STOPPED)
        if campaign_id is not None and await tx.campaigns.get(campaign_id) is None:
            campaign_id = None  # a campaign deleted since: the stop counts all the same
        await tx.consents.record(customer_id, "stopped", source=source, topic=TOPIC, campaign_id=campaign_id)
    return Reply(text=STOPPED)


async def stop(ctx: Context) -> Reply:
    """``/stop``: no more campaign messages, for ever (until /subscribe)."""
    return await _stop(ctx, source="command", campaign_id=None)


async def subscribe(ctx: Context) -> Reply:
    """``/subscribe``: undo a stop."""
    customer_id = customer_of(ctx)
    async with ctx.store.write(ctx.actor.key) as tx:
        if customer_id not in await tx.consents.stopped([customer_id], TOPIC):
            return Reply(text=ALREADY_SUBSCRIBED)
        await tx.consents.record(customer_id, "subscribed", source="command", topic=TOPIC)
    return Reply(text=SUBSCRIBED)


def _campaign_id(ctx: Context) -> int:
    campaign_id = id_in(ctx.args, kind="campaign")
    if campaign_id is None:
        raise NotFound("That button is not one of mine.")
    return campaign_id


async def press_stop(ctx: Context) -> Reply:
    """The "Stop these messages" button under a campaign message."""
    return await _stop(ctx, source="button", campaign_id=_campaign_id(ctx))


async def press_talk(ctx: Context) -> Reply:
    """The "Talk to us" button under a campaign message: a ticket for the presser (their open one if they
    have one, so a second press opens no second ticket), and what to do next."""
    campaign_id = _campaign_id(ctx)
    customer_id = customer_of(ctx)
    async with ctx.store.write(ctx.actor.key) as tx:
        ticket = await tx.tickets.latest_open_for_customer(customer_id)
        if ticket is not None:
            return Reply(
                text=f"Your ticket #{ticket.id} is open — write your question here and the team will answer."
            )
        campaign = await tx.campaigns.get(campaign_id)
        about = f"“{campaign.name}”" if campaign is not None else "our message"
        ticket = await open_in(
            tx,
            ctx,
            subject=f"Reply to {about}"[:200],
            description=f"Pressed “Talk to us” under {about}.",
            attachments=(),
        )
    return opened(ticket)


COMMANDS = (
    Command(
        "stop",
        stop,
        "/stop",
        "No more news or offers from us (ticket answers still come).",
        "/stop",
        audience="customer",
        aliases=("unsubscribe",),
    ),
    Command(
        "subscribe",
        subscribe,
        "/subscribe",
        "Get our news and offers again after /stop.",
        "/subscribe",
        audience="customer",
    ),
)
BUTTONS = (
    ButtonVerb(STOP_VERB, "customer", press=press_stop),
    ButtonVerb(TALK_VERB, "customer", press=press_talk),
)
AREA = Area(COMMANDS, BUTTONS)
