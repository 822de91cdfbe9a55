"""A small, deterministic sample book so every command can be tried on a fresh install."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from crm_store.store import Store

SAMPLE_ACTOR = "system:sample-data"
REPS = (("Dana Whitfield", "manager"), ("Sam Ortega", "rep"), ("Priya Raman", "rep"))
COMPANIES = (
    ("Globex Corporation", "Hank Scorpio", "globex.example"),
    ("Initech", "Bill Lumbergh", "initech.example"),
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
    ("Krusty Krab", "Eugene Krabs", "krustykrab.example"),
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
TICKETS = (
    ("Invoice shows the wrong VAT number", "Our October invoice has last year's VAT id."),
    ("Cannot log in to the portal", "Password reset mail never arrives."),
    ("Delivery arrived damaged", "Two of the five boxes were crushed."),
    ("Where is my refund?", "Refund for order 1182 was promised two weeks ago."),
    ("Feature request: CSV export", "Could we export our order history?"),
)


async def load_sample(store: Store, *, seed: int = 7) -> dict[str, int]:
    """Insert the sample book; returns counts. The caller checks the store is empty."""
    rng = random.Random(seed)
    counts = {"customers": 0, "orders": 0, "interactions": 0, "tickets": 0, "reminders": 0}
    async with store.write(SAMPLE_ACTOR) as tx:
        now: datetime = tx.now
        rep_ids = []
        for name, role in REPS:
            rep = await tx.people.add_rep(display_name=name, role=role)
            rep_ids.append(rep.id)
        customer_ids = []
        for i, (company, contact, domain) in enumerate(COMPANIES):
            first = contact.split()[0].lower().replace("é", "e").replace("ü", "u").replace("å", "a")
            customer = await tx.customers.add(
                name=company,
                company=company,
                email=f"{first}@{domain}",
                phone=f"+1555{rng.randrange(1_000_000, 9_999_999)}",
                owner_rep_id=rep_ids[i % len(rep_ids)],
                status=rng.choice(("active", "active", "active", "prospect", "lead")),
                source="sample",
                tags=rng.sample(("enterprise", "smb", "vip", "renewal-q1", "partner"), k=rng.randint(0, 2)),
                custom={"industry": rng.choice(("logistics", "retail", "finance", "manufacturing", "media"))},
            )
            contact_record = await tx.customers.add(
                name=contact,
                company=company,
                email=f"{first}.{i}@{domain}",
                owner_rep_id=customer.owner_rep_id,
                status="active",
                source="sample",
            )
            customer_ids.append(customer.id)
            counts["customers"] += 2
            del contact_record
            for _ in range(rng.randint(0, 6)):
                await tx.orders.add(
                    customer_id=customer.id,
                    rep_id=customer.owner_rep_id,
                    amount_cents=rng.randrange(20_000, 2_500_000, 100),
                    note=rng.choice(("annual licence", "support add-on", "hardware", "")),
                    ordered_at=now - timedelta(days=rng.randint(1, 400)),
                )
                counts["orders"] += 1
            for _ in range(rng.randint(0, 3)):
                kind, text = rng.choice(NOTES)
                await tx.interactions.add(
                    customer_id=customer.id,
                    rep_id=customer.owner_rep_id,
                    channel="sample",
                    kind=kind,
                    text=text,
                    occurred_at=now - timedelta(days=rng.randint(0, 120), hours=rng.randint(0, 23)),
                )
                counts["interactions"] += 1
        for subject, body in TICKETS:
            ticket = await tx.tickets.open(
                customer_id=rng.choice(customer_ids), subject=subject, source="sample", first_message=body
            )
            counts["tickets"] += 1
            if rng.random() < 0.5:
                await tx.tickets.assign(ticket.id, rng.choice(rep_ids))
        for rep_id in rep_ids:
            for hours, text in (
                (2, "Send the renewal quote"),
                (26, "Check in after the demo"),
                (-3, "Call back"),
            ):
                await tx.reminders.add(
                    rep_id=rep_id,
                    customer_id=rng.choice(customer_ids),
                    text=text,
                    due_at=now + timedelta(hours=hours),
                )
                counts["reminders"] += 1
        # The console's default customer is a real sample customer with a ticket to follow.
        await tx.people.link_customer(
            platform="console",
            external_id="customer",
            customer_id=customer_ids[0],
            display_name="Hank Scorpio",
        )
    return counts
