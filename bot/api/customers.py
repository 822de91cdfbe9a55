"""/customers: list (filters, cursor paging), get, create, patch, and upsert by external_ref,
through the same functions as ``find``, ``add`` and ``update`` in chat."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from bot.api import paging
from bot.api.auth import Caller, api_context, require_scope
from bot.api.errors import ApiError, FieldError, documented, invalid
from bot.api.ids import existing
from crm_store.records import CustomerRecord
from handlers import access
from handlers.context import Context
from handlers.customers import change_customer, look_alikes, new_customer
from handlers.errors import UserError
from handlers.fields import STATUSES, FieldChanges, check_name, parse_fields

router = APIRouter(tags=["customers"])
Status = Literal["lead", "prospect", "active", "inactive", "churned"]
assert set(STATUSES) == set(Status.__args__)  # type: ignore[attr-defined]
ExternalRef = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^\S(.*\S)?$")]
# Text matches are the fuzzy index's best this many; the other filters and paging apply to them.
TEXT_MATCHES = 200


class Customer(BaseModel):
    id: int
    name: str
    company: str
    email: str
    phone: str
    status: str
    tags: list[str]
    custom: dict[str, str]
    owner_rep_id: int | None
    external_ref: str | None
    country: str
    timezone: str | None
    source: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, record: CustomerRecord) -> Customer:
        return cls(
            id=record.id,
            name=record.name,
            company=record.company,
            email=record.email,
            phone=record.phone,
            status=record.status,
            tags=list(record.tags),
            custom={k: str(v) for k, v in record.custom.items()},
            owner_rep_id=record.owner_rep_id,
            external_ref=record.external_ref,
            country=record.country,
            timezone=record.timezone,
            source=record.source,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )


class CustomerPage(BaseModel):
    items: list[Customer]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page; null on the last one")


class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    company: str | None = Field(None, max_length=200)
    email: str | None = Field(None, max_length=254, description="empty string clears it")
    phone: str | None = Field(None, max_length=40, description="empty string clears it")
    status: Status | None = None
    tags: list[Annotated[str, Field(max_length=32)]] | None = Field(None, max_length=50)
    custom: dict[Annotated[str, Field(max_length=32)], str | None] | None = Field(
        None, description="custom fields; null (in a PATCH) removes one"
    )
    owner: str | None = Field(
        None, max_length=200, description="a team member's name, as in chat, or 'none' for nobody"
    )


class CustomerCreate(_Fields):
    name: str = Field(min_length=1, max_length=200)
    external_ref: ExternalRef | None = None
    force: bool = Field(False, description="create even if it looks like an existing customer")


class CustomerPatch(_Fields):
    name: str | None = Field(None, min_length=1, max_length=200)


class CustomerUpsert(_Fields):
    name: str = Field(min_length=1, max_length=200)
    force: bool = Field(False, description="create even if it looks like an existing customer")


def _changes(body: _Fields) -> FieldChanges:
    """The body as chat's key=value pairs, checked by the same rules; every bad field named."""
    given = body.model_dump(exclude_unset=True, exclude={"name", "external_ref", "force"})
    pairs: list[tuple[str, str, str]] = []  # (field as named in the body, key, value)
    for key, value in given.items():
        if key == "custom":
            pairs.extend((f"custom.{k}", k, "" if v is None else v) for k, v in (value or {}).items())
        elif key == "tags":
            pairs.append(("tags", "tags", ",".join(value or [])))
        else:
            pairs.append((key, key, "" if value is None else str(value)))
    errors: list[FieldError] = []
    for where, key, value in pairs:
        if where.startswith("custom.") and key in (
            "name",
            "email",
            "phone",
            "company",
            "status",
            "tags",
            "owner",
        ):
            errors.append(
                FieldError(field=where, message=f"{key} is a built-in field; set it at the top level")
            )
            continue
        try:
            parse_fields([(key, value)], allow_name=False)
        except UserError as exc:
            errors.append(FieldError(field=where, message=exc.message))
    if errors:
        raise invalid(errors)
    try:
        return parse_fields([(key, value) for _, key, value in pairs], allow_name=False)
    except UserError as exc:
        raise invalid([FieldError(field="body", message=exc.message)]) from None


def _name(value: str) -> str:
    try:
        return check_name(value)
    except UserError as exc:
        raise invalid([FieldError(field="name", message=exc.message)]) from None


async def _create(ctx: Context, body: CustomerCreate | CustomerUpsert, external_ref: str | None) -> Customer:
    name = _name(body.name)
    changes = _changes(body)
    if not body.force:
        alikes = await look_alikes(ctx, name, changes)
        if alikes:
            where = {"same email": "email", "same phone": "phone"}
            raise ApiError(
                409,
                "duplicate",
                "This looks like an existing customer: "
                + "; ".join(f"#{c.id} ({why})" for c, why in alikes)
                + '. Send "force": true to create it anyway.',
                fields=[
                    FieldError(field=where.get(why, "name"), message=f"{why} as customer #{c.id}")
                    for c, why in alikes
                ],
            )
    return Customer.of(await new_customer(ctx, name, changes, external_ref=external_ref))


async def _change(ctx: Context, found: CustomerRecord, body: CustomerPatch | CustomerUpsert) -> Customer:
    changes = _changes(body)
    if body.name is not None:
        changes.builtin["name"] = _name(body.name)
    if not changes.builtin and not changes.custom and changes.owner is None:
        return Customer.of(found)
    return Customer.of(await change_customer(ctx, found, changes))


@router.get("/customers", response_model=CustomerPage, responses=documented())
async def list_customers(
    request: Request,
    caller: Annotated[Caller, Depends(require_scope("read"))],
    text: Annotated[str | None, Query(max_length=200, description="fuzzy, as `find` in chat")] = None,
    segment: Annotated[str | None, Query(max_length=64, description="a segment's slug")] = None,
    tag: Annotated[str | None, Query(max_length=32)] = None,
    status: Status | None = None,
    owner: Annotated[str | None, Query(description="a rep id, or 'none' for unowned customers")] = None,
    updated_since: datetime | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=paging.MAX_LIMIT)] = paging.DEFAULT_LIMIT,
) -> CustomerPage:
    """Customers in the order they last changed (oldest first): a changed or new customer joins
    the end, so a sync that follows `next_cursor` until it is null misses none."""
    ctx = api_context(request, caller)
    after = paging.decode(cursor)
    errors: list[FieldError] = []
    owner_id: int | None = None
    if owner is not None and owner.lower() != "none":
        if not owner.isdigit() or not 1 <= int(owner) < 2**63:
            errors.append(FieldError(field="owner", message="a rep id, or none"))
        else:
            owner_id = int(owner)
    if updated_since is not None:
        try:
            updated_since = paging.utc_time(updated_since, "updated_since")
        except ApiError as exc:
            errors.extend(exc.fields)
    segment_id = None
    if segment is not None:
        async with ctx.store.read() as tx:
            found = [s for s in await tx.segments.matching(segment) if s.slug == segment.strip().lower()]
        if not found:
            errors.append(FieldError(field="segment", message=f"no segment with the slug {segment!r}"))
        else:
            segment_id = found[0].id
    if errors:
        raise invalid(errors)
    ids = None
    if text is not None and text.strip():
        matches = await ctx.services.lookup.search(text, limit=TEXT_MATCHES, min_score=55, scope=ctx.scope)
        ids = [m.customer.id for m in matches]
    async with ctx.store.read() as tx:
        rows = await tx.customers.page(
            limit=limit + 1,
            after=after,
            ids=ids,
            segment_id=segment_id,
            tag=tag.strip().lower() if tag else None,
            status=status,
            owner_rep_id=owner_id,
            unowned=owner is not None and owner.lower() == "none",
            updated_since=updated_since,
            visible_to_rep=ctx.scope.owner_filter,
        )
    rows, next_cursor = paging.page_of(rows, limit, lambda r: paging.encode(r.updated_at, r.id))
    return CustomerPage(items=[Customer.of(r) for r in rows], next_cursor=next_cursor)


@router.get("/customers/{customer_id}", response_model=Customer, responses=documented(404))
async def get_customer(
    request: Request, customer_id: int, caller: Annotated[Caller, Depends(require_scope("read"))]
) -> Customer:
    ctx = api_context(request, caller)
    return Customer.of(await access.customer(ctx, existing(customer_id, "customer")))


@router.post(
    "/customers",
    response_model=Customer,
    status_code=201,
    responses=documented(409),
)
async def create_customer(
    request: Request, body: CustomerCreate, caller: Annotated[Caller, Depends(require_scope("write"))]
) -> Customer:
    """As `add` in chat: the same checks, and a likely duplicate (same email or phone, or a
    nearly identical name) is a 409 naming it unless `force` is true."""
    ctx = api_context(request, caller)
    if body.external_ref is not None:
        async with ctx.store.read() as tx:
            taken = await tx.customers.by_external_ref(body.external_ref)
        if taken is not None:
            raise ApiError(
                409,
                "duplicate",
                f"Customer #{taken.id} already has this external_ref; "
                "PUT /customers/by-ref/{external_ref} updates it.",
                fields=[FieldError(field="external_ref", message=f"taken by customer #{taken.id}")],
            )
    return await _create(ctx, body, body.external_ref)


@router.patch("/customers/{customer_id}", response_model=Customer, responses=documented(404))
async def patch_customer(
    request: Request,
    customer_id: int,
    body: CustomerPatch,
    caller: Annotated[Caller, Depends(require_scope("write"))],
) -> Customer:
    """As `update` in chat: only the fields sent change."""
    ctx = api_context(request, caller)
    found = await access.customer(ctx, existing(customer_id, "customer"))
    return await _change(ctx, found, body)


@router.put(
    "/customers/by-ref/{external_ref}",
    response_model=Customer,
    responses={**documented(404, 409), 201: {"model": Customer, "description": "Created"}},
)
async def upsert_customer(
    request: Request,
    external_ref: Annotated[str, Path(min_length=1, max_length=64)],
    body: CustomerUpsert,
    response: Response,
    caller: Annotated[Caller, Depends(require_scope("write"))],
) -> Customer:
    """The customer with this external reference: updated (200; the fields sent change) or
    created (201). A deleted customer keeps its reference: 404."""
    ctx = api_context(request, caller)
    ref = external_ref.strip()
    if not ref:
        raise invalid([FieldError(field="external_ref", message="empty")])
    async with ctx.store.read() as tx:
        found = await tx.customers.by_external_ref(ref)
    if found is None:
        response.status_code = 201
        return await _create(ctx, body, ref)
    if found.deleted_at is not None:
        raise ApiError(404, "not_found", f"The customer with external_ref {ref!r} was deleted.")
    return await _change(ctx, access.check(ctx, found), body)
