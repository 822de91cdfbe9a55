"""One segments run: features from the store, the model and its names off the event loop, the
result stored. The nightly loyalty job, `crm-bot segments recompute` and the bench call it."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from crm_store.segments import FeatureBook, NewSegment
from crm_store.store import Store
from insight.segment_features import FEATURES
from insight.segment_model import SegmentFit, TooFewCustomers, fit_segments
from insight.segment_names import PreviousSegment, SegmentName, name_segments

_LOGGER = logging.getLogger(__name__)
ACTOR = "scheduler"


@dataclass(frozen=True, slots=True)
class SegmentRun:
    customers: int
    segments: tuple[NewSegment, ...] = ()
    moved: int = 0
    new: int = 0
    skipped: str = ""  # why nothing was segmented ("too few customers"), else empty

    def summary(self) -> str:
        if self.skipped:
            return f"No segments: {self.skipped}."
        names = ", ".join(f"{s.name} ({s.size:,})" for s in self.segments)
        return (
            f"Segmented {self.customers:,} customers into {len(self.segments)} segments: {names}; "
            f"{self.moved:,} moved segment since the last run."
        )


def model_run(book: FeatureBook, previous: list[PreviousSegment]) -> tuple[SegmentFit, list[SegmentName]]:
    """The CPU part: cluster and name (run in a worker thread by ``recompute``)."""
    fit = fit_segments(book.raw)
    return fit, name_segments(fit.z, fit.medians, previous)


def new_segments(fit: SegmentFit, names: list[SegmentName]) -> list[NewSegment]:
    best = fit.silhouettes.get(fit.k)
    return [
        NewSegment(
            slug=n.slug,
            name=n.name,
            description=n.description,
            size=int(fit.sizes[j]),
            figures={
                "z": {f: round(float(fit.z[j, i]), 4) for i, f in enumerate(FEATURES)},
                "median": {f: round(float(fit.medians[j, i]), 4) for i, f in enumerate(FEATURES)},
                "k": fit.k,
                "silhouette": None if best is None else round(best, 4),
            },
        )
        for j, n in enumerate(names)
    ]


async def recompute_segments(store: Store, *, actor: str = ACTOR) -> SegmentRun:
    """Segment the whole book now and store it; a book too small to segment changes nothing."""
    async with store.read() as tx:
        book = await tx.segments.features()
        previous = [PreviousSegment(s.slug, s.name, s.z()) for s in await tx.segments.live()]
    try:
        fit, names = await asyncio.to_thread(model_run, book, previous)
    except TooFewCustomers as too_few:
        _LOGGER.info("segments: not computed (%s)", too_few)
        return SegmentRun(customers=int(book.customer_ids.shape[0]), skipped=str(too_few))
    made = new_segments(fit, names)
    async with store.write(actor) as tx:
        saved = await tx.segments.save_run(made, customer_ids=book.customer_ids, labels=fit.labels)
    _LOGGER.info("segments: %s customers in %s segments, %s moved", saved.customers, len(made), saved.moved)
    return SegmentRun(customers=saved.customers, segments=tuple(made), moved=saved.moved, new=saved.new)
