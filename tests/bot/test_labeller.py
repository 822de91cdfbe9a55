"""The sentiment model loading in the background: nothing loads before the bot answers, the
first use waits for the model, a failed load is reported on every use."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import pytest

from bot.labeller import LoadingLabeller
from nlp.sentiment import Sentiment


class SlowModel:
    def classify(self, text: str) -> Sentiment:
        return Sentiment("negative" if "not" in text else "positive", -0.5 if "not" in text else 0.5, 0.9)

    def classify_many(self, texts: Sequence[str]) -> list[Sentiment]:
        return [self.classify(t) for t in texts]


def test_the_load_starts_on_begin_or_first_use_and_runs_once() -> None:
    loads = 0
    gate = threading.Event()

    def load() -> SlowModel:
        nonlocal loads
        loads += 1
        gate.wait(timeout=30)
        return SlowModel()

    labeller = LoadingLabeller(load)
    assert loads == 0  # building it loads nothing
    first = labeller.begin()
    assert labeller.begin() is first and not first.done()
    gate.set()
    assert labeller.classify("not happy").label == "negative"  # waited for the model
    assert [s.label for s in labeller.classify_many(["fine", "not fine"])] == ["positive", "negative"]
    assert loads == 1
    used_first = LoadingLabeller(SlowModel)
    assert used_first.classify("great").label == "positive"  # first use starts the load itself


def test_a_failed_load_fails_every_use() -> None:
    def broken() -> SlowModel:
        raise OSError("model file unreadable")

    labeller = LoadingLabeller(broken)
    for _ in range(2):
        with pytest.raises(OSError, match="unreadable"):
            labeller.classify("anything")
