"""/products: list, get, create, and upsert by SKU, with `product add`'s rules (handlers.catalog)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from bot.api import paging
from bot.api.auth import Caller, api_context, require_scope
from bot.api.errors import ApiError, FieldError, documented, invalid
from bot.api.ids import existing
from crm_store.records import ProductRecord
from handlers.catalog import product_problems, save_product
from handlers.context import Context

router = APIRouter(tags=["products"])


class Product(BaseModel):
    id: int
    sku: str
    name: str
    category: str
    price_cents: int | None
    currency: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, record: ProductRecord) -> Product:
        return cls(
            id=record.id,
            sku=record.sku,
            name=record.name,
            category=record.category,
            price_cents=record.price_cents,
            currency=record.currency,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )


class ProductPage(BaseModel):
    items: list[Product]
    next_cursor: str | None


class _ProductFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    category: str | None = Field(None, max_length=100)
    price_cents: int | None = Field(None, ge=0, lt=10**12, description="the list price, in cents")
    currency: str | None = Field(None, min_length=3, max_length=3, description="default USD")


class ProductCreate(_ProductFields):
    sku: str = Field(min_length=1, max_length=64)


async def _save(ctx: Context, sku: str, body: _ProductFields, *, upsert: bool) -> tuple[Product, bool]:
    currency = body.currency.upper() if body.currency else None
    problems = product_problems(
        sku=sku, name=body.name, category=body.category, currency=currency, price_cents=body.price_cents
    )
    if problems:
        raise invalid([FieldError(field=field, message=message) for field, message in problems])
    product_id, created = await save_product(
        ctx,
        sku=sku,
        name=body.name,
        price_cents=body.price_cents,
        currency=currency,
        category=body.category,
        upsert=upsert,
    )
    async with ctx.store.read() as tx:
        record = await tx.catalog.get(product_id)
    assert record is not None
    return Product.of(record), created


@router.get("/products", response_model=ProductPage, responses=documented())
async def list_products(
    request: Request,
    caller: Annotated[Caller, Depends(require_scope("read"))],
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=paging.MAX_LIMIT)] = paging.DEFAULT_LIMIT,
) -> ProductPage:
    """The catalog in id order."""
    ctx = api_context(request, caller)
    after = paging.decode_id(cursor)
    async with ctx.store.read() as tx:
        records = await tx.catalog.page(after_id=after, limit=limit + 1)
    more = len(records) > limit
    records = records[:limit]
    return ProductPage(
        items=[Product.of(r) for r in records], next_cursor=paging.encode_id(records[-1].id) if more else None
    )


@router.get("/products/{product_id}", response_model=Product, responses=documented(404))
async def get_product(
    request: Request, product_id: int, caller: Annotated[Caller, Depends(require_scope("read"))]
) -> Product:
    ctx = api_context(request, caller)
    async with ctx.store.read() as tx:
        record = await tx.catalog.get(existing(product_id, "product"))
    if record is None:
        raise ApiError(404, "not_found", f"There is no product #{product_id}.")
    return Product.of(record)


@router.post("/products", response_model=Product, status_code=201, responses=documented())
async def create_product(
    request: Request, body: ProductCreate, caller: Annotated[Caller, Depends(require_scope("write"))]
) -> Product:
    """As `product add`: a SKU already in the catalog is a 422 (PUT /products/by-sku/{sku} updates)."""
    product, _ = await _save(api_context(request, caller), body.sku, body, upsert=False)
    return product


@router.put(
    "/products/by-sku/{sku:path}",
    response_model=Product,
    responses={**documented(), 201: {"model": Product, "description": "Created"}},
)
async def upsert_product(
    request: Request,
    sku: Annotated[str, Path(min_length=1, max_length=64)],
    body: _ProductFields,
    response: Response,
    caller: Annotated[Caller, Depends(require_scope("write"))],
) -> Product:
    """The product with this SKU (any case): updated (200; fields sent as null stay) or created (201)."""
    product, created = await _save(api_context(request, caller), sku, body, upsert=True)
    if created:
        response.status_code = 201
    return product
