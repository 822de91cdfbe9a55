"""/tickets: list (status, customer, updated_since, cursor paging), get with its messages, open one
in a customer's name, reply to the customer, resolve and reopen, through the functions `/ticket`,
`reply`, `resolve` and `reopen` use in chat (so a reply reaches the customer's chat through the
outbox)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from bot.api import paging
from bot.api.auth import Caller, api_context, require_scope
from bot.api.errors import FieldError, documented, invalid
from bot.api.ids import MAX_ID, existing
from crm_store.records import TicketMessageRecord, TicketRecord
from handlers import access
from handlers.context import Context
from handlers.errors import NotFound
from handlers.messages import MAX_TEXT
from handlers.ticket_flow import MAX_SUBJECT, open_for
from handlers.tickets import reopen_ticket, reply_on, resolve_ticket

router = APIRouter(tags=["tickets"])
Status = Literal["open", "pending", "resolved"]
# A ticket's messages in GET /tickets/{id}: the latest this many, oldest first.
MESSAGES = 200


class Ticket(BaseModel):
    id: int
    customer_id: int
    customer_name: str
    subject: str
    status: Status
    priority: str
    assignee_rep_id: int | None
    assignee_name: str | None
    source: str
    csat_rating: int | None
    created_at: datetime
    updated_at: datetime
    first_response_at: datetime | None
    resolved_at: datetime | None

    @classmethod
    def of(cls, t: TicketRecord) -> Ticket:
        return cls(
            id=t.id,
            customer_id=t.customer_id,
            customer_name=t.customer_name,
            subject=t.subject,
            status=t.status,  # type: ignore[arg-type]
            priority=t.priority,
            assignee_rep_id=t.assignee_rep_id,
            assignee_name=t.assignee_name,
            source=t.source,
            csat_rating=t.csat_rating,
            created_at=t.created_at,
            updated_at=t.updated_at,
            first_response_at=t.first_response_at,
            resolved_at=t.resolved_at,
        )


class TicketMessage(BaseModel):
    id: int
    author_kind: str = Field(description="customer or rep (the team, a token included)")
    author_name: str | None
    text: str
    attachments: list[dict[str, Any]] = Field(description="file references kept by the chat platform")
    sentiment: str | None
    created_at: datetime

    @classmethod
    def of(cls, m: TicketMessageRecord) -> TicketMessage:
        return cls(
            id=m.id,
            author_kind=m.author_kind,
            author_name=m.author_name,
            text=m.text,
            attachments=[dict(a) for a in m.attachments],
            sentiment=m.sentiment_label,
            created_at=m.created_at,
        )


class TicketDetail(Ticket):
    messages: list[TicketMessage] = Field(description=f"the latest {MESSAGES}, oldest first")


class TicketPage(BaseModel):
    items: list[Ticket]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last one")


class TicketCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: int = Field(ge=1, le=MAX_ID)
    subject: str = Field(min_length=1, max_length=MAX_SUBJECT)
    text: str = Field("", max_length=MAX_TEXT, description="the customer's words: the first message")


class ReplyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: str = Field(min_length=1, max_length=MAX_TEXT)


class ReplySent(BaseModel):
    ticket: Ticket
    message: TicketMessage
    queued_to_chats: int = Field(description="the customer's chats it is on its way to (0: none linked)")


class Resolve(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str = Field("", max_length=MAX_TEXT, description="a closing note the customer sees")


async def _detail(ctx: Context, ticket_id: int) -> TicketDetail:
    async with ctx.store.read() as tx:
        t = await tx.tickets.get(ticket_id)
        messages = await tx.tickets.messages(ticket_id, limit=MESSAGES)
    assert t is not None
    return TicketDetail(**Ticket.of(t).model_dump(), messages=[TicketMessage.of(m) for m in messages])


@router.get("/tickets", response_model=TicketPage, responses=documented())
async def list_tickets(
    request: Request,
    caller: Annotated[Caller, Depends(require_scope("read"))],
    status: Annotated[
        Literal["open", "pending", "resolved", "all"],
        Query(description="open: waiting on the team or the customer (open or pending)"),
    ] = "all",
    customer_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    updated_since: AwareDatetime | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=paging.MAX_LIMIT)] = paging.DEFAULT_LIMIT,
) -> TicketPage:
    """In the order they last changed (oldest first): a ticket that changes while you page joins
    the end, so a sync that follows `next_cursor` until it is null misses none."""
    ctx = api_context(request, caller)
    after = paging.decode(cursor)
    async with ctx.store.read() as tx:
        rows = await tx.tickets.page(
            limit=limit + 1,
            status=status,
            customer_id=customer_id,
            updated_since=updated_since,
            after=after,
            visible_to_rep=ctx.scope.owner_filter,
        )
    rows, next_cursor = paging.page_of(rows, limit, lambda r: paging.encode(r.updated_at, r.id))
    return TicketPage(items=[Ticket.of(t) for t in rows], next_cursor=next_cursor)


@router.get("/tickets/{ticket_id}", response_model=TicketDetail, responses=documented(404))
async def get_ticket(
    request: Request, ticket_id: int, caller: Annotated[Caller, Depends(require_scope("read"))]
) -> TicketDetail:
    ctx = api_context(request, caller)
    t = await access.ticket(ctx, existing(ticket_id, "ticket"))
    return await _detail(ctx, t.id)


@router.post("/tickets", response_model=TicketDetail, status_code=201, responses=documented())
async def create_ticket(
    request: Request, body: TicketCreate, caller: Annotated[Caller, Depends(require_scope("write"))]
) -> TicketDetail:
    """Opened in the customer's name with their words, as when they open one in chat: the same
    subject and length rules, sentiment (an upset customer's ticket gets high priority), and the
    new ticket's card in the support channel."""
    ctx = api_context(request, caller)
    try:
        customer = await access.customer(ctx, body.customer_id)
    except NotFound as exc:
        raise invalid([FieldError(field="customer_id", message=exc.message)]) from None
    t = await open_for(ctx, customer, subject=body.subject, text=body.text)
    return await _detail(ctx, t.id)


@router.post(
    "/tickets/{ticket_id}/replies",
    response_model=ReplySent,
    status_code=201,
    responses=documented(404, 409),
)
async def reply_to_ticket(
    request: Request,
    ticket_id: int,
    body: ReplyCreate,
    caller: Annotated[Caller, Depends(require_scope("write"))],
) -> ReplySent:
    """As `reply <id> <text>` in chat: stored on the ticket and sent to the customer's chat."""
    ctx = api_context(request, caller)
    t = await access.ticket(ctx, existing(ticket_id, "ticket"))
    message_id, queued = await reply_on(ctx, t, body.text)
    detail = await _detail(ctx, t.id)
    message = next(m for m in detail.messages if m.id == message_id)
    return ReplySent(
        ticket=Ticket(**detail.model_dump(exclude={"messages"})), message=message, queued_to_chats=queued
    )


@router.post("/tickets/{ticket_id}/resolve", response_model=TicketDetail, responses=documented(404))
async def resolve(
    request: Request,
    ticket_id: int,
    caller: Annotated[Caller, Depends(require_scope("write"))],
    body: Resolve | None = None,
) -> TicketDetail:
    """As `resolve <id> [note]` in chat: the customer is asked to rate the help. Resolving a
    resolved ticket changes nothing."""
    ctx = api_context(request, caller)
    t = await access.ticket(ctx, existing(ticket_id, "ticket"))
    await resolve_ticket(ctx, t, body.note if body is not None else "")
    return await _detail(ctx, t.id)


@router.post("/tickets/{ticket_id}/reopen", response_model=TicketDetail, responses=documented(404))
async def reopen(
    request: Request, ticket_id: int, caller: Annotated[Caller, Depends(require_scope("write"))]
) -> TicketDetail:
    """As `reopen <id>` in chat: the customer hears it is open again. Reopening a ticket that
    is not resolved changes nothing."""
    ctx = api_context(request, caller)
    t = await access.ticket(ctx, existing(ticket_id, "ticket"))
    await reopen_ticket(ctx, t)
    return await _detail(ctx, t.id)
