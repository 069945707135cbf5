"""Hayes & Krippendorff's (2007) pair bootstrap of alpha (aqt.agreement.pair_bootstrap)."""

from __future__ import annotations

import doctest
import itertools
import math

import aqt.agreement.pair_bootstrap
import numpy as np
import pytest
from aqt.agreement import agreement_report, krippendorff_alpha
from aqt.agreement.pair_bootstrap import ALPHA_MIN, pair_bootstrap_alpha
from aqt.errors import AqtError
from aqt.records import Annotation, AnnotationTable
from test_agreement_published import HAYES_2007


def random_codes(seed, n=60, G=3, q=4, missing=0.2, p_true=0.7):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, q, n)
    X = np.where(rng.random((n, G)) < p_true, truth[:, None], rng.integers(0, q, (n, G)))
    X[rng.random((n, G)) < missing] = -1
    return X[(X >= 0).sum(1) >= 1]


def hayes_codes():
    data = HAYES_2007.T  # units x observers, values 0..3
    return np.where(np.isnan(data), -1, data).astype(int)


def alpha_of(X, level="nominal"):
    return krippendorff_alpha(np.where(X >= 0, X + 1.0, np.nan).T, level)


def test_deterministic_per_seed():
    X = random_codes(0)
    a = pair_bootstrap_alpha(X, 4, n=500, seed=3)
    b = pair_bootstrap_alpha(X, 4, n=500, seed=3)
    c = pair_bootstrap_alpha(X, 4, n=500, seed=4)
    assert np.array_equal(a.draws, b.draws) and a.to_dict() == b.to_dict()
    assert not np.array_equal(a.draws, c.draws)
    assert a.alpha == c.alpha


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval"])
def test_interval_contains_the_point_estimate(seed, level):
    X = random_codes(seed, n=50 + 10 * seed)
    b = pair_bootstrap_alpha(X, 4, level=level, values=np.arange(4.0), n=2000, seed=seed)
    assert b.alpha == pytest.approx(alpha_of(X, level), abs=1e-12)
    lo, hi = b.ci95
    assert lo < b.alpha < hi
    # D_e is held fixed and E[mean delta^2 of the drawn pairs] = D_o: the draws centre on alpha
    assert b.draws.mean() == pytest.approx(b.alpha, abs=4 * b.draws.std() / math.sqrt(2000))


def test_narrows_with_more_items():
    widths = []
    for n in (40, 160, 640):
        X = random_codes(1, n=n)
        lo, hi = pair_bootstrap_alpha(X, 4, n=2000, seed=0).ci95
        widths.append(hi - lo)
    assert widths[0] > 1.5 * widths[1] > 1.5 * 1.5 * widths[2]


def test_q_near_zero_for_high_agreement():
    X = random_codes(2, n=200, p_true=0.97, missing=0.1)
    b = pair_bootstrap_alpha(X, 4, n=2000, seed=0, alpha_min=(0.8, 0.667))
    assert b.alpha > 0.9
    assert dict(b.q)[0.8] < 0.01 and dict(b.q)[0.667] < 0.01


def test_q_near_one_when_alpha_is_well_below_alpha_min():
    X = random_codes(2, n=200, p_true=0.3, missing=0.1)
    b = pair_bootstrap_alpha(X, 4, n=2000, seed=0, alpha_min=(0.8, 0.667))
    assert b.alpha < 0.5
    assert dict(b.q)[0.8] > 0.99 and dict(b.q)[0.667] > 0.99


def test_q_is_monotone_in_alpha_min_and_matches_the_draws():
    b = pair_bootstrap_alpha(random_codes(4), 4, n=3000, seed=1)
    mins = [a for a, _ in b.q]
    assert mins == sorted(ALPHA_MIN, reverse=True)
    probs = [p for _, p in b.q]
    assert all(x >= y for x, y in itertools.pairwise(probs))
    for a, p in b.q:
        assert p == float((b.draws < a).mean())


def test_hayes_krippendorff_2007_example():
    # 40 units, 5 observers, ordinal; the paper's KALPHA run resamples 239 pairs of judgements
    X = hayes_codes()
    b = pair_bootstrap_alpha(X, 4, level="ordinal", n=10000, seed=0)
    assert b.n_pairs == 239
    assert b.alpha == pytest.approx(0.7598, abs=5e-5)  # published alpha
    lo, hi = b.ci95
    assert lo < 0.7598 < hi and 0.03 < hi - lo < 0.2
    assert b.draws.mean() == pytest.approx(b.alpha, abs=0.002)
    d = b.to_dict()
    assert d["method"] == "pairs" and d["n_resamples"] == 10000 and d["reason"] is None
    assert [x["alpha_min"] for x in d["q"]] == list(ALPHA_MIN)


def test_undefined_alpha_gives_a_reason():
    same = pair_bootstrap_alpha(np.zeros((6, 3), int), 2, n=10)
    assert same.alpha is None and same.ci95 is None and "expected disagreement" in same.reason
    lonely = pair_bootstrap_alpha(np.array([[0, -1], [-1, 1]]), 2, n=10)
    assert lonely.alpha is None and lonely.n_pairs == 0 and "two or more" in lonely.reason


@pytest.mark.parametrize("kwargs", [{"n": 0}, {"alpha_min": (1.5,)}])
def test_bad_arguments_name_the_fix(kwargs):
    with pytest.raises(AqtError) as err:
        pair_bootstrap_alpha(random_codes(0), 4, **kwargs)
    assert "Fix:" in str(err.value)


def test_doctest():
    result = doctest.testmod(aqt.agreement.pair_bootstrap)
    assert result.attempted > 0 and result.failed == 0


def _table(X):
    recs = [
        Annotation(f"u{i}", f"r{g}", str(X[i, g] + 1))
        for i in range(X.shape[0])
        for g in range(X.shape[1])
        if X[i, g] >= 0
    ]
    return AnnotationTable.from_records(recs)


def test_report_ci_method_pairs():
    X = random_codes(6)
    items = agreement_report(_table(X), ci=300, seed=2).to_dict()
    assert "alpha_bootstrap" not in items
    pairs = agreement_report(_table(X), ci=300, seed=2, ci_method="pairs").to_dict()
    expected = pair_bootstrap_alpha(X, 4, n=300, seed=2)
    assert pairs["metrics"]["krippendorff_alpha"]["ci95"] == list(expected.ci95)
    assert pairs["alpha_bootstrap"] == expected.to_dict()
    for name, m in pairs["metrics"].items():
        assert m["value"] == items["metrics"][name]["value"]
        if name != "krippendorff_alpha":
            assert m["ci95"] is None  # the pair bootstrap is defined for alpha only


def test_report_rejects_an_unknown_ci_method():
    with pytest.raises(AqtError) as err:
        agreement_report(_table(random_codes(0)), ci=10, ci_method="units")
    assert "items" in str(err.value) and "pairs" in str(err.value)
