"""Recalibrating model scores on a random exploration share, and expected calibration error.

Actively selected training data make a classifier overconfident (its training set is not drawn from
the pool's distribution). aqt therefore draws a share of every batch at random; scores are
recalibrated on those items only, with out-of-fold predictions so the recalibration never sees a
model's own training items. Binary problems use Platt scaling on the log-odds (Platt 1999);
multi-class ones temperature scaling (Guo et al. 2017, *On Calibration of Modern Neural Networks*).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Recalibrator", "expected_calibration_error", "fit_recalibrator"]


def expected_calibration_error(proba: np.ndarray, y_true: np.ndarray, n_bins: int = 15) -> float:
    """Expected calibration error of the top-class confidence (Guo et al. 2017, eq. 3).

    Parameters
    ----------
    proba : ndarray, shape (n, K)
    y_true : ndarray of int, shape (n,)
        Column index of the true class in ``proba``.
    n_bins : int
        Equal-width confidence bins on [0, 1].

    Returns
    -------
    float in [0, 1]; 0 is perfectly calibrated.

    >>> round(expected_calibration_error(np.array([[0.8, 0.2]] * 10), np.array([0] * 8 + [1] * 2)), 6)
    0.0
    """
    proba = np.asarray(proba, dtype=float)
    conf = proba.max(axis=1)
    correct = proba.argmax(axis=1) == np.asarray(y_true)
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in np.unique(bins):
        m = bins == b
        ece += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(ece)


def _logits(proba: np.ndarray) -> np.ndarray:
    return np.log(np.clip(proba, 1e-12, 1.0))


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class Recalibrator:
    """``p' = softmax(a * log p + b)`` per class column (b is 0 for temperature scaling)."""

    a: float = 1.0
    b: float = 0.0
    method: str = "identity"
    n_fit: int = 0

    def transform(self, proba: np.ndarray) -> np.ndarray:
        proba = np.asarray(proba, dtype=float)
        if self.method == "identity":
            return proba
        z = self.a * _logits(proba)
        if proba.shape[1] == 2:
            z[:, 1] += self.b
        return _softmax(z)

    def to_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "method": self.method, "n_fit": self.n_fit}


def _nll(a: float, b: float, logp: np.ndarray, y: np.ndarray) -> float:
    z = a * logp
    if logp.shape[1] == 2:
        z[:, 1] += b
    z = z - z.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=1))
    return float(-(z[np.arange(len(y)), y] - lse).mean())


def fit_recalibrator(proba: np.ndarray, y_true: np.ndarray, min_items: int = 20) -> Recalibrator:
    """Fit Platt (binary) or temperature (multi-class) scaling by minimising the log loss.

    ``proba`` must be held-out predictions (out-of-fold) on randomly drawn items. With fewer than
    ``min_items`` items the identity is returned. Nelder-Mead on (log a, b) from the identity.
    """
    proba = np.asarray(proba, dtype=float)
    y = np.asarray(y_true, dtype=int)
    if len(y) < min_items:
        return Recalibrator(n_fit=len(y))
    logp = _logits(proba)
    binary = proba.shape[1] == 2
    from scipy.optimize import minimize

    def objective(theta: np.ndarray) -> float:
        return _nll(float(np.exp(theta[0])), float(theta[1]) if binary else 0.0, logp, y)

    res = minimize(
        objective,
        x0=np.zeros(2 if binary else 1),
        method="Nelder-Mead",
        options={"xatol": 1e-4, "fatol": 1e-7, "maxiter": 400},
    )
    theta = res.x if res.fun <= objective(np.zeros_like(res.x)) else np.zeros_like(res.x)
    best = (float(res.fun), float(np.exp(theta[0])), float(theta[1]) if binary else 0.0)
    return Recalibrator(
        a=float(best[1]),
        b=float(best[2]),
        method="platt" if binary else "temperature",
        n_fit=len(y),
    )
