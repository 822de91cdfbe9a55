"""insight.correlation: Spearman per pair over customers with both figures, Holm's correction,
and the bar that keeps noise out of the findings."""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr

from insight.correlation import MIN_N, Relation, holm, spearman, strongest


def test_holm_matches_the_step_down_by_hand() -> None:
    p = np.array([0.01, 0.04, np.nan, 0.03, 0.005])
    # Sorted: 0.005 x4 = 0.02, 0.01 x3 = 0.03, 0.03 x2 = 0.06, 0.04 x1 = 0.04 -> kept monotone 0.06.
    assert np.allclose(holm(p), [0.03, 0.06, np.nan, 0.06, 0.02], equal_nan=True)
    assert np.isnan(holm(np.array([np.nan]))).all()


def test_rho_per_pair_over_customers_with_both_figures() -> None:
    rng = np.random.default_rng(0)
    wait = rng.exponential(60, 300)
    csat = np.clip(np.round(5 - wait / 40 + rng.normal(0, 0.7, 300)), 1, 5)
    csat[::3] = np.nan  # a third never rated
    noise = rng.normal(size=300)
    found = spearman({"first_response": wait, "csat": csat, "noise": noise})
    both = ~np.isnan(csat)
    expected = spearmanr(wait[both], csat[both])
    by_pair = {(r.a, r.b): r for r in found.relations}
    relation = by_pair[("first_response", "csat")]
    assert relation.n == 200 and found.n[0, 1] == 200
    assert np.isclose(relation.rho, expected.statistic) and np.isclose(found.rho[1, 0], expected.statistic)
    assert relation.rho < -0.5 and relation.found
    assert [(r.a, r.b) for r in strongest(found)] == [("first_response", "csat")]  # noise is not a finding
    assert not by_pair[("first_response", "noise")].found


def test_small_samples_constant_figures_and_skipped_pairs_are_never_findings() -> None:
    x = np.arange(MIN_N - 1, dtype=float)
    few = spearman({"a": x, "b": x * 2})
    assert np.isclose(few.relations[0].rho, 1.0) and not few.relations[0].found  # perfect, but too few
    flat = spearman({"a": np.arange(50.0), "b": np.ones(50)})
    assert np.isnan(flat.relations[0].rho) and not flat.relations[0].found
    strong = spearman({"orders": np.arange(50.0), "revenue": np.arange(50.0) ** 2})
    assert strongest(strong) and not strongest(strong, skip=frozenset({frozenset(("orders", "revenue"))}))


def test_weak_relations_pass_nothing_even_when_significant() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=100_000)
    y = 0.05 * x + rng.normal(size=100_000)  # p tiny at this n, rho about 0.05
    (relation,) = spearman({"x": x, "y": y}).relations
    assert relation.p_adjusted < 1e-6 and abs(relation.rho) < 0.1 and not relation.found
    assert isinstance(relation, Relation)


def test_figures_every_customer_has_give_the_pairwise_answer() -> None:
    rng = np.random.default_rng(9)
    columns = {name: rng.normal(size=80) for name in ("a", "b", "c", "d")}
    columns["b"] = columns["a"] + rng.normal(0, 0.5, 80)
    columns["d"][::4] = np.nan
    found = spearman(columns)
    for relation in found.relations:
        x, y = columns[relation.a], columns[relation.b]
        both = ~np.isnan(x) & ~np.isnan(y)
        expected = spearmanr(x[both], y[both])
        assert np.isclose(relation.rho, expected.statistic) and np.isclose(relation.p, expected.pvalue)
