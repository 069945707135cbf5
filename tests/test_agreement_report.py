"""agreement_report: the JSON shape, degenerate data, bad input, kinds, determinism; AgreementState API."""

from __future__ import annotations

import doctest
import json
import math

import aqt.agreement.alpha
import aqt.agreement.state
import numpy as np
import pytest
from aqt.agreement import COEFFICIENTS, AgreementState, agreement_report, krippendorff_alpha
from aqt.errors import AqtError, InputError, UsageError
from aqt.records import Annotation, AnnotationTable, Span

TOP_KEYS = {
    "n_items",
    "n_annotators",
    "n_annotations",
    "skipped",
    "level",
    "weights",
    "categories",
    "control",
    "kind",
    "guideline_versions",
    "metrics",
    "per_label",
    "pairwise",
    "disagreements",
    "coincidence",
    "confused_pairs",
}


def tab(rows, kind="choice", control="label", **kw):
    return AnnotationTable.from_records(
        [Annotation(i, a, v, kind=kind, control=control, **kw) for i, a, v in rows]
    )


ROWS = [
    ("1", "alice", "pos"),
    ("1", "bob", "pos"),
    ("1", "carol", "neg"),
    ("2", "alice", "neg"),
    ("2", "bob", "neg"),
    ("3", "alice", "neu"),
    ("3", "bob", "pos"),
    ("3", "carol", "neu"),
    ("10", "alice", "pos"),
    ("10", "carol", "pos"),
    ("4", "bob", "neg"),
]


def test_doctests_reproduce_published_values():
    for module in (aqt.agreement.alpha, aqt.agreement.state):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0


def test_to_dict_shape_and_json_roundtrip():
    d = agreement_report(tab(ROWS), max_disagreements=2).to_dict()
    assert set(d) == TOP_KEYS
    assert list(d["metrics"]) == list(COEFFICIENTS)
    for m in d["metrics"].values():
        assert set(m) == {"value", "ci95", "reason"}
    assert d["n_items"] == 5 and d["n_annotators"] == 3 and d["n_annotations"] == 11
    assert d["categories"] == ["neg", "neu", "pos"]
    assert d["control"] == "label" and d["kind"] == "choice"
    assert d["skipped"] == {"cancelled": 0, "ignored": 0}
    assert set(d["per_label"]) == {"neg", "neu", "pos"}
    assert set(d["per_label"]["pos"]) == {
        "krippendorff_alpha",
        "fleiss_kappa",
        "cohen_kappa",
        "n_items",
    }
    assert d["per_label"]["pos"]["n_items"] == 3
    assert [(p["a"], p["b"]) for p in d["pairwise"]] == [
        ("alice", "bob"),
        ("alice", "carol"),
        ("bob", "carol"),
    ]
    assert d["pairwise"][0]["n_items"] == 3
    assert d["pairwise"][0]["percent_agreement"] == pytest.approx(2 / 3)
    # items 1 and 3: two agreeing ordered pairs of six each; the tie goes by natural item order
    assert [x["item"] for x in d["disagreements"]] == ["1", "3"]
    assert d["disagreements"][1]["values"] == {"alice": "neu", "bob": "pos", "carol": "neu"}
    assert d["disagreements"][0]["observed_disagreement"] == pytest.approx(2 / 3)
    assert d["coincidence"]["categories"] == d["categories"]
    assert np.allclose(np.array(d["coincidence"]["matrix"]), np.array(d["coincidence"]["matrix"]).T)
    shares = [c["share"] for c in d["confused_pairs"]]
    assert sum(shares) == pytest.approx(1.0) and shares == sorted(shares, reverse=True)
    assert json.loads(json.dumps(d)) == d


def test_output_is_deterministic_and_order_free():
    a = json.dumps(agreement_report(tab(ROWS), ci=30, seed=3).to_dict())
    b = json.dumps(agreement_report(tab(list(reversed(ROWS))), ci=30, seed=3).to_dict())
    assert a == b
    d = json.loads(a)
    lo, hi = d["metrics"]["krippendorff_alpha"]["ci95"]
    assert lo <= hi


def test_natural_order_of_disagreements_on_ties():
    rows = [(str(i), a, v) for i in (10, 2, 1) for a, v in (("x", "p"), ("y", "q"))]
    d = agreement_report(tab(rows)).to_dict()
    assert [x["item"] for x in d["disagreements"]] == ["1", "2", "10"]
    assert (
        agreement_report(tab(rows), max_disagreements=1).to_dict()["disagreements"][0]["item"]
        == "1"
    )


@pytest.mark.parametrize(
    "rows, fragment",
    [
        ([("1", "a", "x"), ("2", "a", "y")], "only 1 annotator"),
        ([("1", "a", "x"), ("2", "b", "y")], "no item has two or more judgements"),
        ([("1", "a", "x"), ("1", "b", "y")], "only one item"),
        ([("1", "a", "x"), ("1", "b", "x"), ("2", "a", "x"), ("2", "b", "x")], "only one category"),
    ],
)
def test_degenerate_data_gives_none_with_reason(rows, fragment):
    d = agreement_report(tab(rows)).to_dict()
    reasons = [m["reason"] for m in d["metrics"].values() if m["value"] is None]
    assert any(fragment in r for r in reasons)
    assert d["metrics"]["krippendorff_alpha"]["value"] is None


def test_one_category_keeps_percent_agreement():
    rows = [("1", "a", "x"), ("1", "b", "x"), ("2", "a", "x"), ("2", "b", "x")]
    d = agreement_report(tab(rows)).to_dict()
    assert d["metrics"]["percent_agreement"]["value"] == 1.0
    # a declared domain with an unused category makes AC1 and Brennan-Prediger defined again
    d2 = agreement_report(tab(rows), categories="x,y").to_dict()
    assert d2["categories"] == ["x", "y"] and d2["metrics"]["gwet_ac1"]["value"] == 1.0
    assert d2["per_label"]["y"]["n_items"] == 0


def test_cohen_and_scott_need_two_annotators():
    d = agreement_report(tab(ROWS)).to_dict()
    assert d["metrics"]["cohen_kappa"]["value"] is None
    assert "exactly two annotators (the data has 3)" in d["metrics"]["cohen_kappa"]["reason"]
    two = [r for r in ROWS if r[1] != "carol"]
    d2 = agreement_report(tab(two)).to_dict()
    assert d2["metrics"]["cohen_kappa"]["value"] == d2["metrics"]["conger_kappa"]["value"]
    assert d2["metrics"]["scott_pi"]["value"] == d2["metrics"]["fleiss_kappa"]["value"]


def test_interval_level_with_text_labels_names_labels_and_fix():
    with pytest.raises(InputError) as err:
        agreement_report(tab(ROWS), level="interval")
    msg = str(err.value)
    assert "'neg'" in msg and "--level nominal" in msg


def test_categories_missing_an_observed_label():
    with pytest.raises(InputError) as err:
        agreement_report(tab(ROWS), categories=["neg", "pos"])
    assert "'neu'" in str(err.value) and "--categories" in str(err.value)


def test_unknown_level_or_weights_is_a_usage_error():
    with pytest.raises(UsageError):
        agreement_report(tab(ROWS), level="bogus")
    with pytest.raises(UsageError):
        agreement_report(tab(ROWS), weights="cubic")


def test_several_controls_need_a_choice():
    t = AnnotationTable.from_records(
        [Annotation("1", "a", "x", control="c1"), Annotation("1", "a", "y", control="c2")]
    )
    with pytest.raises(UsageError) as err:
        agreement_report(t)
    assert "--control" in str(err.value)


def test_numeric_ratings_sort_numerically_and_render_as_labels():
    rows = [
        ("1", "a", 10.0),
        ("1", "b", 2.0),
        ("2", "a", 2.0),
        ("2", "b", 2.0),
        ("3", "a", 9.5),
        ("3", "b", 10.0),
    ]
    d = agreement_report(tab(rows, kind="rating"), level="interval").to_dict()
    assert d["categories"] == ["2", "9.5", "10"]
    assert d["metrics"]["krippendorff_alpha"]["value"] == pytest.approx(
        krippendorff_alpha([[10, 2, 9.5], [2, 2, 10]], "interval")
    )


def test_last_judgement_of_an_annotator_counts():
    rows = [("1", "a", "x"), ("1", "b", "y"), ("1", "b", "x"), ("2", "a", "y"), ("2", "b", "y")]
    d = agreement_report(tab(rows)).to_dict()
    assert d["n_annotations"] == 5
    assert d["metrics"]["percent_agreement"]["value"] == 1.0


def test_guideline_versions_and_skipped():
    t = AnnotationTable.from_records(
        [
            Annotation("1", "a", "x", guideline_version="v2"),
            Annotation("1", "b", "x", guideline_version="v10"),
            Annotation("2", "a", "y", guideline_version="v2"),
            Annotation("2", "b", "y"),
        ],
        skipped={"cancelled": 2},
    )
    d = agreement_report(t).to_dict()
    assert d["guideline_versions"] == ["v2", "v10"]
    assert d["skipped"] == {"cancelled": 2, "ignored": 0}
    assert d["control"] is None


def test_multichoice_sets_and_per_label():
    rows = [
        ("1", "A", {"x"}),
        ("1", "B", {"x"}),
        ("2", "A", {"x", "y"}),
        ("2", "B", {"x"}),
        ("3", "A", {"y"}),
        ("3", "B", set()),
    ]
    d = agreement_report(
        tab([(i, a, frozenset(v)) for i, a, v in rows], kind="multichoice")
    ).to_dict()
    assert set(d["sets"]) >= {"krippendorff_alpha_masi", "krippendorff_alpha_jaccard"}
    assert d["sets"]["krippendorff_alpha_masi"] == pytest.approx(0.21875)
    assert set(d["per_label"]) == {"x", "y"}
    assert d["per_label"]["x"]["n_items"] == 2 and d["per_label"]["y"]["n_items"] == 2
    # label x: agree, agree, agree (absent/absent) -> perfect; label y: disagree on 2, agree-ish on 3
    assert d["per_label"]["x"]["krippendorff_alpha"] == 1.0
    assert d["per_label"]["y"]["cohen_kappa"] is not None
    assert d["disagreements"][0]["values"]["A"] in (["x", "y"], ["y"])
    assert d["metrics"]["percent_agreement"]["value"] == pytest.approx(1 / 3)


def test_spans_section_and_null_metrics():
    rows = [("1", "A", (Span(0, 3, "PER"),)), ("1", "B", (Span(0, 3, "PER"),))]
    d = agreement_report(tab(rows, kind="spans")).to_dict()
    assert all(
        m["value"] is None and m["reason"] == "span data: see the spans section"
        for m in d["metrics"].values()
    )
    assert "spans" in d and "sets" not in d


def test_text_kind_is_refused():
    with pytest.raises(AqtError):
        agreement_report(tab([("1", "a", "hello")], kind="text"))


def test_empty_table():
    d = agreement_report(AnnotationTable.from_records([])).to_dict()
    assert d["n_items"] == 0 and all(m["value"] is None for m in d["metrics"].values())


def test_drop_in_nan_when_undefined_and_alias():
    assert math.isnan(krippendorff_alpha([[1, 1], [1, 1]]))
    assert math.isnan(krippendorff_alpha([[1, np.nan], [np.nan, 2]]))
    data = [[1, 2, 3, 4], [1, 2, 3, 4]]
    assert krippendorff_alpha(data, level_of_measurement="ratio") == 1.0
    assert krippendorff_alpha(
        [["pos", "neg", "neu", None], ["pos", "neg", "neu", "pos"], ["pos", "neg", "pos", "pos"]]
    ) == pytest.approx(0.722222, abs=5e-7)
    with pytest.raises(InputError):
        krippendorff_alpha([1, 2, 3])
    with pytest.raises(InputError):
        krippendorff_alpha([[1, 2], [1, 3]], value_domain=[1, 2])


# -- AgreementState ------------------------------------------------------------------------------


def test_state_replace_remove_item_and_annotator_agreement():
    s = AgreementState()
    for i, a, v in ROWS:
        s.add(i, a, v)
    batch = agreement_report(tab(ROWS)).to_dict()
    assert s.metrics() == batch["metrics"]
    assert s.item_agreement("3") == pytest.approx(1 / 3)
    assert s.item_agreement("4") is None and s.item_agreement("nope") is None
    s.add("3", "bob", "neu")  # replaces bob's "pos"
    assert s.item_agreement("3") == 1.0
    s.remove("3", "bob")
    s.remove("3", "carol")
    assert s.item_agreement("3") is None
    per = s.annotator_agreement()
    assert list(per) == ["alice", "bob", "carol"]
    assert per["carol"]["n_items"] == 2  # items 1 and 10 still shared
    assert per["alice"]["percent_agreement"] == pytest.approx(3 / 4)  # 3 of 4 peer pairs agree
    with pytest.raises(InputError):
        s.remove("3", "bob")


def test_state_fixed_categories_and_levels():
    s = AgreementState(categories=["a", "b"])
    with pytest.raises(InputError):
        s.add("1", "x", "c")
    t = AgreementState(level="interval")
    with pytest.raises(InputError):
        t.add("1", "x", "high")
    with pytest.raises(UsageError):
        AgreementState().merge(AgreementState(level="ordinal"))


def test_state_merge_with_overlapping_items_replays():
    a, b = AgreementState(), AgreementState()
    a.add("1", "x", "p")
    a.add("1", "y", "q")
    b.add("1", "y", "p")  # same item, same annotator: b's judgement wins
    b.add("2", "x", "q")
    b.add("2", "y", "q")
    a.merge(b)
    whole = AgreementState()
    for i, ann, v in [("1", "x", "p"), ("1", "y", "p"), ("2", "x", "q"), ("2", "y", "q")]:
        whole.add(i, ann, v)
    assert a.metrics() == whole.metrics()


def test_state_empty_metrics():
    m = AgreementState().metrics()
    assert list(m) == list(COEFFICIENTS) and all(v["value"] is None for v in m.values())


def test_bootstrap_intervals_are_seeded_and_bracket_the_estimate():
    rng = np.random.default_rng(11)
    truth = rng.integers(0, 4, 150)
    rows = []
    for i, t in enumerate(truth):
        for a in ("a", "b", "c"):
            if rng.random() < 0.85:
                v = t if rng.random() < 0.7 else rng.integers(0, 4)
                rows.append((str(i), a, str(v)))
    table = tab(rows)
    one = agreement_report(table, ci=200, seed=5).to_dict()["metrics"]
    assert one == agreement_report(table, ci=200, seed=5).to_dict()["metrics"]
    other = agreement_report(table, ci=200, seed=6).to_dict()["metrics"]
    assert one["krippendorff_alpha"]["ci95"] != other["krippendorff_alpha"]["ci95"]
    for name, m in one.items():
        if m["value"] is None:
            assert m["ci95"] is None
            continue
        lo, hi = m["ci95"]
        assert lo < m["value"] < hi, name
        assert hi - lo < 0.4, name
    assert agreement_report(table).to_dict()["metrics"]["fleiss_kappa"]["ci95"] is None


def test_bootstrap_coverage_on_a_known_population():
    # items drawn from a large population whose alpha is known: the 95% interval should cover it
    # in most of 20 independent samples (a loose bound, so the test is not flaky)
    from aqt.agreement.bootstrap import bootstrap_ci
    from aqt.agreement.coefficients import compute_coefficients
    from aqt.agreement.stats import stats_from_codes
    from aqt.agreement.weights import weight_matrix

    rng = np.random.default_rng(0)

    def sample(n):
        truth = rng.integers(0, 3, n)
        X = np.where(rng.random((n, 3)) < 0.6, truth[:, None], rng.integers(0, 3, (n, 3)))
        X[rng.random((n, 3)) < 0.2] = -1
        return X

    big = sample(400_000)
    st, _ = stats_from_codes(big, 3)
    target = compute_coefficients(st, weight_matrix("identity", 3))["krippendorff_alpha"][0]
    covered = 0
    for seed in range(20):
        lo, hi = bootstrap_ci(sample(300), 3, n=200, seed=seed)["krippendorff_alpha"]
        covered += lo <= target <= hi
    assert covered >= 15


def test_importing_the_engine_does_not_import_numba_or_pandas():
    import subprocess
    import sys

    code = "import sys, aqt.agreement; print('numba' in sys.modules, 'pandas' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_numeric_categories_match_ratings_however_written():
    rows = [("1", "a", 1.0), ("1", "b", 2.0), ("2", "a", 3.0), ("2", "b", 3.0)]
    d = agreement_report(tab(rows, kind="rating"), categories="1.0,2,3.0,4", weights="linear")
    assert d.to_dict()["categories"] == ["1", "2", "3", "4"]


def test_numeric_looking_choice_labels_stay_as_written():
    rows = [("1", "a", "1.0"), ("1", "b", "2"), ("2", "a", "1.0"), ("2", "b", "1.0")]
    d = agreement_report(tab(rows), categories=["1.0", "2", "3"]).to_dict()
    assert d["categories"] == ["1.0", "2", "3"]
    s = AgreementState(categories=["1.0", "2", "3"])
    s.add("1", "a", 1.0)
    s.add("1", "b", "1.0")
    assert s.item_agreement("1") == 1.0
