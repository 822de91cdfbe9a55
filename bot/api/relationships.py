"""Relationships between customers: a customer's (current and ended, with dates), recording one
and ending one, through the functions `relations`, `relate` and `unrelate` use in chat."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from bot.api.auth import Caller, api_context, require_scope
from bot.api.errors import FieldError, documented, invalid
from bot.api.ids import MAX_ID, existing
from crm_store.records import CustomerRecord, RelationshipRecord
from crm_store.relationships import KINDS
from handlers import access
from handlers.context import Context
from handlers.errors import NotFound
from handlers.relations import day_start, end_relation, is_current, phrase, relate_customers

router = APIRouter(tags=["relationships"])
Kind = Literal["parent", "subsidiary", "partner", "reseller", "referred-by", "works-at", "competitor"]
assert set(Kind.__args__) == set(KINDS)  # type: ignore[attr-defined]
# Every relation of one customer is listed; a customer with more is a data problem, not a page.
LIST_LIMIT = 1_000


class Relationship(BaseModel):
    id: int
    from_customer_id: int
    from_name: str
    kind: Kind = Field(description='"from is <kind> of to": Jane works-at Acme, Globex subsidiary Initech')
    to_customer_id: int
    to_name: str
    starts_at: datetime | None
    ends_at: datetime | None
    current: bool = Field(description="false once ends_at has passed; ended ones stay in the history")
    created_at: datetime

    @classmethod
    def of(cls, r: RelationshipRecord, now: datetime) -> Relationship:
        return cls(
            id=r.id,
            from_customer_id=r.from_customer_id,
            from_name=r.from_name,
            kind=r.kind,  # type: ignore[arg-type]
            to_customer_id=r.to_customer_id,
            to_name=r.to_name,
            starts_at=r.starts_at,
            ends_at=r.ends_at,
            current=is_current(r, now),
            created_at=r.created_at,
        )


class CustomerRelationship(Relationship):
    reads: str = Field(description='as the customer\'s card says it: "Works at Acme Corp (#1)"')


class CustomerRelationships(BaseModel):
    customer_id: int
    items: list[CustomerRelationship] = Field(description="current ones first, then ended, newest first")


class RelationshipCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_customer_id: int = Field(ge=1, le=MAX_ID)
    kind: Kind
    to_customer_id: int = Field(ge=1, le=MAX_ID)
    since: date | None = Field(None, description="the day it began (UTC)")
    until: date | None = Field(None, description="the day it ends or ended (UTC)")


class RelationshipRecorded(BaseModel):
    outcome: Literal["created", "exists", "ended"] = Field(
        description="created; exists: the same relation is current and no dates were sent; ended: "
        "only `until` was sent for a current one, which now ends that day"
    )
    relationship: Relationship


async def _customer(ctx: Context, customer_id: int, field: str) -> CustomerRecord:
    """A customer named in the body: one that does not exist is a 422 naming the field."""
    try:
        return await access.customer(ctx, customer_id)
    except NotFound as exc:
        raise invalid([FieldError(field=field, message=exc.message)]) from None


@router.get(
    "/customers/{customer_id}/relationships",
    response_model=CustomerRelationships,
    responses=documented(404),
)
async def customer_relationships(
    request: Request, customer_id: int, caller: Annotated[Caller, Depends(require_scope("read"))]
) -> CustomerRelationships:
    ctx = api_context(request, caller)
    customer = await access.customer(ctx, existing(customer_id, "customer"))
    async with ctx.store.read() as tx:
        rows = await tx.relationships.for_customer(customer.id, limit=LIST_LIMIT)
    now = ctx.now()
    ordered = sorted(rows, key=lambda r: (not is_current(r, now), -r.id))
    return CustomerRelationships(
        customer_id=customer.id,
        items=[
            CustomerRelationship(**Relationship.of(r, now).model_dump(), reads=phrase(r, customer.id))
            for r in ordered
        ],
    )


@router.post(
    "/relationships",
    response_model=RelationshipRecorded,
    status_code=201,
    responses={
        **documented(409),
        200: {"model": RelationshipRecorded, "description": "Already recorded, or its end set"},
    },
)
async def create_relationship(
    request: Request,
    response: Response,
    body: RelationshipCreate,
    caller: Annotated[Caller, Depends(require_scope("write"))],
) -> RelationshipRecorded:
    """As `relate <customer> <kind> <customer> [from <date>] [until <date>]` in chat: 201 when
    recorded, 200 when it was already (or when only `until` ended a current one)."""
    ctx = api_context(request, caller)
    first = await _customer(ctx, body.from_customer_id, "from_customer_id")
    second = await _customer(ctx, body.to_customer_id, "to_customer_id")
    outcome, record = await relate_customers(
        ctx,
        first,
        body.kind,
        second,
        starts=day_start(body.since, ctx.tz) if body.since else None,
        ends=day_start(body.until, ctx.tz) if body.until else None,
    )
    if outcome != "created":
        response.status_code = 200
    return RelationshipRecorded(outcome=outcome, relationship=Relationship.of(record, ctx.now()))


@router.delete(
    "/relationships/{relationship_id}",
    response_model=Relationship,
    responses=documented(404, 409),
)
async def end(
    request: Request, relationship_id: int, caller: Annotated[Caller, Depends(require_scope("write"))]
) -> Relationship:
    """As `unrelate` in chat: the relation ends now and stays in the history (it is not erased)."""
    ctx = api_context(request, caller)
    wanted = existing(relationship_id, "relationship")
    async with ctx.store.read() as tx:
        found = await tx.relationships.get(wanted)
    if found is None:
        raise NotFound(f"There is no relationship #{wanted}.")
    return Relationship.of(await end_relation(ctx, found), ctx.now())
