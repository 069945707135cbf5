"""Span agreement: pairwise exact/overlap F1, per label, and token-level alpha.

No published worked example exists for span agreement (reference/agreement.md section 1): these
tests use hand computations (arithmetic in the comments), properties, and the krippendorff package
as an independent alpha on token labels built by a plain loop here.
"""

from __future__ import annotations

import json

import krippendorff
import numpy as np
import pytest
from aqt.agreement.spans import span_agreement, span_f1_counts, token_labels
from aqt.errors import AqtError, InputError
from aqt.records import Annotation, AnnotationTable, Span
from hypothesis import given, settings
from hypothesis import strategies as st

KEYS = ["n_items", "f1_exact", "f1_overlap", "token_alpha", "pairwise", "per_label"]


def table(rows, text=None, control=""):
    """rows: (item, annotator, [(start, end, label), ...]); text: {item: text} or None."""
    return AnnotationTable.from_records(
        Annotation(
            str(i),
            str(a),
            tuple(sorted(Span(*s) for s in spans)),
            kind="spans",
            control=control,
            text=(text or {}).get(str(i)),
        )
        for i, a, spans in rows
    )


# ---------------------------------------------------------------- F1 by hand

EXAMPLE = [
    ("1", "A", [(0, 5, "PER"), (10, 15, "LOC")]),
    ("1", "B", [(0, 5, "PER"), (11, 15, "LOC"), (20, 25, "ORG")]),
    ("2", "A", []),
    ("2", "B", [(0, 3, "PER")]),
]


def test_exact_and_overlap_f1_differ_hand_example():
    # item 1: PER 0-5 matches exactly; LOC 10-15 vs 11-15 only overlaps; ORG is B's alone.
    # item 2: A marks nothing, B one PER.
    # micro over items: exact M = 1, overlap M = 2, spans |A| + |B| = 2 + 4 = 6
    # f1_exact = 2 * 1 / 6 = 1/3, f1_overlap = 2 * 2 / 6 = 2/3
    out = span_agreement(table(EXAMPLE))
    assert list(out) == KEYS
    assert out["n_items"] == 2
    assert out["pairwise"] == [
        {"a": "A", "b": "B", "n_items": 2, "f1_exact": pytest.approx(1 / 3),
         "f1_overlap": pytest.approx(2 / 3)}
    ]  # fmt: skip
    assert out["f1_exact"] == pytest.approx(1 / 3)
    assert out["f1_overlap"] == pytest.approx(2 / 3)
    # per label, pooled: PER 1 exact and 1 overlap match over 3 spans -> 2/3, 2/3;
    # LOC 0 and 1 over 2 spans -> 0, 1; ORG 0 and 0 over 1 span -> 0, 0
    assert out["per_label"] == {
        "LOC": {"f1_exact": 0.0, "f1_overlap": 1.0, "support": 2},
        "ORG": {"f1_exact": 0.0, "f1_overlap": 0.0, "support": 1},
        "PER": {"f1_exact": pytest.approx(2 / 3), "f1_overlap": pytest.approx(2 / 3), "support": 3},
    }


def test_overlap_matching_is_one_to_one():
    # A's 0-10 overlaps both of B's spans but counts once: M = 1 of 3 spans -> F1 = 2/3
    out = span_agreement(table([(1, "A", [(0, 10, "X")]), (1, "B", [(0, 4, "X"), (5, 10, "X")])]))
    assert out["f1_overlap"] == pytest.approx(2 / 3)
    assert out["f1_exact"] == 0.0


def test_overlap_matching_is_maximum_not_first_fit():
    # A: 0-10 and 4-6; B: 5-6 and 8-9. First fit would pair 0-10 with 5-6 and leave 4-6 alone
    # (1 match); the maximum pairs 4-6 with 5-6 and 0-10 with 8-9: M = 2 of 4 -> F1 = 1
    rows = [(1, "A", [(0, 10, "X"), (4, 6, "X")]), (1, "B", [(5, 6, "X"), (8, 9, "X")])]
    assert span_agreement(table(rows))["f1_overlap"] == 1.0
    assert span_f1_counts(
        [Span(0, 10, "X"), Span(4, 6, "X")], [Span(5, 6, "X"), Span(8, 9, "X")]
    ) == {"X": (0, 2, 2, 2)}


def test_labels_must_agree_and_touching_spans_do_not_overlap():
    # 0-5 X vs 0-5 Y: no match; 10-12 vs 12-14 share no character (end exclusive)
    rows = [(1, "A", [(0, 5, "X"), (10, 12, "Z")]), (1, "B", [(0, 5, "Y"), (12, 14, "Z")])]
    out = span_agreement(table(rows))
    assert out["f1_exact"] == 0.0 and out["f1_overlap"] == 0.0


def test_duplicate_spans_and_zero_length_spans():
    # A marks 0-3 X twice, B once: exact matches are a multiset intersection, M = 1 of 3 spans
    out = span_agreement(table([(1, "A", [(0, 3, "X"), (0, 3, "X")]), (1, "B", [(0, 3, "X")])]))
    assert out["f1_exact"] == pytest.approx(2 / 3) and out["f1_overlap"] == pytest.approx(2 / 3)
    # identical zero-length spans (a cursor position) match both ways
    out = span_agreement(table([(1, "A", [(4, 4, "X")]), (1, "B", [(4, 4, "X")])]))
    assert out["f1_exact"] == 1.0 and out["f1_overlap"] == 1.0


def test_three_annotators_pairs_and_means():
    # item 1: A = {0-5 X}, B = {0-5 X}, C = {1-5 X}; item 2: only A and C, both {0-2 Y}
    # A-B (item 1): exact 1 of 2 -> 1, overlap 1.  B-C (item 1): exact 0, overlap 2*1/2 = 1.
    # A-C (items 1, 2): exact 1 (item 2) of 4 spans -> 1/2; overlap 2 of 4 -> 1.
    # overall means: exact (1 + 1/2 + 0) / 3 = 1/2, overlap 1
    rows = [
        (1, "A", [(0, 5, "X")]),
        (1, "B", [(0, 5, "X")]),
        (1, "C", [(1, 5, "X")]),
        (2, "A", [(0, 2, "Y")]),
        (2, "C", [(0, 2, "Y")]),
        (3, "B", [(0, 9, "Y")]),  # nobody else on item 3: not shared
    ]
    out = span_agreement(table(rows))
    assert out["n_items"] == 2
    assert [(p["a"], p["b"], p["n_items"]) for p in out["pairwise"]] == [
        ("A", "B", 1),
        ("A", "C", 2),
        ("B", "C", 1),
    ]
    assert [p["f1_exact"] for p in out["pairwise"]] == [1.0, 0.5, 0.0]
    assert [p["f1_overlap"] for p in out["pairwise"]] == [1.0, 1.0, 1.0]
    assert out["f1_exact"] == pytest.approx(0.5)
    assert out["f1_overlap"] == 1.0
    # X: pairs A-B, A-C, B-C on item 1: exact 1 + 0 + 0 = 1, overlap 3, spans 6 -> 1/3, 1;
    # support counts X's spans on shared items once each: 3. Y: only item 2 (A-C) -> 1, 1;
    # support 2 (B's Y on item 3 is not on a shared item).
    assert out["per_label"]["X"] == {
        "f1_exact": pytest.approx(1 / 3),
        "f1_overlap": 1.0,
        "support": 3,
    }
    assert out["per_label"]["Y"] == {"f1_exact": 1.0, "f1_overlap": 1.0, "support": 2}


# ---------------------------------------------------------------- token alpha by hand


def test_token_alpha_on_whitespace_tokens():
    # "a b c d": tokens 0-1, 2-3, 4-5, 6-7. A marks 0-3 X (tokens a, b), B marks 2-3 X (token b).
    # values per token: a (X, O), b (X, X), c (O, O), d (O, O)
    # coincidences: o_XO = o_OX = 1, o_XX = 2, o_OO = 4; n_X = 3, n_O = 5, n = 8
    # D_o = 2/8 = 1/4; D_e = 2 * 3 * 5 / (8 * 7) = 15/28; alpha = 1 - (1/4) / (15/28) = 8/15
    rows = [(1, "A", [(0, 3, "X")]), (1, "B", [(2, 3, "X")])]
    out = span_agreement(table(rows, text={"1": "a b c d"}))
    assert out["token_alpha"] == pytest.approx(8 / 15, abs=1e-12)


def test_token_alpha_on_characters_without_text():
    # no text: units are the characters covered by any span, 0, 1, 2.
    # A: X X X, B: O O X. o_XO = o_OX = 2, o_XX = 2; n_X = 4, n_O = 2, n = 6
    # D_o = 4/6 = 2/3; D_e = 2 * 4 * 2 / (6 * 5) = 8/15; alpha = 1 - (2/3) / (8/15) = -1/4
    rows = [(1, "A", [(0, 3, "X")]), (1, "B", [(2, 3, "X")])]
    assert span_agreement(table(rows))["token_alpha"] == pytest.approx(-1 / 4, abs=1e-12)


def test_token_alpha_with_given_tokens():
    # tokens {0-2, 2-4}: A's 0-3 X overlaps both (2 and 1 chars) -> X X; B's 2-3 X -> O X.
    # o_XO = o_OX = 1, o_XX = 2; n_X = 3, n_O = 1, n = 4
    # D_o = 2/4; D_e = 2 * 3 * 1 / (4 * 3) = 1/2 -> alpha = 0
    rows = [(1, "A", [(0, 3, "X")]), (1, "B", [(2, 3, "X")])]
    given_tokens = {"1": [(0, 2), {"start": 2, "end": 4}]}
    out = span_agreement(table(rows, text={"1": "a b c d"}), tokens=given_tokens)
    assert out["token_alpha"] == pytest.approx(0.0, abs=1e-12)
    as_function = span_agreement(
        table(rows, text={"1": "a b c d"}), tokens=lambda text: [(0, 2), (2, 4)]
    )
    assert as_function["token_alpha"] == pytest.approx(0.0, abs=1e-12)


def test_token_labels_largest_overlap_then_earliest_span():
    spans = [Span(0, 3, "A"), Span(2, 6, "B"), Span(8, 9, "C")]
    ranges = np.array([[0, 1], [2, 5], [2, 3], [6, 8], [8, 10]])
    # 0-1: only A. 2-5: A covers 1 char, B 3 -> B. 2-3: tie 1 vs 1 -> earliest span A.
    # 6-8: nothing. 8-10: C.
    assert token_labels(spans, ranges) == ["A", "B", "A", None, "C"]


def test_a_label_called_o_is_not_outside():
    # A marks token "a" with the user label "O", B marks nothing: they disagree on "a".
    # tokens a (O-label, outside), b (outside, outside): o_{O,out} = o_{out,O} = 1, o_out,out = 2
    # n_O = 1, n_out = 3, n = 4: D_o = 2/4, D_e = 2 * 3 / 12 = 1/2 -> alpha = 0
    rows = [(1, "A", [(0, 1, "O")]), (1, "B", [])]
    out = span_agreement(table(rows, text={"1": "a b"}))
    assert out["token_alpha"] == pytest.approx(0.0, abs=1e-12)


# ---------------------------------------------------------------- token alpha vs krippendorff

WORDS = ["the", "cat", "sat", "on", "a", "mat", "in", "Paris", "with", "Ada"]


def random_corpus(rng, n_items=25, annotators=("A", "B", "C"), labels=("PER", "LOC")):
    rows, texts, truth = [], {}, {}
    for i in range(n_items):
        words = list(rng.choice(WORDS, size=int(rng.integers(3, 9))))
        text = " ".join(words)
        starts = np.cumsum([0] + [len(w) + 1 for w in words[:-1]])
        texts[str(i)] = text
        for a in annotators:
            if rng.random() < 0.2:
                continue
            spans, per_token = [], []
            for w, s in zip(words, starts):
                lab = labels[int(rng.integers(len(labels)))] if rng.random() < 0.4 else None
                per_token.append(lab)
                if lab is not None:
                    spans.append((int(s), int(s) + len(w), lab))
            rows.append((str(i), a, spans))
            truth[(str(i), a)] = per_token
    return rows, texts, truth


@pytest.mark.parametrize("seed", range(5))
def test_token_alpha_matches_krippendorff_package(seed):
    rng = np.random.default_rng(seed)
    annotators = ("A", "B", "C")
    rows, texts, truth = random_corpus(rng, annotators=annotators)
    codes = {None: 0, "PER": 1, "LOC": 2}
    # reliability data: annotators x (item, token) units, NaN where an annotator skipped the item
    columns = []
    for item in sorted(texts, key=int):
        n_tokens = len(texts[item].split())
        for t in range(n_tokens):
            columns.append(
                [codes[truth[(item, a)][t]] if (item, a) in truth else np.nan for a in annotators]
            )
    data = np.array(columns, dtype=float).T
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    out = span_agreement(table(rows, text=texts))
    assert out["token_alpha"] == pytest.approx(expected, abs=1e-12)


# ---------------------------------------------------------------- properties

span_st = st.builds(
    lambda s, n, lab: (s, s + n, lab),
    st.integers(0, 30),
    st.integers(0, 8),
    st.sampled_from(["X", "Y", "L10", "L2"]),
)
annotation_st = st.lists(span_st, max_size=5)
rows_st = st.lists(
    st.tuples(st.integers(0, 4), st.sampled_from(["A", "B", "C"]), annotation_st),
    min_size=2,
    max_size=12,
    unique_by=lambda r: (r[0], r[1]),
)


def _same(x, y):
    if x is None or y is None:
        return x is y
    return x == pytest.approx(y, abs=1e-12)


@settings(max_examples=150, deadline=None)
@given(st.lists(span_st, max_size=7), st.lists(span_st, max_size=7))
def test_overlap_matches_equal_scipy_maximum_matching(a, b):
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_bipartite_matching

    a = [Span(*x) for x in a]
    b = [Span(*x) for x in b]
    counts = span_f1_counts(a, b)
    for label in {s.label for s in a} | {s.label for s in b}:
        la = sorted(s for s in a if s.label == label)
        lb = sorted(s for s in b if s.label == label)
        graph = np.array(
            [[max(x.start, y.start) < min(x.end, y.end) or x[:2] == y[:2] for y in lb] for x in la],
            dtype=float,
        ).reshape(len(la), len(lb))
        matching = maximum_bipartite_matching(csr_matrix(graph), perm_type="column")
        assert counts[label][1] == int((matching >= 0).sum())
        assert counts[label][2:] == (len(la), len(lb))


@settings(max_examples=60, deadline=None)
@given(rows_st)
def test_bounds_and_exact_below_overlap(rows):
    out = span_agreement(table(rows))
    assert list(out) == KEYS
    for row in out["pairwise"] + list(out["per_label"].values()) + [out]:
        if row["f1_exact"] is not None:
            assert 0.0 <= row["f1_exact"] <= row["f1_overlap"] <= 1.0
    if out["token_alpha"] is not None:
        assert out["token_alpha"] <= 1.0 + 1e-12
    assert json.loads(json.dumps(out)) == out


@settings(max_examples=60, deadline=None)
@given(rows_st, st.randoms(use_true_random=False))
def test_permutation_invariance(rows, rnd):
    base = span_agreement(table(rows))
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    rename = dict(zip("ABC", ["C", "A", "B"]))  # annotator names permuted
    moved = [(f"doc{i}", rename[a], spans) for i, a, spans in shuffled]
    other = span_agreement(table(moved))
    assert other["n_items"] == base["n_items"]
    for key in ("f1_exact", "f1_overlap", "token_alpha"):
        assert _same(other[key], base[key])
    assert other["per_label"].keys() == base["per_label"].keys()
    for label, row in base["per_label"].items():
        for key in ("f1_exact", "f1_overlap", "support"):
            assert _same(other["per_label"][label][key], row[key])
    by_pair = {frozenset((p["a"], p["b"])): p for p in other["pairwise"]}
    for p in base["pairwise"]:
        q = by_pair[frozenset((rename[p["a"]], rename[p["b"]]))]
        assert q["n_items"] == p["n_items"]
        assert _same(q["f1_exact"], p["f1_exact"]) and _same(q["f1_overlap"], p["f1_overlap"])


@settings(max_examples=60, deadline=None)
@given(st.lists(annotation_st.filter(bool), min_size=1, max_size=4), st.integers(2, 3))
def test_identical_annotations_give_one(annotations, n_annotators):
    rows = [(i, f"c{a}", spans) for i, spans in enumerate(annotations) for a in range(n_annotators)]
    text = {str(i): "w " * 25 for i in range(len(annotations))}  # tokens at even offsets 0..48
    out = span_agreement(table(rows, text=text))
    assert out["f1_exact"] == 1.0 and out["f1_overlap"] == 1.0
    assert all(p["f1_exact"] == 1.0 for p in out["pairwise"])
    # token alpha is 1 whenever tokens carry two different values (else undefined)
    assert out["token_alpha"] in (1.0, None)
    assert span_agreement(table(rows))["token_alpha"] in (1.0, None)


def test_identical_annotations_token_alpha_is_exactly_one():
    rows = [(1, a, [(0, 3, "X"), (8, 9, "Y")]) for a in "ABC"]
    assert span_agreement(table(rows, text={"1": "abc def ghi"}))["token_alpha"] == 1.0


# ---------------------------------------------------------------- edges and errors


def test_no_shared_items_keeps_every_key():
    out = span_agreement(table([(1, "A", [(0, 2, "X")]), (2, "B", [(0, 2, "L2")])]))
    assert out == {
        "n_items": 0,
        "f1_exact": None,
        "f1_overlap": None,
        "token_alpha": None,
        "pairwise": [],
        "per_label": {
            "L2": {"f1_exact": None, "f1_overlap": None, "support": 0},
            "X": {"f1_exact": None, "f1_overlap": None, "support": 0},
        },
    }


def test_labels_sorted_naturally_and_later_record_replaces_earlier():
    rows = [(1, "A", [(0, 2, "L10"), (3, 4, "L2")]), (1, "B", [(0, 2, "L10"), (3, 4, "L2")])]
    out = span_agreement(table(rows))
    assert list(out["per_label"]) == ["L2", "L10"]
    # an earlier, different judgement by B on item 1 is replaced by the later one
    assert span_agreement(table([(1, "B", [(7, 9, "L2")])] + rows)) == out


def test_both_annotators_marking_nothing_is_undefined_not_perfect():
    out = span_agreement(table([(1, "A", []), (1, "B", [])], text={"1": "a b"}))
    assert out["n_items"] == 1
    assert out["pairwise"][0]["f1_exact"] is None and out["f1_overlap"] is None
    assert out["token_alpha"] is None  # every token is outside: D_e = 0


def test_bad_spans_are_reported_together():
    records = [
        Annotation("1", "A", (Span(5, 2, "X"),), kind="spans"),
        Annotation("1", "B", (Span(0, 2, "X"),), kind="spans"),
        Annotation("2", "A", "PER", kind="choice"),
    ]
    with pytest.raises(InputError) as err:
        span_agreement(AnnotationTable.from_records(records))
    message = str(err.value)
    assert "2 value(s)" in message and "(5, 2, 'X')" in message and "record 2" in message


def test_conflicting_texts_are_an_error():
    t = AnnotationTable.from_records(
        [
            Annotation("7", "A", (), kind="spans", text="one text"),
            Annotation("7", "B", (), kind="spans", text="another text"),
        ]
    )
    with pytest.raises(InputError, match="'7'"):
        span_agreement(t)


def test_several_controls_must_be_narrowed_down():
    t = AnnotationTable.from_records(
        list(table(EXAMPLE, control="ner")) + list(table(EXAMPLE, control="sections"))
    )
    with pytest.raises(AqtError, match="--control"):
        span_agreement(t)
    assert span_agreement(t.select_control("ner")) == span_agreement(table(EXAMPLE))


def test_docstring_examples_hold():
    import doctest

    import aqt.agreement.spans as module

    result = doctest.testmod(module)
    assert result.attempted >= 4 and result.failed == 0
