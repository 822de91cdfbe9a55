"""/orders: create one, create up to 1,000 in one transaction (idempotent by external_ref), get
one, and a customer's orders; through handlers.order_lines.record_orders, `order`'s rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from bot.api import paging
from bot.api.auth import Caller, api_context, require_scope
from bot.api.customers import ExternalRef
from bot.api.errors import ApiError, FieldError, documented, invalid
from bot.api.ids import existing
from crm_store.records import OrderLineRecord, OrderRecord, ProductRecord
from handlers import access
from handlers.context import Context
from handlers.order_lines import MAX_LINES, MAX_QUANTITY, LineDraft, OrderDraft, OrderProblems, record_orders

router = APIRouter(tags=["orders"])
MAX_BULK = 1_000


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=MAX_QUANTITY)
    unit_price_cents: int | None = Field(None, gt=0, description="default: the catalog's list price")


class OrderIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customer_id: int | None = Field(None, ge=1, lt=2**63, description="give this or customer_external_ref")
    customer_external_ref: ExternalRef | None = None
    external_ref: ExternalRef | None = Field(
        None, description="the order's id in your system: sent again, no new order"
    )
    ordered_at: datetime | None = Field(None, description="default: now; with a time zone")
    note: str = Field("", max_length=500)
    lines: list[LineIn] = Field(min_length=1, max_length=MAX_LINES)


class BulkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    orders: list[OrderIn] = Field(min_length=1, max_length=MAX_BULK)


class Line(BaseModel):
    product_id: int
    sku: str
    quantity: int
    unit_price_cents: int
    line_cents: int


class Order(BaseModel):
    id: int
    customer_id: int
    external_ref: str | None
    amount_cents: int
    currency: str
    note: str
    ordered_at: datetime
    lines: list[Line]


class OrderCreated(Order):
    created: bool = Field(description="false: this external_ref was already recorded (nothing new)")


class OrderPage(BaseModel):
    items: list[Order]
    next_cursor: str | None


class BulkResult(BaseModel):
    index: int
    id: int
    external_ref: str | None
    created: bool


class BulkOut(BaseModel):
    created: int
    existing: int
    results: list[BulkResult]


def _order(record: OrderRecord, lines: list[OrderLineRecord], products: dict[int, ProductRecord]) -> Order:
    return Order(
        id=record.id,
        customer_id=record.customer_id,
        external_ref=record.external_ref,
        amount_cents=record.amount_cents,
        currency=record.currency,
        note=record.note,
        ordered_at=record.ordered_at,
        lines=[
            Line(
                product_id=ln.product_id,
                sku=products[ln.product_id].sku if ln.product_id in products else "",
                quantity=ln.quantity,
                unit_price_cents=ln.unit_price_cents,
                line_cents=ln.line_cents,
            )
            for ln in lines
        ],
    )


async def _orders(ctx: Context, records: list[OrderRecord]) -> list[Order]:
    async with ctx.store.read() as tx:
        lines = await tx.orders.lines_of([r.id for r in records])
        products = await tx.catalog.get_many({ln.product_id for group in lines.values() for ln in group})
    return [_order(r, lines[r.id], products) for r in records]


async def _drafts(ctx: Context, orders: list[OrderIn], where: Callable[[int], str]) -> list[OrderDraft]:
    """The orders as drafts; customers named by external_ref looked up (unknown ones named).
    ``where(i)`` is how field names of order ``i`` start ("" alone, "orders.3." in a batch)."""
    refs = [o.customer_external_ref for o in orders if o.customer_external_ref]
    async with ctx.store.read() as tx:
        known = await tx.customers.ids_by_external_ref(refs)
    errors = []
    for i, o in enumerate(orders):
        if (o.customer_id is None) == (o.customer_external_ref is None):
            errors.append(
                FieldError(
                    field=f"{where(i)}customer_id",
                    message="give one of customer_id and customer_external_ref",
                )
            )
        elif o.customer_external_ref and o.customer_external_ref not in known:
            errors.append(
                FieldError(
                    field=f"{where(i)}customer_external_ref",
                    message=f"no customer with the reference {o.customer_external_ref!r}",
                )
            )
        if o.ordered_at is not None:
            try:
                paging.utc_time(o.ordered_at, f"{where(i)}ordered_at")
            except ApiError as exc:
                errors.extend(exc.fields)
    if errors:
        raise invalid(errors)
    return [
        OrderDraft(
            customer_id=o.customer_id if o.customer_id is not None else known[str(o.customer_external_ref)],
            lines=tuple(LineDraft(ln.sku, ln.quantity, ln.unit_price_cents) for ln in o.lines),
            external_ref=o.external_ref,
            ordered_at=o.ordered_at,
            note=o.note,
        )
        for o in orders
    ]


async def _record(ctx: Context, orders: list[OrderIn], where: Callable[[int], str]) -> list[tuple[int, bool]]:
    drafts = await _drafts(ctx, orders, where)
    try:
        return [(r.order_id, r.created) for r in await record_orders(ctx, drafts)]
    except OrderProblems as exc:
        raise invalid(
            [
                FieldError(
                    field=where(p.order) + (f"lines.{p.line}." if p.line is not None else "") + p.field,
                    message=p.message,
                )
                for p in exc.problems
            ]
        ) from None


@router.post(
    "/orders",
    response_model=OrderCreated,
    status_code=201,
    responses={
        **documented(),
        200: {"model": OrderCreated, "description": "This external_ref was already recorded"},
    },
)
async def create_order(
    request: Request,
    body: OrderIn,
    response: Response,
    caller: Annotated[Caller, Depends(require_scope("write"))],
) -> OrderCreated:
    """One order with its lines, priced from the catalog unless a line gives its price (one
    currency per order). Sent again with the same external_ref: 200 and the order as it was."""
    ctx = api_context(request, caller)
    [(order_id, created)] = await _record(ctx, [body], lambda _: "")
    if not created:
        response.status_code = 200
    async with ctx.store.read() as tx:
        record = await tx.orders.get(order_id)
    assert record is not None
    [order] = await _orders(ctx, [record])
    return OrderCreated(**order.model_dump(), created=created)


@router.post("/orders/bulk", response_model=BulkOut, responses=documented())
async def create_orders(
    request: Request, body: BulkIn, caller: Annotated[Caller, Depends(require_scope("write"))]
) -> BulkOut:
    """Up to 1,000 orders in one transaction: all recorded, or (any field wrong) none, with
    every problem named as orders.<n>.lines.<m>.<field>. An order whose external_ref is already
    recorded is not recorded again: its result says created false."""
    ctx = api_context(request, caller)
    recorded = await _record(ctx, body.orders, lambda i: f"orders.{i}.")
    results = [
        BulkResult(index=i, id=order_id, external_ref=o.external_ref, created=created)
        for i, ((order_id, created), o) in enumerate(zip(recorded, body.orders, strict=True))
    ]
    made = sum(1 for r in results if r.created)
    return BulkOut(created=made, existing=len(results) - made, results=results)


@router.get("/orders/{order_id}", response_model=Order, responses=documented(404))
async def get_order(
    request: Request, order_id: int, caller: Annotated[Caller, Depends(require_scope("read"))]
) -> Order:
    ctx = api_context(request, caller)
    async with ctx.store.read() as tx:
        record = await tx.orders.get(existing(order_id, "order"))
    if record is None:
        raise ApiError(404, "not_found", f"There is no order #{order_id}.")
    await access.check_id(ctx, record.customer_id)
    [order] = await _orders(ctx, [record])
    return order


@router.get("/customers/{customer_id}/orders", response_model=OrderPage, responses=documented(404))
async def customer_orders(
    request: Request,
    customer_id: int,
    caller: Annotated[Caller, Depends(require_scope("read"))],
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=paging.MAX_LIMIT)] = paging.DEFAULT_LIMIT,
) -> OrderPage:
    """A customer's orders in the order they were recorded, with their lines."""
    ctx = api_context(request, caller)
    after = paging.decode_id(cursor)
    customer = await access.customer(ctx, existing(customer_id, "customer"))
    async with ctx.store.read() as tx:
        records = await tx.orders.page_for_customer(customer.id, after_id=after, limit=limit + 1)
    more = len(records) > limit
    records = records[:limit]
    return OrderPage(
        items=await _orders(ctx, records), next_cursor=paging.encode_id(records[-1].id) if more else None
    )
