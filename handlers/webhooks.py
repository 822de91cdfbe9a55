"""Webhook endpoints and deliveries: add, list, remove, test, list deliveries and redeliver (the
CLI's `crm-bot webhook ...` calls these), and the admins' `webhooks` chat command."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from crm_store.store import Store
from crm_store.webhook_shapes import EVENT_TYPES
from crm_store.webhooks import DeliveryRecord, EndpointRecord
from handlers.context import Context
from handlers.errors import NotFound, UsageError, UserError
from handlers.messages import ListItem, Reply
from handlers.parsing import id_in
from handlers.registry import Area, Command

MAX_URL = 500
SECRET_PREFIX = "whsec_"


@dataclass(frozen=True, slots=True)
class Added:
    endpoint: EndpointRecord
    secret: str  # shown once, when the endpoint is added


def check_url(url: str) -> str:
    """An http(s) URL with a host, or a UserError saying what is wrong with it."""
    url = url.strip()
    if len(url) > MAX_URL:
        raise UserError(f"That URL is too long ({len(url)} characters; at most {MAX_URL}).")
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises on a port that is not a number
    except ValueError:
        raise UserError(f"{url!r} is not a URL.") from None
    if parts.scheme not in ("http", "https"):
        raise UserError(f"Webhook URLs must start with http:// or https:// (got {url!r}).")
    if not parts.hostname:
        raise UserError(f"{url!r} names no host.")
    if any(c.isspace() for c in url):
        raise UserError("A webhook URL cannot contain spaces.")
    return url


def parse_events(text: str) -> tuple[str, ...]:
    """``ticket.created,ticket.resolved`` as event types; unknown ones are refused by name."""
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    if not names:
        raise UserError("Name at least one event: " + ", ".join(EVENT_TYPES) + ".")
    unknown = [name for name in names if name not in EVENT_TYPES]
    if unknown:
        raise UserError(
            f"Unknown event{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
            f"Known events: {', '.join(EVENT_TYPES)}."
        )
    return tuple(dict.fromkeys(names))  # in the order given, once each


async def add_endpoint(store: Store, *, url: str, events: str, actor: str) -> Added:
    checked, wanted = check_url(url), parse_events(events)
    secret = SECRET_PREFIX + secrets.token_hex(24)
    async with store.write(actor) as tx:
        endpoint = await tx.webhooks.add_endpoint(checked, wanted, secret)
    return Added(endpoint, secret)


async def endpoints(store: Store, *, include_disabled: bool = True) -> list[EndpointRecord]:
    async with store.read() as tx:
        return await tx.webhooks.endpoints(include_disabled=include_disabled)


async def _enabled(store: Store, endpoint_id: int) -> EndpointRecord:
    async with store.read() as tx:
        endpoint = await tx.webhooks.endpoint(endpoint_id)
    if endpoint is None:
        raise NotFound(f"There is no webhook #{endpoint_id}.")
    if endpoint.disabled_at is not None:
        raise UserError(f"Webhook #{endpoint_id} is disabled ({endpoint.disabled_reason or 'removed'}).")
    return endpoint


async def remove_endpoint(store: Store, endpoint_id: int, *, actor: str) -> EndpointRecord:
    """Disable an endpoint: it gets no more events; its deliveries stay listed."""
    endpoint = await _enabled(store, endpoint_id)
    async with store.write(actor) as tx:
        await tx.webhooks.disable(endpoint_id, reason="removed")
    return endpoint


async def test_endpoint(store: Store, endpoint_id: int, *, actor: str) -> DeliveryRecord:
    """Queue a signed ``ping`` event to one endpoint."""
    endpoint = await _enabled(store, endpoint_id)
    async with store.write(actor) as tx:
        return await tx.webhooks.ping(endpoint)


async def deliveries(store: Store, *, failed: bool = False, limit: int = 50) -> list[DeliveryRecord]:
    """The latest deliveries, newest first; ``failed``: only those given up or refused."""
    states: Sequence[str] = (
        ("failed", "given_up") if failed else ("pending", "sending", "delivered", "failed", "given_up")
    )
    async with store.read() as tx:
        return await tx.webhooks.deliveries(states=states, limit=limit)


async def redeliver(store: Store, delivery_id: int, *, actor: str) -> DeliveryRecord:
    """Send a delivery again (same event id, fresh 24 h of retries)."""
    async with store.write(actor) as tx:
        found = await tx.webhooks.delivery(delivery_id)
        if found is None:
            raise NotFound(f"There is no webhook delivery #{delivery_id}.")
        endpoint = await tx.webhooks.endpoint(found.endpoint_id)
        if endpoint is None or endpoint.disabled_at is not None:
            raise UserError(f"Delivery #{delivery_id} is to webhook #{found.endpoint_id}, which is disabled.")
        if not await tx.webhooks.redeliver(delivery_id):
            raise UserError(f"Delivery #{delivery_id} is still {found.state}; it goes out on its own.")
        again = await tx.webhooks.delivery(delivery_id)
    assert again is not None
    return again


WEBHOOKS_USAGE = "webhooks [redeliver <delivery id>]"
SHOWN = 10


def _delivery_item(d: DeliveryRecord) -> ListItem:
    answer = f"last {d.last_status}" if d.last_status is not None else (d.last_error or "not tried yet")
    return ListItem(
        text=f"#{d.id} {d.event_type} to webhook #{d.endpoint_id}: {d.state.replace('_', ' ')}",
        detail=f"{d.attempts} attempt(s), {answer}",
    )


async def webhooks_command(ctx: Context) -> Reply:
    """The endpoints and the deliveries that failed; ``redeliver <id>`` sends one again."""
    words = ctx.args.split()
    if words and words[0].lower() == "redeliver":
        if len(words) != 2:
            raise UsageError("Name the delivery to send again.", usage=WEBHOOKS_USAGE)
        delivery_id = id_in(words[1], kind="webhook delivery")
        if delivery_id is None:
            raise UsageError(f"{words[1]!r} is not a delivery id.", usage=WEBHOOKS_USAGE)
        again = await redeliver(ctx.store, delivery_id, actor=ctx.actor.key)
        return Reply(text=f"Delivery #{again.id} ({again.event_type}) is queued to be sent again.")
    if words:
        raise UsageError(f"`webhooks {words[0]}` is not something I do.", usage=WEBHOOKS_USAGE)
    found = await endpoints(ctx.store)
    if not found:
        return Reply(
            text="No webhooks yet. An admin adds one on the server: "
            "`crm-bot webhook add URL --events ticket.resolved`."
        )
    async with ctx.store.read() as tx:
        counts = await tx.webhooks.counts()
    failed = await deliveries(ctx.store, failed=True, limit=SHOWN)
    items = [
        ListItem(
            text=f"#{e.id} {e.url}",
            detail=", ".join(e.events)
            + ("" if e.disabled_at is None else f" (disabled: {e.disabled_reason or 'removed'})"),
        )
        for e in found
    ]
    items += [_delivery_item(d) for d in failed]
    summary = ", ".join(f"{n} {state.replace('_', ' ')}" for state, n in counts.items() if n)
    hint = " The latest failed ones are listed; `webhooks redeliver <id>` sends one again." if failed else ""
    return Reply(title="Webhooks", text=f"Deliveries: {summary or 'none yet'}.{hint}", items=tuple(items))


COMMANDS = (
    Command(
        "webhooks",
        webhooks_command,
        WEBHOOKS_USAGE,
        "The webhook endpoints and the deliveries that failed; send one again.",
        "webhooks",
        audience="admin",
    ),
)
AREA = Area(COMMANDS)
