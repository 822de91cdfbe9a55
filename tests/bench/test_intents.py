"""The free-text bench end to end on a few phrases: what it counts as right, asked and wrongly written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench.intents import evaluate, load_rows


def _row(
    phrase: str, expected: str, command: str | None, customer: str | None, /, *writes: str, **slots: str
) -> dict[str, Any]:
    pairs = [list(w.split(":")) for w in writes]
    expect = {"kind": expected, "command": command, "customer": customer, "writes": pairs, "slots": slots}
    return {"text": phrase, "family": f"{command or 'none'}/test", "expect": expect, "split": "seen"}


ROWS = [
    _row(
        "log acme call: discussed renewal",
        "write",
        "log",
        "Acme Corp",
        "create:interaction",
        kind="call",
        text="renewal",
    ),
    _row("show acme corp", "read", "show", "Acme Corp"),
    _row(
        "remind acme tomorrow 10:00: send quote",
        "write",
        "remind",
        "Acme Corp",
        "create:reminder",
        when="2026-11-21 10:00",
        text="send quote",
    ),
    _row("assign 12 me", "write", "assign", "Acme Corp", "assign:ticket", ticket="12"),
    _row(
        "reply 12 A replacement ships today.",
        "write",
        "reply",
        "Acme Corp",
        "reply:ticket",
        "assign:ticket",
        ticket="12",
    ),
    _row(
        "update acme corp status=prospect",
        "write",
        "update",
        "Acme Corp",
        "update:customer",
        field="status",
        value="prospect",
    ),
    _row(
        "order acme corp 1200 annual licence", "write", "order", "Acme Corp", "create:order", amount="1200.0"
    ),
    _row("tickets mine", "read", "tickets", None, arg="mine"),
    _row("unrelate wile coyote works-at acme corp", "write", "unrelate", "Wile Coyote", "end:relationship"),
    _row("ticket 12", "read", "ticket", "Acme Corp", ticket="12"),
    _row(
        "update acme corp owner=dana",
        "write",
        "update",
        "Acme Corp",
        "update:customer",
        value="Dana Whitfield",
    ),
    _row(
        "update acme corp phone=+1 555 0199",
        "write",
        "update",
        "Acme Corp",
        "update:customer",
        value="+15550199",
    ),
    _row(
        "update acme corp industry=retail",
        "write",
        "update",
        "Acme Corp",
        "update:customer",
        field="industry",
    ),
    # The book is put back after each phrase: the same reminder can be marked done twice.
    _row("done 4", "write", "done", "Acme Corp", "done:reminder"),
    _row("done #4", "write", "done", "Acme Corp", "done:reminder"),
    # Wrong: another customer written, another time, another command, a write for a read.
    _row("log globex call: discussed renewal", "write", "log", "Acme Corp", "create:interaction"),
    _row(
        "remind acme tomorrow 11:00: send quote",
        "write",
        "remind",
        "Acme Corp",
        "create:reminder",
        when="2026-11-21 10:00",
    ),
    _row("timeline acme corp", "read", "show", "Acme Corp"),
    _row("ticket 4", "read", "ticket", "Acme Corp", ticket="4"),
    _row("remind tomorrow 10:00: call acme", "write", "remind", "Acme Corp", "create:reminder"),
    _row("log initech note: the write was not asked for", "read", "show", "Initech"),
    _row("hello", "none", None, None),
]
WRONG = {
    "log globex call: discussed renewal": "writes differ",
    "remind acme tomorrow 11:00: send quote": "slots when",
    "timeline acme corp": "ran timeline",
    "ticket 4": "other customer",
    "remind tomorrow 10:00: call acme": "writes differ",
    "log initech note: the write was not asked for": "ran log",
}


async def test_the_bench_scores_runs_writes_and_slots(tmp_path: Path) -> None:
    shipped = [r for split in ("seen", "no_write") for r in load_rows([split])[:3]]
    result = await evaluate([*ROWS, *shipped], work=tmp_path)

    missed = {m["text"]: m["why"] for m in result["misses"]["seen"]}
    assert {text: why for text, why in missed.items() if text in {r["text"] for r in ROWS}} == WRONG
    seen = result["splits"]["seen"]
    assert seen["phrases"] == len(ROWS) + 3
    assert seen["wrong_writes"] == 3
    wrong = {w["text"]: w["wrote"] for w in result["wrong_writes"]["seen"]}
    assert set(wrong) == {
        "log globex call: discussed renewal",
        "log initech note: the write was not asked for",
        "remind tomorrow 10:00: call acme",
    }
    assert [row[:2] for row in wrong["log globex call: discussed renewal"]] == [["create", "interaction"]]
    assert result["splits"]["no_write"]["phrases"] == 3
    assert result["splits"]["no_write"]["wrong_writes"] == 0
    assert result["expected_customers_not_in_book"] == []
    assert result["router_latency_ms"]["p50"] > 0
