"""The segment a name, slug, unambiguous part of a name or ``#id`` stands for (``segment:`` in
the audience filter, handlers.audience_filter). `find`, `segment`, campaigns and the API read
segments through ``resolve_segment``."""

from __future__ import annotations

import re
from dataclasses import dataclass

from crm_store.segments import SegmentRecord
from crm_store.store import Store
from handlers.errors import NotFound, UserError
from handlers.parsing import one_line

_BY_ID = re.compile(r"^#(\d{1,12})$")
NOT_YET = "No segments yet: they are computed nightly with the loyalty run (or `crm-bot segments recompute`)."


@dataclass(frozen=True, slots=True)
class SegmentFilter:
    ref: str  # what names the segment ("champions", "slipping big", "#3")
    rest: str  # the text around the filter (searched within the segment; may be empty)


async def resolve_segment(store: Store, ref: str) -> SegmentRecord:
    """The live segment ``ref`` names; NotFound (listing the segments there are) or UserError
    (for a part of several names) otherwise."""
    ref = ref.strip()
    async with store.read() as tx:
        by_id = _BY_ID.match(ref)
        if by_id is not None:
            found = await tx.segments.get(int(by_id.group(1)))
            matches = [found] if found is not None and found.size > 0 else []
        else:
            matches = await tx.segments.matching(ref) if ref else []
        live = await tx.segments.live()
    if len(matches) == 1:
        return matches[0]
    if not live:
        raise NotFound(NOT_YET)
    if matches:
        names = ", ".join(s.name for s in matches)
        raise UserError(f"{one_line(ref, 40)!r} is part of several segment names ({names}); say which.")
    names = ", ".join(f"{s.name} (`{s.slug}`)" for s in live)
    if not ref:
        raise UserError(f"Which segment? Segments: {names}.")
    raise NotFound(f"There is no segment {one_line(ref, 40)!r}. Segments: {names}.")
