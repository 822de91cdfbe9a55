"""Start `crm-bot run` as a real process on an ephemeral port, or run a one-shot `crm-bot` command,
with only the settings given."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

PROXIES = ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY")


def cli_env(tmp_path: Path, data_dir: Path, settings: dict[str, str]) -> dict[str, str]:
    """The environment keeps none of the caller's CRM_/SLACK_/TELEGRAM_ variables or proxies; the
    store is ``tmp_path``/crm.db and ``data_dir`` holds the session's trained sentiment model, so a
    process only loads it."""
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
    return env


async def start_run(
    tmp_path: Path, data_dir: Path, *args: str, **settings: str
) -> tuple[asyncio.subprocess.Process, str, str]:
    """The process (`crm-bot run <args>`), its first line on stdout and the server URL in it (see
    ``cli_env``)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        *args,
        cwd=tmp_path,
        env=cli_env(tmp_path, data_dir, settings),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stdout is not None
    line = (await asyncio.wait_for(process.stdout.readline(), timeout=60)).decode()
    assert " on http://127.0.0.1:" in line, line
    return process, line, line.split(" on ")[1].split(";")[0]


async def run_cli(tmp_path: Path, data_dir: Path, *args: str, **settings: str) -> tuple[int, str, str]:
    """Run ``crm-bot <args>`` to its end, at most a minute (see ``cli_env``): exit code, stdout,
    stderr. It runs without blocking the event loop, so fakes served by this loop answer it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        *args,
        cwd=tmp_path,
        env=cli_env(tmp_path, data_dir, settings),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode is not None
    return process.returncode, out.decode(), err.decode()
