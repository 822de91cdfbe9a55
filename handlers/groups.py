"""Company group chats: `invite <customer> group` and `/link <code>` link a group to a company;
in it, mentions, replies to the bot and /ticket work the company's ticket; `unlink group`."""

from __future__ import annotations

import logging
from datetime import timedelta

from crm_store.records import ChatGroupRecord, CustomerRecord, TicketRecord
from crm_store.store import Store, Tx
from handlers import notify, ticket_flow
from handlers.common import describe, local_time, pick_customer
from handlers.context import Context
from handlers.errors import Forbidden, UserError
from handlers.interactions import label_text
from handlers.messages import MAX_TEXT, Actor, Field, GroupChat, Reply, reply_to_dict
from handlers.parsing import one_line
from handlers.people import customer_actor
from handlers.registry import Area, Command

_LOGGER = logging.getLogger(__name__)
UNLINK_USAGE = "unlink group <customer>"
LINK_COMMANDS = ("start", "link")
HINT = (
    "Hello! This group is not linked to a customer account, so I stay quiet here. To link it, "
    "ask your account manager for a group invite and send /link <code> in this group."
)
GROUP_HELP = (
    "In this group I handle support for {company}:\n"
    "/ticket <what happened> — open a ticket, or add to the one that is open\n"
    "Mention me or reply to one of my messages to add to the open ticket.\n"
    "Other messages here stay between you; I do not read or keep them."
)
NOT_IN_GROUP = (
    "In a group I only take /ticket, mentions and replies to my messages. "
    "For /status and the rest, write to me in a private chat."
)
BAD_CODE = "That group code is not valid or has expired. Ask your account manager for a new one."
TICKET_USAGE = "/ticket <what happened>"


def startgroup_link(username: str, token: str) -> str:
    """Telegram's "add this bot to a group" link: the group then sends ``/start <token>``."""
    return f"https://t.me/{username}?startgroup={token}"


def link_code(text: str) -> str | None:
    """The code of ``/start <code>`` or ``/link <code>`` (what startgroup sends, or typed);
    None for any other text."""
    word, _, rest = text.strip().partition(" ")
    code = rest.strip()
    if word.lower().lstrip("/") in LINK_COMMANDS and word.startswith("/") and code and " " not in code:
        return code
    return None


# --- staff: invite, unlink, the card ---------------------------------------------------------


async def invite_group(ctx: Context, customer: CustomerRecord, *, ttl: timedelta) -> Reply:
    """A one-time code (and startgroup link) that links a Telegram group to ``customer``; it
    lasts ``ttl``, as a person's invite does."""
    async with ctx.store.write(ctx.actor.key) as tx:
        token = await tx.link_tokens.create(customer.id, created_by=ctx.actor.key, ttl=ttl, purpose="group")
    expires = local_time(ctx, ctx.now() + ttl)
    username = ctx.services.settings.telegram_username
    how = (
        f"Open this link to add the bot to their Telegram group and link it:\n"
        f"{startgroup_link(username, token)}\nor, with the bot already in the group, send there "
        if username
        else "Once the bot is in their Telegram group, send there "
    )
    return Reply(
        title=f"Group invite for {describe(customer)}",
        text=f"{how}`/link {token}`\nThe code works once and expires {expires}.",
    )


async def unlink(ctx: Context) -> Reply:
    """``unlink group <customer>``: the company's groups are unlinked and told so."""
    word, _, rest = ctx.args.strip().partition(" ")
    if word.lower() != "group" or not rest.strip():
        raise UserError("What should be unlinked?", usage=UNLINK_USAGE)
    found = await pick_customer(ctx, rest, rerun=lambda ref: f"unlink group {ref}", usage=UNLINK_USAGE)
    if isinstance(found, Reply):
        return found
    async with ctx.store.write(ctx.actor.key) as tx:
        groups = await tx.chat_groups.of_customer(found.id)
        for group in groups:
            await tx.chat_groups.unlink(group.id, reason="unlinked by staff")
            note = notify.status_note("This group is no longer linked to a customer account; I stop here.")
            await tx.outbox.enqueue(
                platform=group.platform,
                target=group.chat_id,
                payload=reply_to_dict(note),
                key=notify.once("group-unlinked", group.id),
            )
    if not groups:
        # Nothing to undo is no mistake: the answer says so, and nothing changed.
        return Reply(text=f"{describe(found)} has no linked group chat; nothing to unlink.")
    count = len(groups)
    return Reply(text=f"Unlinked {count} group chat{'s' if count != 1 else ''} of {describe(found)}.")


def card_fields(ctx: Context, groups: list[ChatGroupRecord]) -> tuple[Field, ...]:
    """The company's linked groups on its card."""
    if not groups:
        return ()
    shown = "; ".join(
        f"{g.platform} group linked {local_time(ctx, g.linked_at) if g.linked_at else ''}".strip()
        for g in groups
    )
    return (Field("Group chat", shown),)


# --- the front end, before anything is stored ------------------------------------------------


async def linked_group(store: Store, platform: str, chat_id: str) -> ChatGroupRecord | None:
    async with store.read() as tx:
        return await tx.chat_groups.linked(platform, chat_id)


async def hint_once(store: Store, platform: str, chat_id: str, *, actor: str) -> Reply | None:
    """An unlinked group that addressed the bot (or added it) is told once how to link it;
    nothing of what was said is kept, only that the group was told."""
    async with store.write(actor) as tx:
        if await tx.chat_groups.linked(platform, chat_id) is not None:
            return None
        told = await tx.chat_groups.claim_hint(platform, chat_id)
    return Reply(text=HINT) if told else None


async def bot_removed(store: Store, platform: str, chat_id: str, *, actor: str) -> bool:
    """The bot left or was removed: the group is unlinked (its tickets stay the company's)."""
    async with store.write(actor) as tx:
        group = await tx.chat_groups.get(platform, chat_id)
        if group is None:
            return False
        return await tx.chat_groups.unlink(group.id, reason="bot removed from the group")


async def group_moved(store: Store, platform: str, old_chat_id: str, new_chat_id: str, *, actor: str) -> bool:
    """A group upgraded to a supergroup: its link follows the new chat id."""
    async with store.write(actor) as tx:
        return await tx.chat_groups.move(platform, old_chat_id, new_chat_id)


async def group_message(
    store: Store, *, platform: str, chat_id: str, message_id: str, user_id: str, display_name: str, text: str
) -> tuple[Actor, GroupChat] | Reply | None:
    """Who says a group's message to the bot, and where, for the router: in a linked group a
    contact of its company (created on their first message there); with a link code whoever
    sends it (no contact of anyone yet). A group unlinked meanwhile gets its one hint (a Reply,
    or None once told). A team member's account raises PermissionError."""
    group = await linked_group(store, platform, chat_id)
    said = GroupChat(
        chat_id=chat_id,
        message_id=message_id,
        group_id=group.id if group is not None else None,
        company_id=group.customer_id if group is not None else None,
    )
    if link_code(text) is not None:
        return Actor(platform=platform, user_id=user_id, role="customer", display_name=display_name), said
    if group is None:
        return await hint_once(store, platform, chat_id, actor=f"{platform}:group:{chat_id}")
    actor = await group_speaker(
        store, platform=platform, user_id=user_id, display_name=display_name, group=group
    )
    return actor, said


async def group_speaker(
    store: Store, *, platform: str, user_id: str, display_name: str, group: ChatGroupRecord
) -> Actor:
    """The person writing in a linked group, as a contact of its company: found by their chat
    account, else created as a contact (works-at the company). An account already linked to
    another record keeps it and gains works-at. A team member's account raises PermissionError."""
    company_id = group.customer_id
    assert company_id is not None
    known = await store.speaker(platform, user_id)
    if known is not None and known.identity.customer_id is not None:
        actor = await customer_actor(store, platform=platform, user_id=user_id, display_name=display_name)
        await _works_at(store, actor, company_id)
        return actor
    if known is not None:
        raise PermissionError("this account belongs to a team member")
    key = f"{platform}:{user_id}"
    async with store.write(key) as tx:
        await tx.people.lock_identity(platform, user_id)
        identity = await tx.people.identity(platform, user_id)
        if identity is not None and identity.rep_id is not None:
            raise PermissionError("this account belongs to a team member")
        if identity is None:
            company = await tx.customers.get(company_id)
            contact = await tx.customers.add(
                name=display_name or f"{platform} user {user_id}",
                company=company.name if company else "",
                status="active",
                source=platform,
            )
            await tx.people.link_customer(
                platform=platform, external_id=user_id, customer_id=contact.id, display_name=display_name
            )
            await tx.relationships.add(
                from_customer_id=contact.id,
                kind="works-at",
                to_customer_id=company_id,
                starts_at=None,
                ends_at=None,
            )
    actor = await customer_actor(store, platform=platform, user_id=user_id, display_name=display_name)
    await _works_at(store, actor, company_id)
    return actor


async def _works_at(store: Store, actor: Actor, company_id: int) -> None:
    contact_id = actor.customer_id
    if contact_id is None or contact_id == company_id:
        return
    async with store.read() as tx:
        if contact_id in await tx.relationships.contact_ids(company_id):
            return
    async with store.write(actor.key) as tx:
        if await tx.relationships.current_between(contact_id, "works-at", company_id) is None:
            await tx.relationships.add(
                from_customer_id=contact_id,
                kind="works-at",
                to_customer_id=company_id,
                starts_at=None,
                ends_at=None,
            )


# --- in the group: what the router runs for a group's message ---------------------------------


async def answer(ctx: Context) -> Reply:
    """A message addressed to the bot in a group chat (the front end keeps no other)."""
    group = ctx.message.group
    assert group is not None
    text = ctx.message.text.strip()
    code = link_code(text)
    if code is not None:
        return await link(ctx, group, code)
    if group.company_id is None:
        return Reply(text=HINT)
    word, _, rest = text.partition(" ")
    if "\n" in word:
        word, _, more = word.partition("\n")
        rest = f"{more}\n{rest}"
    if word.startswith("/"):
        name = word.lower().lstrip("/")
        if name in ("start", "help"):
            return await _group_help(ctx, group.company_id)
        if name != "ticket":
            raise UserError(NOT_IN_GROUP)
        text = rest.strip()
        if not text and not ctx.message.attachments:
            raise UserError("What is it about?", usage=TICKET_USAGE)
    return await to_ticket(ctx, group, text)


async def _group_help(ctx: Context, company_id: int) -> Reply:
    async with ctx.store.read() as tx:
        company = await tx.customers.get(company_id)
    return Reply(text=GROUP_HELP.format(company=company.name if company else "your company"))


async def link(ctx: Context, group: GroupChat, code: str) -> Reply:
    """``/link <code>`` (or the ``/start <code>`` of a startgroup link) in a group: it is now
    the company's. A code for a person's chat, a used or expired one, links nothing."""
    platform = ctx.actor.platform
    async with ctx.store.write(ctx.actor.key) as tx:
        current = await tx.chat_groups.linked(platform, group.chat_id)
        customer_id = None
        if current is None:
            customer_id = await tx.link_tokens.redeem(code, used_by=ctx.actor.key, purpose="group")
        if customer_id is not None:
            await tx.chat_groups.link(
                platform, group.chat_id, customer_id=customer_id, linked_by=ctx.actor.key
            )
            company = await tx.customers.get(customer_id)
    if current is not None:
        raise UserError("This group is linked already.")
    if customer_id is None:
        _LOGGER.info("%s: group code refused", ctx.actor.key)
        raise UserError(BAD_CODE)
    _LOGGER.info("group %s linked to customer %s", group.chat_id, customer_id)
    name = company.name if company else "your company"
    return Reply(
        title="Linked", text=f"This group is now linked to {name}.\n" + GROUP_HELP.format(company=name)
    )


async def to_ticket(ctx: Context, group: GroupChat, text: str) -> Reply:
    """Open the company's ticket, or add to the one that is open, as the contact who wrote;
    the team hears of it in the ticket's thread, and answers thread on this message."""
    company_id, group_id = group.company_id, group.group_id
    if company_id is None or group_id is None:
        raise Forbidden("This group is not linked to a customer account.")
    if len(text) > MAX_TEXT:
        raise UserError(f"That message is too long (at most {MAX_TEXT} characters).")
    if not text and not ctx.message.attachments:
        return await _group_help(ctx, company_id)
    contact_id = ctx.actor.customer_id
    async with ctx.store.write(ctx.actor.key) as tx:
        ticket = await tx.tickets.latest_open_for_customer(company_id)
        if ticket is None:
            ticket = await ticket_flow.open_in(
                tx,
                ctx,
                subject=ticket_flow.check_subject(one_line(text, ticket_flow.MAX_SUBJECT)) or "Attachment",
                description=text,
                attachments=ctx.message.attachments,
                customer_id=company_id,
                author_customer_id=contact_id,
            )
            said = f"Thanks — ticket #{ticket.id} is open: {one_line(ticket.subject, 80)}. We'll answer here."
        else:
            await _continue(tx, ctx, ticket, text)
            said = f"Added to ticket #{ticket.id}."
        await tx.tickets.set_group(ticket.id, group_id, group.message_id)
    return Reply(text=said)


async def _continue(tx: Tx, ctx: Context, ticket: TicketRecord, text: str) -> None:
    label, score = label_text(ctx, text)
    message_id = await tx.tickets.add_message(
        ticket.id,
        author_kind="customer",
        author_customer_id=ctx.actor.customer_id,
        text=text,
        attachments=[a.as_dict() for a in ctx.message.attachments],
        sentiment_label=label,
        sentiment_score=score,
    )
    if label == "negative" and ticket.priority in ("low", "normal"):
        await tx.tickets.set_priority(ticket.id, "high")
    who = ctx.actor.display_name or ticket.customer_name
    relay = notify.customer_said(ticket, text, ctx.message.attachments, who=f"{who} ({ticket.customer_name})")
    await notify.to_support(tx, ctx.services.settings, ticket.id, relay, key=f"ticket-message:{message_id}")


COMMANDS = (
    Command(
        "unlink",
        unlink,
        UNLINK_USAGE,
        "Unlink a company's Telegram group chat; the group is told.",
        "unlink group acme",
        needs_args=True,
    ),
)
AREA = Area(COMMANDS)
