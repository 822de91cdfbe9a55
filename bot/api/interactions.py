"""/customers/{id}/interactions: a customer's calls, emails, meetings and notes (newest first,
cursor paging) and logging one, through the same function as `log` in chat."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from bot.api import paging
from bot.api.auth import Caller, api_context, require_scope
from bot.api.errors import documented
from bot.api.ids import existing
from crm_store.records import InteractionRecord
from handlers import access
from handlers.interactions import record
from handlers.messages import MAX_TEXT

router = APIRouter(tags=["interactions"])
Kind = Literal["call", "email", "meeting", "note", "message"]
Loggable = Literal["call", "email", "meeting", "note"]


class Interaction(BaseModel):
    id: int
    customer_id: int
    kind: Kind
    channel: str = Field(description="where it was logged: slack, telegram, console, api, ...")
    direction: str
    text: str
    sentiment: str | None = Field(description="positive, neutral or negative; null without a model")
    sentiment_score: float | None
    rep_id: int | None
    rep_name: str | None
    occurred_at: datetime

    @classmethod
    def of(cls, r: InteractionRecord) -> Interaction:
        return cls(
            id=r.id,
            customer_id=r.customer_id,
            kind=r.kind,  # type: ignore[arg-type]
            channel=r.channel,
            direction=r.direction,
            text=r.text,
            sentiment=r.sentiment_label,
            sentiment_score=r.sentiment_score,
            rep_id=r.rep_id,
            rep_name=r.rep_name,
            occurred_at=r.occurred_at,
        )


class InteractionPage(BaseModel):
    items: list[Interaction]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last one")


class InteractionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Loggable
    text: str = Field(min_length=1, max_length=MAX_TEXT)
    occurred_at: AwareDatetime | None = Field(None, description="when it happened (default: now); not later")


@router.get(
    "/customers/{customer_id}/interactions",
    response_model=InteractionPage,
    responses=documented(404),
)
async def list_interactions(
    request: Request,
    customer_id: int,
    caller: Annotated[Caller, Depends(require_scope("read"))],
    kind: Kind | None = None,
    since: Annotated[AwareDatetime | None, Query(description="only those that happened at or after")] = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=paging.MAX_LIMIT)] = paging.DEFAULT_LIMIT,
) -> InteractionPage:
    """Newest first by when they happened; an interaction logged while you page does not shift
    the pages after your cursor."""
    ctx = api_context(request, caller)
    before = paging.decode(cursor)
    customer = await access.customer(ctx, existing(customer_id, "customer"))
    async with ctx.store.read() as tx:
        rows = await tx.interactions.page(customer.id, limit=limit + 1, kind=kind, since=since, before=before)
    rows, next_cursor = paging.page_of(rows, limit, lambda r: paging.encode(r.occurred_at, r.id))
    return InteractionPage(items=[Interaction.of(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/customers/{customer_id}/interactions",
    response_model=Interaction,
    status_code=201,
    responses=documented(404),
)
async def create_interaction(
    request: Request,
    customer_id: int,
    body: InteractionCreate,
    caller: Annotated[Caller, Depends(require_scope("write"))],
) -> Interaction:
    """As `log <customer> <kind>: <text>` in chat: stored with its sentiment, on the timeline."""
    ctx = api_context(request, caller)
    customer = await access.customer(ctx, existing(customer_id, "customer"))
    logged = await record(ctx, customer, kind=body.kind, text=body.text, occurred_at=body.occurred_at)
    return Interaction.of(logged)
