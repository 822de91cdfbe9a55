"""The webhook functions the CLI calls: URLs and event lists checked with a clear answer, and
nothing written when they are refused; unknown and disabled endpoints and deliveries."""

from __future__ import annotations

import pytest

from crm_store.store import Store
from handlers import webhooks
from handlers.errors import NotFound, UserError
from handlers.messages import Actor
from handlers.router import Router
from tests.conftest import Chat, all_text


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("ftp://example.org/hook", "must start with http:// or https://"),
        ("example.org/hook", "must start with http:// or https://"),
        ("javascript:alert(1)", "must start with http:// or https://"),
        ("http:///nohost", "names no host"),
        ("http://example.org:http/x", "is not a URL"),
        ("http://example.org/a b", "cannot contain spaces"),
        ("https://example.org/" + "x" * 500, "too long"),
    ],
)
def test_bad_urls_are_refused_with_the_reason(url: str, says: str) -> None:
    with pytest.raises(UserError, match=says):
        webhooks.check_url(url)


def test_good_urls_pass() -> None:
    assert webhooks.check_url(" https://erp.example.org:8443/hooks/crm?x=1 ") == (
        "https://erp.example.org:8443/hooks/crm?x=1"
    )
    assert webhooks.check_url("http://127.0.0.1:9000/h") == "http://127.0.0.1:9000/h"


def test_events_are_parsed_and_unknown_ones_named() -> None:
    assert webhooks.parse_events("Ticket.Created, ticket.resolved,ticket.created,") == (
        "ticket.created",
        "ticket.resolved",
    )
    with pytest.raises(
        UserError, match=r"Unknown events: ticket\.exploded, pong\. Known events: ticket\.created"
    ):
        webhooks.parse_events("ticket.exploded,ticket.created,pong")
    with pytest.raises(UserError, match="Name at least one event"):
        webhooks.parse_events(" , ")


async def test_a_refused_add_writes_nothing(store: Store) -> None:
    for url, events in (("ftp://x.org/", "ticket.created"), ("https://x.org/", "ticket.exploded")):
        with pytest.raises(UserError):
            await webhooks.add_endpoint(store, url=url, events=events, actor="test")
    assert await webhooks.endpoints(store) == []


async def test_each_endpoint_gets_its_own_secret(store: Store) -> None:
    first = await webhooks.add_endpoint(store, url="https://a.example/", events="order.created", actor="t")
    second = await webhooks.add_endpoint(store, url="https://a.example/", events="order.created", actor="t")
    assert first.secret != second.secret and len(first.secret) == len("whsec_") + 48
    assert [e.id for e in await webhooks.endpoints(store)] == [first.endpoint.id, second.endpoint.id]


async def test_unknown_and_disabled_endpoints_and_deliveries(store: Store) -> None:
    with pytest.raises(NotFound, match=r"There is no webhook #5\."):
        await webhooks.remove_endpoint(store, 5, actor="t")
    with pytest.raises(NotFound, match=r"There is no webhook #5\."):
        await webhooks.test_endpoint(store, 5, actor="t")
    with pytest.raises(NotFound, match=r"There is no webhook delivery #7\."):
        await webhooks.redeliver(store, 7, actor="t")
    added = await webhooks.add_endpoint(store, url="https://a.example/", events="order.created", actor="t")
    queued = await webhooks.test_endpoint(store, added.endpoint.id, actor="t")
    await webhooks.remove_endpoint(store, added.endpoint.id, actor="t")
    with pytest.raises(UserError, match=r"Webhook #1 is disabled \(removed\)."):
        await webhooks.remove_endpoint(store, added.endpoint.id, actor="t")
    with pytest.raises(UserError, match="which is disabled"):
        await webhooks.redeliver(store, queued.id, actor="t")
    assert await webhooks.deliveries(store, failed=True) == []
    assert [d.id for d in await webhooks.deliveries(store)] == [queued.id]


async def test_the_webhooks_command_is_for_admins(
    store: Store, router: Router, rep: Actor, admin: Actor
) -> None:
    refused = await Chat(router, rep).say("webhooks")
    assert refused.is_error and "is for admins" in refused.text
    empty = await Chat(router, admin).say("webhooks")
    assert "No webhooks yet" in empty.text and "crm-bot webhook add" in empty.text


async def test_the_webhooks_command_lists_failures_and_redelivers(
    store: Store, router: Router, admin: Actor
) -> None:
    added = await webhooks.add_endpoint(
        store, url="https://a.example/h", events="customer.created", actor="t"
    )
    async with store.write("test") as tx:
        acme = await tx.customers.add(name="Acme")
    (queued,) = await webhooks.deliveries(store)
    async with store.write("test") as tx:
        await tx.webhooks.finish_attempt(queued.id, state="given_up", status=503, error="HTTP 503")
    chat = Chat(router, admin)
    listed = await chat.say("webhooks")
    text = all_text(listed)
    assert listed.title == "Webhooks" and "Deliveries: 1 given up." in text
    assert f"#{added.endpoint.id} https://a.example/h customer.created" in text
    assert f"#{queued.id} customer.created to webhook #1: given up 0 attempt(s), last 503" in text
    assert acme.name not in text  # a listing names events, never customers
    again = await chat.say(f"webhooks redeliver {queued.id}")
    assert again.text == f"Delivery #{queued.id} (customer.created) is queued to be sent again."
    (pending,) = await webhooks.deliveries(store)
    assert pending.state == "pending"
    busy = await chat.say(f"webhooks redeliver {queued.id}")
    assert busy.is_error and "is still pending" in busy.text
    for bad, says in (
        ("webhooks redeliver", "Name the delivery"),
        ("webhooks redeliver x", "not a delivery id"),
        ("webhooks frob", "is not something I do"),
        ("webhooks redeliver 99", "no webhook delivery #99"),
    ):
        answer = await chat.say(bad)
        assert answer.is_error and says in answer.text, bad
