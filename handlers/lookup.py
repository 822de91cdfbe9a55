"""Finding the customer a person meant: the fuzzy index kept in step with the store."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from dataclasses import dataclass
from datetime import datetime

from rapidfuzz import fuzz

from crm_store.records import CustomerRecord
from crm_store.store import Store
from handlers.access import Scope
from handlers.errors import NotFound
from handlers.lookup_index import RECHECK, BuiltIndex, IndexSource, build_index, read_book
from handlers.parsing import id_in
from nlp.customer_index import MAX_QUERY_CHARS, CustomerIndex, IndexedCustomer, Match
from nlp.customer_scoring import MIN_NATIONAL_DIGITS, Query

_LOGGER = logging.getLogger(__name__)
_JOINERS = re.compile(r"\s+(?:from|at|of|with)\s+", re.IGNORECASE)

# A hit this far ahead of the runner-up is taken without asking.
CLEAR_LEAD = 12.0
# A hit at least this good is taken when the runner-up is not close.
STRONG_SCORE = 85.0
NEAR_LEAD = 4.0
MIN_SCORE = 60.0
# A lone hit weaker than this is offered as a one-item pick list rather than taken.
SINGLE_SCORE = 70.0
# A scoped search (CRM_CUSTOMER_ACCESS=owner) asks the index for this many times the hits it
# needs, as others' customers are dropped after ranking, widening up to SCOPED_POOL_MAX.
SCOPED_POOL_FACTOR = 8
SCOPED_POOL_MAX = 2_000
# Changes are read this many rows at a time and applied APPLY_STEP at a time, other tasks on
# the event loop running in between (turning a page into records is event-loop work too).
CHANGES_PAGE = 2_000
APPLY_STEP = 500
# A book up to this size is read and indexed at start before anything answers (well under a
# second); a larger one never holds up start (see CustomerLookup.start).
SMALL_BOOK = 20_000
# How long start waits for a saved index to load and catch up before the exact path answers.
SETTLE_SECONDS = 2.0
# Changes since the last whole-book build that call for a new one: they cost memory here and
# catch-up time at the next start, while a build costs a child process some CPU seconds.
REBUILD_MIN = 10_000
REBUILD_FRACTION = 0.02
# How often a started lookup checks whether a build is due, and waits after a failed one.
MAINTAIN_SECONDS = 30.0
RETRY_SECONDS = 60.0
# The exact path: rows it scores, query words it requires (the longest ones).
PLAIN_CANDIDATES = 400
PLAIN_WORDS = 6
LOADING_NOTE = "The search index is still loading, so only exact and prefix matches count for now."


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
    other replicas' writes by polling the store's ``updated_at`` watermark.

    On its own it reads the whole book at the first refresh.  Started with an IndexSource
    (``start``, as the bot does), a large book never holds up start: the saved index is
    loaded and caught up, or a new one is built in the background while searches take a
    slower exact path through the store (``complete`` is False until the index is in), and
    the index is built again in the background once enough has changed since.
    """

    def __init__(self, store: Store, *, refresh_seconds: float = 2.0) -> None:
        self.store = store
        self.index = CustomerIndex()
        self.refresh_seconds = refresh_seconds
        self._watermark: datetime | None = None
        self._after_id = 0
        self._refreshed_at = float("-inf")
        self._loaded = False  # the whole book has been read into self.index
        self._complete = True
        self._refreshing = asyncio.Lock()
        # A new whole-book index while it catches up: this process's writes go to it too.
        self._replacement: CustomerIndex | None = None
        self._source: IndexSource | None = None
        self._task: asyncio.Task[None] | None = None
        # One exact-path scan at a time: each reads the whole table.
        self._scans = asyncio.Semaphore(1)

    @property
    def complete(self) -> bool:
        """False while a started lookup loads its index and searches find exact and prefix
        matches only; answers that depend on that say so (LOADING_NOTE)."""
        return self._complete

    # -- keeping the index -------------------------------------------------------------

    async def start(self, source: IndexSource | None, *, small_book: int = SMALL_BOOK) -> None:
        """Have the index ready without holding up start on a large book (see the class)."""
        async with self.store.read() as tx:
            store_id = await tx.meta.store_id()
            size = await tx.customers.highest_id()
        if source is None or store_id is None:
            await self.refresh(force=True)
            return
        self._source = source
        if size <= small_book:
            await self.refresh(force=True)
            # Grown later, it is rebuilt in the background like a large one, never inline.
            self.index.auto_rebuild = False
            self._task = asyncio.create_task(self._keep_fresh(source, store_id), name="customer-index")
            return
        self._complete = False
        settled = asyncio.Event()
        self._task = asyncio.create_task(self._warm(source, store_id, settled), name="customer-index")
        waiter = asyncio.create_task(settled.wait())
        # A saved index loads in well under a second: worth waiting for; a build is not.
        await asyncio.wait({waiter, self._task}, timeout=SETTLE_SECONDS, return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._source is not None:
            await self._source.close()

    async def _warm(self, source: IndexSource, store_id: str, settled: asyncio.Event) -> None:
        while not self._complete:
            try:
                built = await source.load(store_id)
                if built is not None and not await self._fits_store(built):
                    built = None
                if built is None:
                    settled.set()  # a build takes a while: start stops waiting, the exact path answers
                    built = await source.build(store_id)
                await self._install(built)
                self._complete = True
                _LOGGER.info("customer index ready: %s customers", len(self.index))
            except asyncio.CancelledError:
                raise
            except Exception:
                _LOGGER.exception("customer index: no index yet; searches take the exact path meanwhile")
                settled.set()
                await asyncio.sleep(RETRY_SECONDS)
        settled.set()
        if not await self._count_agrees():
            _LOGGER.warning("customer index: the saved index disagrees with the store; building it again")
            await self._rebuild(source, store_id)
        await self._keep_fresh(source, store_id)

    async def _keep_fresh(self, source: IndexSource, store_id: str) -> None:
        while True:
            await asyncio.sleep(MAINTAIN_SECONDS)
            if self.index.pending >= max(REBUILD_MIN, REBUILD_FRACTION * len(self.index)):
                await self._rebuild(source, store_id)

    async def _rebuild(self, source: IndexSource, store_id: str) -> None:
        """A new whole-book index in the background; the current one answers until it is in."""
        try:
            await self._install(await source.build(store_id))
        except asyncio.CancelledError:
            raise
        except Exception:
            _LOGGER.exception("customer index: a rebuild failed; keeping the current index")
            await asyncio.sleep(RETRY_SECONDS)

    async def _fits_store(self, built: BuiltIndex) -> bool:
        """A saved index newer than anything in the store was made from something else (a
        store restored from a backup): it must not be trusted."""
        if built.since.latest is None:
            return True
        async with self.store.read() as tx:
            latest = await tx.customers.latest_change()
        if latest is None or latest < built.since.latest:
            _LOGGER.warning("customer index: the saved index is newer than the store; not used")
            return False
        return True

    async def _count_agrees(self) -> bool:
        """Whether the index holds as many customers as the store (rows removed behind the
        store's back leave no change to follow); asked twice, as writes may land in between."""
        for _ in range(2):
            async with self.store.read() as tx:
                live = await tx.customers.count()
            if live == len(self.index):
                return True
            await self.refresh(force=True)
        return False

    async def _install(self, built: BuiltIndex) -> None:
        """Catch ``built`` up with the changes since its read and put it in place of the current index."""
        index = built.index
        index.auto_rebuild = self._source is None  # started: rebuilt in the background instead
        cursor = built.since.resume
        async with self._refreshing:  # a refresh of the old index must not move the watermark meanwhile
            self._replacement = index
            try:
                _, watermark, after_id = await self._apply_changes(index, cursor, 0)
            finally:
                self._replacement = None
            self.index = index
            self._watermark, self._after_id = watermark, after_id
            self._loaded = True
            self._refreshed_at = time.monotonic()

    async def refresh(self, *, force: bool = False) -> int:
        """Pull changes since the last refresh; returns how many rows were applied."""
        if not self._complete:
            return 0  # the background load catches up by itself
        if not force and (
            time.monotonic() - self._refreshed_at < self.refresh_seconds or self._refreshing.locked()
        ):
            return 0
        async with self._refreshing:
            if not self._loaded:
                book = await read_book(self.store)
                built = build_index(book)
                built.index.auto_rebuild = True
                self.index = built.index
                self._watermark = built.since.resume
                self._after_id = 0
                self._loaded = True
            applied, self._watermark, self._after_id = await self._apply_changes(
                self.index, self._watermark, self._after_id
            )
            self._refreshed_at = time.monotonic()
        if applied:
            _LOGGER.debug("customer index applied %s changes", applied)
        return applied

    async def _apply_changes(
        self, index: CustomerIndex, watermark: datetime | None, after_id: int
    ) -> tuple[int, datetime | None, int]:
        """Apply every change after (watermark, after_id) to ``index``; returns how many rows
        and the watermark reached (never behind the one given)."""
        applied = 0
        cursor = watermark
        if cursor is not None:
            # Re-read the last few seconds (see RECHECK).
            floor = self.store.clock() - RECHECK
            if cursor >= floor:
                cursor, after_id_read = floor, 0
            else:
                after_id_read = after_id
        else:
            after_id_read = 0
        while True:
            async with self.store.read() as tx:
                page = await tx.customers.changed_since(cursor, after_id_read, limit=CHANGES_PAGE)
            if not page:
                return applied, watermark, after_id
            for start in range(0, len(page), APPLY_STEP):
                if start:
                    await asyncio.sleep(0)
                step = page[start : start + APPLY_STEP]
                index.upsert_many(_indexed(c) for c in step if c.deleted_at is None)
                for customer in step:
                    if customer.deleted_at is not None:
                        index.remove(customer.id)
            applied += len(page)
            cursor, after_id_read = page[-1].updated_at, page[-1].id
            if watermark is None or (cursor, after_id_read) > (watermark, after_id):
                watermark, after_id = cursor, after_id_read

    def note(self, customer: CustomerRecord) -> None:
        """Apply one change now (called right after this process writes a customer)."""
        for index in (self.index if self._complete else None, self._replacement):
            if index is None:
                continue
            if customer.deleted_at is not None:
                index.remove(customer.id)
            else:
                index.upsert(_indexed(customer))

    # -- searching ---------------------------------------------------------------------

    async def search(
        self, text: str, *, limit: int = 5, min_score: float = MIN_SCORE, scope: Scope | None = None
    ) -> list[Candidate]:
        """The best live matches; with a ``scope``, only customers it allows (the others are
        never returned, so no list, pick list or hint can show them)."""
        await self.refresh()
        scoped = scope is not None and not scope.everyone
        pool = max(limit * SCOPED_POOL_FACTOR, 40) if scoped else limit
        while True:
            if self._complete:
                matches = self.index.search(text, limit=pool, min_score=min_score)
            else:
                matches = await self._plain_matches(text, limit=pool, min_score=min_score)
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

    async def _plain_matches(self, text: str, *, limit: int, min_score: float) -> list[Match]:
        """The exact path while the index loads: the store finds rows holding the query as
        typed, and the index's own scorer ranks them, so every hit is one the index would
        score the same (only typo'd and accent-folded hits are missing)."""
        query = Query.parse(text[:MAX_QUERY_CHARS])
        if not query:
            return []
        words = sorted(set(query.text.split()), key=len, reverse=True)[:PLAIN_WORDS]
        # The last digits: the index also matches numbers written with another country code.
        digits = query.digits.removeprefix("0")[-MIN_NATIONAL_DIGITS:]
        async with self._scans, self.store.read() as tx:
            rows = await tx.customers.search_plain(
                text=query.text, words=words, email=query.email, digits=digits, limit=PLAIN_CANDIDATES
            )
        scorer = CustomerIndex()
        scorer.upsert_many(_indexed(row) for row in rows)
        return scorer.search(text, limit=limit, min_score=min_score)

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
