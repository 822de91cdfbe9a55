"""Tests for nlp.index_structures: the parts the customer index is made of."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from pathlib import Path

from nlp.index_structures import RS, RecentKeys, Records, pack_records, variant_key


def test_records_round_trip_any_text() -> None:
    records = [
        "john smith\x1facme\x1fj@acme.io\x1f15550100",
        "анна\x1fбольшой\x1f\x1f",
        "😀 x\x1f\x1f\x1f",
        "",
    ]
    buffer, ends = pack_records(records, chunk=2)
    stored = Records(buffer, ends)
    assert [stored[i] for i in range(len(records))] == records
    stored.append("later\x1f\x1f\x1f")
    assert stored[4] == "later\x1f\x1f\x1f" and len(stored) == 5
    assert RS not in "".join(records)


def test_recent_keys_find_every_prefix_in_order_across_the_tail() -> None:
    rng = random.Random(5)
    keys = RecentKeys()
    added: list[tuple[str, int]] = []
    for slot in range(3 * RecentKeys.TAIL + 17):  # sorted run and unsorted tail both in play
        key = "".join(rng.choice("abc") for _ in range(rng.randint(1, 5)))
        keys.add(key, slot)
        added.append((key, slot))
    for prefix in ("", "a", "ab", "cab", "bbbbb", "z"):
        expected = sorted(pair for pair in added if pair[0].startswith(prefix))
        assert list(keys.starting_with(prefix)) == expected


def test_variant_keys_are_the_same_in_another_process() -> None:
    # Saved in snapshots: a key must not depend on the per-process str hash salt.
    words = ["harbor", "hrbor", "łódź", "smith"]
    code = (
        "import sys; from nlp.index_structures import variant_key as k; print([k(w) for w in sys.argv[1:]])"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    out = subprocess.run(
        [sys.executable, "-c", code, *words], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == str([variant_key(w) for w in words])


def test_records_many_reads_built_and_later_records_in_the_order_asked() -> None:
    records = Records(*pack_records(["anna", "", "björn ütz", "carl"]))
    records.append("dora")
    slots = [4, 2, 0, 1, 2, 3]
    assert (
        records.many(slots)
        == [records[s] for s in slots]
        == ["dora", "björn ütz", "anna", "", "björn ütz", "carl"]
    )
    assert records.many([]) == []
