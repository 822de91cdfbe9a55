"""Quiet hours: the window's syntax, whether a moment is in it in the customer's own zone, when
it ends across midnight and DST changes, and the customers a push must wait for."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from crm_store.store import Store
from handlers.errors import UserError
from handlers.quiet_hours import QuietPolicy, QuietWindow, not_before, parse_window, quiet_until, spread
from tests.conftest import FakeClock

NIGHT = QuietWindow(time(21), time(9))
BERLIN, TOKYO, NEW_YORK = ZoneInfo("Europe/Berlin"), ZoneInfo("Asia/Tokyo"), ZoneInfo("America/New_York")


def test_windows_parse_and_bad_ones_say_how_to_write_them() -> None:
    assert parse_window("22:00-07:00") == QuietWindow(time(22), time(7))
    assert parse_window(" 9:30 - 17:45 ") == QuietWindow(time(9, 30), time(17, 45))
    assert parse_window("OFF") is None
    for bad in ("22-07", "25:00-07:00", "22:00-22:00", "", "night"):
        with pytest.raises(UserError):
            parse_window(bad)


def test_a_window_across_midnight_holds_the_evening_and_the_early_morning() -> None:
    assert NIGHT.contains(time(21)) and NIGHT.contains(time(3)) and NIGHT.contains(time(8, 59))
    assert not NIGHT.contains(time(9)) and not NIGHT.contains(time(20, 59))
    day = QuietWindow(time(12), time(13))
    assert day.contains(time(12, 30)) and not day.contains(time(13))


def test_the_end_is_the_next_local_morning_in_each_zone() -> None:
    now = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)  # 23:00 Berlin, 07:00 Tokyo, 17:00 New York
    assert quiet_until(now, NIGHT, BERLIN) == datetime(2026, 11, 24, 8, 0, tzinfo=UTC)  # 09:00 CET
    assert quiet_until(now, NIGHT, TOKYO) == datetime(2026, 11, 24, 0, 0, tzinfo=UTC)  # 09:00 JST
    assert quiet_until(now, NIGHT, NEW_YORK) is None
    assert quiet_until(now, None, BERLIN) is None


def test_the_morning_is_on_the_wall_clock_across_dst_changes() -> None:
    # Berlin springs forward on 29 March 2026 and falls back on 25 October 2026.
    spring = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)  # 00:00 CET, the night of the change
    assert quiet_until(spring, NIGHT, BERLIN) == datetime(2026, 3, 29, 7, 0, tzinfo=UTC)  # 09:00 CEST
    autumn = datetime(2026, 10, 24, 22, 0, tzinfo=UTC)  # 00:00 CEST
    assert quiet_until(autumn, NIGHT, BERLIN) == datetime(2026, 10, 25, 8, 0, tzinfo=UTC)  # 09:00 CET
    # A window ending inside the skipped hour ends just after it, never before it began.
    gap = QuietWindow(time(1), time(2, 30))
    inside = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # 01:30 CET
    end = quiet_until(inside, gap, BERLIN)
    assert end is not None and end > inside and end.astimezone(BERLIN).hour == 3


async def test_customers_wait_by_their_own_zone_and_setting(store: Store, clock: FakeClock) -> None:
    clock.now = datetime(2026, 11, 23, 22, 0, tzinfo=UTC)
    async with store.write("t") as tx:
        berlin = (await tx.customers.add(name="Berlin", timezone="Europe/Berlin")).id
        york = (await tx.customers.add(name="York", timezone="America/New_York")).id
        utc = (await tx.customers.add(name="No zone")).id
        off = (await tx.customers.add(name="Night owl", timezone="Europe/Berlin")).id
        late = (await tx.customers.add(name="Late", timezone="America/New_York")).id
        await tx.customers.update(off, fields={"quiet_hours": "off"})
        await tx.customers.update(late, fields={"quiet_hours": "16:00-10:00"})
    async with store.read() as tx:
        held = await not_before(tx, [berlin, york, utc, off, late], now=clock.now, policy=QuietPolicy())
        in_tokyo = await not_before(tx, [utc], now=clock.now, policy=QuietPolicy(timezone="Asia/Tokyo"))
    assert set(held) == {berlin, utc, late}
    assert held[berlin] == datetime(2026, 11, 24, 8, 0, tzinfo=UTC) + spread(berlin)
    assert held[utc] == datetime(2026, 11, 24, 9, 0, tzinfo=UTC) + spread(utc)  # no zone: UTC
    assert held[late] == datetime(2026, 11, 24, 15, 0, tzinfo=UTC) + spread(late)  # 10:00 EST
    # A customer with no zone of their own is in the team's (CRM_TIMEZONE): 07:00 in Tokyo.
    assert in_tokyo == {utc: datetime(2026, 11, 24, 0, 0, tzinfo=UTC) + spread(utc)}
    assert all(timedelta(0) <= spread(i) < timedelta(minutes=20) for i in range(1, 200))
