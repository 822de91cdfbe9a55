"""Names a rep understands for segment centres, from what sets each apart from the book, kept
stable across runs: new centres are matched to the last run's (Hungarian algorithm) and a
matched segment keeps its name."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from insight.segment_features import COLUMN, FEATURES, Matrix

# A new centre this close (Euclidean, in z-scores) to one of the last run's is that segment.
MATCH_DISTANCE = 1.0
# A figure sets a segment apart when its centre is at least this many standard deviations out.
NOTABLE_Z = 0.5
MAX_PHRASES = 4
NEVER_ORDERED = "leads"


@dataclass(frozen=True, slots=True)
class Archetype:
    """A kind of segment reps know, as the direction its centre leans in (feature -> weight)."""

    slug: str
    name: str
    leans: Mapping[str, float]


# Recency is "days since the last order": a negative weight means "ordered recently".
ARCHETYPES: tuple[Archetype, ...] = (
    Archetype(
        "champions",
        "Champions",
        {"recency_days": -1, "frequency": 1, "monetary": 1, "sentiment": 0.5, "loyalty": 0.7, "breadth": 0.3},
    ),
    Archetype(
        "loyal-regulars", "Loyal regulars", {"frequency": 1, "tenure_days": 1, "loyalty": 0.6, "aov": -0.3}
    ),
    Archetype("big-spenders", "Big spenders", {"monetary": 1, "aov": 1, "frequency": 0.2}),
    Archetype(
        "slipping-big-spenders",
        "Slipping big spenders",
        {
            "monetary": 1,
            "aov": 0.6,
            "recency_days": 1,
            "sentiment": -0.5,
            "csat": -0.4,
            "open_tickets": 0.4,
            "breached_tickets": 0.3,
            "loyalty": -0.4,
        },
    ),
    Archetype("new-customers", "New customers", {"tenure_days": -1, "recency_days": -0.7, "frequency": -0.3}),
    Archetype(
        "promising", "Promising", {"recency_days": -0.8, "frequency": -0.2, "aov": 0.4, "sentiment": 0.3}
    ),
    Archetype(
        "unhappy",
        "Unhappy customers",
        {"sentiment": -1, "csat": -1, "open_tickets": 0.5, "breached_tickets": 0.5},
    ),
    Archetype(
        "support-heavy", "Support-heavy", {"open_tickets": 1, "breached_tickets": 1, "sentiment": -0.2}
    ),
    Archetype(
        "at-risk", "At risk", {"recency_days": 0.6, "frequency": 0.5, "loyalty": -1, "sentiment": -0.3}
    ),
    Archetype(
        "hibernating", "Hibernating", {"recency_days": 1, "frequency": -0.5, "aov": -0.3, "loyalty": -0.3}
    ),
    Archetype("leads", "Leads who never ordered", {"frequency": -1, "monetary": -1, "breadth": -0.5}),
    Archetype("wide-baskets", "Wide-basket buyers", {"breadth": 1, "frequency": 0.4}),
    Archetype("bargain-hunters", "Bargain hunters", {"aov": -1, "frequency": 0.6}),
    Archetype(
        "happy-occasionals", "Happy occasional buyers", {"sentiment": 1, "csat": 0.6, "frequency": -0.4}
    ),
)


@dataclass(frozen=True, slots=True)
class PreviousSegment:
    slug: str
    name: str
    z: Sequence[float]  # its centre's z-scores, in FEATURES order


@dataclass(frozen=True, slots=True)
class SegmentName:
    slug: str
    name: str
    description: str  # "ordered recently and often, spend high, happy"
    kept: bool  # the name carried over from the last run


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "segment"


def _days(days: float) -> str:
    if days >= 60:
        return f"{days / 30.4:.0f} months"
    return f"{days:.0f} days"


def _phrase(feature: str, z: float, median: float) -> str:
    """What a centre ``z`` standard deviations out on ``feature`` means, in a rep's words."""
    high = z > 0
    match feature:
        case "recency_days":
            return f"ordered in the last {_days(median)}" if not high else f"nothing for {_days(median)}"
        case "frequency":
            if not high and median < 0.5:
                return "never ordered"
            return (
                f"order often ({median:.0f} order{'' if round(median) == 1 else 's'})"
                if high
                else "rarely order"
            )
        case "monetary":
            return "spend high" if high else "spend little"
        case "tenure_days":
            return f"customers for {_days(median)}" if high else "new to us"
        case "aov":
            return "large baskets" if high else "small baskets"
        case "breadth":
            return f"buy many products ({median:.0f})" if high else "buy few products"
        case "sentiment":
            return "happy" if high else "negative in what they say"
        case "csat":
            return "rate support well" if high else "rate support poorly"
        case "open_tickets":
            return "open tickets" if high else "no open tickets"
        case "breached_tickets":
            return "breached tickets" if high else "no breached tickets"
        case _:
            return "loyal" if high else "low loyalty"


BUYING = ("recency_days", "frequency", "monetary", "aov", "breadth", "tenure_days")
# What a segment that never ordered has no real value for (its gaps were filled, see impute).
_NEVER_ORDERED_HIDES = frozenset({"recency_days", "monetary", "aov", "breadth"})


def describe(z: Sequence[float], medians: Sequence[float]) -> str:
    """The figures that set a centre apart, in a rep's words: up to two about buying, then up
    to two about how they feel and what they ask of support ("ordered in the last 8 days, order
    often (24 orders), happy, loyal")."""
    never = float(medians[COLUMN["frequency"]]) < 0.5
    notable = [
        f
        for f in sorted(range(len(FEATURES)), key=lambda f: (-abs(z[f]), f))
        if abs(z[f]) >= NOTABLE_Z and not (never and FEATURES[f] in _NEVER_ORDERED_HIDES)
    ]
    buying = [f for f in notable if FEATURES[f] in BUYING][:2]
    service = [f for f in notable if FEATURES[f] not in BUYING][:2]
    phrases = [_phrase(FEATURES[f], float(z[f]), float(medians[f])) for f in buying + service]
    if not phrases:
        return "close to the book's average on every figure"
    return ", ".join(dict.fromkeys(phrases[:MAX_PHRASES]))


def _lean_vector(archetype: Archetype) -> np.ndarray:
    vector = np.zeros(len(FEATURES))
    for feature, weight in archetype.leans.items():
        vector[COLUMN[feature]] = weight
    return vector / np.linalg.norm(vector)


def match_previous(z: Matrix, previous: Sequence[PreviousSegment]) -> dict[int, PreviousSegment]:
    """New segment index -> the last run's segment it continues (Hungarian on centre distance;
    a pair further apart than MATCH_DISTANCE is a new segment, not a continuation)."""
    from scipy.optimize import linear_sum_assignment

    if not previous or z.shape[0] == 0:
        return {}
    old = np.array([list(p.z) for p in previous], dtype=np.float64)
    if old.shape[1] != z.shape[1]:
        return {}  # the features changed: nothing carries over
    cost = np.linalg.norm(z[:, None, :] - old[None, :, :], axis=2)
    rows, cols = linear_sum_assignment(cost)
    return {int(r): previous[int(c)] for r, c in zip(rows, cols, strict=True) if cost[r, c] <= MATCH_DISTANCE}


def name_segments(z: Matrix, medians: Matrix, previous: Sequence[PreviousSegment] = ()) -> list[SegmentName]:
    """One unique name per centre: the last run's name for a centre that continues one, else
    the archetype it leans towards most (one archetype per segment, by the Hungarian algorithm
    on cosine similarity), else "Segment N"."""
    from scipy.optimize import linear_sum_assignment

    k = z.shape[0]
    kept = match_previous(z, previous)
    taken = {p.slug for p in kept.values()} | {p.name for p in kept.values()}
    free = [a for a in ARCHETYPES if a.slug not in taken and a.name not in taken]
    fresh = [j for j in range(k) if j not in kept]
    chosen: dict[int, Archetype] = {}
    if fresh and free:
        leans = np.vstack([_lean_vector(a) for a in free])
        norms = np.linalg.norm(z[fresh], axis=1, keepdims=True)
        similarity = (z[fresh] / np.maximum(norms, 1e-9)) @ leans.T
        # Whether a segment ever ordered is a fact, not a lean: "Leads who never ordered" is for
        # the segment whose typical customer has no order, and for no other.
        for column, candidate in enumerate(free):
            if candidate.slug == NEVER_ORDERED:
                never = medians[fresh, COLUMN["frequency"]] < 0.5
                similarity[:, column] = np.where(never, 10.0, -10.0)
        rows, cols = linear_sum_assignment(-similarity)
        chosen = {fresh[int(r)]: free[int(c)] for r, c in zip(rows, cols, strict=True)}
    names: list[SegmentName] = []
    used = set(taken)
    for j in range(k):
        description = describe(z[j], medians[j])
        if j in kept:
            names.append(SegmentName(kept[j].slug, kept[j].name, description, kept=True))
            continue
        archetype = chosen.get(j)
        if archetype is not None:
            slug, name = archetype.slug, archetype.name
        else:
            n = 1
            while f"segment-{n}" in used:
                n += 1
            slug, name = f"segment-{n}", f"Segment {n}"
        used.update((slug, name))
        names.append(SegmentName(slug, name, description, kept=False))
    return names
