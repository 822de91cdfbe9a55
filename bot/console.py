"""The console front end: a prompt on a terminal, one message per line when scripted."""

from __future__ import annotations

import asyncio
import itertools
import logging
from datetime import datetime
from pathlib import Path
from typing import TextIO

from bot.console_render import render_text
from handlers.messages import Actor, Message, Reply
from handlers.router import Router

_LOGGER = logging.getLogger(__name__)
PROMPT = "crm> "
QUIT_WORDS = frozenset({"quit", "exit", r"\q"})


class ConsoleFrontEnd:
    """Reads lines, answers each; a bare number presses that button of the last answer. A
    reply's image (a digest's chart) is written to a file in ``image_dir`` and its path printed."""

    def __init__(
        self,
        router: Router,
        actor: Actor,
        *,
        stdin: TextIO,
        stdout: TextIO,
        interactive: bool,
        image_dir: Path | None = None,
    ) -> None:
        self.router = router
        self.actor = actor
        self.stdin = stdin
        self.stdout = stdout
        self.interactive = interactive
        self.image_dir = image_dir
        self._choices: tuple[str, ...] = ()
        self._images = itertools.count(1)

    def _save_image(self, reply: Reply) -> str | None:
        """Where the reply's image was written, as the line to print; None without an image."""
        if reply.image is None or self.image_dir is None:
            return None
        # A name per image, so that a later chart never overwrites one already shown.
        named = Path(Path(reply.image_name or "chart.png").name)
        stamp = f"{datetime.now():%Y%m%d-%H%M%S}-{next(self._images)}"
        path = self.image_dir.resolve() / f"{named.stem}-{stamp}{named.suffix or '.png'}"
        try:
            self.image_dir.mkdir(parents=True, exist_ok=True)
            path.write_bytes(reply.image)
        except OSError as exc:
            _LOGGER.warning("could not write a chart to %s: %s", self.image_dir, type(exc).__name__)
            return f"not saved ({exc.strerror or type(exc).__name__} in {self.image_dir})"
        return f"saved to {path}"

    def show(self, reply: Reply) -> None:
        """Print a reply (also used for pushes such as reminders). A press's notice (a toast)
        leaves the last answer's buttons pressable, as a platform leaves the message that had them."""
        rendered = render_text(reply, image_note=self._save_image(reply))
        if not reply.toast:
            self._choices = rendered.choices
        self.stdout.write(rendered.text + "\n\n")
        self.stdout.flush()

    def message_for(self, line: str) -> Message:
        text = line.strip()
        if text.isdecimal() and self._choices and 1 <= int(text) <= len(self._choices):
            return Message(actor=self.actor, action=self._choices[int(text) - 1])
        return Message(actor=self.actor, text=text)

    async def _read_line(self) -> str | None:
        loop = asyncio.get_running_loop()
        if self.interactive:
            try:
                return await loop.run_in_executor(None, input, PROMPT)
            except EOFError:
                return None
        line = await loop.run_in_executor(None, self.stdin.readline)
        return line if line else None

    async def run(self) -> None:
        while True:
            line = await self._read_line()
            if line is None:
                break
            if not line.strip():
                continue
            if self.interactive and line.strip().lower() in QUIT_WORDS:
                break
            message = self.message_for(line)
            # Numbers always refer to the last answer shown, which show() records.
            self.show(await self.router.handle(message))


class ConsoleSender:
    """Delivers outbox rows addressed to console users by printing them (reminders, alerts,
    digests show up in the terminal as they would in a Slack DM)."""

    platform = "console"

    def __init__(self, frontend: ConsoleFrontEnd) -> None:
        self.frontend = frontend
        self._ids = itertools.count(1)

    async def send(self, target: str, reply: Reply, *, thread: str | None) -> str:
        self.frontend.show(reply)
        return f"console-{next(self._ids)}"
