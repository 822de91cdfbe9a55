"""The one place that builds the store, nlp, handlers and front ends and starts/stops them."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from bot.admission import Admission
from bot.health import Health
from bot.metrics import Metrics
from bot.scheduler import Scheduler, ScheduleSettings
from bot.webhooks import WebhookSender
from config.settings import Settings, parse_minutes, sqlite_path
from crm_store.engine import PoolSettings, is_sqlite
from crm_store.loyalty import LoyaltyModel
from crm_store.migrate import upgrade
from crm_store.sla import SlaPolicy
from crm_store.store import Clock, Store, utc_now
from handlers.campaign_pump import CampaignPump, PumpSettings
from handlers.context import HandlerSettings, SentimentLabeller, Services
from handlers.jobs import JobSettings
from handlers.lookup import CustomerLookup
from handlers.lookup_index import IndexSource
from handlers.quiet_hours import QuietPolicy
from handlers.router import Router

if TYPE_CHECKING:
    from bot.delivery import DeliveryLoop, SlidingWindowLimiter
    from bot.frontend import RowSender, Sender
    from bot.sample_data import SampleUser
    from bot.slack.adapter import SlackFrontEnd
    from bot.telegram.adapter import TelegramFrontEnd

_LOGGER = logging.getLogger(__name__)


def _limiter() -> SlidingWindowLimiter:
    from bot.delivery import SlidingWindowLimiter

    return SlidingWindowLimiter()


class StartupError(RuntimeError):
    """A configuration the bot refuses to run with; the message tells the operator why."""


@dataclass(slots=True)
class App:
    settings: Settings
    store: Store
    services: Services
    router: Router
    slack: SlackFrontEnd | None = None
    telegram: TelegramFrontEnd | None = None
    delivery: DeliveryLoop | None = None
    # Webhooks go out through a loop of their own over the same outbox: a slow receiver never
    # holds up a chat message.
    webhook_delivery: DeliveryLoop | None = None
    health: Health = field(default_factory=Health)
    admission: Admission = field(default_factory=Admission)
    scheduler: Scheduler | None = None
    # Send times per chat, shared by the dispatcher and the Telegram front end's direct answers,
    # so a group's 20 a minute counts both.
    limiter: SlidingWindowLimiter = field(default_factory=lambda: _limiter())
    metrics: Metrics = field(default_factory=Metrics)
    _warming: asyncio.Future[object] | None = None

    async def start(self, *, migrate: bool = True, index: bool = True) -> None:
        """Check the configuration, migrate, and (with ``index``, for commands that search
        customers) get the customer index going; a large book loads in the background."""
        if self.settings.replicas > 1 and self.store.is_sqlite:
            raise StartupError(
                "CRM_REPLICAS > 1 needs PostgreSQL: SQLite allows one writer process and must not "
                "sit on a shared volume. Set CRM_DATABASE_URL=postgresql+asyncpg://..."
            )
        if migrate:
            await upgrade(self.store.engine)
        if index:
            await self.services.lookup.start(index_source(self.settings))

    async def stop(self) -> None:
        await self.services.lookup.stop()
        await self.store.close()

    async def serve(self, *, ready: Callable[[str], None] | None = None) -> None:
        """The HTTP server and the chat front ends, until cancelled; ``ready`` gets the server URL."""
        from bot.api.app import build_api
        from bot.http import HttpServer, build_asgi
        from config.settings import parse_rate

        slack_endpoint = self.slack.http_handler.handle if self.slack and self.slack.http_handler else None
        telegram_endpoint = (
            self.telegram.webhook if self.telegram and self.telegram.settings.webhook_url else None
        )
        # The server on a thread of its own: /healthz answers there however busy this loop is,
        # and the chat requests come over to this loop.
        server = HttpServer(
            build_asgi(
                slack=slack_endpoint,
                telegram=telegram_endpoint,
                health=self.health,
                metrics=self.metrics,
                loop=asyncio.get_running_loop(),
                api=build_api(
                    self.services,
                    env_token=self.settings.api_token,
                    rate=parse_rate(self.settings.api_rate),
                ),
            ),
            host=self.settings.http_host,
            port=self.settings.http_port,
            threaded=True,
        )
        url = await server.start()
        try:
            if self.slack is not None:
                await self.slack.start()
            if self.telegram is not None:
                await self.telegram.start()
            self.start_background()
            if ready is not None:
                ready(url)
            await server.wait()
        finally:
            await self.stop_background()
            if self.telegram is not None:
                await self.telegram.stop()
            if self.slack is not None:
                await self.slack.stop()
            await server.stop()

    def add_senders(self, senders: list[Sender | RowSender]) -> None:
        """Deliver through ``senders`` too (the console's, once it exists), and let the
        scheduler reach staff on their platforms."""
        from bot.delivery import DeliveryLoop, Dispatcher

        if self.delivery is None:
            dispatcher = Dispatcher.of(self.store, senders, limiter=self.limiter, metrics=self.metrics)
            self.delivery = DeliveryLoop(dispatcher, tick=self.settings.tick_seconds)
        else:
            self.delivery.dispatcher.senders.update({s.platform: s for s in senders})
        if self.scheduler is not None:
            platforms = tuple(p for p in STAFF_PLATFORMS if p in self.delivery.dispatcher.senders)
            self.scheduler.settings = replace(self.scheduler.settings, staff_platforms=platforms)

    def start_background(self) -> None:
        """The delivery loop, then the scheduler whose ticks feed it; and, in worker threads, the
        free-text model (trained now rather than on the event loop by the first message) and a
        sentiment model still loading."""
        from bot.labeller import LoadingLabeller
        from nlp.intents import classifier

        sentiment = self.services.sentiment

        def warm_models() -> None:
            # One after the other: in parallel they would take the CPU from the first answers.
            if isinstance(sentiment, LoadingLabeller):
                sentiment.begin().exception()  # a failure is raised where the model is used
            classifier()

        self._warming = asyncio.get_running_loop().run_in_executor(None, warm_models)
        for loop in (self.delivery, self.webhook_delivery):
            if loop is not None:
                loop.start()
        if self.scheduler is not None:
            self.scheduler.start()

    async def stop_background(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop()
        for loop in (self.delivery, self.webhook_delivery):
            if loop is not None:
                await loop.stop()

    def set_telegram_username(self, username: str) -> None:
        """Invite links name the bot; its username is known once Telegram has answered getMe."""
        self.services.settings = replace(self.services.settings, telegram_username=username)

    def wake_delivery(self) -> None:
        for loop in (self.delivery, self.webhook_delivery):
            if loop is not None:
                loop.wake()

    async def is_empty(self) -> bool:
        async with self.store.read() as tx:
            return await tx.customers.count() == 0 and not await tx.people.reps()

    async def load_sample(self, you: SampleUser | None = None) -> dict[str, int]:
        from bot.sample_data import load_sample

        counts = await load_sample(self.store, you=you)
        await self.services.lookup.refresh(force=True)
        return counts


def index_source(settings: Settings) -> IndexSource | None:
    """Customer index snapshots under the data directory, built by a child process; none for
    an in-memory SQLite store, which no other process can read."""
    from bot.index_build import SnapshotIndexSource

    database = sqlite_path(settings.database_url)
    if is_sqlite(settings.database_url) and database is None:
        return None
    return SnapshotIndexSource(
        settings.data_path / "index",
        database_url=settings.database_url,
        location=str(database.resolve()) if database is not None else "",
    )


def load_sentiment(settings: Settings) -> SentimentLabeller:
    """The sentiment model, trained once and cached under the data directory."""
    from nlp.sentiment import SentimentClassifier

    return SentimentClassifier.load_or_train(settings.data_path / "models")


def running_from(start: datetime) -> Clock:
    """A clock that reads ``start`` now and runs on at the real pace (CRM_CLOCK_AT)."""
    began = time.monotonic()
    at = start.astimezone(UTC)
    return lambda: at + timedelta(seconds=time.monotonic() - began)


def build_app(
    settings: Settings,
    *,
    clock: Clock = utc_now,
    sentiment: SentimentLabeller | None = None,
) -> App:
    if settings.clock_at is not None:
        clock = running_from(settings.clock_at)
        _LOGGER.warning("the store's clock starts at %s (CRM_CLOCK_AT)", settings.clock_at.isoformat())
    store = Store.open(settings.database_url, clock=clock, pool=pool_settings(settings))
    support = settings.slack_support_channel if settings.slack_enabled else None
    services = Services(
        store=store,
        lookup=CustomerLookup(store),
        settings=HandlerSettings(
            default_timezone=settings.timezone,
            support_platform="slack" if support else None,
            support_channel=support,
            customer_access=settings.customer_access,
            quiet_hours=settings.quiet_hours,
        ),
        sentiment=sentiment,
    )
    if not is_sqlite(settings.database_url):
        _LOGGER.info("store: PostgreSQL")
    metrics = Metrics()
    router = Router(services, observe=metrics.handled)
    admission = Admission(workers=settings.workers, max_backlog=settings.max_backlog)
    app = App(
        settings=settings,
        store=store,
        services=services,
        router=router,
        slack=_slack(settings, router, store, admission),
        admission=admission,
        metrics=metrics,
    )
    if app.slack is not None:
        services.channels = app.slack.channels
    app.telegram = _telegram(settings, app)
    app.scheduler = Scheduler(
        store,
        job_settings(settings, services.settings),
        schedule_settings(settings),
        wake=app.wake_delivery,
        recommender=services.recommender,
        pump=campaign_pump(settings, store),
        metrics=metrics,
    )
    senders: list[Sender | RowSender] = [fe.sender for fe in (app.slack, app.telegram) if fe is not None]
    if senders:
        app.add_senders(senders)
    # Webhooks are sent wherever the bot runs (nothing to configure: no endpoint, no rows).
    app.webhook_delivery = webhook_loop(store, metrics, tick=settings.tick_seconds)
    return app


def campaign_pump(settings: Settings, store: Store) -> CampaignPump:
    """The campaign sender: campaigns.start_campaign fixes the audience, campaign_message is what
    each recipient gets; quiet hours are the team's (CRM_QUIET_HOURS in CRM_TIMEZONE)."""
    from bot.delivery import owner_id
    from handlers.campaign_start import start_campaign
    from handlers.campaign_text import campaign_message

    quiet = QuietPolicy.of(settings.quiet_hours, settings.timezone)
    return CampaignPump(store, start_campaign, campaign_message, PumpSettings(quiet=quiet), holder=owner_id())


def webhook_loop(store: Store, metrics: Metrics, *, tick: float) -> DeliveryLoop:
    from bot.delivery import DeliveryLoop, Dispatcher

    sender = WebhookSender(store, metrics=metrics)
    return DeliveryLoop(Dispatcher.of(store, [sender], metrics=metrics, name="webhooks"), tick=tick)


# Platforms where staff get pushes (reminders, alerts), in order of preference.
STAFF_PLATFORMS = ("slack", "console")


def job_settings(settings: Settings, handler_settings: HandlerSettings) -> JobSettings:
    return JobSettings(
        staff_platforms=(),
        late_after=timedelta(seconds=settings.reminder_late_seconds),
        loyalty=LoyaltyModel(
            recency=settings.loyalty_weight_recency,
            frequency=settings.loyalty_weight_frequency,
            monetary=settings.loyalty_weight_monetary,
            sentiment=settings.loyalty_weight_sentiment,
            csat=settings.loyalty_weight_csat,
            tickets=settings.loyalty_weight_tickets,
            k=settings.loyalty_k,
            theta=settings.loyalty_theta,
            window_days=settings.loyalty_window_days,
        ),
        alert_below=settings.loyalty_alert_below,
        alert_drop=settings.loyalty_alert_drop,
        sla=SlaPolicy(
            first_response=parse_minutes(settings.sla_first_response),
            resolution=parse_minutes(settings.sla_resolution),
            warn_fraction=settings.sla_warn_fraction,
        ),
        handlers=handler_settings,
        retention=timedelta(days=settings.retention_days),
    )


def pool_settings(settings: Settings) -> PoolSettings:
    return PoolSettings(
        size=settings.db_pool_size, overflow=settings.db_max_overflow, timeout=settings.db_pool_timeout
    )


def schedule_settings(settings: Settings) -> ScheduleSettings:
    return ScheduleSettings(
        tick_seconds=settings.tick_seconds, timezone=settings.timezone, loyalty_hour=settings.loyalty_hour
    )


def _telegram(settings: Settings, app: App) -> TelegramFrontEnd | None:
    if not settings.telegram_enabled or settings.telegram_bot_token is None:
        return None
    from bot.telegram.adapter import TelegramFrontEnd, TelegramSettings

    if settings.telegram_webhook_url and not settings.telegram_webhook_secret:
        raise StartupError(
            "TELEGRAM_WEBHOOK_URL is set without TELEGRAM_WEBHOOK_SECRET: the webhook would accept "
            "anyone's updates. Set a secret (1-256 of A-Z a-z 0-9 _ -)."
        )
    return TelegramFrontEnd(
        router=app.router,
        store=app.store,
        settings=TelegramSettings(
            token=settings.telegram_bot_token,
            api_url=settings.telegram_api_url,
            webhook_url=settings.telegram_webhook_url,
            webhook_secret=settings.telegram_webhook_secret,
        ),
        on_username=app.set_telegram_username,
        after_update=app.wake_delivery,
        limiter=app.limiter,
        health=app.health,
        admission=app.admission,
    )


def _slack(settings: Settings, router: Router, store: Store, admission: Admission) -> SlackFrontEnd | None:
    if not settings.slack_enabled or settings.slack_bot_token is None:
        return None
    from bot.slack.adapter import SlackFrontEnd, SlackSettings

    return SlackFrontEnd(
        router=router,
        store=store,
        settings=SlackSettings(
            bot_token=settings.slack_bot_token,
            signing_secret=settings.slack_signing_secret,
            app_token=settings.slack_app_token,
            api_url=settings.slack_api_url,
            managers=settings.managers,
            admins=settings.admins,
            default_timezone=settings.timezone,
        ),
        admission=admission,
    )
