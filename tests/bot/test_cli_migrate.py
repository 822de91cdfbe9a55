"""crm-bot migrate: one line saying what it did; Alembic's lines only with --verbose or DEBUG."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from alembic.script import ScriptDirectory

from crm_store.migrate import alembic_config, head_revision


def migrate(db: Path, *args: str, log_level: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "SLACK_", "TELEGRAM_"))}
    env["CRM_DATABASE_URL"] = f"sqlite+aiosqlite:///{db}"
    if log_level is not None:
        env["CRM_LOG_LEVEL"] = log_level
    result = subprocess.run(
        [sys.executable, "-m", "bot", "migrate", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=db.parent,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result


def test_quiet_by_default_one_line_saying_what_it_did(tmp_path: Path) -> None:
    revisions = [r.revision for r in ScriptDirectory.from_config(alembic_config()).walk_revisions()]
    head = head_revision()
    first = migrate(tmp_path / "crm.db")
    assert first.stdout == (
        f"Applied {len(revisions)} migrations ({revisions[-1]}-{head}); the database is at revision {head}.\n"
    )
    assert first.stderr == ""
    again = migrate(tmp_path / "crm.db")
    assert again.stdout == f"The database is already at revision {head}; nothing to apply.\n"
    assert again.stderr == ""


def test_verbose_or_debug_shows_alembics_lines(tmp_path: Path) -> None:
    verbose = migrate(tmp_path / "verbose.db", "--verbose")
    assert "INFO alembic.runtime.migration: Running upgrade  -> " in verbose.stderr
    assert verbose.stdout.startswith("Applied ")
    debug = migrate(tmp_path / "debug.db", log_level="DEBUG")
    assert "alembic.runtime.migration: Running upgrade" in debug.stderr
