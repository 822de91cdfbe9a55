"""A small, deterministic sample book in which every README example works on a fresh install."""

from __future__ import annotations

import csv
import io
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from bot.sample_reports import add_history
from crm_store.store import Store, Tx
from handlers.order_import import MAP_EXAMPLE, customer_ref, import_order_lines, parse_mapping
from handlers.segment_run import recompute_segments

_LOGGER = logging.getLogger(__name__)

SAMPLE_ACTOR = "system:sample-data"
REPS = (("Dana Whitfield", "rep"), ("Sam Ortega", "rep"), ("Priya Raman", "manager"))
# The README's examples name Acme (customer #1) and Initech's Bob; keep both where they are.
COMPANIES = (
    ("Acme Corp", "Wile Coyote", "acme.example"),
    ("Globex Corporation", "Hank Scorpio", "globex.example"),
    ("Initech", "Bob Slydell", "initech.example"),
    ("Umbrella Logistics", "Albert Wesker", "umbrella.example"),
    ("Stark Industries", "Pepper Potts", "stark.example"),
    ("Wayne Enterprises", "Lucius Fox", "wayne.example"),
    ("Wonka Confectionery", "Charlie Bucket", "wonka.example"),
    ("Soylent Foods", "Sol Roth", "soylent.example"),
    ("Cyberdyne Systems", "Miles Dyson", "cyberdyne.example"),
    ("Tyrell Corporation", "Rachael Tyrell", "tyrell.example"),
    ("Hooli", "Gavin Belson", "hooli.example"),
    ("Pied Piper", "Richard Hendricks", "piedpiper.example"),
    ("Vandelay Industries", "Art Vandelay", "vandelay.example"),
    ("Dunder Mifflin Paper", "Michael Scott", "dundermifflin.example"),
    ("Bluth Company", "Michael Bluth", "bluth.example"),
    ("Oceanic Airlines", "Kate Austen", "oceanic.example"),
    ("Massive Dynamic", "Nina Sharp", "massivedynamic.example"),
    ("Prestige Worldwide", "Brennan Huff", "prestige.example"),
    ("Gringotts Bank", "Griphook Goblin", "gringotts.example"),
    ("Nakatomi Trading", "Joseph Takagi", "nakatomi.example"),
    ("Monarch Solutions", "Emma Russell", "monarch.example"),
    ("Aperture Science", "Cave Johnson", "aperture.example"),
    ("Black Mesa Research", "Eli Vance", "blackmesa.example"),
    ("Rekall Travel", "Douglas Quaid", "rekall.example"),
    ("Zorg Industries", "Jean-Baptiste Zorg", "zorg.example"),
    ("Los Pollos Hermanos", "Gustavo Fring", "lospollos.example"),
    ("Sirius Cybernetics", "Marvin Android", "sirius.example"),
    ("Weyland-Yutani", "Ellen Ripley", "weyland.example"),
    ("Ollivanders Wands", "Garrick Ollivander", "ollivanders.example"),
    ("Müller Maschinenbau", "Jürgen Müller", "mueller.example"),
    ("Café Lumière", "Amélie Poulain", "lumiere.example"),
    ("Nordic Timber AB", "Åsa Lindqvist", "nordictimber.example"),
)
NOTES = (
    ("call", "Discussed renewal terms; they want a multi-year discount."),
    ("email", "Sent the updated quote and the security questionnaire."),
    ("meeting", "Quarterly review went well, they are happy with onboarding."),
    ("note", "Champion is leaving in March; need a new sponsor."),
    ("call", "Complained about slow support response last week."),
    ("meeting", "Demoed the reporting module to their finance team."),
    ("email", "Asked for an invoice copy for October."),
    ("call", "Very unhappy with the last delivery, threatened to cancel."),
)
# (company, subject, first message, assigned, resolved); ticket #12 is the open, unassigned
# Acme ticket the README's `ticket 12`, `assign 12 me`, `reply 12 …` and `resolve 12 …` work on.
TICKETS = (
    (
        "Wonka Confectionery",
        "Invoice shows the wrong VAT number",
        "Our October invoice has last year's VAT id.",
        True,
        False,
    ),
    (
        "Prestige Worldwide",
        "Cannot log in to the portal",
        "Password reset mail never arrives.",
        False,
        False,
    ),
    (
        "Tyrell Corporation",
        "Delivery arrived damaged",
        "Two of the five boxes were crushed.",
        True,
        False,
    ),
    (
        "Gringotts Bank",
        "Where is my refund?",
        "Refund for order 1182 was promised two weeks ago.",
        False,
        False,
    ),
    (
        "Zorg Industries",
        "Feature request: CSV export",
        "Could we export our order history?",
        True,
        False,
    ),
    (
        "Globex Corporation",
        "New delivery address",
        "Please ship future orders to our Springfield warehouse.",
        True,
        True,
    ),
    (
        "Hooli",
        "API rate limit too low",
        "Our nightly sync hits the limit after ten minutes.",
        False,
        False,
    ),
    (
        "Stark Industries",
        "Charged twice in March",
        "The March order appears twice on our card statement.",
        True,
        False,
    ),
    (
        "Initech",
        "Cover sheet template missing",
        "The new report cover sheet is not in the portal.",
        True,
        True,
    ),
    (
        "Umbrella Logistics",
        "Tracking link broken",
        "The tracking page says 'not found' for shipment 4471.",
        False,
        False,
    ),
    (
        "Cyberdyne Systems",
        "Training for new staff",
        "Can we book an onboarding session for five new hires?",
        True,
        False,
    ),
    (
        "Acme Corp",
        "Label printer arrived broken",
        "The LP-200 we received has a cracked display and will not start.",
        False,
        False,
    ),
)
# Reminders of the person trying the book (ids 1-4, so `done 4` and `snooze 4 …` are theirs):
# (company, hours from now, text).
YOUR_REMINDERS = (
    ("Acme Corp", 2, "Send the renewal quote"),
    ("Globex Corporation", 26, "Check in after the demo"),
    ("Gringotts Bank", -3, "Call back about the refund"),
    ("Acme Corp", 5, "Confirm the replacement printer shipped"),
)
TEAM_REMINDERS = ((2, "Send the renewal quote"), (26, "Check in after the demo"), (-3, "Call back"))
# Real order lines (data/retail/README.md): each sample company takes over one shop customer's
# invoices (the first ones in the file, in order, so Acme buys as customer 17850 did); the other
# shop customers join the book as "Customer <number>". Invoices are spread over the last year.
RETAIL_SAMPLE = Path(__file__).resolve().parents[1] / "data" / "retail" / "online_retail_sample.csv"
RETAIL_DAYS = 365


@dataclass(frozen=True, slots=True)
class SampleUser:
    """The person about to try the book (the console user): joins the sample team as a rep who
    owns customers and has reminders, so `reminders`, `done 4` and `tickets mine` show theirs."""

    platform: str
    user_id: str
    display_name: str


async def load_sample(store: Store, *, seed: int = 7, you: SampleUser | None = None) -> dict[str, int]:
    """Insert the sample book; returns counts. The caller checks the store is empty."""
    rng = random.Random(seed)
    counts = {"customers": 0, "orders": 0, "interactions": 0, "tickets": 0, "reminders": 0}
    retail = RETAIL_SAMPLE.read_text(encoding="latin-1") if RETAIL_SAMPLE.exists() else ""
    twins = _shop_customers(retail)[: len(COMPANIES)]
    async with store.write(SAMPLE_ACTOR) as tx:
        now: datetime = tx.now
        rep_ids = []
        if you is not None:
            me = await tx.people.add_rep(
                display_name=you.display_name, platform=you.platform, external_id=you.user_id
            )
            rep_ids.append(me.id)
        for name, role in REPS:
            rep = await tx.people.add_rep(display_name=name, role=role)
            rep_ids.append(rep.id)
        by_company: dict[str, int] = {}
        for i, (company, contact, domain) in enumerate(COMPANIES):
            owner = rep_ids[i % len(rep_ids)]
            by_company[company] = await _add_company(
                tx,
                rng,
                index=i,
                company=company,
                contact=contact,
                domain=domain,
                owner=owner,
                counts=counts,
                external_ref=twins[i] if i < len(twins) else None,
            )
        customer_ids = list(by_company.values())
        for company, subject, body, assigned, resolved in TICKETS:
            ticket = await tx.tickets.open(
                customer_id=by_company[company], subject=subject, source="sample", first_message=body
            )
            counts["tickets"] += 1
            if assigned:
                await tx.tickets.assign(ticket.id, rng.choice(rep_ids))
            if resolved:
                await tx.tickets.resolve(ticket.id)
        # Resolved, rated history for the analysis reports (ids after the README's #12).
        counts["tickets"] += (await add_history(tx, customer_ids, rep_ids))["tickets"]
        if you is not None:
            for company, hours, text in YOUR_REMINDERS:
                await tx.reminders.add(
                    rep_id=rep_ids[0],
                    customer_id=by_company[company],
                    text=text,
                    due_at=now + timedelta(hours=hours),
                )
                counts["reminders"] += 1
        for rep_id in rep_ids[1:] if you is not None else rep_ids:
            for hours, text in TEAM_REMINDERS:
                await tx.reminders.add(
                    rep_id=rep_id,
                    customer_id=rng.choice(customer_ids),
                    text=text,
                    due_at=now + timedelta(hours=hours),
                )
                counts["reminders"] += 1
        # The console's default customer is Acme's contact, following the open ticket #12.
        await tx.people.link_customer(
            platform="console",
            external_id="customer",
            customer_id=by_company["Acme Corp"],
            display_name="Wile Coyote",
        )
    if retail:
        report = await import_order_lines(
            store,
            _redated(retail, now=now, seed=seed),
            actor=SAMPLE_ACTOR,
            mapping=parse_mapping(MAP_EXAMPLE),
            create_customers=True,
            currency="USD",  # the demo book keeps one currency; the shop's prices are in GBP
        )
        counts["customers"] += report.customers_created
        counts["orders"] += report.orders
        counts["products"] = report.products_created
        counts["order lines"] = report.lines_imported
    else:
        _LOGGER.warning("no retail sample at %s: the sample book has no products", RETAIL_SAMPLE)
    # Segments as the nightly run would leave them, so `segments` and `find segment:` answer at once.
    run = await recompute_segments(store, actor=SAMPLE_ACTOR)
    counts["segments"] = len(run.segments)
    return counts


def _shop_customers(text: str) -> list[str]:
    """The shop's customer numbers in the order they first appear."""
    if not text:
        return []
    seen = dict.fromkeys(
        customer_ref(row.get("CustomerID") or "") for row in csv.DictReader(io.StringIO(text))
    )
    return [ref for ref in seen if ref]


def _redated(text: str, *, now: datetime, seed: int) -> str:
    """The export with each invoice moved to a day of the last year (time of day kept), so the
    book has a history to segment, recommend from and forecast."""
    rng = random.Random(seed)
    reader = csv.DictReader(io.StringIO(text))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(reader.fieldnames or ()))
    writer.writeheader()
    days: dict[str, int] = {}
    for row in reader:
        invoice = row["InvoiceNo"]
        if invoice not in days:
            days[invoice] = rng.randint(1, RETAIL_DAYS)
        original = datetime.fromisoformat(row["InvoiceDate"])
        moved = (now - timedelta(days=days[invoice])).replace(
            hour=original.hour, minute=original.minute, second=original.second, microsecond=0
        )
        row["InvoiceDate"] = moved.isoformat()
        writer.writerow(row)
    return out.getvalue()


async def _add_company(
    tx: Tx,
    rng: random.Random,
    *,
    index: int,
    company: str,
    contact: str,
    domain: str,
    owner: int,
    counts: dict[str, int],
    external_ref: str | None,
) -> int:
    """One company record and its contact person, with orders and interactions; the company's id."""
    first = contact.split()[0].lower().replace("é", "e").replace("ü", "u").replace("å", "a")
    now: datetime = tx.now
    customer = await tx.customers.add(
        name=company,
        company=company,
        email=f"{first}@{domain}",
        phone=f"+1555{rng.randrange(1_000_000, 9_999_999)}",
        owner_rep_id=owner,
        status=rng.choice(("active", "active", "active", "prospect", "lead")),
        source="sample",
        tags=rng.sample(("enterprise", "smb", "vip", "renewal-q1", "partner"), k=rng.randint(0, 2)),
        custom={"industry": rng.choice(("logistics", "retail", "finance", "manufacturing", "media"))},
        external_ref=external_ref,
    )
    person = await tx.customers.add(
        name=contact,
        company=company,
        email=f"{first}.{index}@{domain}",
        owner_rep_id=owner,
        status="active",
        source="sample",
    )
    counts["customers"] += 2
    await tx.relationships.add(
        from_customer_id=person.id,
        kind="works-at",
        to_customer_id=customer.id,
        starts_at=now - timedelta(days=rng.randint(200, 1500)),
        ends_at=None,
    )
    for _ in range(rng.randint(1, 6)):
        await tx.orders.add(
            customer_id=customer.id,
            rep_id=owner,
            amount_cents=rng.randrange(20_000, 2_500_000, 100),
            note=rng.choice(("annual licence", "support add-on", "hardware", "")),
            ordered_at=now - timedelta(days=rng.randint(1, 400)),
        )
        counts["orders"] += 1
    for _ in range(rng.randint(0, 3)):
        kind, text = rng.choice(NOTES)
        await tx.interactions.add(
            customer_id=customer.id,
            rep_id=owner,
            channel="sample",
            kind=kind,
            text=text,
            occurred_at=now - timedelta(days=rng.randint(0, 120), hours=rng.randint(0, 23)),
        )
        counts["interactions"] += 1
    return customer.id
