"""Free text end to end: phrases typed into the real router on the sample book, scored by what ran and wrote.

Run: .venv/bin/python bench/intents.py [--split seen|held_out|no_write ...] [--limit N]
(prints one JSON object; the phrases are tests/data/free_text/*.jsonl, see its README.md)

Definitions
- Every phrase is typed by a manager (who is also a rep owning Acme Corp, with reminders #1-#4,
  as on a fresh `make run`) into handlers.router.Router, on a fresh copy of the sample book, with
  the clock fixed at Fri 2026-11-20 15:00 Europe/Berlin (the rep's zone; "when" slots are local
  "YYYY-MM-DD HH:MM" in it). No button is pressed: an offered choice counts as asked.
- Outcome of one phrase: "wrote" (audit rows were written), "asked" (the answer offers one-time
  choices: a pick list, "did you mean" buttons, a confirmation), "refused" (a role refusal, or an
  error answer with no command run: "I don't know the command …"), "ran" (a command ran and
  answered, an error included) or "unknown" (no command ran, no error).
- correct: the expected command ran for the expected customer; for a write, the audit rows are
  exactly the expected (action, entity) pairs, each for the expected customer; expected slots
  match what was stored ("when" the reminder's due time, "text" contained in the stored text,
  "field"/"value" the changed field and its new value, "kind" the interaction kind, "ticket" the
  ticket acted on, "arg" the first word of the command's arguments). A "none" phrase is correct
  when nothing was written and no command other than help ran.
- asked_back: outcome asked. wrong write: an audit row that is not expected (another kind, another
  customer, or any row for a read or none phrase); every one is listed with its phrase. A role
  refusal's audit row ("denied") is a refusal, not a write.
- latency: the reader alone (nlp.intents.interpret on the phrase) and the whole router path
  (Router.handle, the store's reads and writes included, the copy of the book not).
- startup: import nlp.intents and build/load its model, in a fresh interpreter.
The previous bench's figures (reader-only intent accuracy on tests/data/intents_eval.jsonl) are
not computed here and are not comparable.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.sample_data import SampleUser, load_sample  # noqa: E402
from crm_store.migrate import upgrade  # noqa: E402
from crm_store.store import Store  # noqa: E402
from handlers.context import Context, HandlerSettings, Services  # noqa: E402
from handlers.errors import UserError  # noqa: E402
from handlers.lookup import CustomerLookup  # noqa: E402
from handlers.messages import Actor, Message, Reply  # noqa: E402
from handlers.people import staff_actor  # noqa: E402
from handlers.quotes import plain_quotes  # noqa: E402
from handlers.router import Router  # noqa: E402
from nlp.intents import classifier  # noqa: E402

PHRASES = ROOT / "tests" / "data" / "free_text"
SPLITS = ("seen", "held_out", "no_write")
ZONE_NAME = "Europe/Berlin"
TZ = ZoneInfo(ZONE_NAME)
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=TZ)
USER = "rep"
# Audit actions that record a refusal, not a change.
NOT_WRITES = frozenset({"denied"})
# Commands a must-not-write phrase may run (answering chit-chat with the command list is fine).
HARMLESS = frozenset({"help"})
# Commands whose first argument is a ticket id: the ticket's customer is whom they are about.
ASKED_TITLE = "Did you mean…"  # the router's question when free text or a misfit is unclear
TICKET_COMMANDS = frozenset({"ticket", "assign", "reply", "resolve", "reopen"})


def load_rows(splits: Iterable[str] = SPLITS, *, directory: Path = PHRASES) -> list[dict[str, Any]]:
    """The phrases of ``splits``, each with its split added."""
    rows = []
    for split in splits:
        for line in (directory / f"{split}.jsonl").read_text(encoding="utf-8").splitlines():
            if line.strip():
                rows.append({**json.loads(line), "split": split})
    return rows


@dataclass(slots=True)
class Write:
    action: str
    entity: str
    entity_id: str | None
    customer_id: int | None


@dataclass(slots=True)
class Outcome:
    """What one phrase did."""

    kind: str  # wrote | asked | refused | ran | unknown
    commands: list[tuple[str, str]] = field(default_factory=list)  # (command, args) as run
    customers: list[int] = field(default_factory=list)  # customers the commands resolved
    writes: list[Write] = field(default_factory=list)
    stored: dict[str, str] = field(default_factory=dict)  # slot values read back from the store
    answer: str = ""
    router_ms: float = 0.0

    @property
    def command(self) -> str | None:
        return self.commands[-1][0] if self.commands else None


class BookBench:
    """The sample book in a SQLite file, a router on it, and a pristine copy put back after each
    phrase (SQLite's online backup, so open connections see the restored pages)."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self.pristine = work / "pristine.db"
        self.live = work / "book.db"
        self.store: Store | None = None
        self.router: Router | None = None
        self.actor: Actor | None = None
        self.names: dict[str, int] = {}
        self._runs: list[tuple[str, str]] = []
        self._resolved: list[int] = []
        self._last_error: str | None = None  # the user error the last command run answered

    async def start(self) -> None:
        store = Store.open(f"sqlite+aiosqlite:///{self.pristine}", clock=lambda: NOW)
        await upgrade(store.engine)
        await load_sample(store, you=SampleUser(platform="console", user_id=USER, display_name="Rep"))
        await staff_actor(
            store, platform="console", user_id=USER, display_name="Rep", role="manager", timezone=ZONE_NAME
        )
        await store.close()
        shutil.copyfile(self.pristine, self.live)
        self.store = Store.open(f"sqlite+aiosqlite:///{self.live}", clock=lambda: NOW)
        lookup = CustomerLookup(self.store)
        self._spy_on(lookup)
        services = Services(
            store=self.store, lookup=lookup, settings=HandlerSettings(default_timezone=ZONE_NAME)
        )
        self.router = Router(services, on_run=self._ran)
        await lookup.start(None)
        classifier()  # the app trains it in the background at start; not part of a phrase's time
        self.actor = await staff_actor(
            self.store,
            platform="console",
            user_id=USER,
            display_name="Rep",
            role="manager",
            timezone=ZONE_NAME,
        )
        async with self.store.read() as tx:
            found = await tx.customers.get_many(list(range(1, await tx.customers.highest_id() + 1)))
        self.names = {c.name.casefold(): c.id for c in found.values()}

    async def stop(self) -> None:
        if self.router is not None:
            await self.router.services.lookup.stop()
        if self.store is not None:
            await self.store.close()

    def customer_id(self, name: str | None) -> int | None:
        return None if name is None else self.names.get(name.casefold())

    def _ran(self, ctx: Context, error: UserError | None) -> None:
        self._runs.append((ctx.command, ctx.args))
        self._last_error = None if error is None else str(error)

    def _spy_on(self, lookup: CustomerLookup) -> None:
        """Note every customer a command resolves (reads write nothing to tell us)."""
        resolve = lookup.resolve
        resolved = self._resolved

        async def resolving(text: str, **kwargs: Any) -> Any:
            resolution = await resolve(text, **kwargs)
            if resolution.customer is not None:
                resolved.append(resolution.customer.id)
            return resolution

        lookup.resolve = resolving  # type: ignore[method-assign]

    async def _last_audit_id(self) -> int:
        assert self.store is not None
        async with self.store.read() as tx:
            latest = await tx.audit.recent(limit=1)
        return latest[0].id if latest else 0

    async def run(self, text: str) -> Outcome:
        """Type ``text``, see what happened, and put the book back as it was."""
        assert self.router is not None and self.actor is not None and self.store is not None
        self._runs.clear()
        self._resolved.clear()
        self._last_error = None
        before = await self._last_audit_id()
        start = time.perf_counter()
        reply = await self.router.handle(Message(actor=self.actor, text=text))
        router_ms = (time.perf_counter() - start) * 1000
        async with self.store.read() as tx:
            rows = [r for r in await tx.audit.recent(limit=50) if r.id > before]
        rows.reverse()
        denied = any(r.action in NOT_WRITES for r in rows)
        writes = []
        stored: dict[str, str] = {}
        async with self.store.read() as tx:
            for r in rows:
                if r.action in NOT_WRITES:
                    continue
                customer, values = await _row_customer(tx, r.action, r.entity, r.entity_id, r.detail)
                writes.append(Write(r.action, r.entity, r.entity_id, customer))
                for key, value in values.items():
                    stored.setdefault(key, value)
        outcome = Outcome(
            kind="unknown",
            commands=list(self._runs),
            customers=list(dict.fromkeys(self._resolved)),
            writes=writes,
            stored=stored,
            answer=_answer_text(reply),
            router_ms=router_ms,
        )
        if writes:
            outcome.kind = "wrote"
        elif _asks(reply):
            outcome.kind = "asked"
        elif denied or (reply.is_error and not self._answered_by_run(reply)):
            outcome.kind = "refused"
        elif self._runs:
            # A command that ran and answered an error ("no campaign named …") was still the
            # reading; its customer and slots decide whether it was the right one.
            outcome.kind = "ran"
        if not outcome.customers and self._runs and self._runs[-1][0] in TICKET_COMMANDS:
            outcome.customers = await self._ticket_customer(self._runs[-1][1])
        await self._restore(refresh=any(w.entity == "customer" for w in writes))
        return outcome

    def _answered_by_run(self, reply: Reply) -> bool:
        """Whether an error answer is the last command's own (not the router's "I don't know the
        command" after a reading failed)."""
        return bool(self._runs) and self._last_error is not None and reply.text.startswith(self._last_error)

    async def _ticket_customer(self, args: str) -> list[int]:
        """The customer of the ticket a ticket command names (its first number)."""
        assert self.store is not None
        number = re.search(r"\d+", args)
        if number is None:
            return []
        async with self.store.read() as tx:
            ticket = await tx.tickets.get(int(number.group()))
        return [ticket.customer_id] if ticket is not None else []

    async def _restore(self, *, refresh: bool) -> None:
        """Put the pristine book back, whatever the phrase left (offered choices included)."""
        assert self.store is not None and self.router is not None
        await self.store.engine.dispose()
        source, target = sqlite3.connect(self.pristine), sqlite3.connect(self.live)
        try:
            source.backup(target)
        finally:
            source.close()
            target.close()
        if refresh:
            await self.router.services.lookup.refresh(force=True)


async def _row_customer(
    tx: Any, action: str, entity: str, entity_id: str | None, detail: dict[str, Any]
) -> tuple[int | None, dict[str, str]]:
    """The customer an audit row is about, and the slot values it stored."""
    ident = int(entity_id) if entity_id and entity_id.isdigit() else None
    values: dict[str, str] = {}
    customer = detail.get("customer_id")
    if entity == "customer":
        customer = ident
        if action == "update" and ident is not None:
            record = await tx.customers.get(ident)
            # Stored as columns ("owner_rep_id") and "custom.<name>"; slots use the typed names.
            fields = [_FIELD_NAMES.get(f, f.removeprefix("custom.")) for f in detail.get("fields", [])]
            values["field"] = ",".join(fields)
            for name in fields if record is not None else ():
                values[f"field:{name}"] = await _field_value(tx, record, name)
    elif entity == "interaction":
        values["kind"] = str(detail.get("kind", ""))
        if ident is not None and customer is not None:
            for item in await tx.interactions.for_customer(int(customer), limit=5):
                if item.id == ident:
                    values["text"] = item.text
    elif entity == "reminder" and ident is not None:
        reminder = await tx.reminders.get(ident)
        if reminder is not None:
            customer = reminder.customer_id
            values["text"] = reminder.text
            values["when"] = reminder.due_at.astimezone(TZ).strftime("%Y-%m-%d %H:%M")
    elif entity == "ticket" and ident is not None:
        ticket = await tx.tickets.get(ident)
        if ticket is not None:
            customer = ticket.customer_id
            values["ticket"] = str(ident)
            if action == "create":
                values["text"] = ticket.subject
            elif action == "reply":
                messages = await tx.tickets.messages(ident, limit=50)
                values["text"] = messages[-1].text if messages else ""
    elif entity == "order":
        values["amount"] = str(int(detail.get("amount_cents", 0)) / 100)
    elif entity == "relationship" and ident is not None:
        relation = await tx.relationships.get(ident)
        if relation is not None:
            customer = relation.from_customer_id
            values["kind"] = relation.kind
    return (int(customer) if customer is not None else None), values


_FIELD_NAMES = {"owner_rep_id": "owner"}


async def _field_value(tx: Any, record: Any, name: str) -> str:
    if name == "owner":
        rep = await tx.people.rep(record.owner_rep_id) if record.owner_rep_id else None
        return rep.display_name if rep is not None else ""
    if name == "tags":
        return ",".join(record.tags)
    if hasattr(record, name):
        return str(getattr(record, name) or "")
    return str(record.custom.get(name, ""))


def _buttons(reply: Reply) -> list[str]:
    found = [b.action for b in reply.buttons]
    for item in reply.items:
        found.extend(b.action for b in item.buttons)
    return found


def _asks(reply: Reply) -> bool:
    """One-time choices (``crm:run:<token>``) are how the bot asks: pick lists, "did you mean",
    confirmations; the router's "Did you mean…" with no likely reading asks too."""
    return reply.title == ASKED_TITLE or any(action.startswith("crm:run:") for action in _buttons(reply))


def _answer_text(reply: Reply) -> str:
    parts = [reply.title, reply.text, *(item.text for item in reply.items)]
    return " | ".join(p for p in parts if p)[:300]


def _norm(value: str) -> str:
    return " ".join(plain_quotes(value).casefold().split()).strip(" .,;:!?'\"")


def _slot_misses(slots: dict[str, str], outcome: Outcome) -> list[str]:
    """The expected slots the run did not produce."""
    misses = []
    for key, want in slots.items():
        if key == "arg":
            args = outcome.commands[-1][1] if outcome.commands else ""
            have = args.split()[0] if args.split() else ""
            ok = _norm(have) == _norm(want)
        elif key == "ticket" and "ticket" not in outcome.stored:
            args = outcome.commands[-1][1] if outcome.commands else ""
            number = re.search(r"\d+", args)
            ok = number is not None and number.group() == str(want).lstrip("#")
        elif key == "text":
            ok = _norm(want) in _norm(outcome.stored.get("text", ""))
        elif key == "field":
            ok = _norm(want) in outcome.stored.get("field", "").split(",")
        elif key == "value":
            field_name = slots.get("field") or outcome.stored.get("field", "").split(",")[0]
            have = outcome.stored.get(f"field:{field_name}", "")
            if field_name == "phone":  # stored in one canonical form; the digits are what count
                ok = re.sub(r"\D", "", have) == re.sub(r"\D", "", want)
            else:
                ok = _norm(have) == _norm(want)
        else:
            ok = _norm(outcome.stored.get(key, "")) == _norm(str(want))
        if not ok:
            misses.append(key)
    return misses


@dataclass(slots=True)
class Verdict:
    correct: bool
    asked: bool
    wrong_writes: list[Write]
    why: str


def score(row: dict[str, Any], outcome: Outcome, *, customer_id: int | None) -> Verdict:
    """Judge one outcome against the row's expectation (definitions in the module docstring)."""
    expect = row["expect"]
    wanted: Counter[tuple[str, str]] = Counter((a, e) for a, e in expect.get("writes", []))
    wrong = []
    for write in outcome.writes:
        key = (write.action, write.entity)
        # A write about no customer where one was meant (a reminder without its customer) is wrong.
        fits = wanted[key] > 0 and (customer_id is None or write.customer_id == customer_id)
        if fits:
            wanted[key] -= 1
        else:
            wrong.append(write)
    asked = outcome.kind == "asked"
    if expect["kind"] == "none":
        ok = not outcome.writes and all(c in HARMLESS for c, _ in outcome.commands)
        return Verdict(ok, asked, wrong, "" if ok else f"{outcome.kind} {outcome.command}")
    if outcome.kind in ("asked", "refused", "unknown"):
        return Verdict(False, asked, wrong, outcome.kind)
    if outcome.command != expect["command"]:
        return Verdict(False, asked, wrong, f"ran {outcome.command}")
    if expect["kind"] == "write" and (wrong or +wanted):
        return Verdict(False, asked, wrong, "writes differ")
    if customer_id is not None:
        seen = set(outcome.customers) | {w.customer_id for w in outcome.writes if w.customer_id is not None}
        if customer_id not in seen:
            return Verdict(False, asked, wrong, "other customer")
    misses = _slot_misses(expect.get("slots") or {}, outcome)
    if misses:
        return Verdict(False, asked, wrong, "slots " + ",".join(misses))
    return Verdict(True, asked, wrong, "")


def _pct(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(len(ordered) * q))], 3)


def reader_latency(texts: Sequence[str]) -> dict[str, float | None]:
    """nlp.intents.interpret alone, as the router calls it, one phrase at a time (ms)."""
    from nlp.intents import interpret

    interpret("warm up", now=NOW, tz=TZ)
    spent = []
    for text in texts:
        start = time.perf_counter()
        interpret(plain_quotes(text), now=NOW, tz=TZ)
        spent.append((time.perf_counter() - start) * 1000)
    return {"p50": _pct(spent, 0.5), "p99": _pct(spent, 0.99), "max": _pct(spent, 1.0)}


def reader_startup(runs: int = 3) -> dict[str, float]:
    """Seconds to import nlp.intents and have its model ready, each run in a fresh interpreter
    (the median and the fastest of ``runs``: the machine is shared)."""
    code = (
        "import time; t = time.perf_counter(); import nlp.intents as m; m.classifier(); "
        "print(time.perf_counter() - t)"
    )
    spent = []
    for _ in range(runs):
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        )
        spent.append(float(done.stdout.strip().splitlines()[-1]))
    return {"median_s": round(statistics.median(spent), 3), "fastest_s": round(min(spent), 3)}


def _rate(hits: int, total: int) -> float | None:
    return round(hits / total, 4) if total else None


async def evaluate(rows: Sequence[dict[str, Any]], *, work: Path) -> dict[str, Any]:
    """Run every row on a fresh copy of the sample book and sum up per split."""
    bench = BookBench(work)
    await bench.start()
    per_split: dict[str, Counter[str]] = defaultdict(Counter)
    per_intent: dict[str, dict[str, Counter[str]]] = defaultdict(lambda: defaultdict(Counter))
    wrong_writes: dict[str, list[dict[str, Any]]] = defaultdict(list)
    misses: dict[str, list[dict[str, Any]]] = defaultdict(list)
    router_ms: list[float] = []
    unknown_customers: set[str] = set()
    try:
        for row in rows:
            expect = row["expect"]
            customer_id = bench.customer_id(expect.get("customer"))
            if expect.get("customer") and customer_id is None:
                unknown_customers.add(expect["customer"])
            outcome = await bench.run(row["text"])
            router_ms.append(outcome.router_ms)
            verdict = score(row, outcome, customer_id=customer_id)
            split = row["split"]
            counts = per_split[split]
            counts["phrases"] += 1
            counts["correct"] += verdict.correct
            counts["asked"] += verdict.asked
            counts[f"outcome_{outcome.kind}"] += 1
            intent = row["family"].split("/")[0]
            per_intent[split][intent]["phrases"] += 1
            per_intent[split][intent]["correct"] += verdict.correct
            if verdict.wrong_writes:
                counts["phrases_with_wrong_writes"] += 1
                counts["wrong_writes"] += len(verdict.wrong_writes)
                wrong_writes[split].append(
                    {
                        "text": row["text"],
                        "family": row["family"],
                        "wrote": [
                            [w.action, w.entity, w.entity_id, w.customer_id] for w in verdict.wrong_writes
                        ],
                        "ran": outcome.commands,
                    }
                )
            if not verdict.correct:
                misses[split].append(
                    {
                        "text": row["text"],
                        "family": row["family"],
                        "why": verdict.why,
                        "answer": outcome.answer,
                    }
                )
    finally:
        await bench.stop()
    splits = {}
    for split, counts in per_split.items():
        splits[split] = {
            "phrases": counts["phrases"],
            "accuracy": _rate(counts["correct"], counts["phrases"]),
            "asked_back_rate": _rate(counts["asked"], counts["phrases"]),
            "wrong_writes": counts["wrong_writes"],
            "phrases_with_wrong_writes": counts["phrases_with_wrong_writes"],
            "outcomes": {
                k.removeprefix("outcome_"): v for k, v in sorted(counts.items()) if k.startswith("outcome_")
            },
        }
    return {
        "splits": splits,
        "held_out_per_intent_accuracy": {
            intent: {"phrases": c["phrases"], "accuracy": _rate(c["correct"], c["phrases"])}
            for intent, c in sorted(per_intent.get("held_out", {}).items())
        },
        "wrong_writes": dict(wrong_writes),
        "router_latency_ms": {"p50": _pct(router_ms, 0.5), "p99": _pct(router_ms, 0.99)},
        "expected_customers_not_in_book": sorted(unknown_customers),
        "misses": dict(misses),
    }


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", action="append", choices=SPLITS, help="default: all three")
    parser.add_argument("--limit", type=int, default=0, help="only the first N phrases of each split")
    parser.add_argument("--misses", action="store_true", help="list every phrase not got right")
    args = parser.parse_args(argv)
    splits = args.split or list(SPLITS)
    rows = load_rows(splits)
    if args.limit:
        rows = [r for split in splits for r in [r for r in rows if r["split"] == split][: args.limit]]
    startup = reader_startup()
    with tempfile.TemporaryDirectory(prefix="bench-intents-") as work:
        result = asyncio.run(evaluate(rows, work=Path(work)))
    if not args.misses:
        result.pop("misses")
    return {
        "bench": "intents (free text end to end)",
        "now": NOW.isoformat(),
        "actor": "manager who owns Acme Corp, on the sample book",
        **result,
        "reader_latency_ms": reader_latency([r["text"] for r in rows]),
        "reader_startup": startup,
    }


if __name__ == "__main__":
    print(json.dumps(main(), ensure_ascii=False, indent=1))
