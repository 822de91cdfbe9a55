"""forecast <customer>|team [days], the card's forecast line, report revenue, the weekly
digest's revenue at risk, and p_active in the churn risk; with the bad-input answers."""

from __future__ import annotations

import struct
from datetime import timedelta

import pytest

from crm_store.store import Store
from handlers.digests import digest_now
from handlers.forecast_book import run_forecast
from handlers.jobs import JobSettings, run_loyalty
from handlers.messages import Actor, Reply
from handlers.router import Router
from tests.conftest import Chat, all_text, services_for

STEADY = 30
LAPSED = 30


def _png_size(image: bytes | None) -> tuple[int, int]:
    assert image is not None and image.startswith(b"\x89PNG\r\n\x1a\n")
    width, height = struct.unpack(">II", image[16:24])
    return width, height


async def seed_book(store: Store, *, days: int = 540, owner: Actor | None = None) -> None:
    """Steady N Co orders $100 every 14 days throughout; Lapsed N Co ordered weekly until
    300 days ago (half of each owned by ``owner``); Lead Only never ordered."""
    async with store.write("test") as tx:
        rows = []
        for n in range(STEADY + LAPSED):
            steady = n < STEADY
            name = f"{'Steady' if steady else 'Lapsed'} {n} Co"
            owned = owner.rep_id if owner is not None and n % 2 == 0 else None
            customer = await tx.customers.add(name=name, email=f"b{n}@example.org", owner_rep_id=owned)
            age = days - (n % 5)
            stop = 0 if steady else 300
            gap = 14 if steady else 7
            while age > stop:
                rows.append(
                    {
                        "customer_id": customer.id,
                        "amount_cents": 10_000 + 100 * (n % 7),
                        "ordered_at": tx.now - timedelta(days=age),
                    }
                )
                age -= gap
        await tx.orders.add_many(rows, source="test")
        await tx.customers.add(name="Lead Only")


async def test_customer_forecast_steady_and_lapsed(chat: Chat, store: Store) -> None:
    await seed_book(store)
    steady = await chat.say("forecast steady 3 co")
    assert steady.title == "Forecast: Steady 3 Co (#4)"
    assert steady.text.startswith("Next 90 days: ") and "likely to order" in steady.text
    assert _png_size(steady.image) == (700, 420)
    likely = int(steady.text.split("; ")[1].split("%")[0])
    assert likely >= 70
    assert "gradient boosting" in all_text(steady) and "usually every 14 days" in all_text(steady)
    lapsed = await chat.say("forecast lapsed 40 co 30")
    assert lapsed.text.startswith("Next 30 days: ")
    assert int(lapsed.text.split("; ")[1].split("%")[0]) <= 20
    assert "may have lapsed" in all_text(lapsed)


async def test_team_forecast_and_revenue_report(router: Router, store: Store, manager: Actor) -> None:
    await seed_book(store)
    chat = Chat(router, manager)
    team = await chat.say("forecast team 60")
    assert team.title == "Forecast: the whole book, next 60 days"
    assert "90% interval" in team.text and _png_size(team.image) == (700, 420)
    assert any("forecast" in item.text for item in team.items)
    assert any("actual" in item.text for item in team.items)
    report = await chat.say("report revenue")
    assert (
        report.title == "Revenue report: the last 12 months and the next 90 days" and report.image is not None
    )
    assert "next 30 days" in (await chat.say("report revenue 30")).title
    assert "Days must be 7 to 365" in (await chat.say("report revenue 3")).text


async def test_team_under_owner_scoping_counts_only_the_reps_book(store: Store, rep: Actor) -> None:
    await seed_book(store, owner=rep)
    async with store.write("test") as tx:
        other = await tx.people.add_rep(display_name="Other")  # owns the odd-numbered buyers
        await tx.conn.exec_driver_sql(f"UPDATE customers SET owner_rep_id = {other.id} WHERE id % 2 = 0")
    whole = await Chat(Router(services_for(store)), rep).say("forecast team")
    scoped = await Chat(Router(services_for(store, customer_access="owner")), rep).say("forecast team")
    assert "for the whole book" in whole.text
    assert "for your customers and unowned ones" in scoped.text
    assert "from 60 customers" in whole.text and "from 30 customers" in scoped.text


async def test_bad_input_gets_clear_answers(chat: Chat, store: Store) -> None:
    assert "Usage: forecast <customer>|team [days]" in (await chat.say("forecast")).text
    assert "No customer matches" in (await chat.say("forecast nobodyhere")).text
    await seed_book(store)
    assert "has no orders yet" in (await chat.say("forecast lead only")).text
    assert "Days must be 7 to 365" in (await chat.say("forecast steady 3 co 5000")).text


async def test_too_little_history_is_a_clear_answer(chat: Chat, store: Store) -> None:
    async with store.write("test") as tx:
        for name in ("Acme", "Globex"):
            customer = await tx.customers.add(name=name)
            await tx.orders.add(customer_id=customer.id, rep_id=None, amount_cents=5_000)
    reply = await chat.say("forecast acme")
    assert "too little order history to forecast" in reply.text and not reply.is_error
    assert "too little order history" in (await chat.say("forecast team")).text


async def test_card_line_digest_and_churn_risk_after_the_nightly_run(
    chat: Chat, store: Store, router: Router, manager: Actor
) -> None:
    await seed_book(store)
    card = await chat.say("show steady 3 co")
    assert "Next 90 days" not in all_text(card)  # no run yet: the card says nothing
    await run_loyalty(store, JobSettings(staff_platforms=("console",)))  # runs the forecast first
    card = await chat.say("show steady 3 co")
    line = card.context.splitlines()[-1]
    assert line.startswith("Next 90 days: ") and "orders, about $" in line and "likely to order" in line
    weekly: Reply = await digest_now(store, cadence="weekly", tz="UTC", now=store.clock())
    at_risk = [i.text for i in weekly.items if i.text.startswith("Revenue at risk")]
    amounts = [float(t.split("· $")[1].split(" ")[0].replace(",", "")) for t in at_risk]
    assert len(at_risk) == 5 and amounts == sorted(amounts, reverse=True)
    daily = await digest_now(store, cadence="daily", tz="UTC", now=store.clock())
    assert not any(i.text.startswith("Revenue at risk") for i in daily.items)
    async with store.read() as tx:
        steady = (await tx.loyalty.for_customer(4))[0]
        lapsed = (await tx.loyalty.for_customer(40))[0]
        stored = await tx.forecast.latest_for(40)
    assert stored is not None and stored.p_active < 0.2
    assert lapsed.churn_risk > steady.churn_risk


async def test_run_forecast_on_an_empty_book_stores_nothing(store: Store) -> None:
    assert await run_forecast(store) is None
    async with store.read() as tx:
        assert await tx.forecast.latest_run() is None


@pytest.mark.parametrize("days", ["0", "6", "366"])
async def test_days_out_of_range(chat: Chat, days: str) -> None:
    assert "Days must be 7 to 365" in (await chat.say(f"forecast team {days}")).text


async def test_same_day_same_book_is_fitted_once(
    chat: Chat, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    import handlers.forecast_book as book

    await seed_book(store)
    fits: list[int] = []
    real = book.forecast

    def counting(*args: object, **kwargs: object) -> object:
        fits.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(book, "forecast", counting)
    first = await chat.say("forecast steady 3 co")
    again = await chat.say("forecast steady 3 co")
    assert len(fits) == 1 and first.text == again.text
    async with store.write("test") as tx:
        await tx.orders.add(customer_id=4, rep_id=None, amount_cents=1_000)
    await chat.say("forecast steady 3 co")
    assert len(fits) == 2  # a new order: fitted again
