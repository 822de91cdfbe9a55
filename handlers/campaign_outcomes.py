"""What became of each campaign message: the outbox key that names its recipient, and the
outcome the dispatcher records back on the recipient in the transaction that ends the row."""

from __future__ import annotations

from crm_store.store import Tx

PREFIX = "campaign"
BLOCKED = "blocked the bot"
INTERRUPTED = "interrupted"  # the process died during the send: delivered or not, never twice


def outbox_key(campaign_id: int, customer_id: int) -> str:
    """One key per campaign and customer: the outbox refuses a second row with it, so however
    often a pump runs (restarts, replicas) the customer gets the message once."""
    return f"{PREFIX}:{campaign_id}:{customer_id}"


def recipient_of(key: str) -> tuple[int, int] | None:
    """(campaign id, customer id) of a campaign row's key; None for any other row."""
    kind, _, rest = key.partition(":")
    campaign, _, customer = rest.partition(":")
    if kind != PREFIX or not campaign.isdigit() or not customer.isdigit():
        return None
    return int(campaign), int(customer)


async def sent(tx: Tx, key: str, message_id: str) -> bool:
    """A campaign row went out: its recipient is sent, with Telegram's message id."""
    found = recipient_of(key)
    if found is None:
        return False
    return await tx.campaigns.set_recipient(*found, state="sent", outbox_key=key, message_id=message_id[:64])


async def failed(tx: Tx, key: str, reason: str) -> bool:
    """A campaign row was parked (blocked, refused, out of retries): its recipient failed, why."""
    found = recipient_of(key)
    if found is None:
        return False
    return await tx.campaigns.set_recipient(*found, state="failed", outbox_key=key, reason=reason[:64])


async def withdraw(tx: Tx, campaign_id: int) -> int:
    """A cancel: the campaign's messages still waiting in the outbox are taken back and their
    recipients cancelled (only those a dispatcher holds at this moment still go out)."""
    withdrawn = 0
    for key in await tx.outbox.withdraw(f"{PREFIX}:{campaign_id}:"):
        found = recipient_of(key)
        if found is not None and await tx.campaigns.set_recipient(*found, state="cancelled"):
            withdrawn += 1
    return withdrawn
