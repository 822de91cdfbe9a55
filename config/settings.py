"""Settings: one pure function from a mapping to frozen settings, plus the loader that gathers
the mapping from a TOML file, a .env file and the environment (later ones win)."""

from __future__ import annotations

import math
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict
from sqlalchemy.engine import make_url

PREFIXES = ("CRM_", "SLACK_", "TELEGRAM_")


class Settings(BaseSettings):
    """Every name here is the environment variable operators set (see README)."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    database_url: str = Field("sqlite+aiosqlite:///crm.db", alias="CRM_DATABASE_URL")
    http_host: str = Field("127.0.0.1", alias="CRM_HTTP_HOST")
    http_port: int = Field(8080, alias="CRM_HTTP_PORT", ge=0, le=65535)
    timezone: str = Field("UTC", alias="CRM_TIMEZONE")
    tick_seconds: float = Field(5.0, alias="CRM_TICK_SECONDS", gt=0)
    managers: tuple[str, ...] = Field((), alias="CRM_MANAGERS")
    admins: tuple[str, ...] = Field((), alias="CRM_ADMINS")
    api_token: str | None = Field(None, alias="CRM_API_TOKEN", repr=False)
    # Requests per token to the HTTP API: "20/s,40" (20 a second, bursts of 40), "600/min", "off".
    api_rate: str = Field("20/s,40", alias="CRM_API_RATE")
    data_dir: str | None = Field(None, alias="CRM_DATA_DIR")
    log_level: str = Field("INFO", alias="CRM_LOG_LEVEL")
    replicas: int = Field(1, alias="CRM_REPLICAS", ge=1)
    # Store connections per process. PostgreSQL keeps db_pool_size open and opens up to
    # db_max_overflow more in a burst; SQLite has db_pool_size readers beside its one writer.
    # db_pool_timeout: seconds a transaction waits for a connection (or its turn) before failing.
    db_pool_size: int = Field(5, alias="CRM_DB_POOL_SIZE", ge=1, le=100)
    db_max_overflow: int = Field(5, alias="CRM_DB_MAX_OVERFLOW", ge=0, le=100)
    db_pool_timeout: float = Field(30.0, alias="CRM_DB_POOL_TIMEOUT", gt=0)
    # Chat work at once (Slack requests and Telegram updates being handled), and how many may
    # wait beyond those before a request is refused with 503 and Retry-After.
    workers: int = Field(8, alias="CRM_WORKERS", ge=1, le=1000)
    max_backlog: int = Field(1000, alias="CRM_MAX_BACKLOG", ge=1, le=1_000_000)
    # Who may work which customer: "team" (all staff, every customer) or "owner" (reps and
    # managers their own customers and unowned ones; admins everyone).
    customer_access: Literal["team", "owner"] = Field("team", alias="CRM_CUSTOMER_ACCESS")
    slack_bot_token: str | None = Field(None, alias="SLACK_BOT_TOKEN", repr=False)
    slack_signing_secret: str | None = Field(None, alias="SLACK_SIGNING_SECRET", repr=False)
    slack_app_token: str | None = Field(None, alias="SLACK_APP_TOKEN", repr=False)
    slack_api_url: str = Field("https://slack.com/api/", alias="SLACK_API_URL")
    slack_support_channel: str | None = Field(None, alias="SLACK_SUPPORT_CHANNEL")
    telegram_bot_token: str | None = Field(None, alias="TELEGRAM_BOT_TOKEN", repr=False)
    telegram_api_url: str = Field("https://api.telegram.org/bot", alias="TELEGRAM_API_URL")
    telegram_webhook_url: str | None = Field(None, alias="TELEGRAM_WEBHOOK_URL")
    telegram_webhook_secret: str | None = Field(None, alias="TELEGRAM_WEBHOOK_SECRET", repr=False)
    # A reminder reaching its rep longer than this after its time is titled "(late)" (judged as it is sent).
    reminder_late_seconds: float = Field(300.0, alias="CRM_REMINDER_LATE_SECONDS", ge=0)
    # Loyalty: score = 100 * weighted mean of six parts in [0, 1]; README explains each part.
    loyalty_weight_recency: float = Field(0.25, alias="CRM_LOYALTY_WEIGHT_RECENCY", ge=0)
    loyalty_weight_frequency: float = Field(0.15, alias="CRM_LOYALTY_WEIGHT_FREQUENCY", ge=0)
    loyalty_weight_monetary: float = Field(0.15, alias="CRM_LOYALTY_WEIGHT_MONETARY", ge=0)
    loyalty_weight_sentiment: float = Field(0.20, alias="CRM_LOYALTY_WEIGHT_SENTIMENT", ge=0)
    loyalty_weight_csat: float = Field(0.10, alias="CRM_LOYALTY_WEIGHT_CSAT", ge=0)
    loyalty_weight_tickets: float = Field(0.15, alias="CRM_LOYALTY_WEIGHT_TICKETS", ge=0)
    # Above ~7 PostgreSQL's exp() overflows on extreme scores and the nightly run fails.
    loyalty_k: float = Field(0.1, alias="CRM_LOYALTY_K", gt=0, le=5)
    loyalty_theta: float = Field(40.0, alias="CRM_LOYALTY_THETA", ge=0, le=100)
    loyalty_alert_below: float = Field(30.0, alias="CRM_LOYALTY_ALERT_BELOW", ge=0, le=100)
    loyalty_alert_drop: float = Field(15.0, alias="CRM_LOYALTY_ALERT_DROP", gt=0, le=100)
    loyalty_window_days: int = Field(90, alias="CRM_LOYALTY_WINDOW_DAYS", gt=0)
    loyalty_hour: int = Field(2, alias="CRM_LOYALTY_HOUR", ge=0, le=23)
    # SLA minutes per priority ("urgent=30,high=120,..."); a warning at this share of the time.
    sla_first_response: str = Field(
        "urgent=30,high=120,normal=480,low=1440", alias="CRM_SLA_FIRST_RESPONSE_MINUTES"
    )
    sla_resolution: str = Field(
        "urgent=240,high=1440,normal=4320,low=10080", alias="CRM_SLA_RESOLUTION_MINUTES"
    )
    sla_warn_fraction: float = Field(0.8, alias="CRM_SLA_WARN_FRACTION", gt=0, lt=1)
    # Days handled Slack events and Telegram inbox rows are kept to refuse re-deliveries; at
    # least 1 (Slack retries within minutes, Telegram keeps an update 24 h).
    retention_days: int = Field(7, alias="CRM_RETENTION_DAYS", ge=1)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Only what the loader hands in: nothing is read from the environment behind our back.
        return (init_settings,)

    @field_validator("managers", "admins", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> tuple[str, ...]:
        if value is None or value == "":
            return ()
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return tuple(str(v).strip() for v in value)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r} (use an IANA name like Europe/Berlin)") from exc
        return value

    @field_validator("customer_access", mode="before")
    @classmethod
    def _access_word(cls, value: Any) -> Any:
        # "Owner" or a blank line in a .env file mean what they say.
        return (value.strip().lower() or "team") if isinstance(value, str) else value

    @field_validator(
        "api_token",
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "slack_support_channel",
        "telegram_bot_token",
        "telegram_webhook_url",
        "telegram_webhook_secret",
        "data_dir",
        mode="before",
    )
    @classmethod
    def _blank_is_none(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("api_rate")
    @classmethod
    def _api_rate(cls, value: str) -> str:
        parse_rate(value)
        return value

    @field_validator("sla_first_response", "sla_resolution")
    @classmethod
    def _sla_minutes(cls, value: str) -> str:
        parse_minutes(value)
        return value

    @property
    def slack_enabled(self) -> bool:
        return bool(self.slack_bot_token and (self.slack_signing_secret or self.slack_app_token))

    @property
    def telegram_enabled(self) -> bool:
        return bool(self.telegram_bot_token)

    @property
    def data_path(self) -> Path:
        """Where caches live (the sentiment model): next to a SQLite store, else CRM_DATA_DIR."""
        if self.data_dir:
            return Path(self.data_dir)
        db = sqlite_path(self.database_url)
        if db is not None:
            return db.resolve().parent / "crm-data"
        return Path.home() / ".cache" / "crm-bot"


def sqlite_path(url: str) -> Path | None:
    """The database file of a SQLite URL, or None for an in-memory database or another store."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


PRIORITIES = ("low", "normal", "high", "urgent")


def parse_minutes(text: str) -> dict[str, int]:
    """``"urgent=30,high=120"`` -> minutes by priority; every priority must be named once."""
    found: dict[str, int] = {}
    for part in text.split(","):
        name, sep, value = part.strip().partition("=")
        if not sep or name.strip() not in PRIORITIES or not value.strip().isdigit() or int(value) <= 0:
            raise ValueError(f"bad SLA entry {part.strip()!r}: use priority=minutes, e.g. high=120")
        found[name.strip()] = int(value)
    missing = [p for p in PRIORITIES if p not in found]
    if missing:
        raise ValueError(f"SLA minutes missing for {', '.join(missing)}")
    return found


@dataclass(frozen=True, slots=True)
class Rate:
    per_second: float
    burst: int


_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(s|sec|second|m|min|minute)\s*(?:,\s*(\d+))?\s*$", re.I)


def parse_rate(text: str) -> Rate | None:
    """CRM_API_RATE: ``20/s,40`` (20 a second, bursts of 40), ``600/min``; ``off`` for no limit.
    The burst defaults to twice the rate a second, and at least 1."""
    if text.strip().lower() in ("off", "none"):
        return None
    match = _RATE.match(text)
    if match is None:
        raise ValueError(f"CRM_API_RATE must look like 20/s,40 or 600/min or off; got {text!r}")
    amount, unit, burst = match.groups()
    per_second = float(amount) / (60.0 if unit.lower().startswith("m") else 1.0)
    if per_second <= 0 or (burst is not None and int(burst) < 1):
        raise ValueError(f"CRM_API_RATE needs a rate and a burst above zero; got {text!r}")
    return Rate(per_second, int(burst) if burst else max(1, math.ceil(per_second * 2)))


def settings_from_mapping(values: Mapping[str, Any]) -> Settings:
    """The pure part: known names in, frozen settings out (unknown names are ignored)."""
    known = {k: v for k, v in values.items() if k.startswith(PREFIXES)}
    return Settings(**known)


def gather(
    *, environ: Mapping[str, str] | None = None, env_file: Path | None = None, toml_file: Path | None = None
) -> dict[str, Any]:
    """TOML file, then .env file, then the environment; later sources win."""
    merged: dict[str, Any] = {}
    if toml_file is not None:
        with toml_file.open("rb") as handle:
            data = tomllib.load(handle)
        merged.update({str(k).upper(): v for k, v in data.items()})
    if env_file is not None and env_file.exists():
        merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    source = os.environ if environ is None else environ
    merged.update({k: v for k, v in source.items() if k.startswith(PREFIXES)})
    return merged


def load_settings(*, toml_file: Path | None = None, env_file: Path | None = Path(".env")) -> Settings:
    return settings_from_mapping(gather(env_file=env_file, toml_file=toml_file))
