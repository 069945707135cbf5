"""Scores and selection strategies on real Rotten Tomatoes snippets."""

from __future__ import annotations

import numpy as np
import pytest
from aqt.active.models import SklearnTextModel
from aqt.active.simulate import batch_schedule, labels_to_match
from aqt.active.strategies import (
    score_committee,
    score_entropy,
    score_least_confidence,
    score_margin,
    select_cold_start,
    select_diverse,
    select_random,
    select_top,
    uncertainty_scores,
)
from test_active_helpers import reviews

P = np.array([[0.9, 0.1], [0.5, 0.5], [0.7, 0.3], [0.2, 0.8]])


def test_scores_published_definitions() -> None:
    np.testing.assert_allclose(score_least_confidence(P), [0.1, 0.5, 0.3, 0.2])
    np.testing.assert_allclose(score_margin(P), [0.2, 1.0, 0.6, 0.4])
    np.testing.assert_allclose(score_entropy(P)[1], np.log(2))
    three = np.array([[1 / 3] * 3, [0.98, 0.01, 0.01]])
    assert score_entropy(three)[0] == pytest.approx(np.log(3))
    assert score_margin(three)[0] == pytest.approx(1.0)
    # binary: the three uncertainty scores rank items identically
    for f in (score_least_confidence, score_entropy):
        assert list(np.argsort(-f(P), kind="stable")) == list(
            np.argsort(-score_margin(P), kind="stable")
        )


def test_committee_scores_disagreement_above_agreement() -> None:
    agree = [np.array([[0.6, 0.4]]), np.array([[0.6, 0.4]])]
    disagree = [np.array([[0.95, 0.05]]), np.array([[0.25, 0.75]])]
    assert score_committee(disagree)[0] > score_committee(agree)[0]
    assert score_committee(agree)[0] == pytest.approx(score_entropy(np.array([[0.6, 0.4]]))[0])


def test_select_top_breaks_ties_by_index() -> None:
    assert select_top(np.array([0.5, 0.9, 0.9, 0.1]), 3).tolist() == [1, 2, 0]
    assert select_top(np.array([0.5]), 3).tolist() == [0]


@pytest.fixture(scope="module")
def trained():
    df = reviews(600)
    # trained on a random draw of 150: balanced weights keep it from predicting the majority only
    model = SklearnTextModel(class_weight="balanced").fit_vectorizer(df["text"].tolist())
    X = model.vectorize(df["text"].tolist())
    y = df["label"].to_numpy(dtype=object)
    model.fit_vectors(X[:150], y[:150])
    return model, X, y


def test_every_strategy_selects_valid_distinct_items(trained) -> None:
    model, X, _ = trained
    cand = np.arange(150, 600)
    proba = model.predict_proba_vectors(X[cand])
    rng = np.random.default_rng(0)
    dense = X[cand].toarray()
    batches = {
        "random": select_random(len(cand), 30, rng),
        "cold-start": select_cold_start(X[cand], 30, rng),
        "diverse": select_diverse(score_margin(proba), dense, 30, rng),
    }
    for name in ("least-confidence", "margin", "entropy"):
        batches[name] = select_top(uncertainty_scores(name, proba), 30)
    for name, picks in batches.items():
        assert len(picks) == 30, name
        assert len(set(picks.tolist())) == 30, name
        assert picks.min() >= 0 and picks.max() < len(cand), name


def test_diverse_takes_uncertain_items_from_distinct_clusters(trained) -> None:
    model, X, _ = trained
    cand = np.arange(150, 600)
    scores = score_margin(model.predict_proba_vectors(X[cand]))
    dense = X[cand].toarray()
    rng = np.random.default_rng(1)
    div = select_diverse(scores, dense, 20, rng, factor=5)
    top = set(select_top(scores, 100).tolist())
    assert set(div.tolist()) <= top  # only from the top factor * k
    # ten copies of one item, all with top scores: top-k takes every copy, diverse one or two
    copies = np.repeat(dense[:1], 10, axis=0)
    vectors = np.vstack([copies, dense])
    scores2 = np.concatenate([np.full(10, scores.max() + 0.01), scores])
    div2 = select_diverse(scores2, vectors, 20, np.random.default_rng(2))
    assert set(range(10)) <= set(select_top(scores2, 20).tolist())
    assert len(set(div2.tolist()) & set(range(10))) <= 2
    assert len(set(div2.tolist())) == 20


def test_uncertainty_picks_are_harder_than_random_picks(trained) -> None:
    """A property that holds by a wide margin: the model is wrong more often on the items margin
    sampling picks than on random ones (measured with the known labels)."""
    model, X, y = trained
    cand = np.arange(150, 600)
    proba = model.predict_proba_vectors(X[cand])
    wrong = model.classes_[proba.argmax(axis=1)] != y[cand]
    top = select_top(score_margin(proba), 60)
    assert wrong[top].mean() > wrong.mean() + 0.1


def test_cold_start_covers_clusters_better_than_chance(trained) -> None:
    _, X, _ = trained
    rng = np.random.default_rng(0)
    picks = select_cold_start(X, 20, rng)
    assert len(set(picks.tolist())) == 20


def test_schedule_and_labels_to_match() -> None:
    s = batch_schedule(4000)
    assert (
        s[:3] == [20, 40, 60]
        and 200 in s
        and 250 in s
        and 1000 in s
        and 1100 in s
        and s[-1] == 4000
    )
    assert s == sorted(set(s))
    assert labels_to_match([(100, 0.5), (200, 0.6), (300, 0.7)], 0.65) == pytest.approx(250)
    assert labels_to_match([(100, 0.5)], 0.9) is None
    assert labels_to_match([(100, 0.7)], 0.6) == 100
