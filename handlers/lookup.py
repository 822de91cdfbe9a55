"""Finding the customer a person meant: the fuzzy index kept in step with the store."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from rapidfuzz import fuzz

from crm_store.records import CustomerRecord
from crm_store.store import Store
from handlers.access import Scope
from handlers.errors import NotFound
from handlers.parsing import id_in
from nlp.customer_index import CustomerIndex, IndexedCustomer

_LOGGER = logging.getLogger(__name__)
_JOINERS = re.compile(r"\s+(?:from|at|of|with)\s+", re.IGNORECASE)

# A hit this far ahead of the runner-up is taken without asking.
CLEAR_LEAD = 12.0
# A hit at least this good is taken when the runner-up is not close.
STRONG_SCORE = 85.0
NEAR_LEAD = 4.0
MIN_SCORE = 60.0
# How far back each refresh looks again, for clock skew between replicas and late commits.
RECHECK = timedelta(seconds=10)
# A lone hit weaker than this is offered as a one-item pick list rather than taken.
SINGLE_SCORE = 70.0
# A scoped search (CRM_CUSTOMER_ACCESS=owner) asks the index for this many times the hits it
# needs, as others' customers are dropped after ranking, widening up to SCOPED_POOL_MAX.
SCOPED_POOL_FACTOR = 8
SCOPED_POOL_MAX = 2_000


@dataclass(frozen=True, slots=True)
class Candidate:
    customer: CustomerRecord
    score: float
    field: str = "name"  # which field matched best


@dataclass(frozen=True, slots=True)
class Resolution:
    """One customer when the text names one clearly; otherwise the candidates to pick from."""

    customer: CustomerRecord | None
    candidates: tuple[Candidate, ...] = ()


def _indexed(customer: CustomerRecord) -> IndexedCustomer:
    return IndexedCustomer(
        id=customer.id,
        name=customer.name,
        company=customer.company,
        email=customer.email,
        phone=customer.phone,
    )


class CustomerLookup:
    """The in-process index over the book; follows this process's writes at once and
    other replicas' writes by polling the store's ``updated_at`` watermark."""

    def __init__(self, store: Store, *, refresh_seconds: float = 2.0) -> None:
        self.store = store
        self.index = CustomerIndex()
        self.refresh_seconds = refresh_seconds
        self._watermark: datetime | None = None
        self._after_id = 0
        self._refreshed_at = float("-inf")

    async def refresh(self, *, force: bool = False) -> int:
        """Pull changes since the last refresh; returns how many rows were applied."""
        if not force and time.monotonic() - self._refreshed_at < self.refresh_seconds:
            return 0
        applied = 0
        cursor, after_id = self._watermark, self._after_id
        if cursor is not None:
            # Re-read the last few seconds: another replica's clock may lag ours, and a
            # transaction may commit after rows stamped later were already read. Applying a
            # row twice is harmless; missing one is not.
            floor = self.store.clock() - RECHECK
            if cursor >= floor:
                cursor, after_id = floor, 0
        while True:
            async with self.store.read() as tx:
                page = await tx.customers.changed_since(cursor, after_id)
            if not page:
                break
            # One bulk upsert per page: the index folds a page in far faster than row by row.
            self.index.upsert_many(_indexed(c) for c in page if c.deleted_at is None)
            for customer in page:
                if customer.deleted_at is not None:
                    self.index.remove(customer.id)
            applied += len(page)
            cursor, after_id = page[-1].updated_at, page[-1].id
            if self._watermark is None or (cursor, after_id) > (self._watermark, self._after_id):
                self._watermark, self._after_id = cursor, after_id
        self._refreshed_at = time.monotonic()
        if applied:
            _LOGGER.debug("customer index applied %s changes", applied)
        return applied

    def note(self, customer: CustomerRecord) -> None:
        """Apply one change now (called right after this process writes a customer)."""
        if customer.deleted_at is not None:
            self.index.remove(customer.id)
        else:
            self.index.upsert(_indexed(customer))

    async def search(
        self, text: str, *, limit: int = 5, min_score: float = MIN_SCORE, scope: Scope | None = None
    ) -> list[Candidate]:
        """The best live matches; with a ``scope``, only customers it allows (the others are
        never returned, so no list, pick list or hint can show them)."""
        await self.refresh()
        scoped = scope is not None and not scope.everyone
        pool = max(limit * SCOPED_POOL_FACTOR, 40) if scoped else limit
        while True:
            matches = self.index.search(text, limit=pool, min_score=min_score)
            if not matches:
                return []
            async with self.store.read() as tx:
                records = await tx.customers.get_many([m.customer_id for m in matches])
            found = [
                Candidate(records[m.customer_id], m.score, m.field)
                for m in matches
                if m.customer_id in records
                and records[m.customer_id].deleted_at is None
                and (scope is None or scope.allows(m.customer_id, records[m.customer_id].owner_rep_id))
            ]
            if not scoped or len(found) >= limit or len(matches) < pool or pool >= SCOPED_POOL_MAX:
                return found[:limit]
            pool = min(pool * 4, SCOPED_POOL_MAX)

    @staticmethod
    def clear_choice(candidates: list[Candidate]) -> CustomerRecord | None:
        """The customer these ranked candidates clearly point at, or None when it is a guess."""
        if not candidates:
            return None
        top = candidates[0]
        if len(candidates) == 1:
            return top.customer if top.score >= SINGLE_SCORE else None
        lead = top.score - candidates[1].score
        if lead >= CLEAR_LEAD or (top.score >= STRONG_SCORE and lead >= NEAR_LEAD):
            return top.customer
        # "globex" names the company record Globex Corporation, not its contacts, who match
        # only through their company field: a lone name hit beats company/email hits near it.
        close = [c for c in candidates if top.score - c.score < CLEAR_LEAD]
        named = [c for c in close if c.field == "name"]
        if top.score >= STRONG_SCORE and len(named) == 1 and named[0] is top:
            return top.customer
        return None

    async def _person_at_company(self, text: str, scope: Scope | None) -> list[Candidate]:
        """ "bob from initech", "hank at globex": people of that name whose company matches."""
        person, company = (part.strip() for part in _JOINERS.split(text, maxsplit=1))
        if not person or not company:
            return []
        people = await self.search(person, limit=20, scope=scope)
        return [
            c
            for c in people
            if c.customer.company and fuzz.token_set_ratio(company.lower(), c.customer.company.lower()) >= 80
        ]

    async def resolve(self, text: str, *, scope: Scope | None = None) -> Resolution:
        """``#12`` names a customer by id (whoever owns it: the caller checks access, so that a
        refusal is told and audited; NotFound when there is none); anything else is matched
        fuzzily within ``scope``."""
        text = text.strip()
        customer_id = id_in(text, kind="customer", hash_only=True)
        if customer_id is not None:
            async with self.store.read() as tx:
                found = await tx.customers.get(customer_id)
            if found is None:
                raise NotFound(f"There is no customer #{customer_id}.")
            return Resolution(customer=found)
        candidates = await self.search(text, scope=scope)
        if not candidates and _JOINERS.search(text):
            candidates = await self._person_at_company(text, scope)
        chosen = self.clear_choice(candidates)
        if chosen is not None:
            return Resolution(customer=chosen, candidates=tuple(candidates))
        return Resolution(customer=None, candidates=tuple(candidates))
