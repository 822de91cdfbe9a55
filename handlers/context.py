"""What a handler receives: the message, its arguments, and the services it may use."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from crm_store.store import Store
from handlers.access import AccessMode, Scope, scope_of
from handlers.channels import ChannelDirectory
from handlers.lookup import CustomerLookup
from handlers.messages import Actor, Message
from handlers.recommend_model import ModelHolder

if TYPE_CHECKING:  # the module imports scikit-learn, a second of every start
    from nlp.sentiment import Sentiment


class SentimentLabeller(Protocol):
    """Anything that labels text; nlp.sentiment.SentimentClassifier fits."""

    def classify(self, text: str) -> Sentiment: ...

    def classify_many(self, texts: Sequence[str]) -> list[Sentiment]: ...


@dataclass(frozen=True, slots=True)
class HandlerSettings:
    default_timezone: str = "UTC"
    bot_name: str = "crm-bot"
    # Where new tickets and their conversation appear for the team (None: nowhere).
    support_platform: str | None = None
    support_channel: str | None = None
    # Platforms whose customer accounts get pushes (ticket replies, CSAT) through the outbox.
    customer_platforms: tuple[str, ...] = ("telegram",)
    # The Telegram bot's username, for invite deep links (known once Telegram has started).
    telegram_username: str | None = None
    # CRM_CUSTOMER_ACCESS: "team" (all staff work every customer) or "owner" (reps and managers
    # reach their own customers and unowned ones; admins everyone). See handlers.access.
    customer_access: AccessMode = "team"
    # CRM_QUIET_HOURS: the customers' local night, when campaigns and other non-urgent pushes
    # wait for the morning ("off": never); handlers.quiet_hours reads it with default_timezone.
    quiet_hours: str = "21:00-09:00"


@dataclass(slots=True)
class Services:
    """Everything handlers may touch, built once in bot/app.py."""

    store: Store
    lookup: CustomerLookup
    settings: HandlerSettings = field(default_factory=HandlerSettings)
    sentiment: SentimentLabeller | None = None
    # Finds Slack channels by name (`subscribe digest ... in #sales`); None without Slack.
    channels: ChannelDirectory | None = None
    # The next-product model in memory (handlers.recommend).
    recommender: ModelHolder = field(default_factory=ModelHolder)

    def now(self) -> datetime:
        return self.store.clock()


@dataclass(frozen=True, slots=True)
class Context:
    message: Message
    args: str
    services: Services
    command: str

    @property
    def actor(self) -> Actor:
        return self.message.actor

    @property
    def store(self) -> Store:
        return self.services.store

    def now(self) -> datetime:
        return self.services.now()

    @property
    def scope(self) -> Scope:
        """The customers this actor may read or change (handlers.access applies it)."""
        return scope_of(self.actor, self.services.settings.customer_access)

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.actor.timezone or self.services.settings.default_timezone)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")
