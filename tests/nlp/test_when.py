"""Tests for nlp.when: time expressions in a person's zone, DST, splitting and display."""

from __future__ import annotations

import time as clock
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nlp.when import WhenError, find_when, format_local, parse_when, split_trailing_when

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
# Friday 20 Nov 2026, 15:00 in Berlin (14:00 UTC).
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=BERLIN)


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def parse(text: str, now: datetime = NOW, tz: ZoneInfo = BERLIN) -> datetime:
    return parse_when(text, now=now, tz=tz)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-23", utc(2026, 11, 23, 8, 0)),
        ("2026-11-23 14:30", utc(2026, 11, 23, 13, 30)),
        ("2026-11-23T14:30", utc(2026, 11, 23, 13, 30)),
        ("2026-11-23T14:30:00+00:00", utc(2026, 11, 23, 14, 30)),
        ("2026-11-23T14:30Z", utc(2026, 11, 23, 14, 30)),
        ("2026-11-23 14:30-05:00", utc(2026, 11, 23, 19, 30)),
        ("2026-11-23 at 10am", utc(2026, 11, 23, 9, 0)),
    ],
)
def test_iso_forms(text: str, expected: datetime) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "delta"),
    [
        ("in 30 seconds", timedelta(seconds=30)),
        ("in 3s", timedelta(seconds=3)),
        ("in 5 minutes", timedelta(minutes=5)),
        ("in 30m", timedelta(minutes=30)),
        ("in 2h", timedelta(hours=2)),
        ("in 1 hour", timedelta(hours=1)),
        ("in an hour", timedelta(hours=1)),
        ("in half an hour", timedelta(minutes=30)),
        ("in 3 days", timedelta(days=3)),
        ("in 2 weeks", timedelta(weeks=2)),
        ("2 hours from now", timedelta(hours=2)),
    ],
)
def test_relative_forms(text: str, delta: timedelta) -> None:
    assert parse(text) == NOW + delta


@pytest.mark.parametrize(
    ("text", "local"),
    [
        ("tomorrow", (2026, 11, 21, 9, 0)),
        ("Tomorrow 10:00", (2026, 11, 21, 10, 0)),
        ("tomorrow at 10", (2026, 11, 21, 10, 0)),
        ("tomorrow 10am", (2026, 11, 21, 10, 0)),
        ("tomorrow 10 am", (2026, 11, 21, 10, 0)),
        ("tomorrow at 2:30pm", (2026, 11, 21, 14, 30)),
        ("tmrw morning", (2026, 11, 21, 9, 0)),
        ("today 17:00", (2026, 11, 20, 17, 0)),
        ("tonight", (2026, 11, 20, 20, 0)),
        ("tonight at 9", (2026, 11, 20, 21, 0)),
        ("monday", (2026, 11, 23, 9, 0)),
        ("mon", (2026, 11, 23, 9, 0)),
        ("on Tuesday at 11", (2026, 11, 24, 11, 0)),
        ("next friday", (2026, 11, 27, 9, 0)),
        # Today is Friday: a bare "friday" is next week's, a later hour today is today.
        ("friday", (2026, 11, 27, 9, 0)),
        ("friday 14:00", (2026, 11, 27, 14, 0)),
        ("friday 16:00", (2026, 11, 20, 16, 0)),
        ("16:00", (2026, 11, 20, 16, 0)),
        ("14:00", (2026, 11, 21, 14, 0)),
        ("noon", (2026, 11, 21, 12, 0)),
        ("at 3", (2026, 11, 21, 15, 0)),
        ("10", (2026, 11, 21, 10, 0)),
        ("24 nov", (2026, 11, 24, 9, 0)),
        ("nov 24 at 3pm", (2026, 11, 24, 15, 0)),
        ("3rd of january", (2027, 1, 3, 9, 0)),
        ("next week", (2026, 11, 23, 9, 0)),
        ("day after tomorrow", (2026, 11, 22, 9, 0)),
        ("in 3 days at 10", (2026, 11, 23, 10, 0)),
        ("end of day", (2026, 11, 20, 17, 0)),
        ("Tomorrow at 10.", (2026, 11, 21, 10, 0)),
    ],
)
def test_day_and_clock_forms(text: str, local: tuple[int, int, int, int, int]) -> None:
    assert parse(text) == datetime(*local, tzinfo=BERLIN).astimezone(UTC)


def test_result_is_aware_utc() -> None:
    result = parse("tomorrow 10:00")
    assert result.tzinfo is UTC


def test_dateparser_fallback_for_other_phrasings() -> None:
    assert parse("next month") == datetime(2026, 12, 20, 15, 0, tzinfo=BERLIN)
    # A bare date from dateparser gets the 09:00 default, not midnight.
    assert parse("december 24th") == datetime(2026, 12, 24, 9, 0, tzinfo=BERLIN)


class TestDst:
    def test_berlin_spring_gap_moves_forward(self) -> None:
        now = datetime(2026, 3, 28, 12, 0, tzinfo=BERLIN)  # Sat, clocks go forward Sun 02:00
        assert parse("tomorrow 02:30", now) == utc(2026, 3, 29, 1, 30)  # 03:30 CEST
        assert parse("tomorrow 10:00", now) == utc(2026, 3, 29, 8, 0)
        assert parse("tomorrow", now) == utc(2026, 3, 29, 7, 0)

    def test_berlin_spring_hours_are_elapsed_days_are_wall_clock(self) -> None:
        now = datetime(2026, 3, 28, 12, 0, tzinfo=BERLIN)
        assert parse("in 24 hours", now) == utc(2026, 3, 29, 11, 0)  # 13:00 CEST
        assert parse("in 1 day", now) == utc(2026, 3, 29, 10, 0)  # 12:00 CEST

    def test_berlin_autumn_ambiguous_takes_first(self) -> None:
        now = datetime(2026, 10, 24, 12, 0, tzinfo=BERLIN)  # Sat, clocks go back Sun 03:00
        assert parse("tomorrow 02:30", now) == utc(2026, 10, 25, 0, 30)  # 02:30 CEST
        assert parse("tomorrow 10:00", now) == utc(2026, 10, 25, 9, 0)  # CET
        assert parse("in 1 day", now) == utc(2026, 10, 25, 11, 0)

    def test_new_york_spring_and_autumn(self) -> None:
        now = datetime(2026, 3, 7, 12, 0, tzinfo=NEW_YORK)  # Sat, DST starts Sun 02:00
        assert parse("tomorrow 2:30am", now, NEW_YORK) == utc(2026, 3, 8, 7, 30)  # 03:30 EDT
        assert parse("monday 9am", now, NEW_YORK) == utc(2026, 3, 9, 13, 0)
        autumn = datetime(2026, 10, 31, 12, 0, tzinfo=NEW_YORK)  # DST ends Sun 1 Nov
        assert parse("tomorrow 1:30am", autumn, NEW_YORK) == utc(2026, 11, 1, 5, 30)  # EDT
        assert parse("monday 9am", autumn, NEW_YORK) == utc(2026, 11, 2, 14, 0)

    def test_same_words_differ_by_zone(self) -> None:
        assert parse("tomorrow 10:00", tz=NEW_YORK) == utc(2026, 11, 21, 15, 0)
        assert parse("tomorrow 10:00", tz=BERLIN) == utc(2026, 11, 21, 9, 0)
        late = datetime(2026, 11, 20, 23, 30, tzinfo=BERLIN)  # still the 20th in New York
        assert parse("tomorrow 10:00", late, NEW_YORK) == utc(2026, 11, 21, 15, 0)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "call acme",
        "asdf qwer",
        "tomorrow 25:00",
        "at 10:75",
        "tomorrow 13pm",
        "#2",
        "#12 tomorrow 10:00",
    ],
)
def test_bad_input_says_what_is_accepted(text: str) -> None:
    with pytest.raises(WhenError, match="tomorrow 10:00"):
        parse(text)


@pytest.mark.parametrize("text", ["2020-01-01", "yesterday", "today 08:00", "2026-11-20 14:00"])
def test_past_is_refused(text: str) -> None:
    with pytest.raises(WhenError, match="in the past"):
        parse(text)


def test_just_now_is_tolerated() -> None:
    assert parse("2026-11-20 15:00") == NOW
    assert parse("in 0 minutes") == NOW


def test_naive_now_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="aware"):
        parse_when("tomorrow", now=datetime(2026, 11, 20, 15, 0), tz=BERLIN)


class TestSplitTrailingWhen:
    @pytest.mark.parametrize(
        ("text", "head", "local"),
        [
            ("acme corp tomorrow 10:00", "acme corp", (2026, 11, 21, 10, 0)),
            ("acme monday", "acme", (2026, 11, 23, 9, 0)),
            ("Friday Foods tomorrow", "Friday Foods", (2026, 11, 21, 9, 0)),
            ("Monday Motors next friday at 2pm", "Monday Motors", (2026, 11, 27, 14, 0)),
            ("call Bob at 10", "call Bob", (2026, 11, 21, 10, 0)),
            ("Initech 10 am", "Initech", (2026, 11, 21, 10, 0)),
            ("Globex in 2 days", "Globex", (2026, 11, 22, 15, 0)),
            ("Acme GmbH 2026-11-23 14:30", "Acme GmbH", (2026, 11, 23, 14, 30)),
        ],
    )
    def test_splits(self, text: str, head: str, local: tuple[int, int, int, int, int]) -> None:
        found = split_trailing_when(text, now=NOW, tz=BERLIN)
        assert found == (head, datetime(*local, tzinfo=BERLIN).astimezone(UTC))

    @pytest.mark.parametrize(
        "text", ["acme", "acme corp", "acme 10", "order acme 1200", "tomorrow", "Sun Micro"]
    )
    def test_no_trailing_time(self, text: str) -> None:
        assert split_trailing_when(text, now=NOW, tz=BERLIN) is None

    def test_past_trailing_time_is_an_error_not_a_name(self) -> None:
        with pytest.raises(WhenError, match="in the past"):
            split_trailing_when("acme today 08:00", now=NOW, tz=BERLIN)

    def test_dateparser_only_for_datelike_tails(self) -> None:
        found = split_trailing_when("acme next month", now=NOW, tz=BERLIN)
        assert found is not None and found[0] == "acme"


class TestFormatLocal:
    def test_plain(self) -> None:
        assert format_local(utc(2026, 11, 24, 9, 0), BERLIN) == "Tue 24 Nov 10:00 (Europe/Berlin)"

    def test_relative_to_now(self) -> None:
        assert format_local(utc(2026, 11, 20, 16, 0), BERLIN, now=NOW) == "today 17:00"
        assert format_local(utc(2026, 11, 21, 9, 0), BERLIN, now=NOW) == "tomorrow 10:00"
        assert format_local(utc(2026, 11, 24, 9, 0), BERLIN, now=NOW) == ("Tue 24 Nov 10:00 (Europe/Berlin)")
        assert format_local(utc(2027, 1, 4, 8, 0), BERLIN, now=NOW) == (
            "Mon 4 Jan 2027 09:00 (Europe/Berlin)"
        )

    def test_round_trips_through_parse(self) -> None:
        when = parse("friday 14:00")
        shown = when.astimezone(BERLIN).strftime("%Y-%m-%d %H:%M")
        assert parse(shown) == when


@given(hour=st.integers(0, 23), minute=st.integers(0, 59))
def test_clock_alone_is_within_the_next_day(hour: int, minute: int) -> None:
    found = parse(f"{hour:02d}:{minute:02d}")
    assert NOW < found <= NOW + timedelta(days=1)
    local = found.astimezone(BERLIN)
    assert (local.hour, local.minute) == (hour, minute)


@given(
    now=st.datetimes(
        min_value=datetime(2025, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
    ),
    zone=st.sampled_from([BERLIN, NEW_YORK, ZoneInfo("Asia/Kolkata")]),
)
def test_tomorrow_is_always_future_and_next_local_day(now: datetime, zone: ZoneInfo) -> None:
    found = parse_when("tomorrow 10:00", now=now, tz=zone)
    assert found > now
    assert found.astimezone(zone).date() == now.astimezone(zone).date() + timedelta(days=1)


def test_explicit_forms_are_fast() -> None:
    texts = ["tomorrow 10:00", "in 2h", "friday 14:00", "2026-11-23 14:30", "noon", "next monday"]
    parse("tomorrow")  # warm-up
    # CPU time of this process: other processes on a loaded machine do not count against it.
    start = clock.process_time()
    for _ in range(200):
        for text in texts:
            parse(text)
        split_trailing_when("acme corp tomorrow 10:00", now=NOW, tz=BERLIN)
    per_call = (clock.process_time() - start) / (200 * (len(texts) + 1))
    assert per_call < 0.001


class TestFindWhen:
    def test_finds_the_time_inside_a_request(self) -> None:
        text = "remind me to call Acme tomorrow at 10 please"
        found = find_when(text, now=NOW, tz=BERLIN)
        assert found is not None
        start, end, when = found
        assert text[start:end] == "tomorrow at 10"
        assert when == utc(2026, 11, 21, 9, 0)

    def test_trailing_punctuation_is_not_part_of_the_span(self) -> None:
        text = "remind me fri 9am: quarterly review"
        found = find_when(text, now=NOW, tz=BERLIN)
        assert found is not None and text[found[0] : found[1]] == "fri 9am"

    @pytest.mark.parametrize("text", ["ticket 12", "order of 1200 for acme", "who is at risk"])
    def test_numbers_and_words_alone_are_not_times(self, text: str) -> None:
        assert find_when(text, now=NOW, tz=BERLIN) is None

    def test_past_times_are_reported_not_refused(self) -> None:
        found = find_when("met acme this morning", now=NOW, tz=BERLIN)
        assert found is not None and found[2] == utc(2026, 11, 20, 8, 0)
