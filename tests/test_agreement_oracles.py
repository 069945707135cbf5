"""Cross-checks against independent implementations on random data with missing values.

krippendorff (alpha at every level), irrCAC (every coefficient and every weight), scikit-learn
(weighted Cohen), statsmodels (Fleiss). They are test oracles only; aqt never imports them.
"""

from __future__ import annotations

import warnings

import krippendorff
import numpy as np
import pandas as pd
import pytest
from aqt.agreement import WEIGHTS, agreement_report, krippendorff_alpha
from aqt.agreement.coefficients import compute_coefficients
from aqt.agreement.stats import compress, pairwise_tables, stats_from_codes, stats_from_patterns
from aqt.agreement.weights import weight_matrix
from aqt.records import Annotation, AnnotationTable
from irrCAC.raw import CAC
from sklearn.metrics import cohen_kappa_score
from statsmodels.stats.inter_rater import aggregate_raters, fleiss_kappa


def random_codes(seed, n=40, G=4, q=5, missing=0.3, p_true=0.5):
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, q, n)
    X = np.where(rng.random((n, G)) < p_true, truth[:, None], rng.integers(0, q, (n, G)))
    X[rng.random((n, G)) < missing] = -1
    X = X[(X >= 0).sum(1) >= 1]
    return X


def to_table(X, labels=None):
    recs = []
    for i in range(X.shape[0]):
        for g in range(X.shape[1]):
            if X[i, g] >= 0:
                v = labels[X[i, g]] if labels else str(X[i, g] + 1)
                recs.append(Annotation(f"u{i}", f"r{g}", v))
    return AnnotationTable.from_records(recs)


def metrics(report):
    return {k: v["value"] for k, v in report.to_dict()["metrics"].items()}


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("level", ["nominal", "ordinal", "interval", "ratio"])
def test_alpha_matches_krippendorff_package(seed, level):
    X = random_codes(seed, n=30 + 7 * seed, G=3 + seed % 3)
    data = np.where(X >= 0, X + 1.0, np.nan).T
    expected = krippendorff.alpha(data, level_of_measurement=level)
    assert krippendorff_alpha(data, level) == pytest.approx(expected, abs=1e-12)
    rep = agreement_report(to_table(X), level=level)
    assert metrics(rep)["krippendorff_alpha"] == pytest.approx(expected, abs=1e-12)


def test_alpha_non_integer_values_and_value_domain():
    rng = np.random.default_rng(3)
    data = rng.choice([0.5, 1.25, 2.0, 7.5], size=(3, 25))
    data[rng.random(data.shape) < 0.2] = np.nan
    for level in ("nominal", "ordinal", "interval", "ratio"):
        assert krippendorff_alpha(data, level) == pytest.approx(
            krippendorff.alpha(data, level_of_measurement=level), abs=1e-12
        )
    domain = [7.5, 2.0, 1.25, 0.5, 9.0]  # an ordering of its own, with an unused value
    assert krippendorff_alpha(data, "ordinal", value_domain=domain) == pytest.approx(
        krippendorff.alpha(data, level_of_measurement="ordinal", value_domain=domain), abs=1e-12
    )


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("weights", WEIGHTS)
def test_every_coefficient_matches_irrcac(seed, weights):
    X = random_codes(100 + seed, n=25 + 5 * seed, G=3 + seed % 2)
    q = 5
    df = pd.DataFrame(np.where(X >= 0, X + 1.0, np.nan))
    cats = list(range(1, q + 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cac = CAC(df, weights=weights, categories=cats, digits=12)
        ref = {
            "gwet_ac2": cac.gwet()["est"]["coefficient_value"],
            "fleiss_kappa": cac.fleiss()["est"]["coefficient_value"],
            "conger_kappa": cac.conger()["est"]["coefficient_value"],
            "brennan_prediger": cac.bp()["est"]["coefficient_value"],
            "percent_agreement": cac.bp()["est"]["pa"],
        }
        ac1 = CAC(df, categories=cats, digits=12).gwet()["est"]["coefficient_value"]
        kripp_quadratic = CAC(df, weights="quadratic", categories=cats, digits=12).krippendorff()
    rep = metrics(agreement_report(to_table(X), weights=weights, categories=[str(c) for c in cats]))
    for name, value in ref.items():
        assert rep[name] == pytest.approx(value, abs=1e-9), name
    assert rep["gwet_ac1"] == pytest.approx(ac1, abs=1e-9)
    # Gwet's quadratic-weighted alpha is interval alpha (trap 1 in the reference notes)
    interval = metrics(agreement_report(to_table(X), level="interval"))["krippendorff_alpha"]
    assert interval == pytest.approx(kripp_quadratic["est"]["coefficient_value"], abs=1e-9)


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize(
    "weights, sk", [("identity", None), ("linear", "linear"), ("quadratic", "quadratic")]
)
def test_cohen_matches_sklearn(seed, weights, sk):
    X = random_codes(200 + seed, n=60, G=2, q=4, missing=0.0)
    labels = ["a", "b", "c", "d"]
    expected = cohen_kappa_score(X[:, 0], X[:, 1], weights=sk, labels=[0, 1, 2, 3])
    rep = agreement_report(to_table(X, labels), weights=weights, categories=labels)
    assert metrics(rep)["cohen_kappa"] == pytest.approx(expected, abs=1e-12)
    assert rep.to_dict()["pairwise"][0]["cohen_kappa"] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_fleiss_and_scott_match_statsmodels(seed):
    X = random_codes(300 + seed, n=50, G=2 + seed, q=4, missing=0.0)
    counts, _ = aggregate_raters(X)
    expected = fleiss_kappa(counts, method="fleiss")
    m = metrics(agreement_report(to_table(X)))
    assert m["fleiss_kappa"] == pytest.approx(expected, abs=1e-12)
    if X.shape[1] == 2:
        assert m["scott_pi"] == pytest.approx(expected, abs=1e-12)
    assert m["brennan_prediger"] == pytest.approx(
        fleiss_kappa(counts, method="randolph"), abs=1e-12
    )


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("q", [3, 7, 40])
def test_compressed_rows_give_the_same_statistics(seed, q):
    X = random_codes(400 + seed, n=300, G=5, q=q, missing=0.4)
    pat, w, inverse = compress(X, q)
    assert np.array_equal(pat[inverse], X) and w.sum() == len(X)
    a, tables_a = stats_from_patterns(pat, w, q, want_pairs=True)
    b, tables_b = stats_from_patterns(X, np.ones(len(X), np.int64), q, want_pairs=True)
    for field in ("n_r", "C", "P", "n_gk", "used"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    assert tables_a.keys() == tables_b.keys() == pairwise_tables(X, q).keys()
    for key, t in pairwise_tables(X, q).items():
        assert np.array_equal(tables_a[key], t) and np.array_equal(tables_b[key], t)
    # the statistics against a direct per-item count
    counts = np.array([[np.sum(row == k) for k in range(q)] for row in X])
    r = counts.sum(1)
    for rv in range(len(a.n_r)):
        sel = counts[r == rv]
        assert a.n_r[rv] == len(sel)
        assert np.array_equal(a.C[rv], sel.sum(0))
        assert np.array_equal(a.P[rv], sel.T @ sel)
    assert np.array_equal(a.used, (counts > 0).sum(0))


def test_per_label_matches_one_vs_rest_recomputation():
    X = random_codes(7, n=80, G=2, q=4, missing=0.2)
    rep = agreement_report(to_table(X)).to_dict()
    for k, label in enumerate(rep["categories"]):
        B = np.where(X < 0, -1, np.where(X == k, 0, 1))
        st, _ = stats_from_codes(B, 2)
        res = compute_coefficients(st, weight_matrix("identity", 2))
        data = np.where(B >= 0, B.astype(float), np.nan).T
        assert rep["per_label"][label]["krippendorff_alpha"] == pytest.approx(
            krippendorff.alpha(data, level_of_measurement="nominal"), abs=1e-12
        )
        assert rep["per_label"][label]["fleiss_kappa"] == pytest.approx(
            res["fleiss_kappa"][0], abs=1e-12
        )
        assert rep["per_label"][label]["cohen_kappa"] == pytest.approx(
            res["cohen_kappa"][0], abs=1e-12
        )
        assert rep["per_label"][label]["n_items"] == int((X == k).any(1).sum())


@pytest.mark.parametrize("seed", range(3))
def test_compiled_pass_equals_numpy_path(seed, monkeypatch):
    from aqt.agreement import _kernel
    from aqt.agreement.engine import agreement_from_codes

    q = 6
    X = random_codes(500 + seed, n=400, G=4, q=q, missing=0.3).astype(np.int8)
    W = weight_matrix("quadratic", q)
    pat, w, inverse = compress(X, q)
    ref, ref_tables = stats_from_patterns(pat, w, q, want_pairs=True)
    if _kernel.available():  # numba installed (the dev environment): the compiled pass must agree
        n_r, C, P, n_gk, used, tables, pa = _kernel.scan(X, q, W, want_pairs=True)
        from aqt.agreement.stats import Stats

        got = Stats(n_r, C, P, n_gk, used).trimmed()
        for field in ("n_r", "C", "P", "n_gk", "used"):
            assert np.array_equal(getattr(got, field), getattr(ref, field)), field
        assert tables.keys() == ref_tables.keys()
        assert all(np.array_equal(tables[k], ref_tables[k]) for k in tables)
        from aqt.agreement.stats import item_agreement_patterns

        assert np.allclose(pa, item_agreement_patterns(pat, W)[inverse], equal_nan=True)
    # the whole report is identical with the compiled pass forced on and off
    labels, anns = [str(k) for k in range(q)], ["a", "b", "c", "d"]
    monkeypatch.setattr(_kernel, "MIN_CELLS", 0)
    monkeypatch.setenv("AQT_KERNEL", "1")
    assert _kernel.use_kernel(X, q, want_pairs=True)
    on = agreement_from_codes(X, labels, anns, weights="quadratic")
    monkeypatch.setenv("AQT_KERNEL", "0")
    off = agreement_from_codes(X, labels, anns, weights="quadratic")
    assert on["metrics"] == off["metrics"] and on["pairwise"] == off["pairwise"]
    assert np.array_equal(on["disagreement_rows"], off["disagreement_rows"])
    data = np.where(X >= 0, X + 1.0, np.nan).T
    with_kernel = krippendorff_alpha(data, "ordinal")
    monkeypatch.setenv("AQT_KERNEL", "1")
    assert krippendorff_alpha(data, "ordinal") == with_kernel


@pytest.mark.parametrize("G, q", [(25, 4), (40, 12)])
def test_many_sparse_annotators_match_the_oracles(G, q):
    # crowd-style data: many annotators, each item judged by a few (rows cannot all be packed)
    X = random_codes(900 + G, n=80, G=G, q=q, missing=0.85)
    X = X[(X >= 0).sum(1) >= 1]
    labels = [str(k + 1) for k in range(q)]
    data = np.where(X >= 0, X + 1.0, np.nan)
    rep = metrics(agreement_report(to_table(X), categories=labels))
    assert rep["krippendorff_alpha"] == pytest.approx(
        krippendorff.alpha(data.T, level_of_measurement="nominal"), abs=1e-12
    )
    cats = list(range(1, q + 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cac = CAC(pd.DataFrame(data), categories=cats, digits=12)
        assert rep["fleiss_kappa"] == pytest.approx(
            cac.fleiss()["est"]["coefficient_value"], abs=1e-9
        )
        assert rep["conger_kappa"] == pytest.approx(
            cac.conger()["est"]["coefficient_value"], abs=1e-9
        )
        assert rep["gwet_ac1"] == pytest.approx(cac.gwet()["est"]["coefficient_value"], abs=1e-9)
