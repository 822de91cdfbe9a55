"""Start `crm-bot run` as a real process on an ephemeral port, with only the settings given."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY")


async def start_run(
    tmp_path: Path, data_dir: Path, **settings: str
) -> tuple[asyncio.subprocess.Process, str, str]:
    """The process, its first line on stdout and the server URL in it. The environment keeps
    none of the caller's CRM_/SLACK_/TELEGRAM_ variables or proxies; ``data_dir`` holds the
    session's trained sentiment model, so the process only loads it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "CRM_", "TELEGRAM_"))}
    for name in PROXIES:
        env.pop(name, None)
    env.update(
        CRM_HTTP_HOST="127.0.0.1",
        CRM_HTTP_PORT="0",
        CRM_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'crm.db'}",
        CRM_DATA_DIR=str(data_dir),
        NO_PROXY="127.0.0.1,localhost",
    )
    env.update(settings)
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), timeout=60)).decode()
    assert " on http://127.0.0.1:" in line, line
    return process, line, line.split(" on ")[1].split(";")[0]
