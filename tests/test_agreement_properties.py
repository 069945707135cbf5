"""Hypothesis properties: permutation invariance, perfect agreement, bounds, incremental = batch."""

from __future__ import annotations

import numpy as np
from aqt.agreement import COEFFICIENTS, AgreementState, agreement_report
from aqt.records import Annotation, AnnotationTable
from hypothesis import given, settings
from hypothesis import strategies as st

LEVELS = ["nominal", "ordinal", "interval", "ratio"]
WEIGHTS = ["identity", "linear", "quadratic", "ordinal", "radical", "ratio", "circular", "bipolar"]


@st.composite
def codes(draw, max_items=12, max_raters=5, max_q=5):
    n = draw(st.integers(1, max_items))
    G = draw(st.integers(1, max_raters))
    q = draw(st.integers(1, max_q))
    cells = draw(st.lists(st.integers(-1, q - 1), min_size=n * G, max_size=n * G))
    X = np.array(cells, dtype=np.int64).reshape(n, G)
    X = X[(X >= 0).any(1)]
    return X


def table_of(X, item_names=None, rater_names=None):
    n, G = X.shape
    item_names = item_names or [f"i{i}" for i in range(n)]
    rater_names = rater_names or [f"a{g}" for g in range(G)]
    return AnnotationTable.from_records(
        Annotation(item_names[i], rater_names[g], str(int(X[i, g]) + 1))
        for i in range(n)
        for g in range(G)
        if X[i, g] >= 0
    )


def values(report):
    return {k: v["value"] for k, v in report.to_dict()["metrics"].items()}


def close(a, b):
    assert a.keys() == b.keys()
    for k in a:
        if a[k] is None or b[k] is None:
            assert a[k] is None and b[k] is None, k
        else:
            assert abs(a[k] - b[k]) < 1e-9, k


@settings(max_examples=60, deadline=None)
@given(
    codes(), st.randoms(use_true_random=False), st.sampled_from(LEVELS), st.sampled_from(WEIGHTS)
)
def test_permutation_invariance(X, rnd, level, weights):
    if X.size == 0:
        return
    items = list(range(X.shape[0]))
    raters = list(range(X.shape[1]))
    rnd.shuffle(items)
    rnd.shuffle(raters)
    base = values(agreement_report(table_of(X), level=level, weights=weights))
    perm = X[items][:, raters]
    # rows and columns are renamed by their new position, so the engine sees them in a new order
    shuffled = table_of(perm)
    close(base, values(agreement_report(shuffled, level=level, weights=weights)))


@settings(max_examples=60, deadline=None)
@given(st.integers(2, 15), st.integers(2, 6), st.integers(2, 6), st.data())
def test_perfect_agreement_gives_one(n, G, q, data):
    truth = np.array(data.draw(st.lists(st.integers(0, q - 1), min_size=n, max_size=n)))
    if len(set(truth.tolist())) < 2:
        truth[0], truth[1] = 0, 1
    X = np.repeat(truth[:, None], G, 1)
    level = data.draw(st.sampled_from(LEVELS))
    weights = data.draw(st.sampled_from(WEIGHTS))
    v = values(agreement_report(table_of(X), level=level, weights=weights))
    for name in COEFFICIENTS:
        if name in ("cohen_kappa", "scott_pi") and G != 2:
            assert v[name] is None
        else:
            assert abs(v[name] - 1.0) < 1e-12, name


@settings(max_examples=80, deadline=None)
@given(codes(), st.sampled_from(LEVELS), st.sampled_from(WEIGHTS))
def test_bounds_and_no_nan(X, level, weights):
    if X.size == 0:
        return
    d = agreement_report(table_of(X), level=level, weights=weights).to_dict()
    for name, m in d["metrics"].items():
        v = m["value"]
        if v is None:
            assert isinstance(m["reason"], str) and m["reason"]
            continue
        assert not np.isnan(v)
        assert v <= 1 + 1e-12, name
        if name == "percent_agreement":
            assert -1e-12 <= v <= 1 + 1e-12
    for row in d["pairwise"]:
        assert 0 <= row["percent_agreement"] <= 1 + 1e-12
    for row in d["disagreements"]:
        assert 0 < row["observed_disagreement"] <= 1 + 1e-12


@st.composite
def events(draw):
    n_items = draw(st.integers(1, 6))
    n_ann = draw(st.integers(1, 4))
    q = draw(st.integers(1, 4))
    ops = draw(
        st.lists(
            st.tuples(
                st.booleans(),
                st.integers(0, n_items - 1),
                st.integers(0, n_ann - 1),
                st.integers(0, q - 1),
            ),
            max_size=40,
        )
    )
    return ops


def replay(ops, state, final):
    for is_remove, i, a, v in ops:
        key = (f"i{i}", f"a{a}")
        if is_remove and key in final:
            state.remove(*key)
            del final[key]
        elif not is_remove:
            state.add(key[0], key[1], str(v + 1))
            final[key] = str(v + 1)


def batch_metrics(final, level, weights):
    table = AnnotationTable.from_records(Annotation(i, a, v) for (i, a), v in final.items())
    return agreement_report(table, level=level, weights=weights).to_dict()["metrics"]


@settings(max_examples=120, deadline=None)
@given(events(), st.sampled_from(LEVELS), st.sampled_from(WEIGHTS))
def test_incremental_equals_batch_exactly(ops, level, weights):
    state = AgreementState(level=level, weights=weights)
    final: dict = {}
    replay(ops, state, final)
    assert state.metrics() == batch_metrics(final, level, weights)


@settings(max_examples=80, deadline=None)
@given(events(), st.integers(2, 4), st.sampled_from(LEVELS), st.sampled_from(WEIGHTS), st.data())
def test_merged_shards_equal_the_whole(ops, n_shards, level, weights, data):
    final: dict = {}
    replay(ops, AgreementState(level=level, weights=weights), final)
    shard_of = {item: data.draw(st.integers(0, n_shards - 1)) for item, _ in final}
    shards = [AgreementState(level=level, weights=weights) for _ in range(n_shards)]
    for (item, ann), v in final.items():
        shards[shard_of[item]].add(item, ann, v)
    whole = shards[0]
    for other in shards[1:]:
        whole.merge(other)
    assert whole.metrics() == batch_metrics(final, level, weights)
    st_whole, labels, anns = whole.stats()
    direct = AgreementState(level=level, weights=weights)
    for (item, ann), v in final.items():
        direct.add(item, ann, v)
    st_direct, labels2, anns2 = direct.stats()
    assert (labels, anns) == (labels2, anns2)
    for field in ("n_r", "C", "P", "n_gk", "used"):
        assert np.array_equal(getattr(st_whole, field), getattr(st_direct, field))


@settings(max_examples=60, deadline=None)
@given(events(), st.sampled_from(LEVELS), st.sampled_from(WEIGHTS))
def test_incremental_equals_batch_with_a_fixed_domain(ops, level, weights):
    domain = ["1", "2", "3", "4", "5"]  # unused categories count (AC1's q, the weights' ranks)
    state = AgreementState(level=level, weights=weights, categories=domain)
    final: dict = {}
    replay(ops, state, final)
    table = AnnotationTable.from_records(Annotation(i, a, v) for (i, a), v in final.items())
    batch = agreement_report(table, level=level, weights=weights, categories=domain)
    assert state.metrics() == batch.to_dict()["metrics"]


@settings(max_examples=80, deadline=None)
@given(codes(max_items=15, max_raters=5, max_q=6), st.sampled_from(LEVELS))
def test_drop_in_alpha_matches_the_krippendorff_package(X, level):
    import math
    import warnings

    import krippendorff
    from aqt.agreement import krippendorff_alpha

    data = np.where(X >= 0, X + 1.0, np.nan).T
    ours = krippendorff_alpha(data, level)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            theirs = krippendorff.alpha(data, level_of_measurement=level)
        except ValueError:  # the package refuses one value or no pairable unit; we return nan
            theirs = math.nan
    if math.isnan(theirs) or math.isinf(theirs):
        assert math.isnan(ours)
    else:
        assert abs(ours - theirs) < 1e-9
