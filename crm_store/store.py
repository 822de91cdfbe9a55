"""The Store: one engine, and transactions that hand out the per-area repositories."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from crm_store.audit import AuditRepo
from crm_store.conversations import ConversationRepo
from crm_store.customers import CustomerRepo
from crm_store.digests import DigestRepo
from crm_store.engine import WRITE_OPTION, create_engine, is_sqlite
from crm_store.events import EventRepo
from crm_store.feedback import FeedbackRepo
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
from crm_store.reminders import ReminderRepo
from crm_store.reports import ReportRepo
from crm_store.sla import SlaRepo
from crm_store.tickets import TicketRepo

Clock = Callable[[], datetime]


@dataclass(slots=True)
class _Handling:
    """The incoming message a task is handling (see Store.handling)."""

    ref: str
    actor_key: str
    claimed: bool = False


_HANDLING: ContextVar[_Handling | None] = ContextVar("crm_handling", default=None)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Tx:
    """One transaction's repositories; writes are audited under ``actor``."""

    def __init__(self, conn: AsyncConnection, *, actor: str, now: datetime) -> None:
        self.conn = conn
        self.now = now
        self.audit = AuditRepo(conn, actor=actor, now=now)
        self.customers = CustomerRepo(conn, self.audit, now=now)
        self.people = PeopleRepo(conn, self.audit, now=now)
        self.interactions = InteractionRepo(conn, self.audit, now=now)
        self.orders = OrderRepo(conn, self.audit, now=now)
        self.tickets = TicketRepo(conn, self.audit, now=now)
        self.reminders = ReminderRepo(conn, self.audit, now=now)
        self.pending = PendingActionRepo(conn, self.audit, now=now)
        self.feedback = FeedbackRepo(conn, self.audit, now=now)
        self.labels = LabelRepo(conn, self.audit, now=now)
        self.events = EventRepo(conn, self.audit, now=now)
        self.outbox = OutboxRepo(conn, self.audit, now=now)
        self.link_tokens = LinkTokenRepo(conn, self.audit, now=now)
        self.loyalty = LoyaltyRepo(conn, self.audit, now=now)
        self.sla = SlaRepo(conn, self.audit, now=now)
        self.digests = DigestRepo(conn, self.audit, now=now)
        self.reports = ReportRepo(conn, self.audit, now=now)
        self.conversations = ConversationRepo(conn, self.audit, now=now)
        self.inbox = InboxRepo(conn, self.audit, now=now)
        self.leases = LeaseRepo(conn, self.audit, now=now)
        self.privacy = PrivacyRepo(conn, self.audit, now=now)
        self.handled = HandledRepo(conn, self.audit, now=now)
        self.meta = MetaRepo(conn, self.audit, now=now)


class Store:
    """Owns the engine. ``write`` opens BEGIN IMMEDIATE on SQLite; ``read`` a plain one."""

    def __init__(self, engine: AsyncEngine, *, clock: Clock = utc_now) -> None:
        self.engine = engine
        self.clock = clock
        self.url = engine.url.render_as_string(hide_password=True)
        self.is_sqlite = is_sqlite(str(engine.url))

    @classmethod
    def open(cls, url: str, *, clock: Clock = utc_now) -> Store:
        return cls(create_engine(url), clock=clock)

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
    async def write(self, actor: str) -> AsyncIterator[Tx]:
        """A write transaction; every change made through it is audited as ``actor``."""
        handling = _HANDLING.get()
        claim = handling if handling is not None and not handling.claimed else None
        async with self.engine.connect() as conn:
            await conn.execution_options(**{WRITE_OPTION: True})
            async with conn.begin():
                tx = Tx(conn, actor=actor, now=self.clock())
                if claim is not None and not await tx.handled.claim(claim.ref, claim.actor_key):
                    raise AlreadyHandled(claim.ref)
                yield tx
        if claim is not None:
            claim.claimed = True  # committed: the rest of this run writes freely

    @asynccontextmanager
    async def read(self) -> AsyncIterator[Tx]:
        async with self.engine.connect() as conn, conn.begin():
            yield Tx(conn, actor="reader", now=self.clock())
