"""The webhook Sender: POSTs a signed delivery to its endpoint and records the outcome (delivered,
retried with backoff and jitter, given up after 24 h, endpoint disabled on 410 Gone)."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from bot.webhook_signature import sign
from crm_store.outbox import OutboxRow
from crm_store.store import Store
from crm_store.webhooks import PLATFORM, DeliveryRecord

if TYPE_CHECKING:
    from bot.metrics import Metrics

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WebhookSettings:
    timeout: float = 10.0
    backoff_base: float = 10.0  # seconds before the first retry, doubling
    backoff_cap: float = 3600.0
    give_up_after: timedelta = timedelta(hours=24)
    # The outbox's attempt bound never parks a webhook: the 24 h window does.
    max_attempts: int = 1_000_000


def body_of(delivery: DeliveryRecord) -> bytes:
    """The exact bytes signed and sent (compact JSON, UTF-8)."""
    return json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(slots=True)
class WebhookSender:
    """Delivers outbox rows of platform "webhook" (a RowSender: the dispatcher hands it the row
    and it records the outcome itself, as the claim's ``owner``)."""

    store: Store
    settings: WebhookSettings = field(default_factory=WebhookSettings)
    metrics: Metrics | None = None
    random: Callable[[], float] = random.random
    platform: str = PLATFORM

    def backoff(self, attempts: int) -> float:
        """10 s, 20 s, 40 s ... up to an hour, each between half and all of that (the jitter
        spreads the retries of many deliveries that failed together)."""
        full = min(self.settings.backoff_base * 2.0 ** max(attempts - 1, 0), self.settings.backoff_cap)
        return full / 2 + full / 2 * self.random()

    async def deliver(self, row: OutboxRow, *, owner: str) -> str:
        delivery_id = row.payload.get("delivery_id")
        async with self.store.write("webhook") as tx:
            delivery = (
                await tx.webhooks.start_attempt(int(delivery_id)) if isinstance(delivery_id, int) else None
            )
            endpoint = await tx.webhooks.endpoint(delivery.endpoint_id) if delivery is not None else None
            if delivery is None or endpoint is None or endpoint.disabled_at is not None:
                refused = "endpoint disabled" if endpoint is not None else "delivery not found"
                await tx.outbox.fail(row.id, error=refused, owner=owner)
                if delivery is not None:
                    await tx.webhooks.finish_attempt(delivery.id, state="failed", status=None, error=refused)
                self._count("failed")
                return "failed"
        body = body_of(delivery)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "crm-bot-webhooks/1",
            "X-CRM-Event": delivery.event_type,
            "X-CRM-Delivery": delivery.event_id,
            "X-CRM-Signature": sign(endpoint.secret, body, timestamp=int(self.store.clock().timestamp())),
        }
        status, error = await self._post(endpoint.url, body, headers)
        async with self.store.write("webhook") as tx:
            if status is not None and 200 <= status < 300:
                await tx.outbox.mark_sent(row.id, str(status), owner=owner)
                await tx.webhooks.finish_attempt(delivery.id, state="delivered", status=status, error=None)
                return self._count("delivered", "sent")
            if status == 410:
                # The receiver says the endpoint is gone for good: stop sending it anything.
                await tx.webhooks.disable(endpoint.id, reason="410 Gone from the receiver")
                await tx.outbox.fail(row.id, error="410 Gone: endpoint disabled", owner=owner)
                await tx.webhooks.finish_attempt(
                    delivery.id, state="failed", status=status, error="410 Gone: endpoint disabled"
                )
                _LOGGER.warning("webhook endpoint %s answered 410 Gone; disabled", endpoint.id)
                return self._count("disabled", "failed")
            error = error or f"HTTP {status}"  # the status only: a body may echo the payload
            window_end = delivery.window_from + self.settings.give_up_after
            if tx.now >= window_end:
                await tx.outbox.fail(row.id, error=f"given up: {error}", owner=owner)
                await tx.webhooks.finish_attempt(delivery.id, state="given_up", status=status, error=error)
                _LOGGER.error(
                    "webhook delivery %s given up after %s attempts", delivery.id, delivery.attempts
                )
                return self._count("given_up", "failed")
            # The last try comes at the end of the window, not past it.
            delay = min(timedelta(seconds=self.backoff(delivery.attempts)), window_end - tx.now)
            await tx.outbox.retry(
                row.id, error=error, delay=delay, max_attempts=self.settings.max_attempts, owner=owner
            )
            await tx.webhooks.finish_attempt(
                delivery.id, state="pending", status=status, error=error, next_attempt_at=tx.now + delay
            )
            return self._count("retried")

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int | None, str | None]:
        """The receiver's status, or None and why there is none (never the response body)."""
        import aiohttp  # here: the bot starts without loading it when no webhook is ever sent

        timeout = aiohttp.ClientTimeout(total=self.settings.timeout)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(url, data=body, headers=headers, allow_redirects=False) as response,
            ):
                return response.status, None
        except TimeoutError:
            return None, f"timeout after {self.settings.timeout:g} s"
        except (aiohttp.ClientError, OSError) as exc:
            return None, type(exc).__name__

    def _count(self, outcome: str, result: str | None = None) -> str:
        if self.metrics is not None:
            self.metrics.webhook_deliveries.labels(outcome=outcome).inc()
        return result or outcome
