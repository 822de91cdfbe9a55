"""The sample book: every example the README gives works in `crm-bot console` on a fresh start."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.sample_data import load_sample
from crm_store.store import Store
from crm_store.tables import order_lines
from handlers.router import APOLOGY
from nlp.sentiment import SentimentClassifier

README = Path(__file__).resolve().parents[2] / "README.md"
_CELL_SPLIT = re.compile(r"(?<!\\)\|")
_CONSOLE_LINE = re.compile(r"printf '([^']*)' \| \S*crm-bot console([^\n]*)")
_FREE_TEXT = re.compile(r"^(\S.*?)\s+-> \S")
# What an answer that did not work says: console errors (unknown command or customer, usage
# errors, refusals) are printed as "Error: …"; an apology or a pick list is no answer either.
_CODE_SPAN = re.compile(r"`((?:[^`\\]|\\.)+)`")
_FAILURES = ("\nError: ", APOLOGY, "I don't know the command", "Which customer?")


def readme_examples() -> dict[str, list[str]]:
    """The README's example lines by the role that may run them, in README order: the `example`
    column of each command table (the role from the line above the table), the lines fed to
    `crm-bot console` on stdin, and the free-text readings."""
    examples: dict[str, list[str]] = {"rep": [], "manager": [], "admin": []}
    lines = README.read_text(encoding="utf-8").splitlines()
    role, in_table, in_fence, lead = "rep", False, False, ""
    for line in lines:
        if line.startswith("```"):
            in_fence = not in_fence
            continue
        cells = [c.strip() for c in _CELL_SPLIT.split(line.strip())[1:-1]]
        if not in_fence and cells and cells[-1] == "example":
            role = next((r for r in ("manager", "admin") if lead.lower().startswith(f"{r}s")), "rep")
            in_table = True
            continue
        if in_table and cells:
            if not set(cells[-1]) <= set("-: "):
                # A cell may give several examples, each in its own code span, run in turn.
                spans = _CODE_SPAN.findall(cells[-1]) or [cells[-1].strip("`")]
                examples[role].extend(span.replace("\\|", "|") for span in spans)
            continue
        in_table = False
        if line.strip() and not line.startswith("|"):
            lead = line.strip()
        console = _CONSOLE_LINE.search(line)
        if console:
            who = re.search(r"--as (\w+)", console.group(2))
            # printf writes a literal % as %%
            examples[who.group(1) if who else "rep"].extend(console.group(1).replace("%%", "%").split("\\n"))
        elif in_fence and _FREE_TEXT.match(line):
            examples["rep"].append(_FREE_TEXT.match(line).group(1))  # type: ignore[union-attr]
    return {role: [e for e in found if e.strip()] for role, found in examples.items()}


@pytest.fixture(autouse=True)
def _trained_model(
    classifier: SentimentClassifier, crm_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Train (or load) the model before the subprocesses start, so they only load it."""
    monkeypatch.setenv("CRM_TEST_DATA_DIR", str(crm_data_dir))


def console(db: Path, lines: list[str], *args: str) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "SLACK_", "TELEGRAM_"))}
    env["CRM_DATABASE_URL"] = f"sqlite+aiosqlite:///{db}"
    env["CRM_DATA_DIR"] = os.environ["CRM_TEST_DATA_DIR"]
    result = subprocess.run(
        [sys.executable, "-m", "bot", "console", *args],
        input="".join(f"{line}\n" for line in lines),
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=db.parent,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_readme_examples_are_found() -> None:
    examples = readme_examples()
    assert {"show acme", "done 4", "ticket 12", "snooze 4 in 2 hours"} <= set(examples["rep"])
    assert "role @dana manager" in examples["manager"] and "reminders" in examples["manager"]
    assert examples["admin"] == ["export-contact acme", "webhooks", "erase #12"]
    assert "show me bob from initech" in examples["rep"]


def test_every_readme_example_works_on_a_fresh_sample_book(tmp_path: Path) -> None:
    """Rep examples first (the first console start loads the book with that rep in its team),
    then the manager's, then the admin's, whose `erase #12` comes last."""
    examples = readme_examples()
    db = tmp_path / "crm.db"
    transcripts = {
        "rep": console(db, examples["rep"], "--as", "rep", "--user", "robin"),
        "manager": console(db, examples["manager"], "--as", "manager", "--user", "lee"),
        "admin": console(db, examples["admin"], "--as", "admin", "--user", "ada"),
    }
    for role, stdout in transcripts.items():
        failed = [needle for needle in _FAILURES if needle in "\n" + stdout]
        assert not failed, f"{role} examples answered {failed}:\n{stdout}"
    rep = transcripts["rep"]
    for answer in (
        "== Acme Corp (#1) ==",
        "== Ticket #12: Label printer arrived broken ==",
        "Ticket #12 (Label printer arrived broken) is now assigned to robin.",
        "Done: reminder #4 (Confirm the replacement printer shipped).",
        "Snoozed reminder #4 until",
        "Recorded order",
        "Replied on ticket #12",
        "Resolved ticket #12",
        "Reopened ticket #12",
    ):
        assert answer in rep, f"{answer!r} not in:\n{rep}"
    assert "Dana Whitfield is now manager (was rep)." in transcripts["manager"]
    assert "Erase" in transcripts["admin"]


async def test_the_sample_book_has_products_and_a_year_of_order_lines(store: Store) -> None:
    counts = await load_sample(store)
    assert counts["products"] > 1_000 and counts["order lines"] > 7_000
    async with store.read() as tx:
        acme = await tx.customers.get(1)
        (first, last) = (
            await tx.conn.execute(
                select(func.min(order_lines.c.ordered_at), func.max(order_lines.c.ordered_at))
            )
        ).one()
        buyers = (
            await tx.conn.execute(select(func.count(func.distinct(order_lines.c.customer_id))))
        ).scalar_one()
        acme_lines = (
            await tx.conn.execute(select(func.count()).where(order_lines.c.customer_id == 1))
        ).scalar_one()
    assert acme is not None and acme.name == "Acme Corp" and acme.external_ref == "17850"
    assert acme_lines > 0 and buyers > 300
    span = datetime.fromisoformat(str(last)) - datetime.fromisoformat(str(first))
    assert span.days > 300  # spread over the last year, not the export's five days
