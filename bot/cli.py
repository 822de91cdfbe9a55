"""The `crm-bot` command: run, console, migrate, import, export, jobs, recommend, privacy, demo-data,
webhook, api-token."""

from __future__ import annotations

import asyncio
import getpass
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TextIO, TypeVar

import typer

from config.settings import Settings, load_settings
from handlers.context import SentimentLabeller
from handlers.errors import NotFound
from handlers.messages import Reply, Role
from handlers.parsing import id_in

if TYPE_CHECKING:
    from bot.app import App
    from crm_store.api_tokens import ApiTokenRecord
    from crm_store.outbox import OutboxRow
    from crm_store.store import Store, Tx

_T = TypeVar("_T")

cli = typer.Typer(
    help="crm-bot: a CRM that lives in chat. With nothing configured, `run` opens the console.",
    no_args_is_help=True,
    add_completion=False,
)


class ConsoleRole(StrEnum):
    rep = "rep"
    manager = "manager"
    admin = "admin"
    customer = "customer"


_STAFF_ROLES: dict[ConsoleRole, Role] = {
    ConsoleRole.rep: "rep",
    ConsoleRole.manager: "manager",
    ConsoleRole.admin: "admin",
}


class ImportKind(StrEnum):
    customers = "customers"
    orders = "orders"
    order_lines = "order-lines"


class ExportKind(StrEnum):
    customers = "customers"
    interactions = "interactions"
    tickets = "tickets"


def _record_id(text: str, *, kind: str) -> int:
    """An id given on the command line, read as chat reads it: one no {kind} can have (zero,
    negative, beyond 64 bits) is answered like a missing one, exit 1."""
    try:
        number = id_in(text, kind=kind)
    except NotFound as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    if number is None:
        raise typer.BadParameter(f"{text!r} is not a {kind} id; ids are numbers like 12.")
    return number


def _settings(ctx: typer.Context, db: str | None = None) -> Settings:
    settings: Settings = ctx.obj
    if db:
        settings = settings.model_copy(update={"database_url": db})
    return settings


def _logging(settings: Settings, *, quiet: bool) -> None:
    level = logging.WARNING if quiet else getattr(logging, settings.log_level.upper(), logging.INFO)
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # aiosqlite logs every statement with its parameters (customer data) at DEBUG.
    logging.getLogger("aiosqlite").setLevel(max(level, logging.INFO))
    # APScheduler logs each run of each job at INFO (a line a second with a short tick);
    # misses and errors reach our own listener in bot/scheduler.py.
    logging.getLogger("apscheduler").setLevel(max(level, logging.WARNING))


@cli.callback()
def main_options(
    ctx: typer.Context,
    config: Annotated[
        Path | None, typer.Option("--config", help="TOML file with settings.", exists=True)
    ] = None,
) -> None:
    """Settings come from --config, then .env, then the environment (later wins)."""
    ctx.obj = load_settings(toml_file=config)


DbOption = Annotated[str | None, typer.Option("--db", help="Database URL (overrides CRM_DATABASE_URL).")]
OutOption = Annotated[Path | None, typer.Option("--out", help="File to write (default: standard output).")]


@cli.command()
def run(
    ctx: typer.Context,
    no_sample: Annotated[
        bool, typer.Option("--no-sample", help="Don't load the sample data into an empty store.")
    ] = False,
    http: Annotated[
        bool,
        typer.Option("--http", help="Serve HTTP (the API at /api/v1, /healthz) without Slack or Telegram."),
    ] = False,
) -> None:
    """Run the bot: Slack/Telegram when configured, otherwise the console on SQLite. The HTTP
    server (with the API) runs alongside Slack or Telegram, or alone with CRM_API_TOKEN or --http."""
    settings = _settings(ctx)
    if settings.slack_enabled or settings.telegram_enabled or settings.api_token or http:
        _logging(settings, quiet=False)
        asyncio.run(_serve(settings))
        return
    _logging(settings, quiet=True)
    asyncio.run(_console(settings, role=ConsoleRole.rep, user=None, sample=not no_sample))


@cli.command()
def console(
    ctx: typer.Context,
    db: DbOption = None,
    role: Annotated[ConsoleRole, typer.Option("--as", help="Who you are in the console.")] = ConsoleRole.rep,
    user: Annotated[
        str | None,
        typer.Option("--user", help="Your user id (default: your login; 'customer' for --as customer)."),
    ] = None,
    no_sample: Annotated[
        bool, typer.Option("--no-sample", help="Don't load the sample data into an empty store.")
    ] = False,
) -> None:
    """Talk to the bot in the terminal; scripted when stdin is not a terminal."""
    settings = _settings(ctx, db)
    _logging(settings, quiet=True)
    asyncio.run(_console(settings, role=role, user=user, sample=not no_sample))


async def _serve(settings: Settings) -> None:
    from bot.app import build_app

    app = build_app(settings, sentiment=await _sentiment(settings, announce=True, wait=False))
    await app.start()
    parts = []
    if settings.slack_enabled:
        parts.append(
            "Slack (" + ("Socket Mode" if settings.slack_app_token else "HTTP events at /slack/events") + ")"
        )
    if settings.telegram_enabled:
        parts.append(
            "Telegram ("
            + ("webhook at /telegram/webhook" if settings.telegram_webhook_url else "long polling")
            + ")"
        )
    parts.append("the HTTP API at /api/v1")
    try:
        await app.serve(
            ready=lambda url: typer.echo(f"crm-bot: {', '.join(parts)} on {url}; health at {url}/healthz")
        )
    finally:
        await app.stop()


async def _console(settings: Settings, *, role: ConsoleRole, user: str | None, sample: bool) -> None:
    from bot.console import ConsoleFrontEnd, ConsoleSender
    from bot.sample_data import SampleUser
    from handlers.people import customer_actor, staff_actor

    interactive = sys.stdin.isatty()
    sentiment = await _sentiment(settings, announce=interactive, wait=False)
    name = user or getpass.getuser()
    async with _running(settings, sentiment=sentiment, index=True) as app:
        if sample and await app.is_empty():
            # A team member at the console joins the sample team, so the book has their reminders.
            you = SampleUser(platform="console", user_id=name, display_name=name)
            counts = await app.load_sample(None if role is ConsoleRole.customer else you)
            typer.echo(
                f"The store was empty, so I loaded sample data ({counts['customers']} customers, "
                f"{counts['orders']} orders, {counts['interactions']} interactions, {counts['tickets']} "
                f"tickets, {counts['reminders']} reminders). Start with --no-sample to skip this.\n",
                err=not interactive,
            )
        if role is ConsoleRole.customer:
            actor = await customer_actor(
                app.store,
                platform="console",
                user_id=user or "customer",
                display_name=user or "Console customer",
            )
        else:
            actor = await staff_actor(
                app.store,
                platform="console",
                user_id=name,
                display_name=name,
                role=_STAFF_ROLES[role],
                timezone=settings.timezone,
            )
        if interactive:
            typer.echo(
                f"crm-bot console as {actor.role} {actor.display_name!r}. Type help, or quit to leave."
            )
        frontend = ConsoleFrontEnd(
            app.router,
            actor,
            stdin=sys.stdin,
            stdout=sys.stdout,
            interactive=interactive,
            image_dir=settings.data_path / "charts",  # beside the store, or CRM_DATA_DIR
        )
        # Reminders and other pushes to console users print here, between prompts.
        app.add_senders([ConsoleSender(frontend)])
        app.start_background()
        try:
            await frontend.run()
        finally:
            await app.stop_background()


@asynccontextmanager
async def _running(
    settings: Settings, *, sentiment: SentimentLabeller | None = None, index: bool = False
) -> AsyncIterator[App]:
    """A started app (migrated; with ``index``, the customer index going) that is stopped
    however the block ends.  Batch commands leave the index out: nothing they do searches."""
    from bot.app import build_app

    app = build_app(settings, sentiment=sentiment)
    await app.start(index=index)
    try:
        yield app
    finally:
        await app.stop()


async def _sentiment(settings: Settings, *, announce: bool, wait: bool = True) -> SentimentLabeller:
    """The sentiment model.  Unless ``wait``, a model cached before loads in the background
    once the bot answers (bot.labeller); training one (the first start) is always waited for."""
    from bot.app import load_sentiment

    models = settings.data_path / "models"
    # Any cached model: then this start most likely only loads (a newer corpus retrains, in
    # the background too).  The check must not import nlp.sentiment: that is the slow part.
    if not wait and any(models.glob("sentiment-*.joblib")):
        from bot.labeller import LoadingLabeller

        return LoadingLabeller(lambda: load_sentiment(settings))
    from nlp.sentiment import cache_path

    if announce and not cache_path(models).exists():
        typer.echo("Training the sentiment model (once; it is cached for later starts)...")
    # Training or loading is CPU work: keep it off the event loop.
    return await asyncio.get_running_loop().run_in_executor(None, load_sentiment, settings)


@cli.command()
def sentiment(ctx: typer.Context) -> None:
    """Label text: one text per line on stdin, `label<TAB>score` (score in [-1, 1]) per line out."""
    from bot.app import load_sentiment
    from nlp.sentiment import format_line

    settings = _settings(ctx)
    _logging(settings, quiet=True)
    classifier = load_sentiment(settings)
    for line in sys.stdin:
        text = line.rstrip("\n")
        typer.echo(format_line(classifier.classify(text)))


nlp_cli = typer.Typer(help="Language tools over the store.", no_args_is_help=True)
cli.add_typer(nlp_cli, name="nlp")


@nlp_cli.command("backfill")
def nlp_backfill(ctx: typer.Context, db: DbOption = None) -> None:
    """Label the sentiment of stored interactions, ticket messages and feedback that have none."""
    settings = _settings(ctx, db)
    _logging(settings, quiet=True)

    async def _go() -> dict[str, int]:
        from handlers.backfill import backfill

        classifier = await _sentiment(settings, announce=False)
        async with _running(settings, sentiment=classifier) as app:
            return await backfill(app.store, classifier)

    done = asyncio.run(_go())
    typer.echo("Labelled " + ", ".join(f"{n} {kind.replace('_', ' ')}" for kind, n in done.items()) + ".")


@cli.command()
def migrate(
    ctx: typer.Context,
    db: DbOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", help="Also print Alembic's log lines.")] = False,
) -> None:
    """Apply database migrations (the bot also does this at start); prints one line."""
    from crm_store.migrate import MigrationRun

    settings = _settings(ctx, db)
    _logging(settings, quiet=not verbose and settings.log_level.upper() != "DEBUG")

    async def _go() -> MigrationRun:
        from crm_store.engine import create_engine
        from crm_store.migrate import migrate as run_migrations

        engine = create_engine(settings.database_url)
        try:
            return await run_migrations(engine)
        finally:
            await engine.dispose()

    run = asyncio.run(_go())
    if not run.applied:
        typer.echo(f"The database is already at revision {run.after}; nothing to apply.")
        return
    count = f"{len(run.applied)} migration{'s' if len(run.applied) != 1 else ''}"
    span = run.applied[0] if len(run.applied) == 1 else f"{run.applied[0]}-{run.applied[-1]}"
    typer.echo(f"Applied {count} ({span}); the database is at revision {run.after}.")


@cli.command("import")
def import_(
    ctx: typer.Context,
    kind: Annotated[ImportKind, typer.Argument(help="customers, orders or order-lines")],
    file: Annotated[Path, typer.Argument(help="CSV file with a header row.", exists=True, dir_okay=False)],
    strict: Annotated[bool, typer.Option("--strict", help="Import nothing if any row is bad.")] = False,
    mapping: Annotated[
        str | None,
        typer.Option(
            "--map",
            help="customers: field=Column pairs, e.g. name=Company,email=E-mail; "
            "order-lines: e.g. order_ref=InvoiceNo,sku=StockCode,"
            "product=Description,quantity=Quantity,unit_price=UnitPrice,ordered_at=InvoiceDate,customer_ref=CustomerID,country=Country",
        ),
    ] = None,
    create_customers: Annotated[
        bool, typer.Option("--create-customers", help="order-lines: create customers no reference matches.")
    ] = False,
    preset: Annotated[
        str | None,
        typer.Option("--preset", help="customers: a contact export of hubspot, salesforce or pipedrive."),
    ] = None,
    upsert_by: Annotated[
        str | None,
        typer.Option(
            "--upsert-by", help="customers: update the customer with the same email or external_ref."
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run", help="customers: say what would be created, updated, skipped; write nothing."
        ),
    ] = False,
    currency: Annotated[str, typer.Option("--currency", help="order-lines: the prices' currency.")] = "USD",
    db: DbOption = None,
) -> None:
    """Import customers (name,email,phone,company,status,tags,<custom>…), orders
    (customer_id|customer_email,amount,currency,ordered_at,note,external_ref), or a shop's order
    lines (with --map) from CSV."""
    settings = _settings(ctx, db)
    _logging(settings, quiet=True)
    if kind is ImportKind.order_lines:
        _import_order_lines(
            settings,
            file,
            mapping=mapping,
            create_customers=create_customers,
            currency=currency,
            strict=strict,
        )
        return
    if kind is not ImportKind.customers and (preset or upsert_by or dry_run):
        typer.echo("Nothing imported: --preset, --upsert-by and --dry-run are for customers.", err=True)
        raise typer.Exit(1)
    if kind is ImportKind.customers:
        _import_customers(
            settings,
            file,
            mapping=mapping,
            preset=preset,
            upsert_by=upsert_by,
            dry_run=dry_run,
            strict=strict,
        )
        return
    from handlers.csv_read import detect_encoding

    with file.open("rb") as raw:
        encoding = detect_encoding(iter(lambda: raw.read(1 << 20), b""))
    text = file.read_text(encoding=encoding, errors="replace")
    total = max(text.count("\n") - 1, 0)

    async def _go() -> object:
        from handlers.imports import import_orders

        async with _running(settings) as app:
            with typer.progressbar(
                length=total or 1, label=f"Importing {kind.value}", file=sys.stderr
            ) as bar:
                return await import_orders(
                    app.store, text, actor="cli:import", strict=strict, progress=bar.update
                )

    from handlers.errors import UserError
    from handlers.imports import ImportReport

    try:
        report = asyncio.run(_go())
    except UserError as exc:
        typer.echo(f"Nothing imported: {exc}", err=True)
        raise typer.Exit(1) from exc
    assert isinstance(report, ImportReport)
    for line, reason in sorted(report.errors):
        typer.echo(f"line {line}: {reason}" if line else reason, err=True)
    if report.strict_aborted:
        typer.echo(f"Nothing imported: {report.rejected} bad row(s) and --strict was given.", err=True)
        raise typer.Exit(1)
    typer.echo(f"Imported {report.imported} {kind.value}; {report.rejected} row(s) rejected.")
    if report.rejected:
        raise typer.Exit(1)


def _import_customers(
    settings: Settings,
    file: Path,
    *,
    mapping: str | None,
    preset: str | None,
    upsert_by: str | None,
    dry_run: bool,
    strict: bool,
) -> None:
    """Streams the file in its detected encoding; a progress line only on a terminal."""
    from handlers.csv_read import detect_encoding
    from handlers.errors import UserError
    from handlers.import_map import parse_map
    from handlers.imports import import_customers

    with file.open("rb") as raw:
        encoding = detect_encoding(iter(lambda: raw.read(1 << 20), b""))
    done = 0
    tty = sys.stderr.isatty()

    def progress(rows: int) -> None:
        nonlocal done
        done += rows
        sys.stderr.write(f"\rImporting customers: {done:,} rows")
        sys.stderr.flush()

    async def _go() -> object:
        async with _running(settings) as app:
            with file.open(encoding=encoding, errors="replace", newline="") as handle:
                return await import_customers(
                    app.store,
                    handle,
                    actor="cli:import",
                    strict=strict,
                    dry_run=dry_run,
                    mapping=parse_map(mapping),
                    preset=preset,
                    upsert_by=upsert_by,
                    progress=progress if tty else None,
                )

    try:
        report = asyncio.run(_go())
    except UserError as exc:
        typer.echo(f"Nothing imported: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        if tty and done:
            sys.stderr.write("\n")
    from handlers.imports import ImportReport

    assert isinstance(report, ImportReport)
    for line, reason in report.errors:
        typer.echo(f"line {line}: {reason}", err=True)
    if report.ignored_columns:
        typer.echo(f"Columns not read: {', '.join(report.ignored_columns)}", err=True)
    if report.strict_aborted:
        typer.echo(f"Nothing imported: {report.rejected} bad row(s) and --strict was given.", err=True)
        raise typer.Exit(1)
    typer.echo(report.summary(encoding))
    if report.rejected:
        raise typer.Exit(1)


def _read_export(file: Path) -> str:
    """A shop export's text: UTF-8 when it is, else Latin-1 (older exports, such as the retail sample)."""
    raw = file.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _import_order_lines(
    settings: Settings,
    file: Path,
    *,
    mapping: str | None,
    create_customers: bool,
    currency: str,
    strict: bool,
) -> None:
    from handlers.errors import UserError
    from handlers.order_import import import_order_lines, parse_mapping

    text = _read_export(file)
    total = max(text.count("\n") - 1, 0)

    async def _go() -> object:
        async with _running(settings) as app:
            with typer.progressbar(length=total or 1, label="Importing order lines", file=sys.stderr) as bar:
                return await import_order_lines(
                    app.store,
                    text,
                    actor="cli:import",
                    mapping=parse_mapping(mapping),
                    create_customers=create_customers,
                    currency=currency,
                    strict=strict,
                    progress=bar.update,
                )

    try:
        report = asyncio.run(_go())
    except UserError as exc:
        typer.echo(f"Nothing imported: {exc}", err=True)
        raise typer.Exit(1) from exc
    from handlers.order_import import LinesReport

    assert isinstance(report, LinesReport)
    for line, reason in report.errors:
        typer.echo(f"line {line}: {reason}", err=True)
    for text_line in report.summary():
        typer.echo(text_line)
    if report.strict_aborted:
        raise typer.Exit(1)


@cli.command()
def export(
    ctx: typer.Context,
    kind: Annotated[ExportKind, typer.Argument(help="customers, interactions or tickets")],
    out: OutOption = None,
    db: DbOption = None,
) -> None:
    """Export to CSV."""
    settings = _settings(ctx, db)
    _logging(settings, quiet=True)

    async def _go() -> int:
        from handlers.exports import export as run_export

        async with _running(settings) as app:
            if out is None:
                return await run_export(app.store, kind.value, sys.stdout)
            with out.open("w", newline="", encoding="utf-8") as handle:
                return await run_export(app.store, kind.value, handle)

    count = asyncio.run(_go())
    typer.echo(f"Exported {count} {kind.value}.", err=True)


@cli.command("demo-data")
def demo_data(ctx: typer.Context, db: DbOption = None) -> None:
    """Load the sample dataset into an empty store."""
    settings = _settings(ctx, db)
    _logging(settings, quiet=True)

    async def _go() -> dict[str, int] | None:

        async with _running(settings) as app:
            if not await app.is_empty():
                return None
            return await app.load_sample()

    counts = asyncio.run(_go())
    if counts is None:
        typer.echo("The store already has data; sample data goes only into an empty store.", err=True)
        raise typer.Exit(1)
    typer.echo("Loaded " + ", ".join(f"{n} {k}" for k, n in counts.items()) + ".")


outbox_cli = typer.Typer(help="Pushes waiting to be sent, or parked as failed.", invoke_without_command=True)
cli.add_typer(outbox_cli, name="outbox")


class OutboxState(StrEnum):
    pending = "pending"
    sending = "sending"
    failed = "failed"
    sent = "sent"


@outbox_cli.callback()
def outbox_list(
    ctx: typer.Context,
    state: Annotated[
        list[OutboxState] | None,
        typer.Option("--state", help="Only these states (default: pending, failed)."),
    ] = None,
    limit: Annotated[int, typer.Option("--limit", help="At most this many rows.", min=1, max=100_000)] = 50,
    db: DbOption = None,
) -> None:
    """List pending and failed pushes (ids, platform, chat, attempts, error; never the text)."""
    if ctx.invoked_subcommand is not None:
        return
    settings = _settings(ctx, db)
    _logging(settings, quiet=True)
    states = [s.value for s in state] if state else ["pending", "sending", "failed"]

    async def _go() -> tuple[dict[str, int], list[OutboxRow]]:
        store = await _store(settings)
        try:
            async with store.read() as tx:
                return await tx.outbox.counts(), await tx.outbox.listing(states=states, limit=limit)
        finally:
            await store.close()

    counts, rows = asyncio.run(_go())
    typer.echo(" ".join(f"{name}={n}" for name, n in counts.items()))
    for row in rows:
        typer.echo(
            f"#{row.id} {row.state} {row.platform}:{row.target} attempts={row.attempts} "
            f"next={row.next_attempt_at:%Y-%m-%d %H:%M:%S} key={row.idempotency_key}"
            + (f" error={row.last_error}" if row.last_error else "")
        )


@outbox_cli.command("retry")
def outbox_retry(
    ctx: typer.Context,
    ids: Annotated[list[str] | None, typer.Argument(help="Row ids (default: every failed row).")] = None,
    db: DbOption = None,
) -> None:
    """Put failed pushes back in the queue with fresh attempts."""
    row_ids = [_record_id(text, kind="outbox row") for text in ids or ()]
    settings = _settings(ctx, db)
    _logging(settings, quiet=True)

    async def _go() -> int:
        store = await _store(settings)
        try:
            async with store.write("cli:outbox") as tx:
                wanted = row_ids or [r.id for r in await tx.outbox.listing(states=["failed"], limit=100_000)]
                return await tx.outbox.requeue(wanted) if wanted else 0
        finally:
            await store.close()

    typer.echo(f"Requeued {asyncio.run(_go())} failed row(s).")


api_token_cli = typer.Typer(help="Tokens for the HTTP API at /api/v1.", no_args_is_help=True)
cli.add_typer(api_token_cli, name="api-token")


@api_token_cli.command("create")
def api_token_create(
    ctx: typer.Context,
    name: Annotated[str, typer.Option("--name", help="Who uses it (erp, shop); shown in the audit log.")],
    scopes: Annotated[str, typer.Option("--scopes", help="read, write, or read,write.")] = "read",
    db: DbOption = None,
) -> None:
    """Make a token and print it once: only its hash is kept, so it cannot be shown again."""
    from handlers.api_tokens import create_token
    from handlers.errors import UserError

    settings = _settings(ctx, db)
    _logging(settings, quiet=True)

    async def _go() -> str:
        store = await _store(settings)
        try:
            return await create_token(store, name=name, scopes=scopes, actor="cli:api-token")
        finally:
            await store.close()

    try:
        token = asyncio.run(_go())
    except UserError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    typer.echo(token)
    typer.echo(f"Token {name!r} ({scopes}) created; it is shown only this once.", err=True)


@api_token_cli.command("list")
def api_token_list(ctx: typer.Context, db: DbOption = None) -> None:
    """Every token: name, scopes, when created, last used (to the minute) and revoked."""
    from handlers.api_tokens import list_tokens

    settings = _settings(ctx, db)
    _logging(settings, quiet=True)

    async def _go() -> list[ApiTokenRecord]:
        store = await _store(settings)
        try:
            return await list_tokens(store)
        finally:
            await store.close()

    def when(moment: datetime | None) -> str:
        return "-" if moment is None else f"{moment:%Y-%m-%d %H:%M}"

    tokens = asyncio.run(_go())
    if not tokens:
        typer.echo("No API tokens; `crm-bot api-token create --name NAME --scopes read,write` makes one.")
    for t in tokens:
        typer.echo(
            f"{t.name}\tscopes={','.join(t.scopes)}\tcreated={when(t.created_at)}"
            f"\tlast_used={when(t.last_used_at)}\trevoked={when(t.revoked_at)}"
        )


@api_token_cli.command("revoke")
def api_token_revoke(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The token's name.")],
    db: DbOption = None,
) -> None:
    """Revoke a token: its next request is a 401."""
    from handlers.api_tokens import revoke_token
    from handlers.errors import UserError

    settings = _settings(ctx, db)
    _logging(settings, quiet=True)

    async def _go() -> None:
        store = await _store(settings)
        try:
            await revoke_token(store, name=name, actor="cli:api-token")
        finally:
            await store.close()

    try:
        asyncio.run(_go())
    except UserError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    typer.echo(f"Revoked {name!r}.")


async def _store(settings: Settings) -> Store:
    from bot.app import pool_settings
    from crm_store.migrate import upgrade
    from crm_store.store import Store

    store = Store.open(settings.database_url, pool=pool_settings(settings))
    await upgrade(store.engine)
    return store


loyalty_cli = typer.Typer(help="Loyalty scores and churn risk.", no_args_is_help=True)
cli.add_typer(loyalty_cli, name="loyalty")


@loyalty_cli.command("recompute")
def loyalty_recompute(ctx: typer.Context, db: DbOption = None) -> None:
    """Score every customer now (the nightly job does the same) and queue the alerts."""
    settings = _settings(ctx, db)
    _logging(settings, quiet=True)

    async def _go() -> str:
        from handlers.jobs import run_loyalty

        async with _running(settings) as app:
            assert app.scheduler is not None
            run = await run_loyalty(app.store, app.scheduler.settings)
            if app.delivery is not None:
                await app.delivery.dispatcher.run_once()
            segmented = f"\n{run.segments.summary()}" if run.segments is not None else ""
            return (
                f"Scored {run.scored} customers for {run.run_date}; {run.alerts} loyalty alert(s) for "
                f"that day ({run.new_alerts} new, {run.queued} queued to their owners).{segmented}"
            )

    typer.echo(asyncio.run(_go()))


segments_cli = typer.Typer(help="Customer segments.", no_args_is_help=True)
cli.add_typer(segments_cli, name="segments")


@segments_cli.command("recompute")
def segments_recompute(ctx: typer.Context, db: DbOption = None) -> None:
    """Segment every customer now (the nightly loyalty run does the same after the scores)."""
    settings = _settings(ctx, db)
    _logging(settings, quiet=True)

    async def _go() -> str:
        from handlers.segment_run import recompute_segments

        store = await _store(settings)
        try:
            return (await recompute_segments(store, actor="cli:segments")).summary()
        finally:
            await store.close()

    typer.echo(asyncio.run(_go()))


@cli.command()
def recommend(
    ctx: typer.Context,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="CSV file to write (default: standard output).", dir_okay=False),
    ] = None,
    top: Annotated[int, typer.Option("--top", help="Products per customer (1-20).", min=1, max=20)] = 5,
    db: DbOption = None,
) -> None:
    """Every customer's next products to offer, as CSV: customer_id, rank, sku, product, score,
    reason (the model is built from every order line first)."""
    from handlers.recommend import NOTHING_SOLD, Written, write_csv

    settings = _settings(ctx, db)
    _logging(settings, quiet=True)

    async def _go(handle: TextIO) -> Written:
        async with _running(settings) as app:
            return await write_csv(app.store, app.services.recommender, handle, top=top)

    if out is None:
        written = asyncio.run(_go(sys.stdout))
    else:
        try:
            with out.open("w", newline="", encoding="utf-8") as handle:
                written = asyncio.run(_go(handle))
        except OSError as exc:
            typer.echo(f"Could not write {out}: {exc.strerror or exc}.", err=True)
            raise typer.Exit(1) from None
    if written.products == 0:
        typer.echo(NOTHING_SOLD, err=True)
        raise typer.Exit(1)
    typer.echo(
        f"Wrote the top {top} products for {written.customers} customers ({written.rows} rows, "
        f"{written.products} products in the model){f' to {out}' if out else ''}.",
        err=True,
    )


forecast_cli = typer.Typer(
    help="Sales forecast: expected orders, revenue and p_active.", no_args_is_help=True
)
cli.add_typer(forecast_cli, name="forecast")


@forecast_cli.command("customers")
def forecast_customers(
    ctx: typer.Context,
    as_of: Annotated[
        str, typer.Option("--as-of", help="Forecast from orders dated on or before this day (YYYY-MM-DD).")
    ],
    out: Annotated[Path, typer.Option("--out", help="CSV file to write.", dir_okay=False)],
    horizon_days: Annotated[
        int, typer.Option("--horizon-days", help="Days after --as-of to forecast.", min=7, max=365)
    ] = 90,
    db: DbOption = None,
) -> None:
    """Every customer's expected orders, revenue and p_active over the horizon, as CSV:
    customer_id, external_ref, email, expected_orders, expected_revenue, p_active."""
    import csv
    from datetime import date

    try:
        day = date.fromisoformat(as_of)
    except ValueError:
        raise typer.BadParameter(f"{as_of!r} is not a day like 2026-06-30.", param_hint="--as-of") from None
    settings = _settings(ctx, db)
    _logging(settings, quiet=True)

    async def _go() -> tuple[str, list[list[str]]]:
        from handlers.forecast_book import TooLittleHistory, customer_table

        async with _running(settings) as app:
            try:
                book, table = await customer_table(app.store, as_of=day, horizon_days=horizon_days)
            except TooLittleHistory as exc:
                typer.echo(
                    f"Too little order history to forecast as of {day} ({exc}): the forecast needs "
                    "customers who have ordered more than once.",
                    err=True,
                )
                raise typer.Exit(1) from None
            fitted = book.forecast
            model = fitted.model if not fitted.note else f"{fitted.model}: {fitted.note}"
            return model, table

    from handlers.forecast_book import CSV_COLUMNS

    model, table = asyncio.run(_go())
    try:
        with out.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(CSV_COLUMNS)
            writer.writerows(table)
    except OSError as exc:
        typer.echo(f"Could not write {out}: {exc.strerror or exc}.", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"Forecast {len(table)} customers for {horizon_days} days after {day} ({model}); wrote {out}.")


@cli.command()
def digest(
    ctx: typer.Context,
    now: Annotated[
        bool,
        typer.Option("--now", help="Send every subscription its own digest now, built like scheduled ones."),
    ] = False,
    weekly: Annotated[bool, typer.Option("--weekly", help="Cover the last week, not the last day.")] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the printed digest's chart (PNG) to this file.", dir_okay=False),
    ] = None,
    db: DbOption = None,
) -> None:
    """Print the digest of the whole book (CRM_TIMEZONE), or with --now queue and send each
    subscription's digest (its cadence, zone and access) at once."""
    if now and (weekly or out is not None):
        typer.echo(
            "--now sends each subscription its own digest; --weekly and --out are for the printed one.",
            err=True,
        )
        raise typer.Exit(2)
    settings = _settings(ctx, db)
    _logging(settings, quiet=True)

    async def _send() -> str:
        from handlers.jobs import queue_digests_now

        async with _running(settings) as app:
            assert app.scheduler is not None
            subscriptions, queued = await queue_digests_now(
                app.store, app.scheduler.settings, actor="cli:digest"
            )
            if not subscriptions:
                return "No subscriptions: `subscribe digest daily` in chat adds one."
            report = await app.delivery.dispatcher.run_once() if app.delivery is not None else None
            sent = report.sent if report else 0
            return f"Queued {queued} digest(s); sent {sent} now (the rest go out when the bot runs)."

    async def _print() -> Reply:
        from handlers.digests import digest_now

        cadence = "weekly" if weekly else "daily"
        async with _running(settings) as app:
            # The operator reads the whole book, in the deployment's zone.
            return await digest_now(app.store, cadence=cadence, tz=settings.timezone, now=app.store.clock())

    if now:
        typer.echo(asyncio.run(_send()))
        return
    from bot.console_render import render_text

    reply = asyncio.run(_print())
    note = "not saved; --out FILE.png writes it"
    if out is not None and reply.image is not None:
        try:
            out.write_bytes(reply.image)
        except OSError as exc:
            typer.echo(f"Could not write the chart to {out}: {exc.strerror or exc}.", err=True)
            raise typer.Exit(1) from None
        note = f"saved to {out}"
    typer.echo(render_text(reply, image_note=note).text)


@cli.command()
def report(
    ctx: typer.Context,
    name: Annotated[
        str, typer.Argument(help="satisfaction, loyalty, needs, correlation, activity, tickets, ...")
    ],
    days: Annotated[
        int | None, typer.Option("--days", help="Cover the last N days (1-366; each report has its default).")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the report's chart (PNG) to this file.", dir_okay=False),
    ] = None,
    db: DbOption = None,
) -> None:
    """Print a manager report over the whole book (CRM_TIMEZONE), the same one `report NAME
    [days]` answers in chat, and with --out write its chart."""
    from handlers.errors import UserError

    settings = _settings(ctx, db)
    _logging(settings, quiet=True)

    async def _build() -> Reply:
        import handlers.router  # noqa: F401  (every area registers its report kinds on import)
        from handlers.context import zone
        from handlers.reports import build_report

        async with _running(settings) as app:
            return await build_report(
                app.store, name, days, tz=zone(settings.timezone), now=app.store.clock()
            )

    try:
        reply = asyncio.run(_build())
    except UserError as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    from bot.console_render import render_text

    note = "not saved; --out FILE.png writes it"
    if out is not None and reply.image is not None:
        try:
            out.write_bytes(reply.image)
        except OSError as exc:
            typer.echo(f"Could not write the chart to {out}: {exc.strerror or exc}.", err=True)
            raise typer.Exit(1) from None
        note = f"saved to {out}"
    typer.echo(render_text(reply, image_note=note).text)


privacy_cli = typer.Typer(help="Requests about one contact's data: export, erasure.", no_args_is_help=True)
cli.add_typer(privacy_cli, name="privacy")
CustomerRef = Annotated[str, typer.Argument(help="The customer's id (the #12 shown in chat).")]


@privacy_cli.command("export")
def privacy_export(
    ctx: typer.Context,
    customer: CustomerRef,
    out: OutOption = None,
    db: DbOption = None,
) -> None:
    """Everything stored about one contact, as JSON (access and portability requests)."""
    import json
    import os

    from crm_store.privacy import export_size

    customer_id = _record_id(customer, kind="customer")
    settings = _settings(ctx, db)
    _logging(settings, quiet=True)
    data = asyncio.run(
        _privacy_step(settings, customer_id, lambda tx: tx.privacy.export_customer(customer_id))
    )
    text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    if out is None:
        sys.stdout.write(text)
    else:
        # Personal data: readable by the operator only.
        handle = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(handle, 0o600)  # an existing file keeps its mode otherwise
        with os.fdopen(handle, "w", encoding="utf-8") as f:
            f.write(text)
    typer.echo(f"Exported customer #{customer_id}: {export_size(data)} records.", err=True)


async def _privacy_step(settings: Settings, customer_id: int, step: Callable[[Tx], Awaitable[_T]]) -> _T:
    """Run ``step`` in one audited transaction; exit 1 when the customer does not exist."""
    async with _running(settings) as app, app.store.write("cli:privacy") as tx:
        try:
            return await step(tx)
        except LookupError:
            typer.echo(f"There is no customer #{customer_id}.", err=True)
            raise typer.Exit(1) from None


@privacy_cli.command("erase")
def privacy_erase(
    ctx: typer.Context,
    customer: CustomerRef,
    yes: Annotated[bool, typer.Option("--yes", help="Really erase; nothing happens without it.")] = False,
    db: DbOption = None,
) -> None:
    """Erase one contact's personal data for good; orders stay as amounts (see the README)."""
    customer_id = _record_id(customer, kind="customer")
    if not yes:
        typer.echo(f"Erasing customer #{customer_id} cannot be undone; add --yes to do it.", err=True)
        raise typer.Exit(1)
    settings = _settings(ctx, db)
    _logging(settings, quiet=True)
    counts = asyncio.run(
        _privacy_step(settings, customer_id, lambda tx: tx.privacy.erase_customer(customer_id))
    )
    typer.echo(f"Erased customer #{customer_id}.")
    for kind, n in counts.items():
        typer.echo(f"  {kind.replace('_', ' ')}: {n}")


def _add_webhooks() -> None:
    from bot.webhook_cli import webhook_cli

    cli.add_typer(webhook_cli, name="webhook")


_add_webhooks()


def main() -> None:
    cli()
