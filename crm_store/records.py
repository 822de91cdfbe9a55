"""Frozen records the repositories return: plain values, no database handles."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class RepRecord:
    id: int
    display_name: str
    role: str
    timezone: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class IdentityRecord:
    id: int
    platform: str
    external_id: str
    rep_id: int | None
    customer_id: int | None
    display_name: str
    # The platform said this chat blocked the bot (Telegram 403); cleared when it writes again.
    blocked: bool = False


@dataclass(frozen=True, slots=True)
class ChatGroupRecord:
    """A group chat; linked while ``customer_id`` is set and ``unlinked_at`` is not."""

    id: int
    platform: str
    chat_id: str
    customer_id: int | None
    linked_by: str | None
    linked_at: datetime | None
    unlinked_at: datetime | None
    hinted_at: datetime | None

    @property
    def is_linked(self) -> bool:
        return self.customer_id is not None and self.unlinked_at is None


@dataclass(frozen=True, slots=True)
class CustomerRecord:
    id: int
    name: str
    company: str
    email: str
    phone: str
    owner_rep_id: int | None
    status: str
    source: str
    tags: tuple[str, ...]
    custom: dict[str, Any]
    timezone: str | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None
    # The customer's id in the shop or ERP the book follows (order-line imports match on it).
    external_ref: str | None = None
    country: str = ""
    # Own quiet hours ("22:00-07:00", or "off"); None: the team's (handlers.quiet_hours).
    quiet_hours: str | None = None


@dataclass(frozen=True, slots=True)
class CustomerSummary:
    """A customer with the figures a card shows."""

    customer: CustomerRecord
    owner_name: str | None
    last_contact_at: datetime | None
    interaction_count: int
    order_count: int
    revenue_cents: int
    open_tickets: int
    pending_reminders: int


@dataclass(frozen=True, slots=True)
class InteractionRecord:
    id: int
    customer_id: int
    rep_id: int | None
    rep_name: str | None
    channel: str
    kind: str
    direction: str
    text: str
    sentiment_label: str | None
    sentiment_score: float | None
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class OrderRecord:
    id: int
    customer_id: int
    rep_id: int | None
    amount_cents: int
    currency: str
    note: str
    external_ref: str | None
    ordered_at: datetime


@dataclass(frozen=True, slots=True)
class TicketRecord:
    id: int
    customer_id: int
    customer_name: str
    subject: str
    status: str
    priority: str
    assignee_rep_id: int | None
    assignee_name: str | None
    source: str
    csat_rating: int | None
    created_at: datetime
    updated_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class TicketMessageRecord:
    id: int
    ticket_id: int
    author_kind: str
    author_rep_id: int | None
    author_name: str | None
    text: str
    attachments: tuple[dict[str, Any], ...]
    sentiment_label: str | None
    created_at: datetime
    author_customer_id: int | None = None  # the contact who wrote (a company's group chat)


@dataclass(frozen=True, slots=True)
class ReminderRecord:
    id: int
    rep_id: int
    customer_id: int | None
    customer_name: str | None
    text: str
    due_at: datetime
    status: str
    created_at: datetime
    done_at: datetime | None


@dataclass(frozen=True, slots=True)
class PendingActionRecord:
    token: str
    actor_key: str
    command: str
    label: str
    expires_at: datetime


@dataclass(frozen=True, slots=True)
class AuditRecord:
    id: int
    actor: str
    action: str
    entity: str
    entity_id: str | None
    detail: dict[str, Any] = field(default_factory=dict)
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ProductRecord:
    id: int
    sku: str
    name: str
    category: str
    price_cents: int | None
    currency: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class OrderLineRecord:
    id: int
    order_id: int
    product_id: int
    customer_id: int
    quantity: int
    unit_price_cents: int
    line_cents: int
    ordered_at: datetime


@dataclass(frozen=True, slots=True)
class TopBuyer:
    customer_id: int
    name: str
    units: int
    revenue_cents: int


@dataclass(frozen=True, slots=True)
class ProductSummary:
    """A product with the figures its card shows (over the customers the reader may see)."""

    product: ProductRecord
    units: int  # net of returns
    revenue_cents: int  # net of returns
    orders: int  # orders holding a sale of it
    returned_units: int  # units on return lines, as a positive number
    returns: int  # return lines
    buyers: int
    top_buyers: tuple[TopBuyer, ...]


@dataclass(frozen=True, slots=True)
class RelationshipRecord:
    """``from`` is ``kind`` of ``to``: "Jane works-at Acme", "Globex subsidiary Initech"."""

    id: int
    from_customer_id: int
    from_name: str
    to_customer_id: int
    to_name: str
    kind: str
    starts_at: datetime | None
    ends_at: datetime | None
    created_at: datetime
