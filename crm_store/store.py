"""The Store: one engine, and transactions that hand out the per-area repositories."""

from __future__ import annotations

import asyncio
import weakref
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from crm_store.analysis import AnalysisRepo
from crm_store.api_tokens import ApiTokenRepo
from crm_store.audience import AudienceRepo
from crm_store.audit import AuditRepo
from crm_store.campaigns import CampaignRepo
from crm_store.catalog import ProductRepo
from crm_store.chat_groups import ChatGroupRepo
from crm_store.consents import ConsentRepo
from crm_store.conversations import ConversationRepo
from crm_store.customers import CustomerRepo
from crm_store.digests import DigestRepo
from crm_store.engine import WRITE_OPTION, PoolSettings, create_engine, is_sqlite
from crm_store.events import EventRepo
from crm_store.feedback import FeedbackRepo
from crm_store.forecast import ForecastRepo
from crm_store.handled import AlreadyHandled, HandledRepo
from crm_store.inbox import InboxRepo
from crm_store.interactions import InteractionRepo
from crm_store.labels import LabelRepo
from crm_store.leases import LeaseRepo
from crm_store.link_tokens import LinkTokenRepo
from crm_store.loyalty import LoyaltyRepo
from crm_store.meta import MetaRepo
from crm_store.orders import OrderRepo
from crm_store.outbox import OutboxRepo
from crm_store.pending import PendingActionRepo
from crm_store.people import PeopleRepo
from crm_store.privacy import PrivacyRepo
from crm_store.recommend import RecommendRepo
from crm_store.relationships import RelationshipRepo
from crm_store.reminders import ReminderRepo
from crm_store.reports import ReportRepo
from crm_store.segments import SegmentRepo
from crm_store.sla import SlaRepo
from crm_store.speakers import Speaker, SpeakerCache
from crm_store.tickets import TicketRepo
from crm_store.webhooks import WebhookRepo, emit_pending

Clock = Callable[[], datetime]


@dataclass(slots=True)
class _Handling:
    """The incoming message a task is handling (see Store.handling)."""

    ref: str
    actor_key: str
    claimed: bool = False


_HANDLING: ContextVar[_Handling | None] = ContextVar("crm_handling", default=None)
# The task holding this process's SQLite write turn (its reads need no turn of their own).
_WRITER: ContextVar[asyncio.Task[Any] | None] = ContextVar("crm_writer", default=None)


# The repositories whose writes can change who a chat account is (see Tx.people_changed).
_CHANGE_PEOPLE = ("people", "privacy", "customers", "consents")


class StoreBusy(TimeoutError):
    """No connection, or on SQLite no turn to write, within CRM_DB_POOL_TIMEOUT seconds."""


class _WriterTurn:
    """The one writer turn: first come, first served, except that an ``urgent`` write (a request
    stored before it is acknowledged) goes ahead of the ordinary writes waiting, never of the one
    writing. A turn is handed straight to the next in line on release."""

    def __init__(self) -> None:
        self._held = False
        self._urgent: deque[asyncio.Future[None]] = deque()
        self._ordinary: deque[asyncio.Future[None]] = deque()

    async def acquire(self, *, urgent: bool = False) -> None:
        if not self._held and not self._urgent and not self._ordinary:
            self._held = True
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        (self._urgent if urgent else self._ordinary).append(waiter)
        try:
            await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed the turn as it was cancelled: pass it on
            raise

    def release(self) -> None:
        for line in (self._urgent, self._ordinary):
            while line:
                waiter = line.popleft()
                if not waiter.done():
                    waiter.set_result(None)  # the turn passes to it, still held
                    return
        self._held = False


@dataclass(frozen=True, slots=True)
class _Turns:
    """One event loop's queues for SQLite: one writer at a time (see _WriterTurn), and at most
    the pool's size of readers (asyncio primitives belong to the loop that uses them)."""

    writer: _WriterTurn
    readers: asyncio.Semaphore


def utc_now() -> datetime:
    return datetime.now(UTC)


class Tx:
    """One transaction's repositories; writes are audited under ``actor``.

    Each repository is made on first use: a transaction touches one to three of them, and
    making all of them for every transaction was a measurable share of a message's cost."""

    def __init__(self, conn: AsyncConnection, *, actor: str, now: datetime) -> None:
        self.conn = conn
        self.now = now
        self.audit = AuditRepo(conn, actor=actor, now=now)

    @cached_property
    def customers(self) -> CustomerRepo:
        return CustomerRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def people(self) -> PeopleRepo:
        return PeopleRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def interactions(self) -> InteractionRepo:
        return InteractionRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def orders(self) -> OrderRepo:
        return OrderRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def tickets(self) -> TicketRepo:
        return TicketRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def reminders(self) -> ReminderRepo:
        return ReminderRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def pending(self) -> PendingActionRepo:
        return PendingActionRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def feedback(self) -> FeedbackRepo:
        return FeedbackRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def labels(self) -> LabelRepo:
        return LabelRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def events(self) -> EventRepo:
        return EventRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def outbox(self) -> OutboxRepo:
        return OutboxRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def link_tokens(self) -> LinkTokenRepo:
        return LinkTokenRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def loyalty(self) -> LoyaltyRepo:
        return LoyaltyRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def sla(self) -> SlaRepo:
        return SlaRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def digests(self) -> DigestRepo:
        return DigestRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def reports(self) -> ReportRepo:
        return ReportRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def conversations(self) -> ConversationRepo:
        return ConversationRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def inbox(self) -> InboxRepo:
        return InboxRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def leases(self) -> LeaseRepo:
        return LeaseRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def privacy(self) -> PrivacyRepo:
        return PrivacyRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def handled(self) -> HandledRepo:
        return HandledRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def meta(self) -> MetaRepo:
        return MetaRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def catalog(self) -> ProductRepo:
        return ProductRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def recommend(self) -> RecommendRepo:
        return RecommendRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def relationships(self) -> RelationshipRepo:
        return RelationshipRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def analysis(self) -> AnalysisRepo:
        return AnalysisRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def segments(self) -> SegmentRepo:
        return SegmentRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def forecast(self) -> ForecastRepo:
        return ForecastRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def consents(self) -> ConsentRepo:
        return ConsentRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def audience(self) -> AudienceRepo:
        return AudienceRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def campaigns(self) -> CampaignRepo:
        return CampaignRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def chat_groups(self) -> ChatGroupRepo:
        return ChatGroupRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def api_tokens(self) -> ApiTokenRepo:
        return ApiTokenRepo(self.conn, self.audit, now=self.now)

    @cached_property
    def webhooks(self) -> WebhookRepo:
        return WebhookRepo(self.conn, self.audit, now=self.now)

    @property
    def people_changed(self) -> bool:
        """Whether this transaction changed who a chat account is (Store.speaker caches that)."""
        used = vars(self)  # repositories never used cannot have changed anyone
        return any(name in used and getattr(self, name).changed_people for name in _CHANGE_PEOPLE)


class Store:
    """Owns the engine. ``write`` opens BEGIN IMMEDIATE on SQLite; ``read`` a plain one.

    On SQLite this process's writes queue here, in order, for the one writer turn instead of
    polling the file lock (other processes, such as the CLI, still meet it and wait out the
    busy timeout); reads run side by side on up to ``pool.size`` pooled connections."""

    def __init__(
        self, engine: AsyncEngine, *, clock: Clock = utc_now, pool: PoolSettings | None = None
    ) -> None:
        self.engine = engine
        self.clock = clock
        self.url = engine.url.render_as_string(hide_password=True)
        self.is_sqlite = is_sqlite(str(engine.url))
        self.pool = pool or PoolSettings()
        self.speakers = SpeakerCache()
        self._turns: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _Turns] = (
            weakref.WeakKeyDictionary()
        )

    @classmethod
    def open(cls, url: str, *, clock: Clock = utc_now, pool: PoolSettings | None = None) -> Store:
        return cls(create_engine(url, pool=pool), clock=clock, pool=pool)

    async def close(self) -> None:
        await self.engine.dispose()

    @contextmanager
    def handling(self, ref: str, actor_key: str) -> Iterator[_Handling]:
        """Within this block (one handler run for the incoming message ``ref``) the first write
        transaction also claims ``ref``, atomically with its own changes. A repeat run, after a
        crash between that commit and the inbox's "done", gets AlreadyHandled from it and
        changes nothing twice. Later writes of the same run are not checked again."""
        run = _Handling(ref, actor_key)
        token = _HANDLING.set(run)
        try:
            yield run  # run.claimed: this run's writes committed
        finally:
            _HANDLING.reset(token)

    @asynccontextmanager
    async def write(self, actor: str, *, urgent: bool = False) -> AsyncIterator[Tx]:
        """A write transaction; every change made through it is audited as ``actor``. On SQLite
        an ``urgent`` one (storing a request before it is acknowledged) waits for its turn ahead
        of the ordinary writes."""
        handling = _HANDLING.get()
        claim = handling if handling is not None and not handling.claimed else None
        async with self._connection(write=True, urgent=urgent) as conn:
            await conn.execution_options(**{WRITE_OPTION: True})
            async with conn.begin():
                tx = Tx(conn, actor=actor, now=self.clock())
                if claim is not None and not await tx.handled.claim(claim.ref, claim.actor_key):
                    raise AlreadyHandled(claim.ref)
                yield tx
                # Its changes' webhook events, queued in it (after the body: with their final state).
                await emit_pending(tx.audit)
            if tx.people_changed:
                self.speakers.changed()  # committed: what was read before is stale
        if claim is not None:
            claim.claimed = True  # committed: the rest of this run writes freely

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        async with self._connection(write=False) as conn, conn.begin():
            yield Tx(conn, actor="reader", now=self.clock())

    async def speaker(self, platform: str, external_id: str) -> Speaker | None:
        """Who a chat account is; answered from the SpeakerCache when it may (no transaction)."""
        found = self.speakers.get(platform, external_id)
        if found is not None:
            return found
        version = self.speakers.version  # before the read: a change committed meanwhile voids it
        async with self.read() as tx:
            found = await tx.people.speaker(platform, external_id)
        if found is not None:
            self.speakers.put(found, version=version)
        return found

    @asynccontextmanager
    async def _connection(self, *, write: bool, urgent: bool = False) -> AsyncIterator[AsyncConnection]:
        turn = await self._take_turn(write=write, urgent=urgent)
        writer = _WRITER.set(asyncio.current_task()) if turn is not None and write else None
        conn = self.engine.connect()
        try:
            try:
                await conn.start()
            except PoolTimeout:
                raise self._busy("for a connection") from None
            yield conn
        finally:
            if writer is not None:
                _WRITER.reset(writer)
            await _hand_back(conn, turn)

    async def _take_turn(
        self, *, write: bool, urgent: bool = False
    ) -> _WriterTurn | asyncio.Semaphore | None:
        """SQLite: wait for this transaction's turn (None: it needs none)."""
        if not self.is_sqlite:
            return None  # PostgreSQL: the engine's pool bounds and queues connections
        task = asyncio.current_task()
        if task is not None and _WRITER.get() is task:
            if write:
                raise RuntimeError("a write transaction inside another one would wait for itself")
            # A read inside this task's own write: waiting behind readers that may be waiting
            # for this very write would never end.
            return None
        loop = asyncio.get_running_loop()
        turns = self._turns.get(loop)
        if turns is None:
            turns = self._turns[loop] = _Turns(_WriterTurn(), asyncio.Semaphore(self.pool.size))
        turn: _WriterTurn | asyncio.Semaphore = turns.writer if write else turns.readers
        try:
            async with asyncio.timeout(self.pool.timeout):
                if isinstance(turn, _WriterTurn):
                    await turn.acquire(urgent=urgent)
                else:
                    await turn.acquire()
        except TimeoutError:
            raise self._busy("to write" if write else "for a connection") from None
        return turn

    def _busy(self, waited_for: str) -> StoreBusy:
        return StoreBusy(f"the store is busy: waited {self.pool.timeout:g} s {waited_for}")


async def _hand_back(conn: AsyncConnection, turn: _WriterTurn | asyncio.Semaphore | None) -> None:
    """Return the connection to the pool, then the turn to the next in line. A query cancelled
    mid-way is rolled back first (its thread finishes the query, then the rollback), so the next
    writer never starts while it still holds SQLite's lock; a close itself cancelled drops the
    connection (its thread ends once done), and the next writer waits out the busy timeout."""
    try:
        if conn.sync_connection is not None:  # never started: nothing to give back
            await conn.close()
    finally:
        if turn is not None:
            turn.release()
