"""The Slack app manifest asks for what the adapter listens to and calls, and no more."""

from __future__ import annotations

from pathlib import Path

from bot.slack import adapter

MANIFEST = (Path(__file__).parents[3] / "config" / "slack-manifest.yml").read_text(encoding="utf-8")


def test_manifest_matches_the_adapter() -> None:
    assert f"command: {adapter.COMMAND}" in MANIFEST
    assert f"callback_id: {adapter.SHORTCUT}" in MANIFEST
    for event in ("app_home_opened", "app_mention", "message.im", "message.channels"):
        assert f"- {event}" in MANIFEST
    for scope in (
        "commands",
        "chat:write",
        "im:history",
        "im:write",
        "app_mentions:read",
        "users:read",
        "channels:history",
        "files:write",
        "channels:read",
        "groups:read",
    ):
        assert f"- {scope} " in MANIFEST or f"- {scope}\n" in MANIFEST
    assert MANIFEST.count("/slack/events") == 3
