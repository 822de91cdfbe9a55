"""GET /metrics on the running bot, parsed with prometheus_client's own parser: every family is
there, and a command handled counts against its platform and command."""

from __future__ import annotations

import asyncio
import urllib.error
import urllib.request
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.app import build_app
from bot.metrics import Metrics, MetricsMiddleware
from config.settings import settings_from_mapping
from handlers.messages import Message
from handlers.people import staff_actor

_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))

FAMILIES = {
    "crm_messages_handled",
    "crm_handler_seconds",
    "crm_outbox_depth",
    "crm_outbox_oldest_pending_seconds",
    "crm_outbox_sends",
    "crm_outbox_send_failures",
    "crm_scheduler_lag_seconds",
    "crm_scheduler_runs",
    "crm_api_requests",
    "crm_webhook_deliveries",
}


def _scrape(url: str) -> tuple[str, str]:
    with _NO_PROXY.open(url, timeout=10) as response:
        return response.headers["Content-Type"], response.read().decode()


def _status(url: str) -> int:
    try:
        with _NO_PROXY.open(url, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_metrics_of_a_running_bot(tmp_path: Path, sqlite_url: str) -> None:
    settings = settings_from_mapping(
        {
            "CRM_DATABASE_URL": sqlite_url,
            "CRM_HTTP_PORT": 0,
            "CRM_DATA_DIR": str(tmp_path),
            "CRM_TICK_SECONDS": 1,
        }
    )
    app = build_app(settings)
    await app.start(index=False)
    ready: asyncio.Future[str] = asyncio.get_running_loop().create_future()
    serving = asyncio.create_task(app.serve(ready=ready.set_result))
    try:
        url = await asyncio.wait_for(ready, 30)
        rep = await staff_actor(app.store, platform="console", user_id="sam", display_name="Sam", role="rep")
        for text in ("add Acme Corp", "find acme", "find acme"):
            await app.router.handle(Message(actor=rep, text=text))
        await app.router.handle(Message(actor=rep, text="frobnicate"))
        assert app.webhook_delivery is not None
        await app.webhook_delivery.refresh_gauges(force=True)
        loop = asyncio.get_running_loop()
        content_type, text = await loop.run_in_executor(None, _scrape, url + "/metrics")
        assert content_type.startswith("text/plain")
        families = {f.name for f in text_string_to_metric_families(text)}
        assert families >= FAMILIES
        samples = _samples(text)
        assert samples[("crm_messages_handled_total", (("command", "find"), ("platform", "console")))] == 2
        assert samples[("crm_messages_handled_total", (("command", "add"), ("platform", "console")))] == 1
        assert samples[("crm_messages_handled_total", (("command", "unknown"), ("platform", "console")))] == 1
        assert samples[("crm_handler_seconds_count", (("command", "find"),))] == 2
        assert samples[("crm_outbox_depth", (("platform", "webhook"),))] == 0
        # The scheduler ticks on start: its lag is known for the tick job once it has run.
        for _ in range(100):
            if any(name == "crm_scheduler_runs_total" for name, _ in _samples(app.metrics.render().decode())):
                break
            await asyncio.sleep(0.05)
        _, text = await loop.run_in_executor(None, _scrape, url + "/metrics")
        lags = {
            labels: v for (name, labels), v in _samples(text).items() if name == "crm_scheduler_lag_seconds"
        }
        assert (("job", "tick"),) in lags and 0 <= lags[(("job", "tick"),)] < 30
        # API requests by the route's template (the API runs on the bot's loop, behind a mount).
        for path in ("/api/v1/customers/1", "/api/v1/customers/2", "/api/v1/nothing-here"):
            await loop.run_in_executor(None, _status, url + path)
        _, text = await loop.run_in_executor(None, _scrape, url + "/metrics")
        api = {
            (dict(labels)["route"], dict(labels)["status"]): v
            for (name, labels), v in _samples(text).items()
            if name == "crm_api_requests_total"
        }
        assert api[("/api/v1/customers/{customer_id}", "401")] == 2  # no token
        assert api[("<unmatched>", "404")] == 1  # under the mount, but no route of the API's
        # The first scrape itself was counted, by route and status.
        assert (
            _samples(text)[
                ("crm_api_requests_total", (("method", "GET"), ("route", "/metrics"), ("status", "200")))
            ]
            >= 1
        )
    finally:
        serving.cancel()
        await asyncio.gather(serving, return_exceptions=True)
        await app.stop()


async def test_the_middleware_counts_requests_by_route_template_and_status() -> None:
    metrics = Metrics()

    async def customer(request: Request) -> Response:
        if request.path_params["id"] == 0:
            raise RuntimeError("boom")
        return PlainTextResponse("ok")

    api = Starlette(routes=[Route("/api/v1/customers/{id:int}", customer)])
    api.add_middleware(MetricsMiddleware, metrics=metrics)
    transport = httpx.ASGITransport(app=api, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
        assert (await client.get("/api/v1/customers/1")).status_code == 200
        assert (await client.get("/api/v1/customers/2")).status_code == 200
        assert (await client.get("/api/v1/customers/0")).status_code == 500
        assert (await client.get("/nowhere/3")).status_code == 404
    samples = _samples(metrics.render().decode())
    route = "/api/v1/customers/{id:int}"
    assert samples[("crm_api_requests_total", (("method", "GET"), ("route", route), ("status", "200")))] == 2
    assert samples[("crm_api_requests_total", (("method", "GET"), ("route", route), ("status", "500")))] == 1
    assert (
        samples[("crm_api_requests_total", (("method", "GET"), ("route", "<unmatched>"), ("status", "404")))]
        == 1
    )


def test_two_metrics_objects_in_one_process_do_not_clash() -> None:
    first, second = Metrics(), Metrics()
    first.handled("slack", "find", 0.01)
    assert b'crm_messages_handled_total{command="find",platform="slack"} 1.0' in first.render()
    assert b"crm_messages_handled_total{" not in second.render()
