"""The cached sentiment model, loaded in a worker thread once the bot answers; first use waits for it."""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from handlers.context import SentimentLabeller

if TYPE_CHECKING:
    from nlp.sentiment import Sentiment


class LoadingLabeller:
    """A SentimentLabeller whose model loads in the background: importing scikit-learn and
    unpickling the model take two seconds that start no longer waits for.  ``begin`` starts
    the load (the bot calls it once it answers, so the load does not compete with start-up);
    a text labelled before the model is in waits for it, and a failed load fails each use."""

    def __init__(self, load: Callable[[], SentimentLabeller]) -> None:
        self._load = load
        self._model: concurrent.futures.Future[SentimentLabeller] | None = None
        self._lock = threading.Lock()

    def begin(self) -> concurrent.futures.Future[SentimentLabeller]:
        with self._lock:
            if self._model is None:
                loading = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="sentiment-load")
                self._model = loading.submit(self._load)
                loading.shutdown(wait=False)
            return self._model

    def classify(self, text: str) -> Sentiment:
        return self.begin().result().classify(text)

    def classify_many(self, texts: Sequence[str]) -> list[Sentiment]:
        return self.begin().result().classify_many(texts)
