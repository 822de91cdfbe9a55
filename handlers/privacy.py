"""Admin commands for data-subject requests: export-contact, and erase behind a confirmation."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from handlers import actions
from handlers.common import describe, pick_customer
from handlers.context import Context
from handlers.errors import NotFound, UserError
from handlers.messages import Button, Field, Reply
from handlers.registry import Area, ButtonVerb, Command

EXPORT_USAGE = "export-contact <customer>"
ERASE_USAGE = "erase <customer>"
ERASE_VERB = "erase"  # the confirmation button: crm:erase:<one-time token>
CONFIRM_TTL = timedelta(minutes=30)
# The pending action behind the button; not a command, so the token can't be replayed through
# crm:run and typing it does nothing: only the press erases.
_CONFIRM_LABEL = "privacy-erase"
_CONFIRM = re.compile(r"^privacy:erase (\d+)$")
_LABELS = {
    "identities": "Chat links",
    "interactions": "Interactions",
    "tickets": "Tickets",
    "ticket_messages": "Ticket messages",
    "feedback": "Feedback",
    "reminders": "Reminders",
    "orders": "Orders",
    "link_tokens": "Invite links",
    "relationships": "Relationships",
    "loyalty_scores": "Loyalty scores",
    "loyalty_alerts": "Loyalty alerts",
    "customer_forecasts": "Sales forecasts",
    "customer_segments": "Segment",
    "outbox": "Messages to or about them",
    "conversations": "Drafts",
    "inbox": "Stored incoming updates",
    "pending_actions": "Pending buttons",
    "audit_log": "Audit entries",
    "merged_records": "Merged lead records",
}


def _export_fields(data: Mapping[str, Any]) -> tuple[Field, ...]:
    return tuple(
        Field(_LABELS.get(key, key), str(len(rows)))
        for key, rows in data.items()
        if isinstance(rows, list) and rows
    )


async def export_contact(ctx: Context) -> Reply:
    found = await pick_customer(ctx, ctx.args, rerun=lambda ref: f"export-contact {ref}", usage=EXPORT_USAGE)
    if isinstance(found, Reply):
        return found
    async with ctx.store.write(ctx.actor.key) as tx:
        data = await tx.privacy.export_customer(found.id)
    # A Reply carries text and images only; the JSON file comes from the command line.
    return Reply(
        title=f"Data export: {describe(found)}",
        text=f"Stored about {describe(found)}: the customer record and the records below. "
        f"For the machine-readable file (JSON), run on the server: "
        f"`crm-bot privacy export {found.id} --out contact-{found.id}.json`",
        fields=_export_fields(data),
    )


async def erase(ctx: Context) -> Reply:
    found = await pick_customer(ctx, ctx.args, rerun=lambda ref: f"erase {ref}", usage=ERASE_USAGE)
    if isinstance(found, Reply):
        return found
    async with ctx.store.write(ctx.actor.key) as tx:
        preview = await tx.privacy.export_customer(found.id, audited=False)
        token = await tx.pending.add(
            actor_key=ctx.actor.key,
            command=f"privacy:erase {found.id}",
            label=_CONFIRM_LABEL,
            ttl=CONFIRM_TTL,
        )
    return Reply(
        title=f"Erase {describe(found)}?",
        text="This erases their personal data for good: name, email, phone, company, custom fields, "
        "their Telegram/Slack links, what they wrote and what was noted about them, reminders, "
        "drafts and queued messages. Orders stay as amounts for accounting, under an anonymous "
        "record; the audit log keeps ids and times only. It cannot be undone. "
        f"The button works once, for you, for {int(CONFIRM_TTL.total_seconds() // 60)} minutes.",
        fields=_export_fields(preview),
        buttons=(Button(f"Erase #{found.id}", actions.encode(ERASE_VERB, token), "danger"),),
    )


async def confirm_erase(ctx: Context) -> Reply:
    """The confirmation press: the token is taken in the erasure's own transaction, so a failed
    erasure leaves it usable and two presses erase once. Only admins reach it (its button's
    audience, checked by the router)."""
    async with ctx.store.write(ctx.actor.key) as tx:
        pending = await tx.pending.take(ctx.args, actor_key=ctx.actor.key)
        found = _CONFIRM.match(pending.command) if pending and pending.label == _CONFIRM_LABEL else None
        if found is None:
            raise UserError("That confirmation has expired or was already used; run `erase` again.")
        customer_id = int(found.group(1))
        try:
            counts = await tx.privacy.erase_customer(customer_id)
        except LookupError:
            raise NotFound(f"There is no customer #{customer_id}.") from None
        stub = (await tx.customers.get_many([customer_id]))[customer_id]
    ctx.services.lookup.note(stub)  # gone from this replica's index at once
    kept = counts.get("orders_kept", 0)
    return Reply(
        title=f"Erased customer #{customer_id}",
        text=f"Customer #{customer_id} is erased. {kept} order(s) kept as amounts for accounting; "
        "the audit log keeps a stub of this erasure.",
        fields=tuple(Field(key.replace("_", " "), str(n)) for key, n in counts.items() if n),
        # Replacing the question also takes their name out of the chat history.
        replace_original=True,
    )


COMMANDS = (
    Command(
        "export-contact",
        export_contact,
        EXPORT_USAGE,
        "What is stored about one contact (data-subject access); the JSON comes from the CLI.",
        "export-contact acme",
        audience="admin",
        needs_args=True,
    ),
    Command(
        "erase",
        erase,
        ERASE_USAGE,
        "Erase a contact's personal data (right to erasure), after a confirmation.",
        "erase #12",
        audience="admin",
        needs_args=True,
    ),
)
BUTTONS = (ButtonVerb(ERASE_VERB, "admin", press=confirm_erase),)
AREA = Area(COMMANDS, BUTTONS)
