"""Session fixtures for the sentiment tests: the model is trained once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlp.sentiment import SentimentClassifier


@pytest.fixture(scope="session")
def sentiment_cache_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's model cache directory (shared with the root ``classifier`` fixture)."""
    try:
        base: Path = request.getfixturevalue("crm_data_dir")
    except pytest.FixtureLookupError:
        base = tmp_path_factory.mktemp("sentiment")
    return base / "models"


@pytest.fixture(scope="session")
def sentiment_classifier(sentiment_cache_dir: Path) -> SentimentClassifier:
    """The trained model; only the first test that asks for it pays for training."""
    return SentimentClassifier.load_or_train(sentiment_cache_dir)
