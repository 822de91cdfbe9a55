"""The audience filter language `find` and campaigns share: ``key:value`` words (segment, tag,
status, owner, country, loyalty, last-order-before/after, custom fields) and what they select."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from crm_store.audience import AudienceQuery
from crm_store.store import Store
from handlers.errors import UserError
from handlers.fields import STATUSES
from handlers.parsing import one_line
from handlers.report_loyalty import BANDS
from handlers.segment_filter import resolve_segment
from handlers.teammates import teammate_in

# key:value or key:"two words"; a value may list several, comma-separated (any of them).
_WORD = re.compile(r'(?:^|(?<=\s))([A-Za-z][A-Za-z0-9_.-]*):(?:"([^"]*)"|(\S*))')
_CUSTOM_KEY = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_AGO = re.compile(r"^(\d{1,4})\s*(d|w|days?|weeks?)$")
KINDS = ("segment", "tag", "status", "owner", "country", "loyalty", "last-order-before", "last-order-after")
# Other spellings people type for the same kinds.
_ALIASES = {
    "tags": "tag",
    "segments": "segment",
    "last_order_before": "last-order-before",
    "last_order_after": "last-order-after",
    "ordered-before": "last-order-before",
    "ordered-after": "last-order-after",
}
HELP = (
    "segment:<name>, tag:<tag>, status:<status>, owner:me|none|<team member>, country:<country>, "
    "loyalty:low|middle|high, last-order-before:<YYYY-MM-DD or 90d>, last-order-after:<…>, and any "
    'custom field as <field>:<value> (or custom.<field>:<value>); quote values with spaces ("…"), '
    "comma-separate alternatives (country:DE,AT)"
)


@dataclass(frozen=True, slots=True)
class AudienceWords:
    """The filter words of a text, in order (kind, value), and the free text around them."""

    terms: tuple[tuple[str, str], ...]
    rest: str

    @property
    def kinds(self) -> set[str]:
        return {kind for kind, _ in self.terms}


def _kind(key: str) -> str | None:
    key = key.lower()
    key = _ALIASES.get(key, key)
    if key in KINDS:
        return key
    if key.startswith("custom."):
        key = key[len("custom.") :]
    return f"custom.{key}" if _CUSTOM_KEY.match(key) else None


def parse_audience(text: str) -> AudienceWords:
    """Every ``key:value`` filter word of ``text``; the words that are none stay in ``rest``."""
    terms: list[tuple[str, str]] = []
    kept: list[str] = []
    at = 0
    for found in _WORD.finditer(text):
        kind = _kind(found.group(1))
        if kind is None:
            continue
        value = found.group(2) if found.group(2) is not None else found.group(3) or ""
        if kind.startswith("custom.") and not value.strip():
            continue  # "acme corp: note" is text, not an empty custom-field filter
        kept.append(text[at : found.start()])
        at = found.end()
        terms.append((kind, value.strip()))
    kept.append(text[at:])
    return AudienceWords(tuple(terms), " ".join(" ".join(kept).split()))


def _values(kind: str, value: str) -> list[str]:
    found = [v.strip() for v in value.split(",") if v.strip()]
    if not found:
        raise UserError(f"`{kind}:` needs a value. Filters: {HELP}.")
    return found


def _moment(kind: str, value: str, *, now: datetime, tz: ZoneInfo) -> datetime:
    ago = _AGO.match(value.lower())
    if ago is not None:
        days = int(ago.group(1)) * (7 if ago.group(2).startswith("w") else 1)
        return now - timedelta(days=days)
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise UserError(
            f"`{kind}:{one_line(value, 30)}` is not a date: "
            "write YYYY-MM-DD (2026-06-01) or an age (90d, 8w)."
        ) from None
    return datetime.combine(day, time(0), tzinfo=tz)


def _band(value: str) -> tuple[float, float]:
    names = [name for name, _ in BANDS]
    if value.lower() not in names:
        raise UserError(f"`loyalty:{one_line(value, 30)}` is not a band: say {', '.join(names)}.")
    i = names.index(value.lower())
    return BANDS[i][1], BANDS[i + 1][1] if i + 1 < len(BANDS) else 1e9


async def audience_query(
    store: Store, words: AudienceWords, *, now: datetime, tz: ZoneInfo, me: int | None
) -> AudienceQuery:
    """What ``words`` select, every value checked (UserError naming the bad one). ``me`` is
    the rep ``owner:me`` stands for (a campaign's author when it starts later)."""
    picked: dict[str, list[str]] = {}
    for kind, value in words.terms:
        picked.setdefault(kind, []).extend(_values(kind, value))
    segments = [(await resolve_segment(store, ref)).id for ref in picked.get("segment", [])]
    statuses = [s.lower() for s in picked.get("status", [])]
    bad = [s for s in statuses if s not in STATUSES]
    if bad:
        raise UserError(f"`status:{bad[0]}` is not a status: say {', '.join(STATUSES)}.")
    owners: list[int | None] = []
    for who in picked.get("owner", []):
        if who.lower() in ("none", "nobody"):
            owners.append(None)
        elif who.lower() == "me":
            if me is None:
                raise UserError("`owner:me` needs a team member: name them instead.")
            owners.append(me)
        else:
            owners.append((await teammate_in(store, who, usage="owner:<team member>")).id)
    before = picked.get("last-order-before", [])
    after = picked.get("last-order-after", [])
    if len(before) > 1 or len(after) > 1:
        raise UserError("Give last-order-before and last-order-after one date each.")
    return AudienceQuery(
        segment_ids=tuple(segments),
        tags=tuple(t.lower() for t in picked.get("tag", [])),
        statuses=tuple(statuses),
        owners=tuple(owners),
        countries=tuple(picked.get("country", [])),
        loyalty=tuple(_band(v) for v in picked.get("loyalty", [])),
        last_order_before=_moment("last-order-before", before[0], now=now, tz=tz) if before else None,
        last_order_after=_moment("last-order-after", after[0], now=now, tz=tz) if after else None,
        custom={
            kind[len("custom.") :]: tuple(values)
            for kind, values in picked.items()
            if kind.startswith("custom.")
        },
    )


def describe_audience(words: AudienceWords) -> str:
    """The filter words as a person reads them back ("segment Champions, country DE")."""
    if not words.terms:
        return "every customer"
    return ", ".join(f"{kind.removeprefix('custom.')} {value}" for kind, value in words.terms)
