"""`crm-bot webhook ...`: add, list, remove and test endpoints; list and redeliver deliveries."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from handlers import webhooks
from handlers.errors import UserError

if TYPE_CHECKING:
    from bot.app import App
    from crm_store.webhooks import DeliveryRecord

_T = TypeVar("_T")
ACTOR = "cli:webhook"

webhook_cli = typer.Typer(help="Signed webhooks: events sent to other systems.", no_args_is_help=True)
DbOption = Annotated[str | None, typer.Option("--db", help="Database URL (overrides CRM_DATABASE_URL).")]


def _run(ctx: typer.Context, db: str | None, step: Callable[[App], Awaitable[_T]]) -> _T:
    """``step`` on a started app; a UserError is told on stderr with exit status 1."""
    from bot.cli import _logging, _running, _settings

    settings = _settings(ctx, db)
    _logging(settings, quiet=True)

    async def _go() -> _T:
        async with _running(settings) as app:
            return await step(app)

    try:
        return asyncio.run(_go())
    except UserError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None


def _id(text: str, kind: str) -> int:
    from bot.cli import _record_id

    return _record_id(text, kind=kind)


async def _send_now(app: App) -> None:
    """Send what is due now (the running bot would within a tick; this may be the only process)."""
    if app.webhook_delivery is not None:
        await app.webhook_delivery.dispatcher.run_once()


def _delivery_line(d: DeliveryRecord) -> str:
    status = f" last={d.last_status}" if d.last_status is not None else ""
    error = f" error={d.last_error}" if d.last_error else ""
    when = (
        f" next={d.next_attempt_at:%Y-%m-%d %H:%M:%S}" if d.state == "pending" and d.next_attempt_at else ""
    )
    return (
        f"#{d.id} {d.state} {d.event_type} to webhook #{d.endpoint_id} event={d.event_id} "
        f"attempts={d.attempts} at={d.created_at:%Y-%m-%d %H:%M:%S}{status}{when}{error}"
    )


@webhook_cli.command("add")
def webhook_add(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="Where to POST events (http:// or https://).")],
    events: Annotated[str, typer.Option("--events", help="Comma-separated event types.")],
    db: DbOption = None,
) -> None:
    """Add an endpoint; prints its signing secret (shown only this once)."""
    added = _run(ctx, db, lambda app: webhooks.add_endpoint(app.store, url=url, events=events, actor=ACTOR))
    typer.echo(
        f"Added webhook #{added.endpoint.id} to {added.endpoint.url} for {', '.join(added.endpoint.events)}."
    )
    typer.echo(f"Signing secret (shown once; keep it with the receiver): {added.secret}")


@webhook_cli.command("list")
def webhook_list(ctx: typer.Context, db: DbOption = None) -> None:
    """The endpoints, enabled and disabled (never their secrets)."""
    found = _run(ctx, db, lambda app: webhooks.endpoints(app.store))
    if not found:
        typer.echo("No webhooks. Add one with `crm-bot webhook add URL --events ticket.resolved`.")
    for e in found:
        state = "enabled" if e.disabled_at is None else f"disabled ({e.disabled_reason or 'removed'})"
        typer.echo(f"#{e.id} {state} {e.url} events={','.join(e.events)} added={e.created_at:%Y-%m-%d %H:%M}")


@webhook_cli.command("remove")
def webhook_remove(
    ctx: typer.Context,
    endpoint: Annotated[str, typer.Argument(help="The webhook's id.")],
    db: DbOption = None,
) -> None:
    """Stop sending to an endpoint (its deliveries stay listed)."""
    endpoint_id = _id(endpoint, "webhook")
    removed = _run(ctx, db, lambda app: webhooks.remove_endpoint(app.store, endpoint_id, actor=ACTOR))
    typer.echo(f"Removed webhook #{removed.id} ({removed.url}).")


@webhook_cli.command("test")
def webhook_test(
    ctx: typer.Context,
    endpoint: Annotated[str, typer.Argument(help="The webhook's id.")],
    db: DbOption = None,
) -> None:
    """Send a signed ping event to an endpoint now, and say how it went."""
    endpoint_id = _id(endpoint, "webhook")

    async def _step(app: App) -> DeliveryRecord:
        queued = await webhooks.test_endpoint(app.store, endpoint_id, actor=ACTOR)
        await _send_now(app)
        async with app.store.read() as tx:
            return await tx.webhooks.delivery(queued.id) or queued

    typer.echo(_delivery_line(_run(ctx, db, _step)))


@webhook_cli.command("deliveries")
def webhook_deliveries(
    ctx: typer.Context,
    failed: Annotated[bool, typer.Option("--failed", help="Only deliveries given up or refused.")] = False,
    limit: Annotated[int, typer.Option("--limit", help="At most this many.", min=1, max=10_000)] = 50,
    db: DbOption = None,
) -> None:
    """The latest deliveries, newest first (ids, event, state, attempts, last answer)."""
    found = _run(ctx, db, lambda app: webhooks.deliveries(app.store, failed=failed, limit=limit))
    if not found:
        typer.echo("No failed deliveries." if failed else "No deliveries yet.")
    for d in found:
        typer.echo(_delivery_line(d))


@webhook_cli.command("redeliver")
def webhook_redeliver(
    ctx: typer.Context,
    delivery: Annotated[str, typer.Argument(help="The delivery's id.")],
    db: DbOption = None,
) -> None:
    """Send a delivery again now: the same event and id, with a fresh 24 h of retries."""
    delivery_id = _id(delivery, "webhook delivery")

    async def _step(app: App) -> DeliveryRecord:
        queued = await webhooks.redeliver(app.store, delivery_id, actor=ACTOR)
        await _send_now(app)
        async with app.store.read() as tx:
            return await tx.webhooks.delivery(queued.id) or queued

    typer.echo(_delivery_line(_run(ctx, db, _step)))
