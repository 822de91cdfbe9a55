"""The next-product model held in memory: built in the background at start and after each
nightly run, read by `recommend`, the customer card and `crm-bot recommend`."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import TYPE_CHECKING

from crm_store.store import Store

if TYPE_CHECKING:  # scipy stays off the import path until the first build
    from insight.recommend import ItemRecommender, RecommendSettings

_LOGGER = logging.getLogger(__name__)


class ModelHolder:
    """One model per process; a build replaces it whole when it is done, so readers always
    see a complete model (the previous one meanwhile)."""

    def __init__(self, settings: RecommendSettings | None = None) -> None:
        self.settings = settings
        self.model: ItemRecommender | None = None
        self.built_at: datetime | None = None
        self._build: asyncio.Task[ItemRecommender] | None = None

    async def rebuild(self, store: Store) -> ItemRecommender:
        """Read every order line and fit a new model (the fit runs in a worker thread); a build
        already under way is joined, not doubled."""
        if self._build is None or self._build.done():
            self._build = asyncio.create_task(self._fit(store))
        return await asyncio.shield(self._build)

    async def ready(self, store: Store) -> ItemRecommender:
        """The model, built now when there is none yet."""
        if self.model is not None:
            return self.model
        return await self.rebuild(store)

    async def _fit(self, store: Store) -> ItemRecommender:
        from insight.recommend import ItemRecommender, Purchases

        started = time.perf_counter()
        async with store.read() as tx:
            lines = await tx.recommend.lines()
            names = {pid: (sku, name) for pid, sku, name in await tx.catalog.all_names()}
            now = tx.now
        purchases = Purchases(
            lines.customer_ids, lines.product_ids, lines.quantities, lines.order_ids, lines.days
        )
        settings = self.settings
        model = await asyncio.get_running_loop().run_in_executor(
            None, lambda: ItemRecommender.fit(purchases, names, settings)
        )
        self.model, self.built_at = model, now
        _LOGGER.info(
            "next-product model: %s customers, %s products, %s lines in %.1f s",
            model.customers,
            model.products,
            len(purchases),
            time.perf_counter() - started,
        )
        return model
