"""Prometheus metrics: one registry per App (never import-time globals), served at GET /metrics."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from starlette.routing import Match, Mount
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_TYPE = CONTENT_TYPE_LATEST
UNMATCHED = "<unmatched>"  # one label for every path no route knows: no label per typo'd URL

# Seconds: a command answers in milliseconds; a report or a chart may take seconds.
HANDLER_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


@dataclass(slots=True)
class Metrics:
    """Every metric the bot exports, registered on a registry of its own."""

    registry: CollectorRegistry = field(default_factory=lambda: CollectorRegistry(auto_describe=True))
    messages: Counter = field(init=False)
    handler_seconds: Histogram = field(init=False)
    outbox_depth: Gauge = field(init=False)
    outbox_oldest: Gauge = field(init=False)
    sends: Counter = field(init=False)
    send_failures: Counter = field(init=False)
    scheduler_lag: Gauge = field(init=False)
    scheduler_runs: Counter = field(init=False)
    api_requests: Counter = field(init=False)
    webhook_deliveries: Counter = field(init=False)

    def __post_init__(self) -> None:
        r = self.registry
        self.messages = Counter(
            "crm_messages_handled",
            "Messages handled, by platform and command.",
            ["platform", "command"],
            registry=r,
        )
        self.handler_seconds = Histogram(
            "crm_handler_seconds",
            "Time to answer a message, by command.",
            ["command"],
            buckets=HANDLER_BUCKETS,
            registry=r,
        )
        self.outbox_depth = Gauge(
            "crm_outbox_depth",
            "Outbox rows waiting (pending or being sent), by platform.",
            ["platform"],
            registry=r,
        )
        self.outbox_oldest = Gauge(
            "crm_outbox_oldest_pending_seconds",
            "Age of the oldest outbox row waiting, by platform (0: none waiting).",
            ["platform"],
            registry=r,
        )
        self.sends = Counter("crm_outbox_sends", "Outbox rows sent, by platform.", ["platform"], registry=r)
        self.send_failures = Counter(
            "crm_outbox_send_failures",
            "Outbox sends that failed, by platform and reason (rate_limited, retried, failed).",
            ["platform", "reason"],
            registry=r,
        )
        self.scheduler_lag = Gauge(
            "crm_scheduler_lag_seconds",
            "How late the job's last run started after its scheduled time.",
            ["job"],
            registry=r,
        )
        self.scheduler_runs = Counter(
            "crm_scheduler_runs", "Scheduled job runs, by job.", ["job"], registry=r
        )
        self.api_requests = Counter(
            "crm_api_requests",
            "HTTP requests, by route, method and status.",
            ["route", "method", "status"],
            registry=r,
        )
        self.webhook_deliveries = Counter(
            "crm_webhook_deliveries",
            "Webhook delivery attempts by outcome (delivered, retried, given_up, disabled, failed).",
            ["outcome"],
            registry=r,
        )

    def handled(self, platform: str, command: str, seconds: float) -> None:
        """A message answered (handlers.router.Observer)."""
        self.messages.labels(platform=platform, command=command).inc()
        self.handler_seconds.labels(command=command).observe(seconds)

    def outbox(self, depth: dict[str, tuple[int, float]], platforms: list[str]) -> None:
        """Set the outbox gauges: ``depth`` maps platform to (rows waiting, oldest age in s);
        every one of ``platforms`` is set, to 0 when nothing waits for it."""
        for platform in sorted(set(platforms) | set(depth)):
            rows, oldest = depth.get(platform, (0, 0.0))
            self.outbox_depth.labels(platform=platform).set(rows)
            self.outbox_oldest.labels(platform=platform).set(oldest)

    def render(self) -> bytes:
        return generate_latest(self.registry)


def route_of(app: ASGIApp, scope: Scope) -> str:
    """The route template a request matched ("/api/v1/customers/{id}"), never the raw path."""
    route = scope.get("route")  # set once routed (inside a Mount, under root_path)
    if isinstance(route, Mount):
        return UNMATCHED  # the mount took the path, and none of its routes did
    if route is not None and hasattr(route, "path"):
        return str(scope.get("root_path", "")) + str(route.path)
    node: object = app
    for _ in range(16):  # down the middleware stack to the router
        routes = getattr(node, "routes", None)
        if routes is not None:
            for candidate in routes:
                match, _ = candidate.matches(scope)
                if match == Match.FULL:
                    if isinstance(candidate, Mount):
                        return UNMATCHED  # not run through it (a middleware that answered first)
                    return str(getattr(candidate, "path", UNMATCHED))
            return UNMATCHED
        node = getattr(node, "app", None)
    return UNMATCHED


class MetricsMiddleware:
    """Counts each HTTP request by route, method and status (pure ASGI: a streamed response
    is not buffered). Mount with ``app.add_middleware(MetricsMiddleware, metrics=metrics)``."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500  # what the server answers when the app raises before starting a response

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.metrics.api_requests.labels(
                route=route_of(self.app, scope), method=scope.get("method", ""), status=str(status)
            ).inc()


def now() -> float:
    return time.perf_counter()
