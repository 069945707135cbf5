"""Set-valued agreement: MASI/Jaccard distances and Krippendorff's alpha over label sets.

No published worked example exists for set alpha (reference/agreement.md section 1), so these
tests use hand computations, properties, and nltk's AnnotationTask as an independent oracle.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from aqt.agreement.sets import jaccard_distance, masi_distance, set_agreement, set_alpha
from aqt.errors import AqtError, InputError, UsageError
from aqt.records import Annotation, AnnotationTable
from hypothesis import given, settings
from hypothesis import strategies as st
from nltk.metrics import distance as nltk_distance
from nltk.metrics.agreement import AnnotationTask


def table(rows, control=""):
    return AnnotationTable.from_records(
        Annotation(str(i), str(a), frozenset(v), kind="multichoice", control=control)
        for i, a, v in rows
    )


HAND = [
    ("1", "A", {"x"}),
    ("1", "B", {"x"}),
    ("2", "A", {"x", "y"}),
    ("2", "B", {"x"}),
    ("3", "A", {"y"}),
    ("3", "B", set()),
]


# ---------------------------------------------------------------- distances


def test_masi_distance_hand_values():
    assert masi_distance({"a", "b"}, {"a", "b"}) == 0.0  # M = 1, J = 1
    # {a,b} inside {a,b,c,d}: J = 2/4, M = 2/3 -> 1 - 1/3
    assert masi_distance({"a", "b"}, {"a", "b", "c", "d"}) == pytest.approx(2 / 3, abs=1e-15)
    # {a,b} vs {b,c}: J = 1/3, M = 1/3 -> 1 - 1/9
    assert masi_distance({"a", "b"}, {"b", "c"}) == pytest.approx(8 / 9, abs=1e-15)
    assert masi_distance({"a"}, {"b"}) == 1.0  # disjoint: M = 0
    assert masi_distance(set(), set()) == 0.0  # equal empty sets
    assert masi_distance(set(), {"a"}) == 1.0  # nothing shared
    assert jaccard_distance({"a", "b"}, {"b", "c"}) == pytest.approx(2 / 3, abs=1e-15)
    assert jaccard_distance(set(), set()) == 0.0
    assert jaccard_distance(set(), {"a"}) == 1.0


label_sets = st.frozensets(st.sampled_from("abcdef"), max_size=6)


@given(label_sets, label_sets)
def test_masi_bounds_symmetry_and_order(a, b):
    d = masi_distance(a, b)
    j = jaccard_distance(a, b)
    assert 0.0 <= j <= d <= 1.0  # M <= 1, so MASI never says more agreement than Jaccard
    assert d == masi_distance(b, a)
    assert (d == 0.0) == (a == b)
    assert masi_distance(a, a) == 0.0


@given(label_sets.filter(bool), label_sets.filter(bool))
def test_distances_match_nltk_on_nonempty_sets(a, b):
    # nltk divides by |a | b| and fails on two empty sets, hence non-empty here
    assert masi_distance(a, b) == pytest.approx(nltk_distance.masi_distance(set(a), set(b)))
    assert jaccard_distance(a, b) == pytest.approx(nltk_distance.jaccard_distance(set(a), set(b)))


# ---------------------------------------------------------------- hand computations


def test_set_alpha_hand_example_with_an_empty_set():
    # Coincidences (m_u = 2, weight 1): item 1 gives {x}-{x} twice, item 2 {x,y}-{x} both ways,
    # item 3 {y}-{} both ways. n = 6; n_{x} = 3, n_{x,y} = 1, n_{y} = 1, n_{} = 1.
    # MASI: d({x,y},{x}) = 1 - 1/2 * 2/3 = 2/3, d({y},{}) = 1.
    #   D_o = (2 * 2/3 + 2 * 1) / 6 = 5/9
    #   unordered sum n_c n_k d: {x}-{x,y} 3*2/3=2, {x}-{y} 3, {x}-{} 3, {x,y}-{y} 2/3,
    #   {x,y}-{} 1, {y}-{} 1 -> 32/3; ordered 64/3; D_e = (64/3) / (6*5) = 32/45
    #   alpha = 1 - (5/9) / (32/45) = 1 - 25/32 = 7/32
    # Jaccard: d({x,y},{x}) = 1/2. D_o = (2 * 1/2 + 2) / 6 = 1/2;
    #   unordered 1.5 + 3 + 3 + 0.5 + 1 + 1 = 10 -> D_e = 20 / 30 = 2/3; alpha = 1 - 3/4 = 1/4
    t = table(HAND)
    assert set_alpha(t) == pytest.approx(7 / 32, abs=1e-12)
    assert set_alpha(t, "jaccard") == pytest.approx(1 / 4, abs=1e-12)
    out = set_agreement(t)
    assert out == pytest.approx(
        {"krippendorff_alpha_masi": 7 / 32, "krippendorff_alpha_jaccard": 1 / 4, "n_items": 3}
    )


def test_two_empty_sets_agree():
    # item 1: {} and {} agree (d = 0); item 2: {a} vs {} (d = 1); item 3: {a} and {a}.
    # n_{} = 3, n_{a} = 3, n = 6. D_o = 2 * 1 / 6 = 1/3; D_e = 2 * 3 * 3 / (6 * 5) = 3/5;
    # alpha = 1 - (1/3) / (3/5) = 4/9 for both distances (disjoint sets are at distance 1).
    rows = [(1, "A", set()), (1, "B", set()), (2, "A", {"a"}), (2, "B", set())]
    rows += [(3, "A", {"a"}), (3, "B", {"a"})]
    out = set_agreement(table(rows))
    assert out["krippendorff_alpha_masi"] == pytest.approx(4 / 9, abs=1e-12)
    assert out["krippendorff_alpha_jaccard"] == pytest.approx(4 / 9, abs=1e-12)


def test_three_annotators_unequal_per_item():
    # item 1: {a}, {a}, {a,b} (m = 3, weight 1/2); item 2: {b}, {a,b} (m = 2).
    # Ordered pairs item 1: {a}-{a} x2, {a}-{a,b} x2, {a,b}-{a} x2, each 1/2 -> o_{a}{a} = 1,
    # o_{a}{a,b} = o_{a,b}{a} = 1. Item 2: o_{b}{a,b} = o_{a,b}{b} = 1.
    # n_{a} = 2, n_{a,b} = 2, n_{b} = 1, n = 5 (every judgement counts once).
    # Jaccard: d({a},{a,b}) = d({b},{a,b}) = 1/2, d({a},{b}) = 1.
    # D_o = (2 * 1/2 + 2 * 1/2) / 5 = 2/5
    # D_e = 2 * (2*2*1/2 + 2*1*1 + 2*1*1/2) / (5 * 4) = 2 * 5 / 20 = 1/2 -> alpha = 1/5
    # MASI: those two distances are 1 - 1/2 * 2/3 = 2/3. D_o = 4 * 2/3 / 5 = 8/15;
    # D_e = 2 * (4 * 2/3 + 2 + 2 * 2/3) / 20 = 2 * 6 / 20 = 3/5 -> alpha = 1 - 8/9 = 1/9
    rows = [(1, "A", {"a"}), (1, "B", {"a"}), (1, "C", {"a", "b"})]
    rows += [(2, "A", {"b"}), (2, "C", {"a", "b"})]
    t = table(rows)
    assert set_alpha(t, "jaccard") == pytest.approx(1 / 5, abs=1e-12)
    assert set_alpha(t, "masi") == pytest.approx(1 / 9, abs=1e-12)


# ---------------------------------------------------------------- the nltk oracle


def random_rows(rng, n_items=40, n_annotators=4, labels="abcde", p_missing=0.3, p_label=0.35):
    rows = []
    for i in range(n_items):
        for a in range(n_annotators):
            if rng.random() < p_missing:
                continue
            rows.append((f"i{i}", f"c{a}", {x for x in labels if rng.random() < p_label}))
    return rows


def nltk_alpha(rows, distance):
    triples = [(a, i, frozenset(v)) for i, a, v in rows]
    return AnnotationTask(triples, distance=distance).alpha()


@pytest.mark.parametrize("seed", range(8))
def test_alpha_matches_nltk_on_random_data_with_empty_sets(seed):
    rng = np.random.default_rng(seed)
    rows = random_rows(rng)
    assert any(not v for _, _, v in rows)  # empty sets are in the mix
    t = table(rows)
    assert set_alpha(t, "masi") == pytest.approx(nltk_alpha(rows, masi_distance), abs=1e-12)
    assert set_alpha(t, "jaccard") == pytest.approx(nltk_alpha(rows, jaccard_distance), abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_alpha_with_nltk_distance_matches_nltk_entirely(seed):
    # distance and alpha both from nltk on one side, aqt's alpha engine on the other
    rng = np.random.default_rng(100 + seed)
    rows = [r for r in random_rows(rng, p_label=0.5) if r[2]]
    expected = nltk_alpha(rows, nltk_distance.masi_distance)
    assert set_alpha(table(rows), nltk_distance.masi_distance) == pytest.approx(expected, abs=1e-12)
    assert set_alpha(table(rows), "masi") == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", range(3))
def test_nominal_distance_matches_krippendorff_package(seed):
    # with a 0/1 distance, set alpha is nominal alpha over the distinct sets as categories
    import krippendorff

    rng = np.random.default_rng(200 + seed)
    rows = random_rows(rng, n_items=60, n_annotators=6, labels="abc", p_missing=0.4)
    distinct = sorted({frozenset(v) for _, _, v in rows}, key=sorted)
    code = {v: k for k, v in enumerate(distinct)}
    data = np.full((6, 60), np.nan)
    for i, a, v in rows:
        data[int(a[1:]), int(i[1:])] = code[frozenset(v)]
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    got = set_alpha(table(rows), lambda a, b: float(a != b))
    assert got == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_expected_disagreement_by_set_sizes_equals_all_pairs(seed, monkeypatch):
    # D_e from common-subset counts (the default) against the plain sum over all pairs of sets
    import aqt.agreement.sets as sets_module

    rng = np.random.default_rng(300 + seed)
    rows = random_rows(rng, n_items=80, n_annotators=5, labels="abcdefgh", p_label=0.3)
    t = table(rows)
    fast = set_agreement(t)
    monkeypatch.setattr(sets_module, "_SUBSET_LIMIT", 0)
    slow = set_agreement(t)
    assert fast["krippendorff_alpha_masi"] == pytest.approx(
        slow["krippendorff_alpha_masi"], abs=1e-12
    )
    assert fast["krippendorff_alpha_jaccard"] == pytest.approx(
        slow["krippendorff_alpha_jaccard"], abs=1e-12
    )
    assert slow["krippendorff_alpha_masi"] == pytest.approx(
        nltk_alpha(rows, masi_distance), abs=1e-12
    )


def test_many_labels_match_nltk():
    # 70 labels: more than one int64 bitmask holds, so intersections take the other path
    rng = np.random.default_rng(400)
    labels = [f"tag{i}" for i in range(70)]
    rows = random_rows(rng, n_items=50, n_annotators=3, labels=labels, p_label=0.03)
    rows += [("i0", "c9", set(labels[:12])), ("i1", "c9", set(labels[5:20]))]  # a few big sets
    out = set_agreement(table(rows))
    assert out["krippendorff_alpha_masi"] == pytest.approx(
        nltk_alpha(rows, masi_distance), abs=1e-12
    )
    assert out["krippendorff_alpha_jaccard"] == pytest.approx(
        nltk_alpha(rows, jaccard_distance), abs=1e-12
    )


# ---------------------------------------------------------------- properties

rows_strategy = st.lists(
    st.tuples(st.integers(0, 6), st.sampled_from(["A", "B", "C"]), label_sets),
    min_size=2,
    max_size=25,
    unique_by=lambda r: (r[0], r[1]),
)


@settings(max_examples=60, deadline=None)
@given(rows_strategy, st.randoms(use_true_random=False))
def test_permutation_invariance(rows, rnd):
    base = set_agreement(table(rows))
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    names = {"A": "z9", "B": "k", "C": "a10"}
    alphabet = list("abcdef")
    perm = alphabet[:]
    rnd.shuffle(perm)
    relabel = dict(zip(alphabet, perm))
    moved = [(f"u{i}", names[a], {relabel[x] for x in v}) for i, a, v in shuffled]
    other = set_agreement(table(moved))
    assert other["n_items"] == base["n_items"]
    for key in ("krippendorff_alpha_masi", "krippendorff_alpha_jaccard"):
        if base[key] is None:
            assert other[key] is None
        else:
            assert other[key] == pytest.approx(base[key], abs=1e-12)
            assert base[key] <= 1.0 + 1e-12


@settings(max_examples=60, deadline=None)
@given(st.lists(label_sets, min_size=2, max_size=8, unique=True), st.integers(2, 4))
def test_identical_annotations_give_one(values, n_annotators):
    rows = [(i, f"c{a}", v) for i, v in enumerate(values) for a in range(n_annotators)]
    out = set_agreement(table(rows))
    assert out["krippendorff_alpha_masi"] == 1.0
    assert out["krippendorff_alpha_jaccard"] == 1.0
    assert out["n_items"] == len(values)


def test_callable_distance_equals_vectorised_path():
    rows = random_rows(np.random.default_rng(7))
    t = table(rows)
    assert set_alpha(t, masi_distance) == pytest.approx(set_alpha(t, "masi"), abs=1e-12)
    assert set_alpha(t, jaccard_distance) == pytest.approx(set_alpha(t, "jaccard"), abs=1e-12)


def test_lone_judgements_drop_out_and_later_record_replaces_earlier():
    base = set_agreement(table(HAND))
    extra = HAND + [("4", "A", {"z"})]  # item 4 has one judgement: not pairable
    assert set_agreement(table(extra)) == base
    # B first said {y} on item 1, then {x}: the later record counts
    assert set_agreement(table([("1", "B", {"y"})] + HAND)) == base


# ---------------------------------------------------------------- undefined values and errors


def test_undefined_cases_give_none():
    only_one_each = table([(1, "A", {"a"}), (2, "B", {"b"})])
    assert set_agreement(only_one_each) == {
        "krippendorff_alpha_masi": None,
        "krippendorff_alpha_jaccard": None,
        "n_items": 0,
    }
    # every pairable value is the same set: D_e = 0
    same = table([(1, "A", {"a"}), (1, "B", {"a"}), (2, "A", {"a"}), (2, "B", {"a"})])
    assert set_alpha(same) is None
    assert set_agreement(AnnotationTable.from_records([]))["n_items"] == 0


def test_output_is_plain_json():
    out = set_agreement(table(HAND))
    assert type(out["krippendorff_alpha_masi"]) is float
    assert type(out["n_items"]) is int
    assert list(out) == ["krippendorff_alpha_masi", "krippendorff_alpha_jaccard", "n_items"]
    assert json.loads(json.dumps(out)) == out


def test_unknown_distance_is_a_usage_error():
    with pytest.raises(UsageError, match="masi, jaccard") as err:
        set_alpha(table(HAND), "cosine")
    assert "'cosine'" in str(err.value)


def test_non_set_values_are_reported_together():
    records = [
        Annotation("1", "A", "x", kind="choice"),
        Annotation("1", "B", frozenset({"x"}), kind="multichoice"),
        Annotation("2", "A", 3.0, kind="rating"),
    ]
    with pytest.raises(InputError) as err:
        set_agreement(AnnotationTable.from_records(records))
    message = str(err.value)
    assert "2 value(s)" in message and "record 0" in message and "record 2" in message
    assert "--control" in message


def test_several_controls_must_be_narrowed_down():
    t = AnnotationTable.from_records(list(table(HAND, "topics")) + list(table(HAND, "tags")))
    with pytest.raises(AqtError, match="--control"):
        set_agreement(t)
    assert set_agreement(t.select_control("tags")) == set_agreement(table(HAND))


def test_docstring_examples_hold():
    import doctest

    import aqt.agreement.sets as module

    result = doctest.testmod(module)
    assert result.attempted >= 5 and result.failed == 0
