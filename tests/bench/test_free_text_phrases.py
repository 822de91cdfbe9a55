"""The free-text evaluation phrases: well formed, held-out families unseen in training."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from bench.intents import PHRASES, SPLITS, load_rows
from bot.sample_data import COMPANIES
from tests.nlp.near_duplicates import near_duplicates, normalise

TRAINING = Path(__file__).resolve().parents[2] / "nlp" / "data" / "intents_train.jsonl"
KINDS = {"read", "write", "none"}
SLOTS = {"when", "text", "field", "value", "kind", "ticket", "arg", "amount"}
# Names are masked on both sides, so a held-out phrase that differs from a trained one only by
# its customer still counts as seen.
NAMES = [part for company, contact, _ in COMPANIES for part in (company, contact, *company.split())]


def _trained() -> list[str]:
    lines = TRAINING.read_text(encoding="utf-8").splitlines()
    return [normalise(json.loads(line)["text"], names=NAMES) for line in lines if line.strip()]


def test_every_row_is_well_formed() -> None:
    rows = load_rows()
    for row in rows:
        expect = row["expect"]
        assert set(row) == {"text", "family", "expect", "split"}, row
        assert row["text"].strip() and "/" in row["family"], row
        assert expect["kind"] in KINDS, row
        assert set(expect.get("slots") or {}) <= SLOTS, row
        if expect["kind"] == "write":
            assert expect["writes"], row
        else:
            assert expect["writes"] == [], row
        if expect["kind"] == "none":
            assert expect["command"] is None and row["split"] == "no_write", row
        else:
            assert expect["command"], row


def test_sizes_and_held_out_share() -> None:
    rows = load_rows()
    by_split = Counter(r["split"] for r in rows)
    assert by_split["seen"] + by_split["held_out"] >= 800
    assert by_split["no_write"] >= 100
    families = {s: {r["family"] for r in rows if r["split"] == s} for s in SPLITS}
    assert len(families["held_out"]) * 3 >= len(families["held_out"] | families["seen"])


def test_families_are_disjoint_between_seen_and_held_out() -> None:
    seen = {r["family"] for r in load_rows(["seen"])}
    held = {r["family"] for r in load_rows(["held_out"])}
    assert not seen & held


def test_no_held_out_phrase_is_near_a_training_phrase() -> None:
    held = [normalise(r["text"], names=NAMES) for r in load_rows(["held_out"])]
    found = near_duplicates(held, _trained())
    assert not found, [f.evaluated for f in found]


def test_the_phrase_folder_says_who_must_not_read_held_out() -> None:
    assert "must not read" in (PHRASES / "README.md").read_text(encoding="utf-8")
