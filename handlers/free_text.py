"""Whether a free-text reading may run: its customer must resolve clearly, some readings always ask."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from handlers.access import scope_of
from handlers.common import describe
from handlers.context import Services
from handlers.errors import UserError
from handlers.lookup import STRONG_SCORE, Candidate
from handlers.messages import Actor
from nlp.intents import Interpretation

# Readings that never run from free text, however sure: a new customer named from a sentence
# (the "customer named after a whole sentence"), a relation between two customers, and
# anything a campaign sends.
ALWAYS_ASK = frozenset({"add", "relate", "unrelate", "campaign"})
# A customer named in free text that a write would use is taken only when it is this clear.
FREE_TEXT_SCORE = STRONG_SCORE
PICKS = 3
# Clauses of one message: "log a call with Acme and remind me to call Globex friday".
_CLAUSE_SPLIT = re.compile(
    r"\s*(?:[;.]\s+|,?\s+(?:and then|and also|and|then|also|plus)\s+)"
    r"(?=(?:please\s+|pls\s+)?(?:remind|log|add|set|create|open|schedule|ping|call|email|send|"
    r"book|note|record|update|change|assign|close|resolve|reply|show|find|invite|order|put|mark|"
    r"make|tell|let|snooze)\b)",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Settled:
    """A reading that may run as it stands (``run``), or the readings to ask about instead,
    each with the label its button shows."""

    run: Interpretation | None
    ask: tuple[tuple[Interpretation, str], ...] = ()
    why: str = ""


def clauses(text: str) -> list[str]:
    """The requests one message makes, in order; one item when it makes one."""
    parts = [p.strip(" ,;.") for p in _CLAUSE_SPLIT.split(text)]
    return [p for p in parts if len(p.split()) >= 2]


def _with_customer(reading: Interpretation, customer_id: int, *, shown: str = "") -> Interpretation:
    """The reading with its customer written as ``#id`` (or ``shown``, for a button's label),
    when the command starts with it, so the command runs on the customer that was checked and
    not on a second fuzzy match."""
    name = reading.slots.get("customer", "")
    verb, _, rest = reading.command.partition(" ")
    if not name or not rest.lower().startswith(name.lower()):
        return reading
    return replace(reading, command=f"{verb} {shown or f'#{customer_id}'}{rest[len(name) :]}")


async def settle(services: Services, actor: Actor, reading: Interpretation) -> Settled:
    """Run a reading that reads only, or a write whose customer is clear; otherwise ask, with the
    likely customers as choices when there are some (each carries the whole reading)."""
    if reading.intent in ALWAYS_ASK:
        return Settled(None, ((reading, reading.command),), "nothing is created or sent without asking")
    name = reading.slots.get("customer", "")
    if not reading.is_write or not name:
        return Settled(reading)
    scope = scope_of(actor, services.settings.customer_access)
    try:
        resolution = await services.lookup.resolve(name, scope=scope)
    except UserError:
        return Settled(None, ((reading, reading.command),), f"there is no customer {name!r}")
    chosen = resolution.customer
    candidates: list[Candidate] = list(resolution.candidates)
    clear = chosen is not None and (
        name.lstrip().startswith("#") or (bool(candidates) and candidates[0].score >= FREE_TEXT_SCORE)
    )
    if chosen is not None and clear:
        return Settled(_with_customer(reading, chosen.id))
    if not candidates:
        candidates = await services.lookup.search(name, limit=PICKS, min_score=50, scope=scope)
    picks = tuple(
        (
            _with_customer(reading, c.customer.id),
            _with_customer(reading, c.customer.id, shown=describe(c.customer)).command,
        )
        for c in candidates[:PICKS]
    )
    if not picks:
        return Settled(None, ((reading, reading.command),), f"no customer matches {name!r}")
    return Settled(None, picks, f"{name!r} could be more than one customer")
