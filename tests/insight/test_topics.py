"""insight.topics: planted topics are recovered with their number, top words and members."""

from __future__ import annotations

import numpy as np
import pytest

from insight.topics import MIN_TEXTS, find_topics

PLANTED = {
    "delivery": "delivery late parcel courier shipping arrived tracking package delayed",
    "refund": "refund money charged twice payment invoice billing card",
    "login": "login password account locked reset access email code",
    "quality": "broken damaged cracked defective quality faulty scratched",
    "price": "discount price expensive cheaper offer coupon deal",
}
# Words every kind of text shares (after stop words, "order" and "help" survive): noise.
_FILLER = "the my i it we you is was and this that order help please hi there about with our"
FILLER = _FILLER.split(" ")


def planted(k: int, per_topic: int, seed: int) -> tuple[list[str], list[int]]:
    rng = np.random.default_rng(seed)
    texts, truth = [], []
    for t, name in enumerate(list(PLANTED)[:k]):
        words = PLANTED[name].split()
        for _ in range(per_topic):
            chosen = [
                *rng.choice(words, size=int(rng.integers(3, 6)), replace=False),
                *rng.choice(FILLER, size=5),
            ]
            rng.shuffle(chosen)
            texts.append(" ".join(str(w) for w in chosen))
            truth.append(t)
    return texts, truth


@pytest.mark.parametrize(("k", "per_topic"), [(2, 40), (3, 25), (4, 60), (5, 30)])
def test_planted_topics_are_recovered(k: int, per_topic: int) -> None:
    texts, truth = planted(k, per_topic, seed=k)
    model = find_topics(texts)
    assert model is not None
    assert model.k == k, model.silhouette
    names = list(PLANTED)[:k]
    matched = set()
    for t, topic in enumerate(model.topics):
        # Each topic's top words all come from one planted topic...
        homes = {name for name in names for word in topic.words if word in PLANTED[name].split()}
        assert len(homes) == 1 and len(topic.words) == 4, (topic.words, homes)
        home = homes.pop()
        matched.add(home)
        # ...and its texts are that topic's texts.
        members = [truth[i] for i in np.flatnonzero(model.assignment == t)]
        assert members == [names.index(home)] * per_topic
    assert matched == set(names)  # every planted topic found once


def test_too_few_texts_or_no_words_is_no_model() -> None:
    texts, _ = planted(3, 20, seed=1)
    assert find_topics(texts[: MIN_TEXTS - 1]) is None
    assert find_topics(["the and of", "12 34", "it is"] * 20) is None  # nothing but stop words
    assert find_topics([]) is None


def test_a_text_sharing_no_word_with_any_topic_is_unassigned() -> None:
    texts, _ = planted(3, 20, seed=2)
    model = find_topics([*texts, "zzz qqq"])
    assert model is not None
    assert model.assignment[-1] == -1
    assert (model.assignment[:-1] >= 0).all()
