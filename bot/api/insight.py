"""What the models say about one customer: the next products to offer (`recommend` in chat) and
the expected orders and revenue (`forecast <customer>` in chat)."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from bot.api.auth import Caller, api_context, require_scope
from bot.api.errors import ApiError, ErrorResponse, documented
from bot.api.ids import existing
from handlers import access
from handlers.context import Services
from handlers.forecast import forecast_for
from handlers.forecast_book import DEFAULT_HORIZON, MAX_HORIZON, TooLittleHistory
from handlers.recommend import DEFAULT_TOP, MAX_TOP, offers_for

router = APIRouter(tags=["insight"])
# How long a client should wait for the next-product model that is being built.
BUILD_RETRY_SECONDS = 30
_BUILDS: set[asyncio.Task[object]] = set()  # held so a build started here is not collected


class Offer(BaseModel):
    rank: int
    product_id: int
    sku: str
    name: str
    score: float = Field(description="higher is likelier; comparable within one kind")
    kind: Literal["similar", "rebuy", "best_seller"]
    reason: str


class Recommendations(BaseModel):
    customer_id: int
    items: list[Offer] = Field(description="best first; empty when nothing has been sold yet")
    model_customers: int
    model_products: int
    built_at: datetime | None


class Forecast(BaseModel):
    customer_id: int
    horizon_days: int
    as_of: date = Field(description="orders up to the end of this day (UTC) were used")
    expected_orders: float
    expected_revenue_cents: int
    revenue_low_cents: int = Field(description="the 90% range of the revenue")
    revenue_high_cents: int
    p_active: float = Field(description="the chance the customer orders again at all, 0 to 1")
    model: str = Field(
        description="regression (trained on the book's own history) or bgnbd (too little history for it)"
    )


def _building(services: Services) -> ApiError:
    """Start the model's build if none is under way (the holder joins one that is) and say when
    to come back."""
    holder = services.recommender
    task: asyncio.Task[object] = asyncio.ensure_future(holder.rebuild(services.store))
    _BUILDS.add(task)
    task.add_done_callback(_BUILDS.discard)
    return ApiError(
        503,
        "not_ready",
        "The next-product model is being built; try again shortly.",
        headers={"Retry-After": str(BUILD_RETRY_SECONDS)},
    )


@router.get(
    "/customers/{customer_id}/recommendations",
    response_model=Recommendations,
    responses={
        **documented(404),
        503: {"model": ErrorResponse, "description": "The model is being built; see Retry-After"},
    },
)
async def recommendations(
    request: Request,
    customer_id: int,
    caller: Annotated[Caller, Depends(require_scope("read"))],
    limit: Annotated[int, Query(ge=1, le=MAX_TOP)] = DEFAULT_TOP,
) -> Recommendations:
    """The products the customer is likeliest to buy next, each with its reason: bought by
    customers who bought what they bought, consumables due again, best sellers to fill up."""
    ctx = api_context(request, caller)
    customer = await access.customer(ctx, existing(customer_id, "customer"))
    holder = ctx.services.recommender
    model = holder.model
    if model is None:
        raise _building(ctx.services)
    offers = await offers_for(ctx, customer.id, model, k=limit) if model.products else []
    return Recommendations(
        customer_id=customer.id,
        items=[
            Offer(
                rank=rank,
                product_id=o.product_id,
                sku=o.sku,
                name=o.name,
                score=o.score,
                kind=o.kind,
                reason=o.reason,
            )
            for rank, o in enumerate(offers, start=1)
        ],
        model_customers=model.customers,
        model_products=model.products,
        built_at=holder.built_at,
    )


@router.get(
    "/customers/{customer_id}/forecast",
    response_model=Forecast,
    responses=documented(404),
)
async def forecast(
    request: Request,
    customer_id: int,
    caller: Annotated[Caller, Depends(require_scope("read"))],
    horizon_days: Annotated[int, Query(ge=7, le=MAX_HORIZON)] = DEFAULT_HORIZON,
) -> Forecast:
    """Expected orders and revenue over the next `horizon_days`, as of today, from the model
    `forecast` uses in chat (the book's fit is kept for the day)."""
    ctx = api_context(request, caller)
    customer = await access.customer(ctx, existing(customer_id, "customer"))
    try:
        figures = await forecast_for(ctx, customer.id, horizon_days)
    except TooLittleHistory as exc:
        raise ApiError(
            404, "no_forecast", f"The book has too little order history to forecast ({exc})."
        ) from None
    if figures is None:
        raise ApiError(
            404,
            "no_forecast",
            f"Customer #{customer.id} has no orders yet, so there is nothing to forecast from.",
        )
    return Forecast(
        customer_id=customer.id,
        horizon_days=figures.horizon_days,
        as_of=figures.as_of,
        expected_orders=round(figures.expected_orders, 4),
        expected_revenue_cents=round(figures.expected_revenue_cents),
        revenue_low_cents=round(figures.low_cents),
        revenue_high_cents=round(figures.high_cents),
        p_active=round(figures.p_active, 4),
        model=figures.model,
    )
