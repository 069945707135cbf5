"""Final labels: adjudicated > unanimous > aggregate; Dawid-Skene on real and simulated data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from aqt.adjudication import Decision
from aqt.aggregate import dawid_skene, final_labels, label_matrix, majority_vote
from aqt.errors import UsageError
from aqt.records import Annotation, AnnotationTable, Span

E2 = Path(__file__).parent / "fixtures" / "export" / "pyanno_e2_every8th.txt"


def e2_counts() -> np.ndarray:
    raw = np.loadtxt(E2, delimiter=",", usecols=range(8), comments="#").astype(int)
    counts = np.zeros((raw.shape[0], 8, 5))
    i, j = np.nonzero(raw > 0)
    counts[i, j, raw[i, j] - 1] = 1
    return counts


def simulate(n_items=3000, seed=1):
    """Five annotators with known confusion over three classes: two good, one biased towards
    class 0, one near-random, one good on class 2 only."""
    rng = np.random.default_rng(seed)
    K = 3
    prior = np.array([0.5, 0.3, 0.2])
    truth = rng.choice(K, size=n_items, p=prior)
    conf = np.array(
        [
            np.eye(K) * 0.9 + 0.05,
            np.eye(K) * 0.85 + 0.05,
            [[0.9, 0.05, 0.05], [0.6, 0.35, 0.05], [0.6, 0.05, 0.35]],
            np.full((K, K), 1 / 3),
            [[0.5, 0.4, 0.1], [0.4, 0.5, 0.1], [0.02, 0.02, 0.96]],
        ]
    )
    conf = conf / conf.sum(axis=2, keepdims=True)
    J = len(conf)
    counts = np.zeros((n_items, J, K))
    for j in range(J):
        cum = conf[j][truth].cumsum(axis=1)
        said = (rng.random(n_items)[:, None] > cum).sum(axis=1)
        counts[np.arange(n_items), j, said] = 1
    return truth, conf, prior, counts


def test_dawid_skene_recovers_known_confusion_and_beats_majority():
    truth, conf, prior, counts = simulate()
    r = dawid_skene(counts)
    assert r.converged
    assert np.abs(r.confusion - conf).max() < 0.06
    assert np.abs(r.priors - prior).max() < 0.03
    ds_acc = float(np.mean(r.labels == truth))
    mv, _, _ = majority_vote(counts)
    mv_acc = float(np.mean(mv == truth))
    assert ds_acc > mv_acc + 0.03
    assert ds_acc > 0.9
    # confidence is calibrated-ish: the posterior mode is right about as often as it claims
    assert abs(float(r.confidence.mean()) - ds_acc) < 0.03


def test_dawid_skene_em_is_monotone_and_normalised_on_real_curation_data():
    counts = e2_counts()
    assert counts.shape == (1941, 8, 5)
    assert (counts.sum(axis=(0, 2)) > 0).all()  # every annotator is in the extract
    assert (counts.sum(axis=(1, 2)) == 3).all()  # exactly three labels per item
    r = dawid_skene(counts, max_iter=200)
    ll = np.array(r.log_likelihood)
    assert (np.diff(ll) >= -1e-6 * np.abs(ll[:-1])).all()
    assert np.allclose(r.posterior.sum(axis=1), 1)
    assert np.allclose(r.confusion.sum(axis=2), 1)
    mv, _, tie = majority_vote(counts)
    strict = ~tie
    agree = float(np.mean(r.labels[strict] == mv[strict]))
    assert 0.85 < agree < 1.0  # mostly the majority, but it weighs annotators differently
    # annotators differ in reliability: the diagonal mass of their confusion matrices spreads
    diag = np.einsum("jkk,k->j", r.confusion, r.priors)
    assert diag.max() - diag.min() > 0.1


def test_dawid_skene_is_permutation_equivariant_and_seeded():
    counts = e2_counts()[:400]
    perm = np.random.default_rng(3).permutation(400)
    a = dawid_skene(counts)
    b = dawid_skene(counts[perm])
    assert np.allclose(a.posterior[perm], b.posterior, atol=1e-6)
    r1 = dawid_skene(counts, init="random", seed=5)
    r2 = dawid_skene(counts, init="random", seed=5)
    assert np.array_equal(r1.posterior, r2.posterior)
    with pytest.raises(UsageError):
        dawid_skene(counts, init="nope")


def table_from_counts(counts, texts=None) -> AnnotationTable:
    recs = []
    i, j, k = np.nonzero(counts)
    for a, b, c in zip(i, j, k):
        recs.append(
            Annotation(f"i{a}", f"ann{b}", f"c{c}", text=None if texts is None else texts[a])
        )
    return AnnotationTable.from_records(recs)


def test_final_labels_precedence_and_unresolved_listed():
    A = Annotation
    t = AnnotationTable.from_records(
        [
            A("1", "a", "pos"),
            A("1", "b", "neg"),  # adjudicated
            A("2", "a", "pos"),
            A("2", "b", "pos"),  # unanimous
            A("3", "a", "pos"),
            A("3", "b", "neg"),  # tie
            A("4", "a", "pos"),
            A("4", "b", "pos"),
            A("4", "c", "neg"),  # majority 2/3
            A("5", "a", "neg"),
            A("5", "b", "pos"),  # rejected by the adjudicator
            A("6", "c", "neg"),  # one annotator
        ]
    )
    decisions = [
        Decision("1", "choice", "neg", "sam", 1),
        Decision("5", "choice", "pos", "sam", 1),
        Decision("5", "choice", None, "sam", 2, outcome="reject", reason="not a review"),
    ]
    r = final_labels(t, decisions=decisions, method="majority", min_confidence=0.6)
    got = {f.item: (f.value, f.source) for f in r.labels}
    assert got == {
        "1": ("neg", "adjudicated"),
        "2": ("pos", "unanimous"),
        "4": ("pos", "majority"),
        "6": ("neg", "single"),
    }
    assert [(u.item, u.reason) for u in r.unresolved] == [("3", "tie"), ("5", "rejected")]
    strict = final_labels(t, decisions=decisions, method="majority", min_confidence=0.7)
    assert [u.item for u in strict.unresolved] == ["3", "4", "5"]
    assert strict.unresolved[1].reason == "low_confidence"
    d = r.to_dict()
    assert d["sources"] == {"adjudicated": 1, "majority": 1, "single": 1, "unanimous": 1}
    assert d["n_unresolved"] == 2


def test_final_labels_dawid_skene_on_a_table_matches_the_array_fit():
    truth, _, _, counts = simulate(n_items=600, seed=4)
    t = table_from_counts(counts)
    r = final_labels(t, method="dawid_skene", min_confidence=0.0)
    assert r.model is not None and r.model.converged
    _, anns, cats, _ = label_matrix(t)
    assert cats == ["c0", "c1", "c2"] and len(anns) == 5
    got = r.as_dict()
    truth_by_item = {f"i{i}": f"c{k}" for i, k in enumerate(truth)}
    acc = np.mean([got[i] == truth_by_item[i] for i in got])
    assert acc > 0.9
    assert {f.source for f in r.labels} <= {"unanimous", "dawid_skene"}
    high = final_labels(t, method="dawid_skene", min_confidence=0.99)
    assert len(high.unresolved) > 0
    assert all(u.reason == "low_confidence" for u in high.unresolved)


def test_final_labels_rejects_bad_options():
    t = AnnotationTable.from_records([Annotation("1", "a", "x")])
    with pytest.raises(UsageError, match="Use one of"):
        final_labels(t, method="mean")
    with pytest.raises(UsageError):
        final_labels(t, min_confidence=2)


def test_spans_use_exact_majority_not_dawid_skene():
    s1 = (Span(0, 3, "ORG"),)
    s2 = (Span(0, 4, "ORG"),)
    t = AnnotationTable.from_records(
        [Annotation("1", ann, v, kind="spans") for ann, v in (("a", s1), ("b", s1), ("c", s2))]
    )
    r = final_labels(t, method="dawid_skene", min_confidence=0.6)
    assert r.model is None
    assert [(f.value, f.source) for f in r.labels] == [(s1, "majority")]
