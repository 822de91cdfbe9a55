"""Settings: a pure function of a mapping; sources merge in order; bad values are refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from config.settings import gather, settings_from_mapping


def test_defaults_when_nothing_set() -> None:
    s = settings_from_mapping({})
    assert s.database_url == "sqlite+aiosqlite:///crm.db"
    assert (s.http_host, s.http_port, s.timezone, s.tick_seconds) == ("127.0.0.1", 8080, "UTC", 5.0)
    assert not s.slack_enabled and not s.telegram_enabled
    assert s.retention_days == 7 and settings_from_mapping({"CRM_RETENTION_DAYS": "30"}).retention_days == 30


def test_lists_blanks_and_enabling() -> None:
    s = settings_from_mapping(
        {
            "CRM_MANAGERS": "U1, U2,",
            "CRM_ADMINS": "",
            "SLACK_BOT_TOKEN": "xoxb-1",
            "SLACK_SIGNING_SECRET": "s",
            "TELEGRAM_BOT_TOKEN": " ",
            "PATH": "/bin",
        }
    )
    assert s.managers == ("U1", "U2") and s.admins == ()
    assert s.slack_enabled and not s.telegram_enabled


def test_secrets_stay_out_of_repr() -> None:
    s = settings_from_mapping({"SLACK_BOT_TOKEN": "xoxb-secret", "TELEGRAM_BOT_TOKEN": "123:ABC"})
    assert "xoxb-secret" not in repr(s) and "123:ABC" not in repr(s)


@pytest.mark.parametrize(
    "values",
    [
        {"CRM_TIMEZONE": "Mars/Olympus"},
        {"CRM_HTTP_PORT": "99999"},
        {"CRM_TICK_SECONDS": "0"},
        {"CRM_RETENTION_DAYS": "0"},  # a Slack retry could then pass as a new event
        {"CRM_DB_POOL_SIZE": "0"},  # no reader could ever run
        {"CRM_DB_MAX_OVERFLOW": "-1"},
        {"CRM_DB_POOL_TIMEOUT": "0"},
    ],
)
def test_bad_values_refused(values: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        settings_from_mapping(values)


def test_sources_merge_toml_then_env_file_then_environment(tmp_path: Path) -> None:
    toml = tmp_path / "crm.toml"
    toml.write_text('CRM_TIMEZONE = "Europe/Berlin"\nCRM_HTTP_PORT = 9000\nCRM_TICK_SECONDS = 2\n')
    env = tmp_path / ".env"
    env.write_text("CRM_HTTP_PORT=9100\nCRM_MANAGERS=U9\n")
    merged = gather(environ={"CRM_MANAGERS": "U1", "HOME": "/root"}, env_file=env, toml_file=toml)
    s = settings_from_mapping(merged)
    assert (s.timezone, s.http_port, s.tick_seconds, s.managers) == ("Europe/Berlin", 9100, 2.0, ("U1",))


def test_sla_minutes_are_parsed_and_checked() -> None:
    from config.settings import parse_minutes

    s = settings_from_mapping({"CRM_SLA_FIRST_RESPONSE_MINUTES": "urgent=5,high=10,normal=20,low=40"})
    assert parse_minutes(s.sla_first_response) == {"urgent": 5, "high": 10, "normal": 20, "low": 40}
    for bad in ("urgent=5", "urgent=x,high=1,normal=1,low=1", "fast=1,urgent=1,high=1,normal=1,low=1"):
        with pytest.raises(ValidationError):
            settings_from_mapping({"CRM_SLA_RESOLUTION_MINUTES": bad})


def test_pool_settings_reach_the_store() -> None:
    from bot.app import pool_settings
    from crm_store.engine import PoolSettings

    assert pool_settings(settings_from_mapping({})) == PoolSettings(size=5, overflow=5, timeout=30.0)
    given = {"CRM_DB_POOL_SIZE": "3", "CRM_DB_MAX_OVERFLOW": "0", "CRM_DB_POOL_TIMEOUT": "7.5"}
    assert pool_settings(settings_from_mapping(given)) == PoolSettings(size=3, overflow=0, timeout=7.5)
