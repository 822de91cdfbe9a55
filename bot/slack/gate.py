"""The door of POST /slack/events: size, signature, shape and replay checks before bolt sees a request."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import re
import time
import traceback
from collections.abc import Callable, Mapping
from functools import partial

from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from bot.admission import Admission
from bot.batch import WriteBatcher
from bot.slack.payload import JSON, Malformed, parse
from crm_store.store import Store, Tx

_LOGGER = logging.getLogger(__name__)
# The largest body Slack sends is a modal's submission (up to 100 blocks and their state); ten
# times that is still far below what would hurt.
MAX_BODY_BYTES = 1_000_000
WINDOW_SECONDS = 300  # Slack's: a signature older (or newer) than this is refused
# Used signatures are kept as processed events of this platform (purged by housekeeping).
SIGNATURES = "slack:signature"
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}")
_CONTENT_LENGTH = re.compile(r"[0-9]{1,18}")


class Refused(Exception):
    """A request answered with ``status`` before bolt sees it; ``reason`` is fixed text."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


class SlackGate:
    """``handle`` serves POST /slack/events. Too large: 413. Unsigned, badly signed or stale: 401,
    before anything is parsed. Signed but not a request Slack sends (bot.slack.payload): 400. A
    signature used before (a replay): 401. Each refusal is one log line, never the body. What
    passes goes to bolt as the JSON object that was checked, so bolt reads what the checks read."""

    def __init__(
        self,
        bolt: AsyncApp,
        *,
        store: Store,
        signing_secret: str,
        clock: Callable[[], float] = time.time,
        max_body_bytes: int = MAX_BODY_BYTES,
        admission: Admission | None = None,
    ) -> None:
        self.bolt = bolt
        self.store = store
        self._secret = signing_secret.encode()
        self.clock = clock
        self.max_body_bytes = max_body_bytes
        self.admission = admission or Admission()
        # First uses of signatures arriving together are recorded in one transaction.
        self._signatures = WriteBatcher(store, actor="slack:gate", urgent=True)
        self._dispatching: set[asyncio.Task[None]] = set()

    async def handle(self, request: Request) -> Response:
        try:
            raw = await self._read(request)
            signature = self._verify(raw, request.headers)
            payload = parse(raw, request.headers.get("content-type", ""))
            if not self.admission.admit():
                raise Refused(503, "busy")
            await self._first_use(signature)
        except Refused as refused:
            if refused.status == 503 and refused.reason == "busy":
                # Counted and logged (once in a while) by the admission; Slack may retry.
                retry = {"Retry-After": str(self.admission.retry_after)}
                return JSONResponse({"error": "busy"}, status_code=503, headers=retry)
            _LOGGER.warning("refused a Slack request (%s): %s", refused.status, refused.reason)
            return JSONResponse({"error": refused.reason}, status_code=refused.status)
        except Malformed as malformed:
            _LOGGER.warning("refused a Slack request (400): %s", malformed)
            return JSONResponse({"error": str(malformed)}, status_code=400)
        headers = {k: v for k, v in request.headers.items() if k not in ("content-type", "content-length")}
        checked = AsyncBoltRequest(body=json.dumps(payload), headers={**headers, "content-type": JSON})
        if acknowledged_at_once(payload):
            # Its answer is an empty 200 whatever the listener does: given now, and bolt (whose
            # listeners ack at once anyway) runs after it, so a busy bot still answers in time.
            task = asyncio.create_task(self._dispatch(checked))
            self._dispatching.add(task)
            task.add_done_callback(self._dispatching.discard)
            return Response(status_code=200)
        try:
            return to_starlette_response(await self.bolt.async_dispatch(checked))
        except Exception as exc:
            # A payload the checks let through but bolt could not read: a gap in bot.slack.payload.
            _LOGGER.error("slack request not dispatched: %s at %s", type(exc).__name__, _origin(exc))
            return JSONResponse({"error": "not dispatched"}, status_code=500)

    async def _dispatch(self, checked: AsyncBoltRequest) -> None:
        try:
            await self.bolt.async_dispatch(checked)
        except Exception as exc:
            _LOGGER.error("slack request not dispatched: %s at %s", type(exc).__name__, _origin(exc))

    async def close(self) -> None:
        """Let the requests already acknowledged reach their listeners, then the last batch."""
        if self._dispatching:
            await asyncio.gather(*self._dispatching, return_exceptions=True)
        await self._signatures.close()

    async def _read(self, request: Request) -> bytes:
        declared = request.headers.get("content-length", "")
        if _CONTENT_LENGTH.fullmatch(declared) and int(declared) > self.max_body_bytes:
            raise Refused(413, "body too large")
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > self.max_body_bytes:
                    raise Refused(413, "body too large")
                chunks.append(chunk)
        except ClientDisconnect:
            raise Refused(400, "client went away mid-body") from None
        return b"".join(chunks)

    def _verify(self, raw: bytes, headers: Mapping[str, str]) -> str:
        """Slack's scheme: HMAC-SHA256 over ``v0:{timestamp}:{raw body}``, timestamp within 5 min."""
        timestamp = headers.get("x-slack-request-timestamp", "")
        signature = headers.get("x-slack-signature", "")
        if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
            raise Refused(401, "missing or malformed signature headers")
        if abs(self.clock() - int(timestamp)) > WINDOW_SECONDS:
            raise Refused(401, "stale timestamp")
        signed = b"v0:" + timestamp.encode() + b":" + raw
        expected = "v0=" + hmac.new(self._secret, signed, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            raise Refused(401, "bad signature")
        return signature

    async def _first_use(self, signature: str) -> None:
        """A signature is good for one request: the same body and headers again are a replay.
        Kept in the store, so a replay to another replica or after a restart is refused too."""
        try:
            first = await self._signatures.run(partial(_claim, signature=signature))
        except Exception as exc:
            _LOGGER.error("slack request not checked for replay: %s at %s", type(exc).__name__, _origin(exc))
            raise Refused(503, "store unavailable") from None
        if not first:
            raise Refused(401, "signature already used")


# What Slack sends whose answer is an empty 200 from our listeners: they all ack() at once with
# nothing. A form submission (its answer may carry errors) and Slack's URL and SSL checks wait
# for bolt.
_ACK_AT_ONCE = frozenset({"block_actions", "event_callback", "shortcut", "message_action", "view_closed"})


def acknowledged_at_once(payload: Mapping[str, object]) -> bool:
    return "command" in payload or payload.get("type") in _ACK_AT_ONCE


async def _claim(tx: Tx, *, signature: str) -> bool:
    return await tx.events.claim(SIGNATURES, signature)


def _origin(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
