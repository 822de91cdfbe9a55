"""/segments: the latest run's segments with their sizes, descriptions and medians, and one
segment's customers a page at a time, as `segments` and `segment <name>` show them in chat."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from bot.api import paging
from bot.api.auth import Caller, api_context, require_scope
from bot.api.customers import Customer, CustomerPage
from bot.api.errors import documented
from crm_store.segments import SegmentRecord
from handlers.errors import NotFound
from handlers.segments import key_figures

router = APIRouter(tags=["segments"])


class Segment(BaseModel):
    id: int
    slug: str = Field(description="the segment's name in URLs and in GET /customers?segment=")
    name: str
    description: str
    size: int = Field(description="customers in the segment")
    share: float = Field(description="its part of all segmented customers, 0 to 1")
    summary: str = Field(description="its medians in words, as in chat")
    medians: dict[str, float] = Field(description="median of each feature the segments are made of")
    computed_at: datetime

    @classmethod
    def of(cls, s: SegmentRecord, total: int) -> Segment:
        median = s.figures.get("median", {})
        return cls(
            id=s.id,
            slug=s.slug,
            name=s.name,
            description=s.description,
            size=s.size,
            share=s.size / total if total else 0.0,
            summary=key_figures(s),
            medians={str(k): float(v) for k, v in median.items()},
            computed_at=s.computed_at,
        )


class SegmentList(BaseModel):
    items: list[Segment] = Field(description="largest first; empty until the first segmentation run")
    customers: int = Field(description="customers in all segments")


@router.get("/segments", response_model=SegmentList, responses=documented())
async def list_segments(
    request: Request, caller: Annotated[Caller, Depends(require_scope("read"))]
) -> SegmentList:
    ctx = api_context(request, caller)
    async with ctx.store.read() as tx:
        live = await tx.segments.live()
    total = sum(s.size for s in live)
    return SegmentList(items=[Segment.of(s, total) for s in live], customers=total)


@router.get(
    "/segments/{slug}/customers",
    response_model=CustomerPage,
    responses=documented(404),
)
async def segment_customers(
    request: Request,
    slug: str,
    caller: Annotated[Caller, Depends(require_scope("read"))],
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=paging.MAX_LIMIT)] = paging.DEFAULT_LIMIT,
) -> CustomerPage:
    """The segment's customers by id, those the token may see."""
    ctx = api_context(request, caller)
    after = paging.decode_id(cursor)
    async with ctx.store.read() as tx:
        found = [s for s in await tx.segments.matching(slug) if s.slug == slug.strip().lower()]
        if not found:
            raise NotFound(f"There is no segment {slug!r}; GET /segments lists them.")
        segment = found[0]
        rows = await tx.segments.members(
            segment.id,
            limit=limit + 1,
            after_id=after,
            visible_to_rep=ctx.scope.owner_filter,
        )
    rows, next_cursor = paging.page_of(rows, limit, lambda r: paging.encode_id(r.id))
    return CustomerPage(items=[Customer.of(c) for c in rows], next_cursor=next_cursor)
