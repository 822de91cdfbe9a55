"""Linking chat accounts to customers: `invite <customer>` makes a one-time deep link, and
`/start <token>` redeems it. Names, usernames, emails or phone numbers never link anyone."""

from __future__ import annotations

import logging
from datetime import timedelta

from crm_store.link_tokens import DEFAULT_TTL
from handlers import groups
from handlers.common import describe, local_time, pick_customer
from handlers.context import Context
from handlers.errors import Forbidden, UserError
from handlers.messages import Reply
from handlers.registry import Area, Command

_LOGGER = logging.getLogger(__name__)
INVITE_USAGE = "invite <customer> [group]"
INVITE_TTL: timedelta = DEFAULT_TTL
BAD_TOKEN = "That invite link is not valid or has expired. Ask your contact for a new one."


def deep_link(username: str, token: str) -> str:
    return f"https://t.me/{username}?start={token}"


async def invite(ctx: Context) -> Reply:
    """``invite <customer>`` links a person's private chat; ``invite <customer> group`` a
    company's group chat (a last word "group" asks for the group invite)."""
    words = ctx.args.strip()
    named, _, last = words.rpartition(" ")
    group = last.lower() == "group" and bool(named.strip())
    if group:
        words = named.strip()
    rerun = (lambda ref: f"invite {ref} group") if group else (lambda ref: f"invite {ref}")
    found = await pick_customer(ctx, words, rerun=rerun, usage=INVITE_USAGE)
    if isinstance(found, Reply):
        return found
    if group:
        return await groups.invite_group(ctx, found, ttl=INVITE_TTL)
    async with ctx.store.write(ctx.actor.key) as tx:
        token = await tx.link_tokens.create(found.id, created_by=ctx.actor.key, ttl=INVITE_TTL)
    expires = local_time(ctx, ctx.now() + INVITE_TTL)
    username = ctx.services.settings.telegram_username
    if username:
        return Reply(
            title=f"Invite for {describe(found)}",
            text=f"Send this link to the customer. It links their Telegram to this record, works once, "
            f"and expires {expires}:\n{deep_link(username, token)}",
        )
    return Reply(
        title=f"Invite for {describe(found)}",
        text="Telegram is not connected to this bot yet. Once it is, the customer sends the bot "
        f"`/start {token}`; the code works once and expires {expires}.",
    )


async def redeem(ctx: Context, token: str) -> int:
    """Link this chat account to the customer ``token`` was made for; returns that customer's id.
    An account that had become a lead hands its tickets and feedback over to the customer."""
    actor = ctx.actor
    if actor.is_staff or actor.customer_id is None:
        raise Forbidden("Invite links are for customers.")
    async with ctx.store.write(actor.key) as tx:
        customer_id = await tx.link_tokens.redeem(token, used_by=actor.key)
        if customer_id is not None and customer_id != actor.customer_id:
            previous = await tx.customers.get(actor.customer_id)
            await tx.people.relink_customer(
                platform=actor.platform, external_id=actor.user_id, customer_id=customer_id
            )
            others = await tx.people.identities_of_customer(actor.customer_id)
            if previous and previous.status == "lead" and previous.source == actor.platform and not others:
                # The lead was made for this account's first message: it is the same person.
                await tx.tickets.move_customer(previous.id, customer_id)
                await tx.feedback.move_customer(previous.id, customer_id)
                await tx.customers.soft_delete(previous.id, reason="merged into an invited customer")
                # The link lets an export or erasure of the customer find the lead too.
                await tx.audit.record("merge", "customer", previous.id, into=customer_id)
    if customer_id is None:
        _LOGGER.info("%s: invite token refused", actor.key)
        raise UserError(BAD_TOKEN)
    _LOGGER.info("%s linked to customer %s by invite", actor.key, customer_id)
    return customer_id


COMMANDS = (
    Command(
        "invite",
        invite,
        INVITE_USAGE,
        "A one-time Telegram link that connects a customer's chat to their record; with `group`, "
        "a code that links a company's Telegram group chat.",
        "invite acme",
        needs_args=True,
    ),
)
AREA = Area(COMMANDS)
