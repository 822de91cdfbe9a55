"""Time expressions ("tomorrow 10:00", "in 2h", "next friday") read in a person's zone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

__all__ = ["WhenError", "find_when", "format_local", "parse_when", "split_trailing_when"]

ACCEPTED_FORMS = (
    "tomorrow 10:00, tomorrow at 10am, friday 14:00, next monday, in 2 hours, in 30m, "
    "today 17:00, tonight, noon, 17:30, 24 nov 10:00, 2026-11-23 14:30"
)

DEFAULT_TIME = time(9, 0)
TONIGHT_TIME = time(20, 0)
# Anything further back than this counts as "in the past"; a little slack lets
# "now"-ish answers (e.g. "in 0 minutes" or a slow round trip) through.
PAST_SLACK = timedelta(minutes=1)
# dateparser is the slow, lenient fallback: only short phrases go to it.
_DATEPARSER_MAX_WORDS = 6
_DATEPARSER_MAX_YEARS = 5
_FIND_MAX_WORDS = 6


class WhenError(ValueError):
    """A time expression that could not be read or is unusable; the message is user-facing."""


_WEEKDAYS: dict[str, int] = {}
for _i, _names in enumerate(
    (
        ("monday", "mon", "mondays"),
        ("tuesday", "tue", "tues", "tuesdays"),
        ("wednesday", "wed", "weds", "wednesdays"),
        ("thursday", "thu", "thur", "thurs", "thursdays"),
        ("friday", "fri", "fridays"),
        ("saturday", "sat", "saturdays"),
        ("sunday", "sun", "sundays"),
    )
):
    for _n in _names:
        _WEEKDAYS[_n] = _i

_MONTHS: dict[str, int] = {}
for _i, _names in enumerate(
    (
        ("january", "jan"),
        ("february", "feb"),
        ("march", "mar"),
        ("april", "apr"),
        ("may",),
        ("june", "jun"),
        ("july", "jul"),
        ("august", "aug"),
        ("september", "sep", "sept"),
        ("october", "oct"),
        ("november", "nov"),
        ("december", "dec"),
    ),
    start=1,
):
    for _n in _names:
        _MONTHS[_n] = _i

_TOMORROW = {"tomorrow", "tmrw", "tmr", "tmrow", "tomorow", "tommorow", "tommorrow", "2moro"}
_TODAY = {"today", "tday", "2day"}
_NAMED_TIMES: dict[str, time] = {
    "noon": time(12, 0),
    "midday": time(12, 0),
    "midnight": time(0, 0),
    "morning": time(9, 0),
    "afternoon": time(14, 0),
    "evening": time(18, 0),
    "eod": time(17, 0),
}
_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "fifteen": 15, "twenty": 20, "thirty": 30,
    "forty": 40, "ninety": 90,
}  # fmt: skip
_UNITS: dict[str, str] = {}
for _unit, _names in (
    ("seconds", ("s", "sec", "secs", "second", "seconds")),
    ("minutes", ("m", "min", "mins", "minute", "minutes")),
    ("hours", ("h", "hr", "hrs", "hour", "hours")),
    ("days", ("d", "day", "days")),
    ("weeks", ("w", "wk", "wks", "week", "weeks")),
):
    for _n in _names:
        _UNITS[_n] = _unit

_DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_ID_REF = re.compile(r"(?:^|\s)#\d")
_ISO_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[t ](\d{1,2}):(\d{2})(?::(\d{2})(?:\.\d+)?)?(z|[+-]\d{2}:?\d{2})?"
)
_ISO_DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
_CLOCK = re.compile(r"(\d{1,2})(?::(\d{2}))?(am|pm)?")
_COMPACT_SPAN = re.compile(r"(\d+(?:\.\d+)?)([a-z]+)")
_DAY_OF_MONTH = re.compile(r"(\d{1,2})(?:st|nd|rd|th)?")
_YEAR = re.compile(r"\d{4}")
# Words that make a phrase worth handing to dateparser; without one of these
# (or a digit) a trailing word like "March" or "Sun" is more likely a name.
_DATEPARSER_HINTS = frozenset(
    {"next", "week", "month", "year", "weekend", "end", "of", "morning", "evening", "afternoon"}
)


@dataclass(frozen=True, slots=True)
class _Day:
    day: date
    default: time
    weekday_pick: int | None = None  # weekday index when a bare weekday may mean today
    evening: bool = False  # "tonight": a bare 9 means 21:00


@dataclass(frozen=True, slots=True)
class _Clock:
    at: time
    bare: bool  # no am/pm and no zero padding: business-hours guess applies


def _tokens(text: str) -> list[tuple[str, str]]:
    """(as written, normalised) word pairs; "10 am" and "p.m." are merged first."""
    s = re.sub(r"(\d)\s+([aApP])\.?([mM])\.?(?=[\s,.!?;]|$)", r"\1\2\3", text.strip())
    s = s.rstrip(".!?;, ")
    pairs: list[tuple[str, str]] = []
    for raw in s.split():
        norm = raw.lower().replace("a.m.", "am").replace("p.m.", "pm").strip(",")
        if norm:
            pairs.append((raw, norm))
    return pairs


def _normalise(text: str) -> list[str]:
    return [norm for _, norm in _tokens(text)]


def _to_utc(naive: datetime, tz: ZoneInfo) -> datetime:
    # fold=0 maps a wall time in the spring gap forward (02:30 -> 03:30 CEST) and picks
    # the first (summer-time) instant of an ambiguous autumn wall time.
    return naive.replace(tzinfo=tz, fold=0).astimezone(UTC)


def _parse_clock(words: list[str], i: int) -> tuple[_Clock, int] | None:
    """A clock time at words[i]; returns it and the number of words used."""
    w = words[i]
    if w in _NAMED_TIMES:
        return _Clock(_NAMED_TIMES[w], bare=False), 1
    if w == "in" and i + 1 < len(words):
        # "tomorrow in the evening"
        j = i + 1
        if words[j] == "the" and j + 1 < len(words):
            j += 1
        if words[j] in ("morning", "afternoon", "evening"):
            return _Clock(_NAMED_TIMES[words[j]], bare=False), j - i + 1
        return None
    if words[i : i + 3] == ["end", "of", "day"]:
        return _Clock(_NAMED_TIMES["eod"], bare=False), 3
    m = _CLOCK.fullmatch(w)
    if m is None:
        return None
    hour, minute = int(m[1]), int(m[2] or 0)
    suffix = m[3]
    if suffix is None and i + 1 < len(words) and words[i + 1] in ("am", "pm"):
        suffix = words[i + 1]
        used = 2
    else:
        used = 1
    if minute > 59:
        return None
    if suffix:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if suffix == "pm" else 0)
        return _Clock(time(hour, minute), bare=False), used
    if hour > 23:
        return None
    return _Clock(time(hour, minute), bare=not m[1].startswith("0")), used


def _parse_day(words: list[str], i: int, today: date) -> tuple[_Day, int] | None:
    w = words[i]
    if w in _TODAY:
        return _Day(today, DEFAULT_TIME), 1
    if w == "tonight":
        return _Day(today, TONIGHT_TIME, evening=True), 1
    if w in _TOMORROW:
        return _Day(today + timedelta(days=1), DEFAULT_TIME), 1
    if w == "yesterday":
        return _Day(today - timedelta(days=1), DEFAULT_TIME), 1
    if words[i : i + 3] == ["day", "after", "tomorrow"]:
        return _Day(today + timedelta(days=2), DEFAULT_TIME), 3
    weekend = 3 if words[i : i + 3] == ["after", "the", "weekend"] else 0
    weekend = weekend or (2 if words[i : i + 2] == ["after", "weekend"] else 0)
    if weekend:
        # "after the weekend": the Monday after the coming (or current) weekend.
        return _Day(today + timedelta(days=(7 - today.weekday()) or 7), DEFAULT_TIME), weekend
    if w == "this" and i + 1 < len(words) and words[i + 1] in ("morning", "afternoon", "evening"):
        # "this morning" is today's, even once it has passed (then it is in the past).
        return _Day(today, _NAMED_TIMES[words[i + 1]], evening=words[i + 1] == "evening"), 2
    if w in ("next", "this") and i + 1 < len(words):
        nxt = words[i + 1]
        if nxt in _WEEKDAYS:
            # "next friday"/"this friday": the next such day, never today.
            ahead = (_WEEKDAYS[nxt] - today.weekday()) % 7 or 7
            return _Day(today + timedelta(days=ahead), DEFAULT_TIME), 2
        if w == "next" and nxt == "week":
            ahead = 7 - today.weekday()
            return _Day(today + timedelta(days=ahead), DEFAULT_TIME), 2
        return None
    if w in _WEEKDAYS:
        wd = _WEEKDAYS[w]
        ahead = (wd - today.weekday()) % 7
        if ahead == 0:
            # Same weekday as today: today only if a later clock time is given.
            return _Day(today + timedelta(days=7), DEFAULT_TIME, weekday_pick=wd), 1
        return _Day(today + timedelta(days=ahead), DEFAULT_TIME), 1
    m = _ISO_DATE.fullmatch(w)
    if m is not None:
        try:
            return _Day(date(int(m[1]), int(m[2]), int(m[3])), DEFAULT_TIME), 1
        except ValueError:
            return None
    return _parse_month_day(words, i, today)


def _parse_month_day(words: list[str], i: int, today: date) -> tuple[_Day, int] | None:
    """'24 nov', '24th of november', 'nov 24', 'november 24th 2027'."""
    w = words[i]
    j = i
    if w in _MONTHS and j + 1 < len(words):
        month = _MONTHS[w]
        m = _DAY_OF_MONTH.fullmatch(words[j + 1])
        if m is None:
            return None
        day_no, j = int(m[1]), j + 2
    else:
        m = _DAY_OF_MONTH.fullmatch(w)
        if m is None:
            return None
        j += 1
        if j < len(words) and words[j] == "of":
            j += 1
        if j >= len(words) or words[j] not in _MONTHS:
            return None
        month, day_no, j = _MONTHS[words[j]], int(m[1]), j + 1
    year: int | None = None
    if j < len(words) and _YEAR.fullmatch(words[j]):
        year, j = int(words[j]), j + 1
    try:
        if year is not None:
            return _Day(date(year, month, day_no), DEFAULT_TIME), j - i
        found = date(today.year, month, day_no)
        if found < today:
            found = date(today.year + 1, month, day_no)
    except ValueError:
        return None
    return _Day(found, DEFAULT_TIME), j - i


def _parse_span(words: list[str], i: int) -> tuple[timedelta, str, int] | None:
    """'2 hours', '2h', 'an hour', 'half an hour' at words[i]."""
    w = words[i]
    if words[i : i + 3] == ["half", "an", "hour"]:
        return timedelta(minutes=30), "minutes", 3
    m = _COMPACT_SPAN.fullmatch(w)
    if m is not None and m[2] in _UNITS:
        amount, unit, used = float(m[1]), _UNITS[m[2]], 1
    else:
        if w.replace(".", "", 1).isdigit():
            amount = float(w)
        elif w in _NUMBER_WORDS:
            amount = float(_NUMBER_WORDS[w])
        else:
            return None
        if i + 1 >= len(words) or words[i + 1] not in _UNITS:
            return None
        unit, used = _UNITS[words[i + 1]], 2
    if amount > 100_000:
        return None
    return timedelta(**{unit: amount}), unit, used


def _parse_relative(words: list[str], now: datetime, tz: ZoneInfo) -> datetime | None:
    """'in 2 hours', 'in 3 days at 10', '2 hours from now'."""
    if words and words[0] == "in":
        span = _parse_span(words, 1) if len(words) > 1 else None
        rest_at = 1 + span[2] if span else 0
    elif words[-2:] == ["from", "now"]:
        span = _parse_span(words, 0)
        rest_at = span[2] if span else 0
        if span and rest_at != len(words) - 2:
            return None
        words = words[:-2]
    else:
        return None
    if span is None:
        return None
    delta, unit, _ = span
    rest = words[rest_at:]
    if unit in ("seconds", "minutes", "hours"):
        # Seconds, minutes and hours are elapsed time: add them to the instant, DST or not.
        return now.astimezone(UTC) + delta if not rest else None
    # Days and weeks are calendar time: same wall clock, or the clock time given.
    local = now.astimezone(tz)
    target_day = (local + delta).date()
    if not rest:
        return _to_utc(datetime.combine(target_day, local.time().replace(tzinfo=None)), tz)
    if rest[0] in ("at", "@"):
        rest = rest[1:]
    if not rest:
        return None
    clock = _parse_clock(rest, 0)
    if clock is None or clock[1] != len(rest):
        return None
    return _to_utc(datetime.combine(target_day, _business_hour(clock[0], evening=False)), tz)


def _business_hour(clock: _Clock, *, evening: bool) -> time:
    # Reps say "at 3" for 15:00; before 7 in the morning is rarely meant.
    if clock.bare and (1 <= clock.at.hour <= 6 or (evening and 7 <= clock.at.hour <= 11)):
        return clock.at.replace(hour=clock.at.hour + 12)
    return clock.at


def _parse_iso(words: list[str], tz: ZoneInfo) -> datetime | None:
    joined = " ".join(words)
    m = _ISO_DATETIME.fullmatch(joined)
    if m is None:
        return None
    try:
        naive = datetime(int(m[1]), int(m[2]), int(m[3]), int(m[4]), int(m[5]), int(m[6] or 0))
    except ValueError:
        return None
    if m[7] is None:
        return _to_utc(naive, tz)
    offset = m[7].upper()
    try:
        return datetime.fromisoformat(naive.isoformat() + ("+00:00" if offset == "Z" else offset))
    except ValueError:
        return None


def _parse_explicit(words: list[str], *, now: datetime, tz: ZoneInfo, whole: bool = False) -> datetime | None:
    """The deterministic grammar; None when the words are not (all) a time expression.

    whole: the text is known to be nothing but a time, so a lone "10" means 10:00."""
    if not words:
        return None
    found = _parse_iso(words, tz)
    if found is not None:
        return found.astimezone(UTC)
    found = _parse_relative(words, now, tz)
    if found is not None:
        return found
    local_now = now.astimezone(tz)
    today = local_now.date()
    day: _Day | None = None
    clock: _Clock | None = None
    clock_marked = whole  # "at 10": a lone number is then surely a clock time
    i = 0
    while i < len(words):
        w = words[i]
        if w in ("on", "by", "at", "@", "for"):
            if i + 1 >= len(words):
                return None
            clock_marked = clock_marked or w in ("at", "@", "by")
            i += 1
            continue
        if day is None:
            parsed_day = _parse_day(words, i, today)
            if parsed_day is not None:
                day, i = parsed_day[0], i + parsed_day[1]
                continue
        if clock is None:
            parsed_clock = _parse_clock(words, i)
            if parsed_clock is not None:
                # A lone number is a time only with "at" or a day around it:
                # "10 tomorrow" and "at 10" are, "acme 10" is not.
                if (
                    w.isdigit()
                    and not (clock_marked or day is not None)
                    and not any(_parse_day(words, k, today) for k in range(i + 1, len(words)))
                ):
                    return None
                clock, i = parsed_clock[0], i + parsed_clock[1]
                continue
        return None
    if day is None and clock is None:
        return None
    if day is None:
        assert clock is not None
        at = _business_hour(clock, evening=False)
        candidate = _to_utc(datetime.combine(today, at), tz)
        if candidate <= now:
            candidate = _to_utc(datetime.combine(today + timedelta(days=1), at), tz)
        return candidate
    at = day.default if clock is None else _business_hour(clock, evening=day.evening)
    target = day.day
    if day.weekday_pick is not None and clock is not None:
        same_day = _to_utc(datetime.combine(today, at), tz)
        if same_day > now:
            return same_day
    return _to_utc(datetime.combine(target, at), tz)


def _dateparser_settings(now: datetime, tz: ZoneInfo) -> dict[str, Any]:
    return {
        "TIMEZONE": tz.key,
        "RETURN_AS_TIMEZONE_AWARE": True,
        # dateparser compares RELATIVE_BASE as a naive wall time in TIMEZONE.
        "RELATIVE_BASE": now.astimezone(tz).replace(tzinfo=None),
        "PREFER_DATES_FROM": "future",
    }


def _parse_fallback(words: list[str], *, now: datetime, tz: ZoneInfo) -> datetime | None:
    if not words or len(words) > _DATEPARSER_MAX_WORDS:
        return None
    # dateparser silently drops an impossible clock ("tomorrow 25:00" -> tomorrow, now).
    for i, w in enumerate(words):
        if _CLOCK.fullmatch(w) and not w.isdigit() and _parse_clock(words, i) is None:
            return None
    import dateparser  # imported late: it costs ~0.3 s and most phrases never need it

    found = dateparser.parse(" ".join(words), languages=["en"], settings=_dateparser_settings(now, tz))
    if not isinstance(found, datetime):
        return None
    if found.tzinfo is None:
        found = found.replace(tzinfo=tz)
    local = found.astimezone(tz)
    if local.time() == time(0, 0) and "midnight" not in words:
        # dateparser gives a bare date ("12/24") midnight; ours is the working default.
        found = datetime.combine(local.date(), DEFAULT_TIME).replace(tzinfo=tz)
    result = found.astimezone(UTC)
    if abs(result - now) > timedelta(days=366 * _DATEPARSER_MAX_YEARS):
        return None
    return result


def _check_future(result: datetime, *, now: datetime, tz: ZoneInfo) -> datetime:
    if result < now - PAST_SLACK:
        raise WhenError(f"{format_local(result, tz, now=now)} is in the past.")
    return result


def parse_when(text: str, *, now: datetime, tz: ZoneInfo) -> datetime:
    """Parse a time expression in the person's zone; return an aware UTC datetime.

    Raises WhenError when the text is not a time or is in the past."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    # Aware arithmetic inside one tzinfo is wall-clock arithmetic; UTC keeps "in 24 hours" exact.
    now = now.astimezone(UTC)
    words = _normalise(text)
    # "#2" names a record (a customer, a ticket); never read it as the 2nd of a month.
    result = None if _ID_REF.search(text) else _parse_explicit(words, now=now, tz=tz, whole=True)
    if result is None and not _ID_REF.search(text):
        result = _parse_fallback(words, now=now, tz=tz)
    if result is None:
        shown = text.strip()[:60] or "(nothing)"
        raise WhenError(f"I can't read {shown!r} as a time. Try e.g. {ACCEPTED_FORMS}.")
    return _check_future(result, now=now, tz=tz)


def split_trailing_when(text: str, *, now: datetime, tz: ZoneInfo) -> tuple[str, datetime] | None:
    """'acme corp tomorrow 10:00' -> ('acme corp', <utc dt>): the longest trailing run of words
    that parses as a time; None if no trailing time. Raises WhenError if that time is past."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    # Aware arithmetic inside one tzinfo is wall-clock arithmetic; UTC keeps "in 24 hours" exact.
    now = now.astimezone(UTC)
    pairs = _tokens(text)
    raw = [r for r, _ in pairs]
    words = [w for _, w in pairs]
    # Longest suffix first; the head keeps at least one word.
    for start in range(1, len(words)):
        found = _parse_explicit(words[start:], now=now, tz=tz)
        if found is not None:
            return " ".join(raw[:start]), _check_future(found, now=now, tz=tz)
    # Only short suffixes with a date-ish word go to dateparser, longest first.
    for start in range(max(1, len(words) - _DATEPARSER_MAX_WORDS), len(words)):
        tail = words[start:]
        # Bare numbers ("acme 10", "order acme 1200") are amounts or names, not dates.
        if not any(w in _DATEPARSER_HINTS or (any(c.isdigit() for c in w) and not w.isdigit()) for w in tail):
            continue
        found = _parse_fallback(tail, now=now, tz=tz)
        if found is not None:
            return " ".join(raw[:start]), _check_future(found, now=now, tz=tz)
    return None


def _could_start_time(word: str) -> bool:
    return (
        word in _WEEKDAYS
        or word in _MONTHS
        or word in _TOMORROW
        or word in _TODAY
        or word in _NAMED_TIMES
        or word
        in {"in", "at", "@", "on", "by", "next", "this", "tonight", "yesterday", "day", "end", "after"}
        or word[:1].isdigit()
    )


def find_when(text: str, *, now: datetime, tz: ZoneInfo) -> tuple[int, int, datetime] | None:
    """The longest time expression anywhere in text, as (start, end) character offsets and the
    aware UTC instant; ties go to the later one. Explicit forms only; a past time is returned
    as is (the caller decides). Used to pull the time out of a free-text request."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    now = now.astimezone(UTC)
    spans = [(m.start(), m.end(), m.group()) for m in re.finditer(r"\S+", text)]
    words = [w.lower().replace("a.m.", "am").replace("p.m.", "pm").strip(",.!?;:()'\"") for *_, w in spans]
    best: tuple[int, int, datetime] | None = None
    best_len = 0
    for i, word in enumerate(words):
        if not _could_start_time(word):
            continue
        for j in range(min(len(words), i + _FIND_MAX_WORDS), i, -1):
            if j - i < best_len:
                break
            # Punctuation inside the span ("friday, call acme") ends the expression.
            if any(spans[k][2][-1:] in ",;:!?" for k in range(i, j - 1)):
                continue
            found = _parse_explicit(_merge_meridiem(words[i:j]), now=now, tz=tz)
            if found is not None:
                if j - i >= best_len:
                    last = spans[j - 1]
                    end = last[0] + len(last[2].rstrip(",.!?;:)'\""))
                    best, best_len = (spans[i][0], end, found), j - i
                break
    return best


def _merge_meridiem(words: list[str]) -> list[str]:
    merged: list[str] = []
    for w in words:
        if w in ("am", "pm") and merged and merged[-1].isdigit():
            merged[-1] += w
        else:
            merged.append(w)
    return merged


def format_local(dt: datetime, tz: ZoneInfo, *, now: datetime | None = None) -> str:
    """Human display in the person's zone, e.g. 'Mon 24 Nov 10:00 (Europe/Berlin)';
    'today 10:00'/'tomorrow 10:00' when now given."""
    local = dt.astimezone(tz)
    clock = f"{local.hour:02d}:{local.minute:02d}"
    # Fixed English names: strftime's %a/%b follow the process locale.
    day = f"{_DAY_NAMES[local.weekday()]} {local.day} {_MONTH_NAMES[local.month - 1]}"
    if now is not None:
        today = now.astimezone(tz).date()
        if local.date() == today:
            return f"today {clock}"
        if local.date() == today + timedelta(days=1):
            return f"tomorrow {clock}"
        if local.year != today.year:
            day = f"{day} {local.year}"
    return f"{day} {clock} ({tz.key})"
