"""The console front end, driven as a subprocess with a script on stdin (as a user would)."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bot.console import ConsoleFrontEnd
from bot.console_render import render_text
from bot.sample_data import TICKETS
from handlers.messages import Actor, Button, Field, ListItem, Reply
from handlers.router import Router
from nlp.sentiment import SentimentClassifier

SCRIPT = """help
add Acme Corp email=ops@acme.example
find acmee corp
log acme call: discussed renewal
tickets
remind acme tomorrow 10:00: send quote
reminders
frobnicate
"""


@pytest.fixture(autouse=True)
def _trained_model(
    classifier: SentimentClassifier, crm_data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Train (or load) the model before the subprocesses start, so they only load it."""
    monkeypatch.setenv("CRM_TEST_DATA_DIR", str(crm_data_dir))


def run_console(tmp_path: Path, script: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRM_", "SLACK_", "TELEGRAM_"))}
    env["CRM_DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'console.db'}"
    env["CRM_DATA_DIR"] = os.environ["CRM_TEST_DATA_DIR"]
    return subprocess.run(
        [sys.executable, "-m", "bot", "console", *args],
        input=script,
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=tmp_path,
    )


def test_scripted_console_session(tmp_path: Path) -> None:
    result = run_console(tmp_path, SCRIPT, "--no-sample", "--user", "sam")
    assert result.returncode == 0, result.stderr
    answers = result.stdout.split("\n\n")
    # one answer per line of the script, each followed by one blank line
    assert result.stdout.endswith("\n\n")
    assert len([a for a in answers if a.strip()]) == 8
    assert answers[0].startswith("== Commands ==")
    assert "Added Acme Corp (#1)." in answers[1] and "[1] Log call" in answers[1]
    assert answers[2].startswith("== Acme Corp (#1) ==\nBest match for 'acmee corp'.")
    assert answers[3] == "Logged a call with Acme Corp (#1). Sentiment: neutral."
    assert "No tickets here." in answers[4]
    assert "I'll remind you tomorrow 10:00 about Acme Corp (#1): send quote" in answers[5]
    assert "#1 send quote" in answers[6]
    assert "Error: I don't know the command 'frobnicate'" in answers[7]


def test_numbers_press_buttons_of_last_answer(tmp_path: Path) -> None:
    result = run_console(tmp_path, "add Acme Corp\n4\n", "--no-sample")
    assert result.returncode == 0, result.stderr
    assert "Nothing logged for Acme Corp (#1) yet." in result.stdout  # [4] Show timeline


async def test_a_number_presses_a_button_and_a_superscript_is_just_text(router: Router, rep: Actor) -> None:
    frontend = ConsoleFrontEnd(router, rep, stdin=io.StringIO(), stdout=io.StringIO(), interactive=False)
    frontend.show(Reply(text="x", buttons=(Button("Show", "crm:show:1"), Button("Done", "crm:done:2"))))
    assert frontend.message_for("2").action == "crm:done:2"
    assert frontend.message_for("٢").action == "crm:done:2"  # any script's digits, as in ids
    # "²" passes str.isdigit() but int() refuses it: it used to end the console with a ValueError.
    superscript = frontend.message_for("²")
    assert superscript.action is None and superscript.text == "²"
    assert frontend.message_for("3").text == "3"  # no third button


def test_sample_data_loaded_into_empty_store_once(tmp_path: Path) -> None:
    first = run_console(tmp_path, "find globex\n")
    assert "loaded sample data" in first.stderr
    assert "Globex Corporation" in first.stdout
    second = run_console(tmp_path, "tickets all\n")
    assert "loaded sample data" not in second.stderr
    # Loaded once: the sample's open tickets (the newest, so listed first) appear once each, not
    # twice; the resolved history behind the reports makes the list longer than TICKETS.
    assert [second.stdout.count(f" {subject} — {company}\n") for company, subject, *_ in TICKETS] == [
        1
    ] * len(TICKETS)


def test_console_as_customer(tmp_path: Path) -> None:
    result = run_console(
        tmp_path,
        "/start\n/ticket Printer broken\nIt prints nothing\n1\n/status\nfind acme\n",
        "--as",
        "customer",
        "--user",
        "carla",
        "--no-sample",
    )
    assert result.returncode == 0, result.stderr
    assert "Hello, carla!" in result.stdout
    assert "ticket #1 is open" in result.stdout
    assert "#1 Printer broken" in result.stdout


def test_render_text_numbers_item_and_reply_buttons() -> None:
    reply = Reply(
        title="T",
        text="body",
        fields=(Field("Email", "a@b.c"),),
        items=(ListItem("one", "d1", (Button("Show", "crm:show:1"),)),),
        buttons=(Button("Done", "crm:done:2"),),
        context="ctx",
    )
    rendered = render_text(reply)
    assert rendered.choices == ("crm:show:1", "crm:done:2")
    assert rendered.text.splitlines() == [
        "== T ==",
        "body",
        "  Email  a@b.c",
        "  • one",
        "    d1",
        "    [1] Show",
        "  (ctx)",
        "[2] Done",
    ]


async def test_a_press_notice_is_printed_and_the_last_answers_buttons_stay_pressable(
    router: Router, customer: Actor
) -> None:
    out = io.StringIO()
    console = ConsoleFrontEnd(router, customer, stdin=io.StringIO(), stdout=out, interactive=False)
    console.show(Reply(text="Pick", buttons=(Button("Show", "crm:show:1"),)))  # a team button
    notice = await router.handle(console.message_for("1"))
    assert notice.toast
    console.show(notice)
    assert out.getvalue().endswith("Error: This button is not for you.\n\n")
    assert console.message_for("1").action == "crm:show:1"


def test_a_digest_chart_is_written_to_a_file_whose_path_is_printed(tmp_path: Path) -> None:
    result = run_console(tmp_path, "digest\n", "--no-sample", "--as", "manager")
    assert result.returncode == 0, result.stderr
    found = re.search(r"\[chart digest-trend\.png: saved to (.+\.png)\]", result.stdout)
    assert found is not None, result.stdout
    chart = Path(found.group(1))
    assert chart.parent == Path(os.environ["CRM_TEST_DATA_DIR"]) / "charts"
    assert chart.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    chart.unlink()


def test_a_link_button_shows_its_address() -> None:
    shown = render_text(
        Reply(text="Hi", buttons=(Button("Shop now", "crm:campaign-link:3", url="https://shop.example"),))
    )
    assert shown.text == "Hi\n[1] Shop now (https://shop.example)"
