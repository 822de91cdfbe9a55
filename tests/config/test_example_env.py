"""config/example.env lists every setting, and only settings, each with its default."""

from __future__ import annotations

from pathlib import Path

from dotenv import dotenv_values

import config
from config.settings import Settings, settings_from_mapping

EXAMPLE = Path(config.__file__).with_name("example.env")


def _listed() -> dict[str, str | None]:
    """The names the example sets (commented-out alternatives are not settings)."""
    return dict(dotenv_values(EXAMPLE))


def test_example_env_lists_every_setting_and_nothing_else() -> None:
    known = {field.alias for field in Settings.model_fields.values()}
    assert None not in known
    listed = set(_listed())
    assert sorted(known - listed) == [], "settings missing from config/example.env"
    assert sorted(listed - known) == [], "names in config/example.env that no setting reads"


def test_example_env_values_are_the_defaults() -> None:
    """Copying the example to .env changes nothing: what it shows is what you get unset."""
    values = {k: v for k, v in _listed().items() if v is not None}
    assert settings_from_mapping(values) == settings_from_mapping({})
