"""The report registry: an area adds a kind with one register(...) line; names are checked."""

from __future__ import annotations

import pytest

from handlers import report_kinds
from handlers.messages import Actor, Reply
from handlers.report_kinds import ReportKind, ReportRequest, register
from handlers.router import Router
from tests.conftest import Chat


async def test_a_kind_registered_from_another_module_answers_report_name(
    router: Router, manager: Actor, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_kinds, "_KINDS", dict(report_kinds._KINDS))  # undone after the test
    asked: list[ReportRequest] = []

    async def revenue(request: ReportRequest) -> Reply:
        asked.append(request)
        return Reply(title=request.title("revenue"), text="monthly revenue")

    register(ReportKind("revenue", revenue, "monthly revenue and the forecast", default_days=400 // 2))
    boss = Chat(router, manager)
    assert (await boss.say("report revenue")).title == "Revenue report, last 200 days"
    assert (await boss.say("report REVENUE 7")).title == "Revenue report, last 7 days"
    assert [r.days for r in asked] == [200, 7]
    assert asked[0].owner_filter is None and (asked[0].until - asked[0].since).days == 200
    unknown = await boss.say("report nosuch")
    assert unknown.is_error and "revenue" in unknown.text


def test_names_must_be_words_and_unique() -> None:
    async def build(request: ReportRequest) -> Reply:
        return Reply(text="")

    for bad in ("Needs", "two words", "n3eds", ""):
        with pytest.raises(ValueError, match="lower-case"):
            register(ReportKind(bad, build, "x"))
    with pytest.raises(ValueError, match="registered twice"):
        register(ReportKind("needs", build, "x"))
    assert {"activity", "correlation", "loyalty", "needs", "satisfaction", "tickets"} <= set(
        report_kinds.names()
    )
