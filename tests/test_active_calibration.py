"""Recalibration on a random share lowers the calibration error of a model trained on actively
selected data (real snippets, fixed seed); ECE and the recalibrator on hand-checked values."""

from __future__ import annotations

import numpy as np
import pytest
from aqt.active.models import SklearnTextModel
from aqt.active.recalibration import Recalibrator, expected_calibration_error, fit_recalibrator
from aqt.active.strategies import score_margin, select_top
from test_active_helpers import reviews


def test_ece_hand_computed() -> None:
    proba = np.array([[0.9, 0.1], [0.9, 0.1], [0.6, 0.4], [0.4, 0.6]])
    y = np.array([0, 1, 0, 1])
    # bins: conf 0.9 (2 items, accuracy 0.5) and conf 0.6 (2 items, accuracy 1.0)
    expected = 0.5 * abs(0.5 - 0.9) + 0.5 * abs(1.0 - 0.6)
    assert expected_calibration_error(proba, y) == pytest.approx(expected)


def test_recalibrator_identity_with_too_few_items_and_shapes() -> None:
    r = fit_recalibrator(np.array([[0.7, 0.3]] * 5), np.zeros(5, dtype=int))
    assert r.method == "identity" and r.n_fit == 5
    p = np.array([[0.8, 0.2], [0.3, 0.7]])
    np.testing.assert_allclose(Recalibrator().transform(p), p)
    t = Recalibrator(a=0.5, b=0.0, method="platt").transform(p)
    np.testing.assert_allclose(t.sum(axis=1), 1.0)
    assert t[0, 0] < 0.8 and t[0, 0] > 0.5  # a < 1 softens


def test_temperature_scaling_multiclass_recovers_known_temperature() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3000, 3)) * 2
    true_p = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = np.array([rng.choice(3, p=p) for p in true_p])
    overconfident = np.exp(3 * logits) / np.exp(3 * logits).sum(axis=1, keepdims=True)
    r = fit_recalibrator(overconfident, y)
    assert r.method == "temperature"
    assert r.a == pytest.approx(1 / 3, rel=0.1)


def test_recalibration_lowers_ece_of_actively_trained_model() -> None:
    df = reviews(2400, seed=1)
    texts, y = df["text"].tolist(), df["label"].to_numpy(dtype=object)
    pool, calib, test = np.arange(0, 1600), np.arange(1600, 1800), np.arange(1800, 2400)
    base = SklearnTextModel().fit_vectorizer([texts[i] for i in pool])
    X = base.vectorize(texts)
    rng = np.random.default_rng(0)
    labelled = list(rng.choice(pool, 20, replace=False))
    model = None
    while len(labelled) < 500:
        model = SklearnTextModel().fit_vectors(X[labelled], y[labelled])
        rest = np.setdiff1d(pool, labelled)
        proba = model.predict_proba_vectors(X[rest])
        labelled += rest[select_top(score_margin(proba), 40)].tolist()
    model = SklearnTextModel().fit_vectors(X[labelled], y[labelled])
    cls = list(model.classes_)
    y_idx = np.array([cls.index(v) for v in y])
    p_test = model.predict_proba_vectors(X[test])
    before = expected_calibration_error(p_test, y_idx[test])
    rec = fit_recalibrator(model.predict_proba_vectors(X[calib]), y_idx[calib])
    after = expected_calibration_error(rec.transform(p_test), y_idx[test])
    assert rec.method == "platt" and rec.n_fit == 200
    assert after < before
    # accuracy is unchanged for a monotone binary recalibration with a small bias
    assert (
        np.mean(rec.transform(p_test).argmax(1) == y_idx[test])
        >= np.mean(p_test.argmax(1) == y_idx[test]) - 0.03
    )
