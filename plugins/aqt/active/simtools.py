"""Model helpers of the active-learning simulation: test accuracy, out-of-fold recalibration on the
exploration items, the dense projection for k-means, and query-by-committee scores."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from aqt.active.models import SklearnTextModel
from aqt.active.recalibration import Recalibrator, fit_recalibrator
from aqt.active.strategies import score_committee

__all__ = ["accuracy", "committee_scores", "dense_projection", "oof_recalibrator"]


def accuracy(model: SklearnTextModel, X_test: Any, y_test: np.ndarray) -> float:
    proba = model.predict_proba_vectors(X_test)
    return float(np.mean(model.classes_[proba.argmax(axis=1)] == y_test))


def oof_recalibrator(
    model_factory: Callable[[], SklearnTextModel],
    X: Any,
    y: np.ndarray,
    train_rows: np.ndarray,
    explore_rows: np.ndarray,
    classes: np.ndarray,
    folds: int = 5,
) -> Recalibrator:
    """Platt/temperature scaling fitted on out-of-fold predictions for the exploration items."""
    explore_rows = np.asarray(explore_rows, dtype=int)
    if len(explore_rows) < 20:
        return Recalibrator(n_fit=len(explore_rows))
    fold = np.arange(len(explore_rows)) % folds
    proba = np.zeros((len(explore_rows), len(classes)))
    for f in range(folds):
        held = explore_rows[fold == f]
        rest = np.setdiff1d(train_rows, held)
        m = model_factory().fit_vectors(X[rest], y[rest])
        p = m.predict_proba_vectors(X[held])
        cols = [list(m.classes_).index(c) if c in m.classes_ else None for c in classes]
        proba[fold == f] = np.column_stack(
            [p[:, c] if c is not None else np.zeros(len(held)) for c in cols]
        )
    y_idx = np.array([list(classes).index(v) for v in y[explore_rows]])
    return fit_recalibrator(proba, y_idx)


def dense_projection(X: Any, dims: int = 64) -> np.ndarray:
    """Row-normalised truncated SVD of the pool vectors (seed 0), for k-means in diversity sampling
    and cold start: k-means on 64 dense dimensions instead of ~10**5 sparse ones."""
    from sklearn.decomposition import TruncatedSVD

    dims = max(1, min(dims, X.shape[1] - 1, X.shape[0] - 1))
    Z = TruncatedSVD(n_components=dims, n_iter=2, random_state=0).fit_transform(X)
    Z = np.asarray(Z, dtype=np.float64)
    return Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)


def committee_scores(
    model_factory: Callable[[], SklearnTextModel],
    X: Any,
    y: np.ndarray,
    junk: np.ndarray,
    sent: list[int],
    cand: np.ndarray,
    classes: np.ndarray,
    rng: np.random.Generator,
    members: int = 3,
) -> np.ndarray:
    """Query by committee: ``members`` models on bootstrap resamples of the labelled items."""
    lab = np.asarray([i for i in sent if not junk[i]], dtype=int)
    probas = []
    for _ in range(members):
        boot = lab[rng.integers(0, len(lab), size=len(lab))]
        if len(set(y[boot].tolist())) < len(classes):
            boot = lab
        m = model_factory().fit_vectors(X[boot], y[boot])
        probas.append(m.predict_proba_vectors(X[cand]))
    return score_committee(probas)
