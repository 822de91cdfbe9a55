"""The fitted sentiment pipeline compiled into vocabulary lookups and dense weight arrays."""

from __future__ import annotations

import struct
from array import array
from collections.abc import Iterable, Sequence
from itertools import chain
from operator import attrgetter
from typing import Any, Final, NamedTuple

import numpy as np
import numpy.typing as npt
from scipy.sparse import csr_array
from scipy.special import expit
from sklearn.utils.sparsefuncs_fast import inplace_csr_row_normalize_l2

from nlp import sentiment_features as features
from nlp.char_ngrams import CharNgramColumns

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
Ints = npt.NDArray[np.signedinteger[Any]]

# Words remembered with their tokens and character n-gram columns (about 700 bytes
# each, 22 MB when full); then the memory starts again empty. Messages reuse a small
# vocabulary.
WORD_MEMORY: Final = 32_768
# Texts scored per vectorised step, which bounds the temporary arrays of a large batch.
CHUNK: Final = 2_048
# Up to this many new word pieces, their character n-grams are looked up one by one (a
# single message's new words, typically); more are searched for all at once.
SMALL_BATCH: Final = 24
_NEGATED_SUFFIX: Final = "_neg"
_NO_ID: Final = -1


class _Word(NamedTuple):
    """What one whitespace-separated word of a text contributes, computed once per word."""

    normalised: str  # the words it becomes in the normalised text, space-separated ("" if none)
    emoji_pos: int  # positive emoticons and emoji in it
    emoji_neg: int
    roles: tuple[features.TokenRole, ...]  # its tokens'
    # Four int32 per token: unigram column plain / negated, bigram part plain / negated
    # (-1: none). Bytes, like the columns below: joined per batch without a Python loop,
    # and nothing for the garbage collector to walk.
    token_ids: bytes
    char_columns: bytes  # int32 columns of its in-vocabulary character n-grams


class _Token(NamedTuple):
    """A token's role and vocabulary numbers (as in ``_Word``), computed once per token."""

    role: features.TokenRole
    ids: bytes


_ROLES = attrgetter("roles")
_NORMALISED = attrgetter("normalised")
_EMOJI_POS = attrgetter("emoji_pos")
_EMOJI_NEG = attrgetter("emoji_neg")
_TOKEN_IDS = attrgetter("token_ids")
_ROLE = attrgetter("role")
_IDS = attrgetter("ids")
_CHAR_COLUMNS = attrgetter("char_columns")
# Columns and ids as 32-bit ints (a vocabulary is far below 2**31): half the bytes to join.
_ID_TYPE: Final = np.dtype(np.int32)
_COLUMN_BYTES: Final = _ID_TYPE.itemsize  # array("i") items are the same 4 bytes
_TOKEN_IDS_BYTES: Final = struct.Struct("=4i")  # native order, as numpy reads them


class _Rows(NamedTuple):
    """The parts of a CSR matrix that sklearn's in-place row normaliser reads."""

    data: npt.NDArray[Any]
    shape: tuple[int, int]
    indices: Ints
    indptr: Ints


class SentimentScorer:
    """Class probabilities of a fitted ``nlp.sentiment.build_pipeline`` pipeline, computed directly.

    It reproduces the pipeline step by step: the same text preparation (shared code), the
    vectorisers' n-grams, counts, sublinear tf, idf and L2 normalisation in their dtype (the
    normalisation is sklearn's own routine, so even the rounding is the same), the scaler,
    the transformer weights and the one-vs-rest logistic model. It differs from
    ``pipeline.predict_proba`` only in the order of the final float64 sums (about 1e-16).
    A text's words are prepared once and remembered, so a batch costs a few dictionary
    lookups per word and vectorised arithmetic.
    """

    def __init__(self, pipeline: Any) -> None:
        prepare = pipeline.named_steps["prepare"]
        union = pipeline.named_steps["features"]
        model = pipeline.named_steps["model"]
        parts = dict(union.transformer_list)
        words, chars, lexicon = parts["words"], parts["chars"], parts["lexicon"]
        scaler = lexicon.named_steps["scale"]
        _require(prepare.func is features.prepare_many, "the first step is not prepare_many")
        _require(words.analyzer is features.prepared_words, "the word analyser is not prepared_words")
        _require(
            chars.analyzer == "char_wb" and chars.preprocessor is features.prepared_text,
            "the character analyser is not char_wb over the prepared text",
        )
        for vectoriser in (words, chars):
            _require(
                vectoriser.norm == "l2"
                and vectoriser.use_idf
                and vectoriser.sublinear_tf
                and not vectoriser.binary
                and vectoriser.dtype == words.dtype,
                "a vectoriser is not sublinear tf-idf with l2 norm",
            )
        _require(lexicon.named_steps["dense"].func is features.prepared_dense, "unexpected dense step")
        _require(scaler.with_mean and scaler.with_std, "the scaler does not centre and scale")
        _require(model.loss == "log_loss" and len(model.classes_) > 2, "the model is not one-vs-rest")
        self.classes: tuple[str, ...] = tuple(str(c) for c in model.classes_)
        self._lexicon: dict[str, float] = prepare.kw_args["lexicon"]
        self._vocabulary: dict[str, int] = words.vocabulary_
        self._n_words = len(words.vocabulary_)
        self._n_columns = self._n_words + len(chars.vocabulary_)
        self._char_ngrams = CharNgramColumns(chars.vocabulary_, chars.ngram_range)
        coef = np.asarray(model.coef_, dtype=np.float64)
        _require(coef.shape[1] == self._n_columns + features.N_DENSE, "the model's width does not match")
        _require(self._n_columns < 2**31, "the vocabulary is too large for 32-bit columns")
        self._dtype = words.dtype
        self._idf = np.concatenate([words.idf_, chars.idf_]).astype(self._dtype)
        weights = union.transformer_weights or {}
        self._word_weight: float | None = weights.get("words")
        self._char_weight: float | None = weights.get("chars")
        self._dense_weight: float | None = weights.get("lexicon")
        self._sparse_coef = np.ascontiguousarray(coef[:, : self._n_columns].T)
        self._dense_coef = np.ascontiguousarray(coef[:, self._n_columns :].T)
        self._intercept = np.asarray(model.intercept_, dtype=np.float64)
        self._mean = np.asarray(scaler.mean_, dtype=np.float64)
        self._scale = np.asarray(scaler.scale_, dtype=np.float64)
        self._compile_bigrams()
        self._memory: dict[str, _Word] = {}
        self._tokens: dict[str, _Token] = {}

    def _compile_bigrams(self) -> None:
        # A bigram "a b" of (possibly negated) unigrams becomes a pair of part numbers, so a
        # batch's bigrams are found by one sorted search instead of building each string.
        parts: dict[str, int] = {}
        table: list[tuple[int, int, int]] = []
        for feature, column in self._vocabulary.items():
            first, space, second = feature.partition(" ")
            if space:
                a = parts.setdefault(first, len(parts))
                table.append((a, parts.setdefault(second, len(parts)), column))
        self._parts = parts
        self._n_parts = max(len(parts), 1)
        rows = np.array(table, dtype=np.int64).reshape(-1, 3)
        keys = rows[:, 0] * self._n_parts + rows[:, 1]
        order = np.argsort(keys)
        self._bigram_keys: IntArray = keys[order]
        self._bigram_columns: IntArray = rows[order, 2]

    def probabilities(self, texts: Sequence[str]) -> FloatArray:
        """``(len(texts), len(classes))`` class probabilities, as ``pipeline.predict_proba``."""
        result = np.empty((len(texts), len(self.classes)))
        for start in range(0, len(texts), CHUNK):
            result[start : start + CHUNK] = self._chunk(texts[start : start + CHUNK])
        return result

    def _chunk(self, texts: Sequence[str]) -> FloatArray:
        n = len(texts)
        split = [features.unescape(text).split() for text in texts]
        memory = self._memory
        learned = self._learn_words(set(chain.from_iterable(split)).difference(memory))
        recall = memory.get
        words = [recall(raw) or learned[raw] for raw in chain.from_iterable(split)]
        self._keep(learned)
        words_per_text = list(map(len, split))
        word_rows = np.repeat(np.arange(n), words_per_text)
        emoji = [
            np.bincount(word_rows, weights=np.fromiter(map(field, words), float, len(words)), minlength=n)
            .astype(np.int64)
            .tolist()
            for field in (_EMOJI_POS, _EMOJI_NEG)
        ]
        negated: list[bool] = []
        tokens_per_text: list[int] = []
        # One flat list of floats: a list per text kept to the end would outlive the young
        # GC generation and make the collector walk everything the process holds.
        dense: list[float] = []
        start = 0
        for text, count, emoji_pos, emoji_neg in zip(texts, words_per_text, *emoji, strict=True):
            text_words = words[start : start + count]
            start += count
            scan = features.scan_tokens(chain.from_iterable(map(_ROLES, text_words)))
            normalised = " ".join(filter(None, map(_NORMALISED, text_words)))
            dense += features.dense_features(text, normalised, emoticons=(emoji_pos, emoji_neg), scan=scan)
            negated += scan.negated
            tokens_per_text.append(len(scan.negated))
        # Keys (text, column) sort twice as fast in 32 bits, which they fit unless huge.
        key_type = np.int32 if n * self._n_columns < 2**31 else np.int64
        word_rows = word_rows.astype(key_type)
        token_rows = np.repeat(np.arange(n), tokens_per_text)
        token_ids = np.frombuffer(b"".join(map(_TOKEN_IDS, words)), dtype=_ID_TYPE).astype(np.int64)
        rows, columns = self._word_columns(token_ids, negated, token_rows)
        char_columns = np.frombuffer(b"".join(map(_CHAR_COLUMNS, words)), dtype=_ID_TYPE)
        char_counts = np.fromiter(map(len, map(_CHAR_COLUMNS, words)), np.int64, len(words)) // _COLUMN_BYTES
        keys = np.concatenate(
            [
                (rows * self._n_columns + columns).astype(key_type),
                np.repeat(word_rows, char_counts) * self._n_columns + char_columns.astype(key_type),
            ]
        )
        x, indptr, columns = self._tfidf(keys, n)
        decision = self._decision(x, indptr, columns, np.array(dense).reshape(n, features.N_DENSE))
        probabilities: FloatArray = expit(decision)
        total = probabilities.sum(axis=1)
        # As sklearn: a row whose every class underflowed to zero becomes uniform.
        probabilities[total == 0.0] = 1.0
        total[total == 0.0] = probabilities.shape[1]
        probabilities /= total[:, None]
        return probabilities

    def _word_columns(
        self, token_ids: IntArray, negated_tokens: list[bool], token_rows: IntArray
    ) -> tuple[IntArray, IntArray]:
        """Rows and columns of every in-vocabulary unigram and bigram occurrence."""
        ids = token_ids.reshape(-1, 4)
        negated = np.array(negated_tokens, dtype=bool)
        unigrams = np.where(negated, ids[:, 1], ids[:, 0])
        parts = np.where(negated, ids[:, 3], ids[:, 2])
        first, second = parts[:-1], parts[1:]
        pairs = (token_rows[:-1] == token_rows[1:]) & (first >= 0) & (second >= 0)
        keys = first[pairs] * self._n_parts + second[pairs]
        table = self._bigram_keys
        slot = np.minimum(np.searchsorted(table, keys), max(len(table) - 1, 0))
        known = table[slot] == keys if len(table) else np.zeros(len(keys), dtype=bool)
        in_vocabulary = unigrams >= 0
        rows = np.concatenate([token_rows[in_vocabulary], token_rows[:-1][pairs][known]])
        columns = np.concatenate([unigrams[in_vocabulary], self._bigram_columns[slot[known]]])
        return rows, columns

    def _tfidf(self, keys: Ints, n: int) -> tuple[npt.NDArray[Any], Ints, Ints]:
        """Count, weight and normalise occurrences (keys: text * columns + column) as sklearn.

        Returns both vectorisers' output as CSR parts: the values, the row pointer (one row
        per text) and the columns, in sklearn's order (by text, then column).
        """
        keys.sort()
        new = np.ones(len(keys), dtype=bool)
        np.not_equal(keys[1:], keys[:-1], out=new[1:])
        starts = np.flatnonzero(new)
        counts = np.empty(len(starts), dtype=np.int64)
        counts[:-1] = starts[1:] - starts[:-1]
        counts[-1:] = len(keys) - starts[-1:]
        unique = keys[starts]
        text_rows = unique // self._n_columns
        columns = unique - text_rows * self._n_columns
        data = counts.astype(self._dtype)
        np.log(data, out=data)
        data += 1.0
        data *= self._idf[columns]
        is_char = columns >= self._n_words
        # One normalisation row per (text, vectoriser): a text's word columns come first.
        segments = text_rows * 2 + is_char
        indptr = np.searchsorted(segments, np.arange(2 * n + 1)).astype(keys.dtype)
        inplace_csr_row_normalize_l2(_Rows(data, (2 * n, self._n_columns), columns, indptr))
        for weight, mask in ((self._word_weight, ~is_char), (self._char_weight, is_char)):
            if weight is not None:
                data[mask] = data[mask] * weight
        return data, indptr[::2], columns

    def _decision(self, x: npt.NDArray[Any], indptr: Ints, columns: Ints, dense: FloatArray) -> FloatArray:
        # Every sum runs in column order from zero, one term at a time, for one text as for
        # many: a text scores the same to the last bit alone or in any batch.
        n = dense.shape[0]
        decision = np.zeros((n, len(self.classes)))
        if n == 1:  # one text (the common call): a running sum, no sparse matrix to build
            terms = x.astype(np.float64)[:, None] * self._sparse_coef[columns]
            if len(terms):
                decision[0] = np.cumsum(terms, axis=0)[-1]
        else:
            matrix = csr_array((x.astype(np.float64), columns, indptr), shape=(n, self._n_columns))
            decision = matrix @ self._sparse_coef
        scaled = (dense - self._mean) / self._scale
        if self._dense_weight is not None:
            scaled = scaled * self._dense_weight
        decision += np.cumsum(scaled[:, :, None] * self._dense_coef[None, :, :], axis=1)[:, -1, :]
        decision += self._intercept
        return decision

    def _learn_words(self, raws: Iterable[str]) -> dict[str, _Word]:
        """Prepare words not seen before: normalised form, tokens and character n-gram columns."""
        raws = list(raws)
        if not raws:
            return {}
        prepared = [features.normalise_word(raw) for raw in raws]
        column_bytes = self._char_columns([normalised for normalised, _, _ in prepared])
        known, learn = self._tokens, self._learn_token
        learned: dict[str, _Word] = {}
        for raw, (normalised, emoji_pos, emoji_neg), columns in zip(
            raws, prepared, column_bytes, strict=True
        ):
            text = " ".join(normalised)
            tokens = [known.get(t) or learn(t) for t in features.tokens_of(text)]
            learned[raw] = _Word(
                text, emoji_pos, emoji_neg, tuple(map(_ROLE, tokens)), b"".join(map(_IDS, tokens)), columns
            )
        return learned

    def _char_columns(self, words: list[list[str]]) -> list[bytes]:
        """Per word (as its normalised pieces): the int32 columns of its character n-grams."""
        pieces = [piece for normalised in words for piece in normalised]
        if len(pieces) <= SMALL_BATCH:
            columns_of, offset = self._char_ngrams.columns_of, self._n_words
            return [
                array("i", [offset + c for piece in normalised for c in columns_of(piece)]).tobytes()
                for normalised in words
            ]
        owner = np.repeat(np.arange(len(words)), [len(normalised) for normalised in words])
        piece_of, columns = self._char_ngrams.columns(pieces)
        owners = owner[piece_of]
        order = np.argsort(owners, kind="stable")
        joined = (columns[order] + self._n_words).astype(_ID_TYPE).tobytes()
        ends = (np.cumsum(np.bincount(owners, minlength=len(words))) * _COLUMN_BYTES).tolist()
        return [joined[start:end] for start, end in zip([0, *ends[:-1]], ends, strict=True)]

    def _learn_token(self, token: str) -> _Token:
        negated = token + _NEGATED_SUFFIX
        ids = _TOKEN_IDS_BYTES.pack(
            self._vocabulary.get(token, _NO_ID),
            self._vocabulary.get(negated, _NO_ID),
            self._parts.get(token, _NO_ID),
            self._parts.get(negated, _NO_ID),
        )
        entry = self._tokens[token] = _Token(features.token_role(token, self._lexicon), ids)
        return entry

    def _keep(self, learned: dict[str, _Word]) -> None:
        # A full memory is replaced, not cleared, so a batch still reading the old one in
        # another thread finds every word it looked up.
        if len(self._memory) + len(learned) > WORD_MEMORY:
            self._memory = {}
            self._tokens = {}
        self._memory.update(learned)


def _require(condition: bool, problem: str) -> None:
    if not condition:
        raise ValueError(f"cannot compile the sentiment pipeline: {problem}")
