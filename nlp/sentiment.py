"""Three-class sentiment classifier trained on the bundled public corpora, cached on disk."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import pickle
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import sklearn
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import SGDClassifier
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from nlp import sentiment_features as features
from nlp.sentiment_scorer import SentimentScorer

_LOGGER = logging.getLogger(__name__)

DATA_DIR: Final = Path(__file__).resolve().parent / "data" / "sentiment"
LABELS: Final = ("negative", "neutral", "positive")
UCI_FILES: Final = {
    "uci_amazon": "uci_sentiment_labelled_sentences/amazon_cells_labelled.txt",
    "uci_imdb": "uci_sentiment_labelled_sentences/imdb_labelled.txt",
    "uci_yelp": "uci_sentiment_labelled_sentences/yelp_labelled.txt",
}
VADER_FILES: Final = {
    "vader_tweets": "vader_ground_truth/tweets_GroundTruth.txt",
    "vader_amazon": "vader_ground_truth/amazonReviewSnippets_GroundTruth.txt",
    "vader_nyt": "vader_ground_truth/nytEditorialSnippets_GroundTruth.txt",
    "vader_movies": "vader_ground_truth/movieReviewSnippets_GroundTruth.txt",
}
AUGMENTATION_FILE: Final = "customer_messages.tsv"
LEXICON_FILE: Final = "vader_lexicon/vader_lexicon.txt"
# Mean VADER rating (-4..+4) beyond which a text counts as positive / negative.
VADER_NEUTRAL_BAND: Final = 0.5
# Sample weights: short social-media texts and hand-written customer messages resemble
# what the bot sees; long review and editorial snippets less so.
SOURCE_WEIGHTS: Final = {
    "vader_tweets": 2.0,
    "vader_amazon": 1.0,
    "vader_nyt": 0.7,
    "vader_movies": 0.5,
    "uci_amazon": 1.0,
    "uci_imdb": 0.7,
    "uci_yelp": 1.0,
    "customer": 4.0,
}
_CACHE_PREFIX: Final = "sentiment-"
_CACHE_SUFFIX: Final = ".pickle"
# Earlier cache files (format 1 was joblib, whose pure-Python unpickler took about a second).
_OLD_CACHE_SUFFIXES: Final = (".joblib",)
_CACHE_FORMAT: Final = 2


@dataclass(frozen=True, slots=True)
class Sentiment:
    """A classification: label, ``P(pos) - P(neg)`` and the chosen label's probability."""

    label: str  # "negative" | "neutral" | "positive"
    score: float  # in [-1, 1]: P(pos) - P(neg)
    probability: float  # probability of the chosen label


@dataclass(frozen=True, slots=True)
class Example:
    """One labelled training text; ``source`` is a key of ``SOURCE_WEIGHTS``."""

    text: str
    label: str
    source: str


_NEUTRAL_EMPTY: Final = Sentiment("neutral", 0.0, 1.0)


def _lines(path: Path) -> list[str]:
    # Split on "\n" only: imdb_labelled.txt contains U+0085, which splitlines() breaks on.
    text = path.read_text(encoding="utf-8")
    return [line.rstrip("\r") for line in text.split("\n") if line.strip()]


def vader_label(mean_rating: float) -> str:
    """Three-class label of a VADER ground-truth mean rating."""
    if mean_rating > VADER_NEUTRAL_BAND:
        return "positive"
    if mean_rating < -VADER_NEUTRAL_BAND:
        return "negative"
    return "neutral"


def load_corpus(data_dir: Path = DATA_DIR) -> list[Example]:
    """The public corpus: UCI sentences (binary) and VADER ground truth (three classes)."""
    examples: list[Example] = []
    for source, name in UCI_FILES.items():
        for line in _lines(data_dir / name):
            text, _, flag = line.rpartition("\t")
            examples.append(Example(text, "positive" if flag == "1" else "negative", source))
    for source, name in VADER_FILES.items():
        for line in _lines(data_dir / name):
            _, rating, text = line.split("\t", 2)
            examples.append(Example(text, vader_label(float(rating)), source))
    return examples


def load_augmentation(data_dir: Path = DATA_DIR) -> list[Example]:
    """Hand-written customer messages, ``label<TAB>text`` per line."""
    examples: list[Example] = []
    for line in _lines(data_dir / AUGMENTATION_FILE):
        label, _, text = line.partition("\t")
        if label not in LABELS or not text.strip():
            raise ValueError(f"bad line in {AUGMENTATION_FILE}: label {label!r}")
        examples.append(Example(text, label, "customer"))
    return examples


def training_files(data_dir: Path = DATA_DIR) -> list[Path]:
    """Every data file the model is trained from (what the cache key hashes)."""
    names = [*UCI_FILES.values(), *VADER_FILES.values(), AUGMENTATION_FILE, LEXICON_FILE]
    return [data_dir / name for name in sorted(names)]


def corpus_fingerprint(data_dir: Path = DATA_DIR) -> str:
    """SHA-256 over the names and bytes of the training files."""
    digest = hashlib.sha256()
    for path in training_files(data_dir):
        content = path.read_bytes()
        digest.update(f"{path.relative_to(data_dir).as_posix()}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


def cache_key(fingerprint: str | None = None) -> str:
    """Model cache key: corpus fingerprint, library versions and feature-code version."""
    parts = (
        fingerprint if fingerprint is not None else corpus_fingerprint(),
        f"sklearn={sklearn.__version__}",
        f"numpy={np.__version__}",
        f"features={features.FEATURE_VERSION}",
        f"format={_CACHE_FORMAT}",
    )
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def cache_path(cache_dir: Path, fingerprint: str | None = None) -> Path:
    """Where the model for the current corpus and library versions is cached."""
    return Path(cache_dir) / f"{_CACHE_PREFIX}{cache_key(fingerprint)}{_CACHE_SUFFIX}"


def build_pipeline(lexicon: dict[str, float]) -> Pipeline:
    """Unfitted pipeline: word + char TF-IDF + lexicon features -> logistic regression (SGD)."""
    union = FeatureUnion(
        [
            (
                "words",
                TfidfVectorizer(
                    analyzer=features.prepared_words, min_df=2, sublinear_tf=True, dtype=np.float32
                ),
            ),
            (
                "chars",
                TfidfVectorizer(
                    analyzer="char_wb",
                    preprocessor=features.prepared_text,
                    ngram_range=(2, 5),
                    min_df=3,
                    max_features=150_000,
                    sublinear_tf=True,
                    dtype=np.float32,
                ),
            ),
            (
                "lexicon",
                Pipeline(
                    [
                        ("dense", FunctionTransformer(features.prepared_dense)),
                        ("scale", StandardScaler()),
                    ]
                ),
            ),
        ],
        transformer_weights={"words": 1.0, "chars": 1.0, "lexicon": 0.3},
    )
    return Pipeline(
        [
            ("prepare", FunctionTransformer(features.prepare_many, kw_args={"lexicon": lexicon})),
            ("features", union),
            (
                "model",
                SGDClassifier(loss="log_loss", alpha=1e-5, max_iter=30, tol=None, random_state=0),
            ),
        ]
    )


def train(examples: Sequence[Example] | None = None, *, data_dir: Path = DATA_DIR) -> SentimentClassifier:
    """Fit a classifier on ``examples`` (default: the whole corpus plus the augmentation set)."""
    if examples is None:
        examples = [*load_corpus(data_dir), *load_augmentation(data_dir)]
    lexicon = features.load_lexicon(data_dir / LEXICON_FILE)
    started = time.perf_counter()
    pipeline = build_pipeline(lexicon)
    weights = np.array([SOURCE_WEIGHTS.get(e.source, 1.0) for e in examples])
    pipeline.fit([e.text for e in examples], [e.label for e in examples], model__sample_weight=weights)
    _LOGGER.info(
        "trained sentiment model on %d texts in %.1f s", len(examples), time.perf_counter() - started
    )
    return SentimentClassifier(pipeline)


class SentimentClassifier:
    """A fitted sentiment model; build it with ``load_or_train`` (or ``train``).

    Texts are scored by the pipeline compiled into a ``SentimentScorer`` (same figures,
    a fraction of the time); the pipeline itself stays the reference and what is cached.
    """

    def __init__(self, pipeline: Pipeline) -> None:
        classes = [str(c) for c in pipeline.classes_]
        if sorted(classes) != sorted(LABELS):
            raise ValueError(f"model classes {classes} are not {LABELS}")
        self._pipeline = pipeline
        self._scorer = SentimentScorer(pipeline)
        self._classes = classes
        self._pos = classes.index("positive")
        self._neg = classes.index("negative")

    @property
    def pipeline(self) -> Pipeline:
        """The fitted scikit-learn pipeline: what is cached, and the reference scoring follows."""
        return self._pipeline

    @classmethod
    def load_or_train(cls, cache_dir: Path) -> SentimentClassifier:
        """Load the cached model for the current corpus and versions, training it if missing."""
        cache_dir = Path(cache_dir)
        path = cache_path(cache_dir)
        loaded = _load(path)
        if loaded is not None:
            return loaded
        _LOGGER.info("no cached sentiment model at %s; training", path)
        classifier = train()
        try:
            classifier.save(path)
        except OSError as exc:  # an unwritable cache costs a retrain next start, not a crash
            _LOGGER.warning("could not cache the sentiment model at %s: %s", path, exc)
        else:
            _remove_stale(cache_dir, keep=path)
        return classifier

    def save(self, path: Path) -> None:
        """Write the model atomically (temporary file in the same directory, then rename)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                payload = {"format": _CACHE_FORMAT, "pipeline": self._pipeline}
                pickle.dump(payload, handle, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp_name, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise

    def classify(self, text: str) -> Sentiment:
        """Label one text."""
        return self.classify_many([text])[0]

    def classify_many(self, texts: Sequence[str]) -> list[Sentiment]:
        """Label several texts in one batch (faster per text than ``classify``)."""
        return self._sentiments(texts, self._scorer.probabilities)

    def classify_many_by_pipeline(self, texts: Sequence[str]) -> list[Sentiment]:
        """``classify_many`` computed by the scikit-learn pipeline itself (the slow reference)."""
        return self._sentiments(texts, self._pipeline.predict_proba)

    def _sentiments(
        self, texts: Sequence[str], probabilities: Callable[[list[str]], npt.NDArray[np.float64]]
    ) -> list[Sentiment]:
        results: list[Sentiment] = [_NEUTRAL_EMPTY] * len(texts)
        todo = [i for i, text in enumerate(texts) if text.strip()]
        if not todo:
            return results
        rows = probabilities([texts[i] for i in todo])
        for i, row in zip(todo, rows.tolist(), strict=True):
            best = max(range(len(row)), key=row.__getitem__)
            score = min(max(row[self._pos] - row[self._neg], -1.0), 1.0)
            results[i] = Sentiment(self._classes[best], score, row[best])
        return results


def _load(path: Path) -> SentimentClassifier | None:
    if not path.is_file():
        return None
    started = time.perf_counter()
    try:
        with path.open("rb") as handle:
            payload: Any = pickle.load(handle)
        if not isinstance(payload, dict) or payload.get("format") != _CACHE_FORMAT:
            raise ValueError("unexpected cache payload")
        classifier = SentimentClassifier(payload["pipeline"])
    except Exception as exc:  # a corrupt or incompatible cache is rebuilt, not fatal
        _LOGGER.warning("ignoring unreadable sentiment model cache %s: %s", path, exc)
        return None
    _LOGGER.info("loaded sentiment model from %s in %.2f s", path, time.perf_counter() - started)
    return classifier


def _remove_stale(cache_dir: Path, keep: Path) -> None:
    for suffix in (_CACHE_SUFFIX, *_OLD_CACHE_SUFFIXES):
        for old in cache_dir.glob(f"{_CACHE_PREFIX}*{suffix}"):
            if old != keep:
                with contextlib.suppress(OSError):
                    old.unlink()
                    _LOGGER.info("removed stale sentiment model cache %s", old)


def format_line(s: Sentiment) -> str:
    """One line for the ``crm-bot sentiment`` CLI: label, tab, score."""
    return f"{s.label}\t{s.score:.3f}"
