"""Next products to offer: `recommend <customer>`, the card's "Next to offer" line, and every
customer's top k as CSV for `crm-bot recommend --out`."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from typing import TYPE_CHECKING, TextIO

import numpy as np

from crm_store.recommend import day_of
from crm_store.store import Store
from handlers import actions
from handlers.common import describe, pick_customer
from handlers.context import Context
from handlers.messages import Button, Field, ListItem, Reply
from handlers.parsing import one_line
from handlers.recommend_model import ModelHolder
from handlers.registry import Area, Command

if TYPE_CHECKING:
    from insight.recommend import ItemRecommender, Recommendation

RECOMMEND_USAGE = "recommend <customer> [how many, 1-20]"
DEFAULT_TOP = 5
MAX_TOP = 20
CARD_TOP = 3
NOTHING_SOLD = (
    "No products have been sold yet, so there is nothing to recommend: record orders with products "
    '(`order acme 2x SKU-1, 1x "Blue mug"`) or import them (`crm-bot import order-lines FILE.csv`).'
)
HOW = (
    "Products bought by the customers who bought what this customer bought (item-to-item "
    "collaborative filtering), consumables due to be re-ordered, and best sellers to fill up."
)
CSV_COLUMNS = ("customer_id", "rank", "sku", "product", "score", "reason")


async def offers_for(
    ctx: Context, customer_id: int, model: ItemRecommender, *, k: int
) -> list[Recommendation]:
    """The customer's top ``k`` from what they hold now (the store's history, fresher than the
    model's), with their segment's best sellers when they have bought nothing."""
    async with ctx.store.read() as tx:
        held = await tx.recommend.held(customer_id)
        segment = await tx.recommend.segment_of(customer_id)
        members = await tx.recommend.segment_members(segment) if segment else []
    from insight.recommend import History

    return model.recommend(
        History.of(held),
        k=k,
        today=day_of(ctx.now()),
        among=np.array(members, dtype=np.int64) if members else None,
        segment=segment,
    )


async def recommend(ctx: Context) -> Reply:
    text = ctx.args.strip()
    head, _, tail = text.rpartition(" ")
    k = DEFAULT_TOP
    if head and tail.isdecimal() and 1 <= int(tail) <= MAX_TOP:  # "recommend acme 3"
        k, text = int(tail), head
    found = await pick_customer(ctx, text, rerun=lambda ref: f"recommend {ref} {k}", usage=RECOMMEND_USAGE)
    if isinstance(found, Reply):
        return found
    model = await ctx.services.recommender.ready(ctx.store)
    if model.products == 0:
        return Reply(text=NOTHING_SOLD)
    offers = await offers_for(ctx, found.id, model, k=k)
    if not offers:
        return Reply(text=f"{describe(found)} already has every product sold so far; nothing new to offer.")
    fresh = all(o.kind == "best_seller" for o in offers)
    lead = (
        f"{describe(found)} has no order history yet: the best sellers."
        if fresh
        else f"The {len(offers)} products {describe(found)} is likeliest to buy next, best first."
    )
    built = ctx.services.recommender.built_at
    return Reply(
        title=f"Next to offer: {describe(found)}",
        text=lead,
        items=tuple(
            ListItem(text=f"{rank}. {one_line(o.name, 80)} ({o.sku})", detail=o.reason)
            for rank, o in enumerate(offers, start=1)
        ),
        context=f"{HOW} Model of {model.customers} customers and {model.products} products"
        + (f", built {built:%Y-%m-%d %H:%M} UTC" if built else "")
        + "; rebuilt nightly.",
        buttons=(Button("Open customer", actions.encode("show", found.id)),),
    )


async def card_line(ctx: Context, customer_id: int) -> Field | None:
    """The card's "Next to offer: Blue mug, Red teapot, …" once the model is in memory (the
    card never waits for a build)."""
    model = ctx.services.recommender.model
    if model is None or model.products == 0:
        return None
    offers = await offers_for(ctx, customer_id, model, k=CARD_TOP)
    if not offers:
        return None
    return Field("Next to offer", ", ".join(one_line(o.name, 40) for o in offers) + ", …")


@dataclass(frozen=True, slots=True)
class Written:
    customers: int
    rows: int
    products: int


async def write_csv(store: Store, holder: ModelHolder, out: TextIO, *, top: int = DEFAULT_TOP) -> Written:
    """Every customer's top ``top`` as ``customer_id, rank, sku, product, score, reason``: the
    model's customers from one batch of sparse products, the rest their segment's best sellers."""
    model = await holder.rebuild(store)
    async with store.read() as tx:
        everyone = await tx.recommend.customer_ids()
        now = tx.now
        known_segments = await tx.recommend.segments()
        segments = {c: known_segments.get(c) for c in everyone if not model.knows(c)}
        members = {s: await tx.recommend.segment_members(s) for s in set(segments.values()) if s}
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    if model.products == 0:
        return Written(len(everyone), 0, 0)
    batch = model.recommend_all(k=top, today=day_of(now))
    writer.writerows(
        zip(
            batch.customer_ids.tolist(),
            batch.ranks.tolist(),
            batch.skus,
            batch.names,
            [f"{s:.4f}" for s in batch.scores.tolist()],
            batch.reasons,
            strict=True,
        )
    )
    rows = len(batch.ranks)
    fallback: dict[str | None, list[Recommendation]] = {}
    for customer, segment in segments.items():
        if segment not in fallback:
            among = np.array(members.get(segment or "", []), dtype=np.int64)
            fallback[segment] = model.best_sellers(top, among=among if len(among) else None, segment=segment)
        for rank, o in enumerate(fallback[segment], start=1):
            writer.writerow((customer, rank, o.sku, o.name, f"{o.score:.4f}", o.reason))
            rows += 1
    return Written(len(everyone), rows, model.products)


COMMANDS = (
    Command(
        "recommend",
        recommend,
        RECOMMEND_USAGE,
        "The products a customer is likeliest to buy next, each with its reason.",
        "recommend acme",
        aliases=("next-products",),
        needs_args=True,
    ),
)
AREA = Area(COMMANDS)
