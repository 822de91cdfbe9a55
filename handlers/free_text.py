"""Whether a free-text reading may run: its customer must resolve clearly, some readings always ask."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from crm_store.records import CustomerRecord
from handlers.access import Scope, scope_of
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
# A reading's customer longer than this is not searched part by part (a misread sentence).
PART_WORDS = 8
# A write runs on a customer found inside the reading's words only when the part names it this well
# (an exact name or word; fuzzy and prefix hits are offered instead).
PART_WRITE_SCORE = 99.0
# Words that alone never name a customer when a part of a reading's customer is tried.
_FILLER_WORDS = """
    the a an and or our my your their his her its to of for with at on in by from about re
    account customer client company team going doing things news these days lately handles
    handle know who what how is are was we they them it went well done back onsite team's
    asking want wants said says called emailed met meeting call email note new good great
    today yesterday tomorrow week month year all some any more fine ok okay
"""
_FILLER = frozenset(_FILLER_WORDS.split())
# Clauses of one message: "log a call with Acme and remind me to call Globex friday".
_CLAUSE_SPLIT = re.compile(
    r"\s*(?:[;.]\s+|,?\s+(?:and then|and also|and|then|also|plus)\s+)"
    r"(?=(?:please\s+|pls\s+)?(?:remind|log|add|set|create|open|schedule|ping|call|email|send|"
    r"book|note|record|update|change|assign|close|resolve|reply|show|find|invite|order|put|mark|"
    r"make|tell|let|snooze)\b)",
    re.IGNORECASE,
)


_HESITANT = re.compile(
    r"\b(?:should (?:i|we)|shall (?:i|we)|ought to|not sure|unsure|wonder(?:ing)?|maybe|perhaps|"
    r"do (?:i|we) (?:need|have) to|is it worth|whether|thinking (?:about|of)|might)\b|^\s*(?:if|what if)\b",
    re.IGNORECASE,
)
_REQUEST = re.compile(
    r"^\s*(?:(?:hey|hi|ok|okay),?\s+)?(?:can|could|would|will) (?:you|u)\b|^\s*(?:please|pls|kindly)\b",
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


async def _clear(
    services: Services, name: str, scope: Scope
) -> tuple[CustomerRecord | None, list[Candidate]]:
    """The customer ``name`` clearly names (``#id``, or a strong lone fit), and the candidates."""
    try:
        resolution = await services.lookup.resolve(name, scope=scope)
    except UserError:
        return None, []
    candidates = list(resolution.candidates)
    chosen = resolution.customer
    if chosen is not None and (
        name.lstrip().startswith("#") or (bool(candidates) and candidates[0].score >= FREE_TEXT_SCORE)
    ):
        return chosen, candidates
    return None, candidates


async def _clear_part(services: Services, name: str, scope: Scope) -> tuple[CustomerRecord | None, float]:
    """A customer that a part of ``name`` clearly names, and how well, when the reader kept
    words around the name ("handles the Acme", "globex went well"): longer parts first, then
    from the left."""
    words = name.split()
    if len(words) < 2 or len(words) > PART_WORDS:
        return None, 0.0
    for size in range(len(words) - 1, 0, -1):
        for start in range(len(words) - size + 1):
            part = words[start : start + size]
            if all(len(w) < 3 or w.lower().strip(".,;:!?'’") in _FILLER for w in part):
                continue
            found, candidates = await _clear(services, " ".join(part), scope)
            if found is not None:
                return found, candidates[0].score if candidates else FREE_TEXT_SCORE
    return None, 0.0


# Writes that may stand without a customer ("remind me at 5: call the bank"), so a reading of
# one that kept none runs unless its words name a customer.
_CUSTOMER_OPTIONAL = frozenset({"remind"})


async def _named_in_text(services: Services, reading: Interpretation, scope: Scope) -> CustomerRecord | None:
    """A customer the words of a customer-less write clearly name, for the writes where the
    customer is optional (a reminder's text "follow up w/ tyrell")."""
    if reading.intent not in _CUSTOMER_OPTIONAL or not reading.is_write:
        return None
    words = reading.slots.get("text", "")
    found, score = await _clear_part(services, f"{words} .", scope)  # every word may be the name
    return found if found is not None and score >= FREE_TEXT_SCORE else None


def _about(command: str, customer: str) -> str:
    """``remind <when>: <text>`` as ``remind <customer> <when>: <text>``."""
    verb, _, rest = command.partition(" ")
    return f"{verb} {customer} {rest}"


def hesitant(text: str) -> bool:
    """Whether the words muse or ask about a change rather than request it ("should we close
    12?", "not sure if Acme is a lead now"); "can you log …?" is a request."""
    if _HESITANT.search(text):
        return True
    return text.rstrip().endswith("?") and _REQUEST.match(text) is None


async def settle(services: Services, actor: Actor, reading: Interpretation, *, text: str = "") -> Settled:
    """Run a reading that reads only, or a write whose customer is clear; otherwise ask, with the
    likely customers as choices when there are some (each carries the whole reading)."""
    if reading.intent in ALWAYS_ASK:
        return Settled(None, ((reading, reading.command),), "nothing is created or sent without asking")
    if reading.is_write and hesitant(text):
        return Settled(None, ((reading, reading.command),), "that reads as a question, not a request")
    name = reading.slots.get("customer", "")
    scope = scope_of(actor, services.settings.customer_access)
    if not name:
        named = await _named_in_text(services, reading, scope)
        if named is None:
            return Settled(reading)
        # "follow up w/ tyrell on monday": the reader kept no customer, but the words name one.
        # A reminder about nobody would lose who it is about; ask which it is.
        with_them = replace(reading, command=_about(reading.command, f"#{named.id}"))
        label = _about(reading.command, describe(named))
        return Settled(
            None,
            ((with_them, label), (reading, reading.command)),
            f"that names {describe(named)}, but the reading kept no customer",
        )
    chosen, candidates = await _clear(services, name, scope)
    if chosen is not None:
        return Settled(_with_customer(reading, chosen.id))
    part, score = await _clear_part(services, name, scope)
    if part is not None and (not reading.is_write or score >= PART_WRITE_SCORE):
        # A read runs on it; a write only when that part is the customer's name as written.
        return Settled(_with_customer(reading, part.id))
    if not reading.is_write:
        return Settled(reading)  # the command answers with its own pick list or "no customer"
    if part is not None:
        # A write on a customer found inside other words is offered, never done.
        candidates = [Candidate(part, FREE_TEXT_SCORE)]
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
        # Nobody is even close: the command itself answers "No customer matches …" and writes
        # nothing, which says more than a button that could only fail the same way.
        return Settled(reading)
    return Settled(None, picks, f"{name!r} could be more than one customer")
