"""Intent and slot accuracy of nlp.intents on the labelled rep phrases, against two baselines.

Run: .venv/bin/python bench/intents.py  (prints one JSON object)

Definitions
- Every phrase is read with NOW = Fri 2026-11-20 15:00 Europe/Berlin; expected "when"
  slots in the eval file are local "YYYY-MM-DD HH:MM" in that zone.
- A phrase labelled with an intent is right when the first reading has that intent. A
  phrase labelled "none" (chat, gibberish) is right when no reading reaches the router's
  act threshold (0.75): the bot answers [] or asks back, but never acts.
- slot_exact_match: of the phrases with expected slots, the share whose first reading has
  the right intent and every expected slot equal (case and surrounding punctuation
  ignored). Slots not listed in the file are not checked.
- confident_wrong: phrases where the first reading reaches 0.75 and is wrong, i.e. where
  the router would act on a misreading.
- split "dev" was looked at while the training phrases and rules were written; split
  "holdout" was written after that and run once, so it is the honest figure.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
import time
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

EVAL_PATH = Path(__file__).resolve().parents[1] / "tests" / "data" / "intents_eval.jsonl"
TZ = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 11, 20, 15, 0, tzinfo=TZ)
ACT_THRESHOLD = 0.75

# What a developer writes in ten minutes without a model: first matching keyword wins.
KEYWORD_RULES: tuple[tuple[str, str], ...] = (
    ("reopen", r"re-?open"),
    ("resolve", r"resolve|close"),
    ("assign", r"assign|\btake\b"),
    ("reply", r"reply|respond|answer"),
    ("snooze", r"snooze|postpone|push|delay"),
    ("done", r"\bdone\b|complete|finished"),
    ("reminders", r"reminders|follow[- ]?ups"),
    ("remind", r"remind"),
    ("ticket", r"ticket\s*#?\d+|#\d+"),
    ("tickets", r"tickets"),
    ("order", r"order|bought|purchas"),
    ("log", r"\blog\b|call|email|meeting|note"),
    ("timeline", r"history|timeline|\blast\b"),
    ("loyalty", r"loyal"),
    ("at-risk", r"risk|churn"),
    ("invite", r"invite|telegram"),
    ("report", r"report|csat|satisfaction"),
    ("digest", r"digest|summary"),
    ("add", r"\badd\b|\bnew\b|create"),
    ("update", r"update|change|\bset\b"),
    ("help", r"help|how do"),
    ("show", r"show|open|details"),
    ("find", r"find|search|look"),
)


def keyword_intent(text: str) -> str:
    for intent, pattern in KEYWORD_RULES:
        if re.search(pattern, text, re.IGNORECASE):
            return intent
    return "none"


def _norm(value: str) -> str:
    return " ".join(value.casefold().split()).strip(" .,;:!?'\"")


def _slots_match(expected: dict[str, str], got: dict[str, str]) -> bool:
    for key, want in expected.items():
        have = got.get(key, "")
        if key == "when" and have:
            have = datetime.fromisoformat(have).astimezone(TZ).strftime("%Y-%m-%d %H:%M")
        if _norm(have) != _norm(want):
            return False
    return True


def _rate(hits: int, total: int) -> float:
    return round(hits / total, 4) if total else 0.0


def main() -> dict[str, Any]:
    rows = [json.loads(line) for line in EVAL_PATH.read_text(encoding="utf-8").splitlines() if line]

    wall, cpu = time.perf_counter(), time.process_time()
    from nlp.intents import classifier, interpret

    classifier()
    first_call = {
        "wall_s": round(time.perf_counter() - wall, 3),
        "cpu_s": round(time.process_time() - cpu, 3),
    }
    from nlp.intents import IntentClassifier, load_training

    texts, labels = load_training()
    fit_start = time.perf_counter()
    IntentClassifier().fit(texts, labels)
    fit_s = round(time.perf_counter() - fit_start, 3)

    interpret("warm up the caches", now=NOW, tz=TZ)
    latencies: list[float] = []
    by_split: dict[str, Counter[str]] = defaultdict(Counter)
    per_intent: dict[str, Counter[str]] = defaultdict(Counter)
    confusion: dict[str, Counter[str]] = defaultdict(Counter)
    majority = Counter(r["intent"] for r in rows).most_common(1)[0][0]
    slot_misses: list[dict[str, Any]] = []

    for row in rows:
        text, want, split = row["text"], row["intent"], row.get("split", "dev")
        start = time.perf_counter()
        readings = interpret(text, now=NOW, tz=TZ)
        latencies.append((time.perf_counter() - start) * 1000)
        top = readings[0] if readings else None
        acts = top is not None and top.confidence >= ACT_THRESHOLD
        if want == "none":
            right = not acts
            got = top.intent if acts and top else "none"
        else:
            got = top.intent if top else "none"
            right = got == want
        for bucket in (by_split[split], by_split["all"]):
            bucket["n"] += 1
            bucket["right"] += right
            bucket["acts"] += acts
            bucket["confident_wrong"] += acts and not right
            bucket["keyword_right"] += keyword_intent(text) == want
            bucket["majority_right"] += majority == want
            if row["slots"]:
                bucket["slot_n"] += 1
                ok = bool(right and top and _slots_match(row["slots"], dict(top.slots)))
                bucket["slot_right"] += ok
                if not ok and right and split == "holdout" and bucket is by_split["all"]:
                    slot_misses.append(
                        {"text": text, "want": row["slots"], "got": dict(top.slots) if top else {}}
                    )
        per_intent[want]["n"] += 1
        per_intent[want]["right"] += right
        if not right:
            confusion[want][got] += 1

    def summary(c: Counter[str]) -> dict[str, Any]:
        return {
            "phrases": c["n"],
            "intent_accuracy": _rate(c["right"], c["n"]),
            "slot_exact_match": _rate(c["slot_right"], c["slot_n"]),
            "acts_share": _rate(c["acts"], c["n"]),
            "confident_wrong": c["confident_wrong"],
            "baseline_keyword_accuracy": _rate(c["keyword_right"], c["n"]),
            "baseline_majority_accuracy": _rate(c["majority_right"], c["n"]),
        }

    accuracy = {k: _rate(v["right"], v["n"]) for k, v in sorted(per_intent.items())}
    worst = sorted(accuracy, key=lambda k: (accuracy[k], k))[:5]
    ordered = sorted(latencies)
    overall = summary(by_split["all"])
    return {
        "bench": "intents",
        "now": NOW.isoformat(),
        "eval_file": str(EVAL_PATH.relative_to(EVAL_PATH.parents[2])),
        "training_phrases": len(texts),
        "first_call_incl_imports": first_call,
        "fit_s": fit_s,
        **overall,
        "accuracy_vs_keyword_baseline": round(
            overall["intent_accuracy"] / max(overall["baseline_keyword_accuracy"], 1e-9), 3
        ),
        "splits": {k: summary(by_split[k]) for k in ("dev", "holdout") if k in by_split},
        "per_intent_accuracy": accuracy,
        "worst_intents": {k: {"accuracy": accuracy[k], "read_as": dict(confusion[k])} for k in worst},
        "latency_ms": {
            "p50": round(statistics.median(ordered), 3),
            "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3),
            "max": round(ordered[-1], 3),
        },
        "holdout_slot_misses": slot_misses,
    }


if __name__ == "__main__":
    print(json.dumps(main(), ensure_ascii=False))
