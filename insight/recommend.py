"""Next products to offer: item-to-item collaborative filtering on the customer x product matrix
(implicit feedback), due re-buys of consumables, and best sellers, each with its reason in words."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from insight.recommend_fit import Fitted, RecommendSettings, fit_arrays

Kind = Literal["similar", "rebuy", "best_seller"]
IntArray = npt.NDArray[np.int64]
FloatArray = npt.NDArray[np.float64]

__all__ = ["History", "ItemRecommender", "Purchases", "RecommendSettings", "Recommendation"]


@dataclass(frozen=True, slots=True)
class Purchases:
    """Order lines as columns, one entry per line: who, what, how many (negative: a return),
    which order, and when (in days since any fixed epoch)."""

    customer_ids: IntArray
    product_ids: IntArray
    quantities: IntArray
    order_ids: IntArray
    days: FloatArray

    @classmethod
    def of(cls, rows: Iterable[tuple[int, int, int, int, float]]) -> Purchases:
        """From (customer, product, quantity, order, day) tuples."""
        table = np.array(list(rows), dtype=np.float64).reshape(-1, 5)
        as_int = table[:, :4].astype(np.int64)
        return cls(as_int[:, 0], as_int[:, 1], as_int[:, 2], as_int[:, 3], table[:, 4].copy())

    def __len__(self) -> int:
        return len(self.customer_ids)


@dataclass(frozen=True, slots=True)
class History:
    """One customer's products still held (bought net of returns) and the day each was last bought."""

    product_ids: IntArray
    last_days: FloatArray

    @classmethod
    def of(cls, items: Mapping[int, float]) -> History:
        ids = np.fromiter(items.keys(), dtype=np.int64, count=len(items))
        days = np.fromiter(items.values(), dtype=np.float64, count=len(items))
        return cls(ids, days)


@dataclass(frozen=True, slots=True)
class Recommendation:
    product_id: int
    sku: str
    name: str
    # similar: the sum of the product's similarities to what the customer bought; rebuy: the share
    # of its buyers who re-order it; best_seller: the share of customers (of the segment) who bought it.
    score: float
    kind: Kind
    reason: str


@dataclass(frozen=True, slots=True)
class Batch:
    """Every modelled customer's top k as columns (rank 1 first within each customer)."""

    customer_ids: IntArray
    ranks: IntArray
    product_ids: IntArray
    skus: list[str]
    names: list[str]
    scores: FloatArray
    kinds: list[Kind]
    reasons: list[str]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class ItemRecommender:
    """A fitted model, held in memory; ``recommend`` answers one customer in well under a
    millisecond plus the store read, ``recommend_all`` every customer in chunked sparse products."""

    def __init__(self, fitted: Fitted, catalogue: Mapping[int, tuple[str, str]], settings: RecommendSettings):
        self.f = fitted
        self.settings = settings
        known = [catalogue.get(int(p), (str(int(p)), f"product {int(p)}")) for p in fitted.product_ids]
        self.skus = [sku for sku, _ in known]
        self.names = [name.strip() or sku for sku, name in known]
        sim = fitted.sim
        # Sorted (row, column) keys of the kept similarities, to look up many pairs at once.
        rows = np.repeat(np.arange(sim.shape[0], dtype=np.int64), np.diff(sim.indptr))
        self._keys = rows * sim.shape[1] + sim.indices.astype(np.int64)
        self._min_sim = float(sim.data.min()) if sim.nnz else 1.0
        popular = np.lexsort((fitted.product_ids, -fitted.buyers))  # most buyers first
        # Ties go to the product more customers bought (then the lower id), online and in batch.
        self._pop_rank = np.empty(len(popular), dtype=np.int64)
        self._pop_rank[popular] = np.arange(len(popular))

    @classmethod
    def fit(
        cls,
        purchases: Purchases,
        catalogue: Mapping[int, tuple[str, str]],
        settings: RecommendSettings | None = None,
    ) -> ItemRecommender:
        """Fit on order lines; ``catalogue`` maps product id to (sku, name)."""
        chosen = settings or RecommendSettings()
        p = purchases
        return cls(
            fit_arrays(p.customer_ids, p.product_ids, p.quantities, p.order_ids, p.days, chosen),
            catalogue,
            chosen,
        )

    # -- sizes ---------------------------------------------------------------------------

    @property
    def customers(self) -> int:
        return len(self.f.customer_ids)

    @property
    def products(self) -> int:
        return len(self.f.product_ids)

    def knows(self, customer_id: int) -> bool:
        return self._row(customer_id) is not None

    def _row(self, customer_id: int) -> int | None:
        ids = self.f.customer_ids
        at = int(np.searchsorted(ids, customer_id))
        return at if at < len(ids) and ids[at] == customer_id else None

    def _cols(self, product_ids: IntArray) -> tuple[IntArray, npt.NDArray[np.bool_]]:
        ids = self.f.product_ids
        at = np.minimum(np.searchsorted(ids, product_ids), max(len(ids) - 1, 0))
        found = ids[at] == product_ids if len(ids) else np.zeros(len(product_ids), dtype=bool)
        return at.astype(np.int64), found

    def history_of(self, customer_id: int) -> History | None:
        """What the model saw the customer buy (the store's fresher history is better online)."""
        row = self._row(customer_id)
        if row is None:
            return None
        lo, hi = self.f.last.indptr[row], self.f.last.indptr[row + 1]
        return History(self.f.product_ids[self.f.last.indices[lo:hi]], self.f.last.data[lo:hi].copy())

    # -- one customer --------------------------------------------------------------------

    def recommend(
        self,
        history: History | None,
        *,
        k: int = 5,
        today: float,
        among: IntArray | None = None,
        segment: str | None = None,
    ) -> list[Recommendation]:
        """The top ``k`` for a customer who holds ``history``: due re-buys first, then products
        most similar to what they bought, then best sellers (of ``among``, the customer ids of
        their segment ``segment``, when given) to fill up. Nothing bought is offered again
        unless it is due."""
        cols = np.zeros(0, dtype=np.int64)
        last = np.zeros(0, dtype=np.float64)
        if history is not None and len(history.product_ids):
            at, found = self._cols(history.product_ids)
            cols, last = at[found], history.last_days[found]
        chosen: list[Recommendation] = []
        taken = set(cols.tolist())
        if len(cols):
            chosen.extend(self._rebuys(cols, last, today)[: min(k, self.settings.max_rebuys)])
            scores = _row_sums(self.f.sim, cols, self.products)
            scores[cols] = 0.0
            wanted = k - len(chosen)
            if wanted > 0:
                top = np.lexsort((self._pop_rank, -scores))[:wanted]
                top = top[scores[top] > 0]
                sources = self._best_sources(np.zeros(len(top), dtype=np.int64), top, [cols])
                for col, src in zip(top.tolist(), sources.tolist(), strict=True):
                    chosen.append(self._similar(col, src, float(scores[col])))
                    taken.add(col)
        if len(chosen) < k:
            taken.update(self._cols(np.array([c.product_id for c in chosen], dtype=np.int64))[0].tolist())
            chosen.extend(self.best_sellers(k - len(chosen), exclude=taken, among=among, segment=segment))
        return chosen

    def best_sellers(
        self,
        k: int,
        *,
        exclude: Iterable[int] = (),
        among: IntArray | None = None,
        segment: str | None = None,
    ) -> list[Recommendation]:
        """The products most customers bought (of ``among`` when given and any of them bought
        something), skipping the model columns in ``exclude``."""
        skip = set(exclude)
        counts, total, group = self.f.buyers, self.customers, ""
        if among is not None and segment:
            ids = self.f.customer_ids
            at = np.searchsorted(ids, among)
            inside = at < len(ids)
            rows = np.unique(at[inside][ids[at[inside]] == among[inside]])
            if len(rows):
                counts = np.asarray(self.f.bought[rows].getnnz(axis=0), dtype=np.int64)
                total, group = len(np.unique(among)), f" in {segment}"
        order = np.lexsort((self.f.product_ids, -counts))
        found: list[Recommendation] = []
        for col in order.tolist():
            if len(found) >= k or counts[col] <= 0:
                break
            if col in skip:
                continue
            n = int(counts[col])
            found.append(
                Recommendation(
                    product_id=int(self.f.product_ids[col]),
                    sku=self.skus[col],
                    name=self.names[col],
                    score=n / max(total, 1),
                    kind="best_seller",
                    reason=f"a best seller: bought by {n} of the {_plural(total, 'customer')}{group}",
                )
            )
        return found

    def _similar(self, col: int, src: int, score: float) -> Recommendation:
        return Recommendation(
            product_id=int(self.f.product_ids[col]),
            sku=self.skus[col],
            name=self.names[col],
            score=score,
            kind="similar",
            reason=self._similar_reason(col, src),
        )

    def _similar_reason(self, col: int, src: int) -> str:
        together = self._lookup(np.array([src]), np.array([col]), self.f.together)[0]
        return (
            f"bought by {int(together)} of the {_plural(int(self.f.buyers[src]), 'customer')} "
            f"who bought {self.names[src]}"
        )

    def _rebuy_reason(self, col: int, elapsed: float) -> str:
        f = self.f
        return (
            f"due again: last bought {elapsed:.0f} days ago; {int(f.repeaters[col])} of its "
            f"{_plural(int(f.ever_bought[col]), 'buyer')} re-order it about every {f.interval[col]:.0f} days"
        )

    def _rebuys(self, cols: IntArray, last: FloatArray, today: float) -> list[Recommendation]:
        elapsed = today - last
        due = _due(self.f.interval[cols], elapsed, self.settings)
        order = np.argsort(-self.f.repeat_share[cols][due], kind="stable")
        return [
            Recommendation(
                product_id=int(self.f.product_ids[col]),
                sku=self.skus[col],
                name=self.names[col],
                score=float(self.f.repeat_share[col]),
                kind="rebuy",
                reason=self._rebuy_reason(col, float(days)),
            )
            for col, days in zip(cols[due][order].tolist(), elapsed[due][order].tolist(), strict=True)
        ]

    # -- lookups shared by one customer and the batch ------------------------------------

    def _lookup(self, rows: IntArray, cols: IntArray, matrix: sp.csr_matrix) -> FloatArray:
        """``matrix[rows[i], cols[i]]`` for a matrix with the similarities' pattern (0 if absent)."""
        keys = rows.astype(np.int64) * self.products + cols.astype(np.int64)
        at = np.minimum(np.searchsorted(self._keys, keys), max(len(self._keys) - 1, 0))
        hit = self._keys[at] == keys if len(self._keys) else np.zeros(len(keys), dtype=bool)
        return np.where(hit, matrix.data[at] if len(self._keys) else 0.0, 0.0).astype(np.float64)

    def _best_sources(self, owners: IntArray, targets: IntArray, bought: list[IntArray]) -> IntArray:
        """For each recommended ``targets[i]`` of customer ``owners[i]`` (an index into
        ``bought``, each customer's bought columns): the bought product most similar to it,
        the one its reason names."""
        if not len(targets):
            return np.zeros(0, dtype=np.int64)
        sizes = np.array([len(bought[o]) for o in owners.tolist()], dtype=np.int64)
        src = np.concatenate([bought[o] for o in owners.tolist()])
        rec = np.repeat(np.arange(len(targets), dtype=np.int64), sizes)
        value = self._lookup(src, targets[rec], self.f.sim)
        order = np.lexsort((-value, rec))
        starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
        return src[order][starts]

    # -- every customer ------------------------------------------------------------------

    def recommend_all(self, *, k: int = 5, today: float | FloatArray, chunk: int | None = None) -> Batch:
        """Every modelled customer's top ``k``, in chunks of customers: one sparse product
        (history x similarities) per chunk, dense top-k, reasons looked up in bulk."""
        m, n = self.customers, self.products
        k = min(k, n)
        days = np.broadcast_to(np.asarray(today, dtype=np.float64), (m,))
        step = chunk or max(256, 4_000_000 // max(n, 1))
        eps = np.float32(self._min_sim * 1e-3)
        tie = (eps * (1.0 - self._pop_rank / max(n, 1))).astype(np.float32)
        parts: list[tuple[IntArray, IntArray, IntArray, FloatArray, npt.NDArray[np.int8], FloatArray]] = []
        for start in range(0, m, step):
            stop = min(start + step, m)
            parts.append(self._chunk(start, stop, k, days[start:stop], tie))
        rows = np.concatenate([p[0] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
        ranks = np.concatenate([p[1] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
        cols = np.concatenate([p[2] for p in parts]) if parts else np.zeros(0, dtype=np.int64)
        scores = np.concatenate([p[3] for p in parts]) if parts else np.zeros(0)
        kinds = np.concatenate([p[4] for p in parts]) if parts else np.zeros(0, dtype=np.int8)
        extra = np.concatenate([p[5] for p in parts]) if parts else np.zeros(0)
        return self._as_batch(rows, ranks, cols, scores, kinds, extra)

    def _chunk(
        self, start: int, stop: int, k: int, today: FloatArray, tie: npt.NDArray[np.float32]
    ) -> tuple[IntArray, IntArray, IntArray, FloatArray, npt.NDArray[np.int8], FloatArray]:
        f, n = self.f, self.products
        size = stop - start
        held = f.last[start:stop]
        dense = (f.bought[start:stop] @ f.sim).toarray()
        dense += tie
        owner = np.repeat(np.arange(size), np.diff(held.indptr))
        dense[owner, held.indices] = -np.inf
        top = np.argpartition(-dense, k - 1, axis=1)[:, :k] if k < n else np.tile(np.arange(n), (size, 1))
        top_scores = np.take_along_axis(dense, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        top_scores = np.take_along_axis(top_scores, order, axis=1).astype(np.float64) - tie[top]
        # Due re-buys go first, at most max_rebuys each, most re-ordered first.
        width = min(self.settings.max_rebuys, k)
        reb = np.full((size, width), -1, dtype=np.int64)
        reb_days = np.zeros((size, width))
        if width:
            elapsed = today[owner] - held.data
            due = _due(f.interval[held.indices], elapsed, self.settings)
            d_rows, d_cols, d_days = owner[due], held.indices[due].astype(np.int64), elapsed[due]
            by = np.lexsort((-f.repeat_share[d_cols], d_rows))
            d_rows, d_cols, d_days = d_rows[by], d_cols[by], d_days[by]
            first = np.searchsorted(d_rows, d_rows)
            place = np.arange(len(d_rows)) - first
            keep = place < width
            reb[d_rows[keep], place[keep]] = d_cols[keep]
            reb_days[d_rows[keep], place[keep]] = d_days[keep]
        valid_top = np.isfinite(top_scores)
        merged = np.concatenate([reb, np.where(valid_top, top, -1)], axis=1)
        merged_scores = np.concatenate([np.zeros((size, width)), top_scores], axis=1)
        kind = np.concatenate(
            [np.ones((size, width), dtype=np.int8), np.where(top_scores >= self._min_sim * 0.5, 0, 2)],
            axis=1,
        ).astype(np.int8)
        merged_days = np.concatenate([reb_days, np.zeros((size, k))], axis=1)
        pick = np.argsort(merged < 0, axis=1, kind="stable")[:, :k]
        cols = np.take_along_axis(merged, pick, axis=1)
        ok = cols >= 0
        rows = np.repeat(np.arange(start, stop, dtype=np.int64)[:, None], k, axis=1)[ok]
        ranks = np.cumsum(ok, axis=1)[ok].astype(np.int64)
        scores = np.take_along_axis(merged_scores, pick, axis=1)[ok]
        kinds = np.take_along_axis(kind, pick, axis=1)[ok]
        extra = np.take_along_axis(merged_days, pick, axis=1)[ok]
        return rows, ranks, cols[ok].astype(np.int64), scores, kinds, extra

    def _as_batch(
        self,
        rows: IntArray,
        ranks: IntArray,
        cols: IntArray,
        scores: FloatArray,
        kinds: npt.NDArray[np.int8],
        elapsed: FloatArray,
    ) -> Batch:
        f = self.f
        similar = np.flatnonzero(kinds == 0)
        sources = np.zeros(len(cols), dtype=np.int64)
        if len(similar):
            held = f.bought
            sizes = np.diff(held.indptr)[rows[similar]]
            starts = held.indptr[rows[similar]]
            rec = np.repeat(np.arange(len(similar), dtype=np.int64), sizes)
            offsets = np.arange(len(rec), dtype=np.int64) - np.repeat(np.cumsum(sizes) - sizes, sizes)
            src = held.indices[np.repeat(starts, sizes) + offsets].astype(np.int64)
            value = self._lookup(src, cols[similar][rec], f.sim)
            order = np.lexsort((-value, rec))
            first = np.concatenate(([0], np.cumsum(sizes)[:-1]))
            sources[similar] = src[order][first]
        together = self._lookup(sources, cols, f.together)
        share = f.buyers / max(self.customers, 1)
        names, skus, buyers = self.names, self.skus, f.buyers
        reasons: list[str] = []
        out_scores = scores.copy()
        kind_names: list[Kind] = []
        total = _plural(self.customers, "customer")
        for i, (col, kind) in enumerate(zip(cols.tolist(), kinds.tolist(), strict=True)):
            if kind == 0:
                src = int(sources[i])
                reasons.append(
                    f"bought by {int(together[i])} of the {_plural(int(buyers[src]), 'customer')} "
                    f"who bought {names[src]}"
                )
                kind_names.append("similar")
            elif kind == 1:
                reasons.append(self._rebuy_reason(col, float(elapsed[i])))
                out_scores[i] = f.repeat_share[col]
                kind_names.append("rebuy")
            else:
                reasons.append(f"a best seller: bought by {int(buyers[col])} of the {total}")
                out_scores[i] = share[col]
                kind_names.append("best_seller")
        return Batch(
            customer_ids=f.customer_ids[rows],
            ranks=ranks,
            product_ids=f.product_ids[cols],
            skus=[skus[c] for c in cols.tolist()],
            names=[names[c] for c in cols.tolist()],
            scores=out_scores,
            kinds=kind_names,
            reasons=reasons,
        )


def _due(interval: FloatArray, elapsed: FloatArray, settings: RecommendSettings) -> npt.NDArray[np.bool_]:
    """Bought products whose usual re-order interval has (nearly) passed, but not so long ago
    that the customer has clearly stopped buying them."""
    with np.errstate(invalid="ignore"):
        return (
            np.isfinite(interval)
            & (elapsed >= settings.rebuy_due * interval)
            & (elapsed <= settings.rebuy_lapsed * interval)
        )


def _row_sums(matrix: sp.csr_matrix, rows: IntArray, width: int) -> FloatArray:
    """The sum of ``matrix``'s ``rows`` as a dense vector, without building a sub-matrix."""
    starts, stops = matrix.indptr[rows], matrix.indptr[rows + 1]
    sizes = stops - starts
    at = np.repeat(starts, sizes) + (
        np.arange(int(sizes.sum()), dtype=np.int64) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    )
    return np.bincount(matrix.indices[at], weights=matrix.data[at], minlength=width).astype(np.float64)
