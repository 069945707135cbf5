"""Gwet's analytic standard errors (aqt.agreement.variance) against irrCAC, the test oracle.

irrCAC settings matched: ``N = inf`` (no finite-population correction, ``f = 0``), weights given by
name on equally spaced numeric categories 1..q (equal to aqt's rank-based weights), ``digits=12``.
Alpha is compared at the nominal, interval and ratio levels with irrCAC's identity, quadratic and
ratio weights (the equivalent agreement weights ``1 - delta^2 / max delta^2``).
"""

from __future__ import annotations

import doctest
import warnings

import aqt.agreement.variance
import numpy as np
import pandas as pd
import pytest
from aqt.agreement import WEIGHTS, agreement_report
from aqt.agreement.coefficients import COEFFICIENTS
from aqt.agreement.variance import standard_errors
from aqt.records import Annotation, AnnotationTable
from irrCAC.datasets import raw_4raters, raw_5observers, raw_ben_gerry, raw_g1g2, raw_gender
from irrCAC.raw import CAC

TOL = 1e-9
#: alpha's level of measurement whose agreement weights are irrCAC's named weights
ALPHA_LEVEL = {"identity": "nominal", "quadratic": "interval", "ratio": "ratio"}


def random_codes(seed, n=40, G=4, q=5, missing=0.3, p_true=0.5):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, q, n)
    X = np.where(rng.random((n, G)) < p_true, truth[:, None], rng.integers(0, q, (n, G)))
    X[rng.random((n, G)) < missing] = -1
    return X[(X >= 0).sum(1) >= 1]


def irrcac_se(df: pd.DataFrame, categories, weights: str) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cac = CAC(df, weights=weights, categories=list(categories), digits=12)
        out = {
            "fleiss_kappa": cac.fleiss()["est"]["se"],
            "gwet_ac2": cac.gwet()["est"]["se"],
            "brennan_prediger": cac.bp()["est"]["se"],
            "conger_kappa": cac.conger()["est"]["se"],
        }
        if weights == "identity":
            out["gwet_ac1"] = out["gwet_ac2"]
        if weights in ALPHA_LEVEL:
            out["krippendorff_alpha"] = cac.krippendorff()["est"]["se"]
    return out


def ours(X, q, weights):
    level = ALPHA_LEVEL.get(weights, "nominal")
    return standard_errors(X, q, weights=weights, level=level, values=np.arange(1.0, q + 1))


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("weights", WEIGHTS)
def test_random_data_with_missing_values_match_irrcac(seed, weights):
    q = 5
    X = random_codes(seed, n=25 + 9 * seed, G=2 + seed % 4, q=q)
    df = pd.DataFrame(np.where(X >= 0, X + 1.0, np.nan))
    expected = irrcac_se(df, range(1, q + 1), weights)
    got = ours(X, q, weights)
    assert expected
    for name, se in expected.items():
        assert got[name] == pytest.approx(se, abs=TOL), name


def _codes(df: pd.DataFrame):
    values = df.to_numpy(dtype=object)
    cats = sorted({v for v in values.ravel() if not pd.isna(v)})
    index = {c: k for k, c in enumerate(cats)}
    X = np.array([[-1 if pd.isna(v) else index[v] for v in row] for row in values])
    return X, cats


@pytest.mark.parametrize("loader", [raw_4raters, raw_5observers])
@pytest.mark.parametrize("weights", WEIGHTS)
def test_irrcac_numeric_datasets_every_weight(loader, weights):
    df = loader()
    X, cats = _codes(df)
    assert np.allclose(np.diff(cats), 1.0)  # equally spaced: rank weights equal value weights
    df = df - cats[0] + 1.0  # categories 1..q (irrCAC's ratio weights reject a 0 category)
    expected = irrcac_se(df, np.arange(1.0, len(cats) + 1), weights)
    got = ours(X, len(cats), weights)
    for name, se in expected.items():
        assert got[name] == pytest.approx(se, abs=TOL), name


@pytest.mark.parametrize("loader", [raw_g1g2, raw_gender, raw_ben_gerry])
def test_irrcac_label_datasets(loader):
    df = loader().replace("", np.nan)
    X, cats = _codes(df)
    expected = irrcac_se(df, cats, "identity")
    got = standard_errors(X, len(cats))
    for name, se in expected.items():
        assert got[name] == pytest.approx(se, abs=TOL), name


def test_published_raw4raters_values():
    # irrCAC's documentation (raw_4raters, identity and bipolar weights), printed to 5 dp
    X, cats = _codes(raw_4raters())
    se = standard_errors(X, len(cats))
    assert se["gwet_ac1"] == pytest.approx(0.14295, abs=5e-6)
    assert se["fleiss_kappa"] == pytest.approx(0.15302, abs=5e-6)
    assert standard_errors(X, len(cats), weights="bipolar")["gwet_ac2"] == pytest.approx(
        0.10582, abs=5e-6
    )


@pytest.mark.parametrize("seed", range(4))
def test_percent_agreement_is_brennan_prediger_rescaled_when_every_item_is_pairable(seed):
    # with r_i >= 2 everywhere, BP_i - BP = (pa_i - pa) / (1 - 1/q), so se(pa) = se(BP) (1 - 1/q)
    q = 4
    X = random_codes(seed, n=30, G=3, q=q, missing=0.0)
    se = standard_errors(X, q)
    assert se["percent_agreement"] == pytest.approx(se["brennan_prediger"] * (1 - 1 / q), rel=1e-12)
    assert se["percent_agreement"] > 0


def test_percent_agreement_from_item_terms():
    # v(p_a) = sum_i ((n / n_2) p_a,i - p_a)^2 / (n (n - 1)), written out item by item
    X = random_codes(7, n=30, G=3, q=3)
    n = len(X)
    pa_i = []
    for row in X:
        r = np.bincount(row[row >= 0], minlength=3)
        ri = r.sum()
        pa_i.append((r * (r - 1)).sum() / (ri * (ri - 1)) if ri >= 2 else np.nan)
    pa_i = np.array(pa_i)
    two = ~np.isnan(pa_i)
    pa = pa_i[two].mean()
    terms = np.where(two, n / two.sum() * np.nan_to_num(pa_i), 0.0)
    expected = np.sqrt(((terms - pa) ** 2).sum() / (n * (n - 1)))
    assert standard_errors(X, 3)["percent_agreement"] == pytest.approx(expected, rel=1e-12)


def test_two_annotators_share_cohen_and_scott_with_conger_and_fleiss():
    X = random_codes(3, n=50, G=2, q=3, missing=0.1)
    se = standard_errors(X, 3)
    assert se["cohen_kappa"] == se["conger_kappa"] and se["cohen_kappa"] is not None
    assert se["scott_pi"] == se["fleiss_kappa"] and se["scott_pi"] is not None
    se3 = standard_errors(random_codes(3, G=3), 5)
    assert se3["cohen_kappa"] is None and se3["scott_pi"] is None


@pytest.mark.parametrize("seed", range(3))
def test_invariant_to_item_and_annotator_order(seed):
    rng = np.random.default_rng(seed)
    X = random_codes(seed, n=35, G=4, q=4)
    a = standard_errors(X, 4, weights="quadratic", level="interval", values=np.arange(4.0))
    Y = X[rng.permutation(len(X))][:, rng.permutation(4)]
    b = standard_errors(Y, 4, weights="quadratic", level="interval", values=np.arange(4.0))
    for name in COEFFICIENTS:
        assert (a[name] is None) == (b[name] is None)
        if a[name] is not None:
            assert a[name] == pytest.approx(b[name], rel=1e-10), name


def test_shrinks_with_more_items():
    X = random_codes(11, n=40, G=3, q=4)
    small = standard_errors(X, 4)
    big = standard_errors(np.tile(X, (16, 1)), 4)
    for name in ("fleiss_kappa", "gwet_ac1", "krippendorff_alpha", "conger_kappa"):
        assert big[name] < small[name] / 3, name


def test_undefined_cases_give_none():
    assert all(v is None for v in standard_errors(np.array([[0], [1], [0]]), 2).values())
    assert all(v is None for v in standard_errors(np.array([[0, 1]]), 2).values())
    assert all(v is None for v in standard_errors(np.zeros((0, 3), int), 2).values())
    same = standard_errors(np.zeros((5, 3), int), 2)  # one category used: chance agreement 1
    assert same["fleiss_kappa"] is None and same["krippendorff_alpha"] is None
    assert same["percent_agreement"] == 0.0
    empty_rows = np.array([[0, 0], [-1, -1], [1, 1], [0, 1]])
    assert standard_errors(empty_rows, 2) == standard_errors(empty_rows[[0, 2, 3]], 2)


def test_doctest_reproduces_published_values():
    result = doctest.testmod(aqt.agreement.variance)
    assert result.attempted > 0 and result.failed == 0


def _table(X):
    recs = [
        Annotation(f"u{i}", f"r{g}", str(X[i, g] + 1))
        for i in range(X.shape[0])
        for g in range(X.shape[1])
        if X[i, g] >= 0
    ]
    return AnnotationTable.from_records(recs)


def test_report_adds_se_only_when_asked():
    X = random_codes(5, n=30, G=3, q=4)
    plain = agreement_report(_table(X)).to_dict()
    assert all(set(m) == {"value", "ci95", "reason"} for m in plain["metrics"].values())
    with_se = agreement_report(_table(X), se=True).to_dict()
    expected = standard_errors(X, 4)
    for name, m in with_se["metrics"].items():
        assert m["value"] == plain["metrics"][name]["value"]
        assert m["ci95"] == plain["metrics"][name]["ci95"]
        if expected[name] is None:
            assert m["se"] is None
        else:
            assert m["se"] == pytest.approx(expected[name], rel=1e-12)
