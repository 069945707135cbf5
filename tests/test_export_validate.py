"""Unit tests and properties of the dataset checks and the split maker."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from aqt.edgecases import SourceItem, catalogue_from_dict
from aqt.errors import UsageError
from aqt.validate import (
    contrast_pairs,
    find_class_imbalance,
    find_edge_case_gaps,
    find_leakage,
    find_low_agreement,
    find_missing_adversarial,
    find_split_problems,
    make_splits,
    parse_ratios,
)
from aqt.validate._dups import connected_groups, duplicate_pairs
from hypothesis import given, settings
from hypothesis import strategies as st


def severities(findings, check=None):
    return [f.severity for f in findings if check is None or f.check == check]


@settings(max_examples=40, deadline=None)
@given(
    labels=st.lists(st.sampled_from(["a", "b", "c"]), min_size=3, max_size=80),
    n_groups=st.integers(1, 30),
    seed=st.integers(0, 5),
)
def test_make_splits_never_splits_a_group_and_assigns_every_item(labels, n_groups, seed):
    ids = [f"i{n}" for n in range(len(labels))]
    groups = [f"g{n % n_groups}" for n in range(len(labels))]
    plan = make_splits(ids, labels, groups=groups, seed=seed)
    assert set(plan.assignment) == set(ids)
    seen: dict = {}
    for i, g in zip(ids, groups):
        seen.setdefault(g, set()).add(plan.assignment[i])
    assert all(len(s) == 1 for s in seen.values())
    assert plan == make_splits(ids, labels, groups=groups, seed=seed)
    assert sum(sum(c.values()) for c in plan.counts.values()) == len(ids)


def test_make_splits_is_stratified_and_respects_ratios():
    rng = np.random.default_rng(0)
    labels = list(rng.choice(["x", "y", "z"], size=3000, p=[0.6, 0.3, 0.1]))
    ids = [str(n) for n in range(3000)]
    groups = [f"doc{n // 4}" for n in range(3000)]
    plan = make_splits(ids, labels, ratios=(0.7, 0.15, 0.15), groups=groups)
    splits = [plan.assignment[i] for i in ids]
    sizes = Counter(splits)
    assert abs(sizes["train"] / 3000 - 0.7) < 0.01 and abs(sizes["test"] / 3000 - 0.15) < 0.01
    assert severities(find_split_problems(ids, labels, splits, groups=groups, tolerance=0.02)) == [
        "info"
    ]
    two = make_splits(ids, labels, ratios="0.9,0.1")
    assert set(two.assignment.values()) == {"train", "dev"}


def test_make_splits_keeps_duplicates_together():
    texts = ["A wonderful, moving film about two brothers."] * 3 + [
        f"review {n} " * 5 for n in range(40)
    ]
    ids = [str(n) for n in range(len(texts))]
    labels = ["p"] * len(texts)
    plan = make_splits(ids, labels, texts=texts, ratios=(0.34, 0.33, 0.33))
    assert len({plan.assignment[i] for i in ids[:3]}) == 1
    splits = [plan.assignment[i] for i in ids]
    assert severities(find_leakage(ids, texts, splits)) == ["info"]


@pytest.mark.parametrize("bad", ["0.8,0.1", "0.5,0.5,0.5,-0.5", "a,b", "1.2,-0.2"])
def test_parse_ratios_rejects_bad_splits(bad):
    with pytest.raises(UsageError, match="--split"):
        parse_ratios(bad)


def test_leakage_exact_and_near_across_splits_only():
    texts = [
        "The plot is thin but the performances carry the whole film.",
        "The plot is thin but the performances carry the whole film.",
        "The plot is thin but the performances carry the whole picture.",
        "Something else entirely, about a heist in Lisbon.",
    ]
    ids = ["a", "b", "c", "d"]
    found = find_leakage(ids, texts, ["train", "test", "dev", "train"])
    assert severities(found) == ["error", "error"]
    assert set(found[0].items) == {"a", "b"} and "exact" in found[0].message
    assert "c" in found[1].items and "near" in found[1].message
    assert severities(find_leakage(ids, texts, ["train"] * 4)) == ["info"]


def test_duplicate_pairs_and_groups():
    pairs = duplicate_pairs(
        ["x y z w v u", "x y z w v u", "", "", "completely different words here"]
    )
    assert (0, 1, "exact", 1.0) in pairs and (2, 3, "exact", 1.0) in pairs
    groups = connected_groups(5, [(0, 1)], labels=[None, "", "d", "d", None])
    assert groups.tolist() == [0, 0, 2, 2, 4]


def test_class_balance_against_a_target_and_without_one():
    labels = {str(n): "pos" if n < 80 else "neg" for n in range(100)}
    errs = find_class_imbalance(labels, target={"pos": 1, "neg": 1})
    assert severities(errs) == ["error", "error", "info"]
    assert severities(find_class_imbalance(labels, target={"pos": 0.75, "neg": 0.25})) == ["info"]
    assert severities(find_class_imbalance(labels, production=["pos"] * 7 + ["neg"] * 3)) == [
        "info"
    ]
    extra = find_class_imbalance(labels, target={"pos": 0.8, "neg": 0.2, "neu": 0.0})
    assert severities(extra) == ["info"]
    missing = find_class_imbalance(labels, target={"pos": 0.7, "neg": 0.2, "neu": 0.1})
    assert "error" not in severities(missing)
    rare = find_class_imbalance({**labels, "x": "neu"})
    assert severities(rare) == ["warning", "info"]
    with pytest.raises(UsageError):
        find_class_imbalance(labels, target={"pos": -1, "neg": 0})


def report(value, ci=None, reason=None):
    return {
        "n_items": 50,
        "metrics": {"krippendorff_alpha": {"value": value, "ci95": ci, "reason": reason}},
        "disagreements": [{"item": "7"}, {"item": "3"}],
    }


@pytest.mark.parametrize(
    "rep, severity",
    [
        (report(0.5), "error"),
        (report(0.7), "warning"),
        (report(0.85, [0.6, 0.9]), "warning"),
        (report(0.85, [0.81, 0.9]), "info"),
        (report(None, reason="one annotator"), "warning"),
    ],
)
def test_final_iaa_bands(rep, severity):
    (f,) = find_low_agreement(rep)
    assert f.severity == severity
    if severity == "error":
        assert f.items == ("3", "7")


def test_edge_case_coverage_counts_and_label_mismatch():
    cat = catalogue_from_dict(
        {
            "case": [
                {
                    "id": "irony",
                    "description": "Ironic praise.",
                    "expected": "neg",
                    "rule": {"keywords": ["oh great"]},
                },
                {
                    "id": "short",
                    "description": "One word.",
                    "expected": "neu",
                    "rule": {"max_length": 4},
                },
            ]
        }
    )
    items = [
        SourceItem("1", "Oh great, another sequel."),
        SourceItem("2", "oh great. just great"),
        SourceItem("3", "meh"),
        SourceItem("4", "A long and careful review."),
    ]
    found = find_edge_case_gaps(cat, items, {"1": "neg", "2": "pos", "3": "neu", "4": "pos"}, k=2)
    errors = [f for f in found if f.severity == "error"]
    assert [f.items for f in errors] == [("3",)] and "'short'" in errors[0].message
    warnings = [f for f in found if f.severity == "warning"]
    assert [f.items for f in warnings] == [("2",)]
    assert severities(find_edge_case_gaps(cat, items, k=1)) == ["info"]


def test_contrast_pairs_make_the_adversarial_check_pass():
    texts = [
        "One of the best movies of the year.",
        "One of the worst movies of the year.",
        "A quiet drama.",
        "Loud and silly.",
    ]
    ids = ["a", "b", "c", "d"]
    labels = ["pos", "neg", "pos", "neg"]
    assert [(a, b) for a, b, _ in contrast_pairs(ids, texts, labels)] == [("a", "b")]
    assert severities(find_missing_adversarial(ids, texts, labels, min_share=0.5)) == ["info"]
    same = ["pos", "pos", "pos", "neg"]
    assert severities(find_missing_adversarial(ids, texts, same, min_share=0.5)) == ["error"]
    preds = {"c": "neg", "d": "neg"}
    found = find_missing_adversarial(ids, texts, same, predictions=preds, min_share=0.25)
    assert severities(found) == ["info", "info"] and "pos -> neg: 1" in found[0].message


def test_heavy_dependencies_are_imported_lazily():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import aqt.export, aqt.coverage, aqt.validate, aqt.aggregate, aqt.cli.export, "
        "aqt.cli.coverage\n"
        "print(sorted(m for m in ('sklearn', 'spacy', 'scipy', 'pandas', 'prodigy') "
        "if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
