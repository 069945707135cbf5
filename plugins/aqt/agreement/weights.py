"""Agreement weights (Gwet) and Krippendorff's difference functions (levels of measurement).

Weights apply to every coefficient except Krippendorff's alpha; they are computed on the 1-based
ranks ``1..q`` of the ordered category domain, as R's ``irr`` and scikit-learn do (for equally
spaced numeric codes this equals Gwet's value-based weights). Alpha's squared difference
``delta^2`` comes from the level of measurement.

References
----------
Gwet, K. L. (2014). *Handbook of Inter-Rater Reliability*, 4th ed., chapter 3 (weights).
Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability. UPenn ASC papers 43.
"""

from __future__ import annotations

import numpy as np

from aqt.errors import UsageError

__all__ = ["LEVELS", "WEIGHTS", "check_level", "check_weights", "delta2", "weight_matrix"]

WEIGHTS = ("identity", "linear", "quadratic", "ordinal", "radical", "ratio", "circular", "bipolar")
LEVELS = ("nominal", "ordinal", "interval", "ratio")


def check_level(level: str) -> str:
    if level not in LEVELS:
        raise UsageError(
            f"Unknown level of measurement {level!r}.", fix=f"Use one of {', '.join(LEVELS)}."
        )
    return level


def check_weights(weights: str) -> str:
    if weights not in WEIGHTS:
        raise UsageError(f"Unknown weights {weights!r}.", fix=f"Use one of {', '.join(WEIGHTS)}.")
    return weights


def _normalise(dis: np.ndarray) -> np.ndarray:
    top = dis.max() if dis.size else 0.0
    if top <= 0:
        return np.eye(len(dis))
    return 1.0 - dis / top


def weight_matrix(name: str, q: int) -> np.ndarray:
    """Gwet's agreement weights ``w_kl`` (``q x q``, 1 on the diagonal) on ranks ``1..q``.

    Parameters
    ----------
    name : one of :data:`WEIGHTS`
    q : number of categories in the domain

    Examples
    --------
    >>> weight_matrix("linear", 3).tolist()
    [[1.0, 0.5, 0.0], [0.5, 1.0, 0.5], [0.0, 0.5, 1.0]]
    """
    check_weights(name)
    if name == "identity" or q < 2:
        return np.eye(q)
    x = np.arange(1, q + 1, dtype=np.float64)
    k, el = x[:, None], x[None, :]
    span = float(q - 1)  # max - min of the ranks
    if name == "linear":
        return 1.0 - np.abs(k - el) / span
    if name == "quadratic":
        return 1.0 - (k - el) ** 2 / span**2
    if name == "radical":
        return 1.0 - np.sqrt(np.abs(k - el)) / np.sqrt(span)
    if name == "ratio":
        return 1.0 - ((k - el) / (k + el)) ** 2 / (span / (q + 1.0)) ** 2
    if name == "ordinal":
        nkl = np.abs(k - el) + 1.0
        return _normalise(nkl * (nkl - 1.0) / 2.0)
    if name == "circular":
        return _normalise(np.sin(np.pi * (k - el) / q) ** 2)
    # bipolar
    with np.errstate(divide="ignore", invalid="ignore"):
        dis = (k - el) ** 2 / ((k + el - 2.0) * (2.0 * q - k - el))
    dis[np.eye(q, dtype=bool)] = 0.0
    dis = np.where(np.isfinite(dis), dis, 0.0)
    return _normalise(dis)


def delta2(level: str, n_k: np.ndarray, values: np.ndarray | None = None) -> np.ndarray:
    """Krippendorff's squared difference ``delta^2_kl`` for a level of measurement.

    Parameters
    ----------
    level : one of :data:`LEVELS`
    n_k : (q,) coincidence marginals (used by the ordinal metric)
    values : (q,) numeric values of the categories (interval and ratio)
    """
    check_level(level)
    q = len(n_k)
    if level == "nominal":
        return 1.0 - np.eye(q)
    if level == "ordinal":
        n_k = np.asarray(n_k, dtype=np.float64)
        cs = np.cumsum(n_k)
        lo = np.minimum.outer(np.arange(q), np.arange(q))
        hi = np.maximum.outer(np.arange(q), np.arange(q))
        between = cs[hi] - cs[lo] + n_k[lo]  # sum_{g=k}^{l} n_g
        return (between - (n_k[:, None] + n_k[None, :]) / 2.0) ** 2
    v = np.asarray(values, dtype=np.float64)
    diff = v[:, None] - v[None, :]
    if level == "interval":
        return diff**2
    total = v[:, None] + v[None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        out = (diff / total) ** 2
    return np.where(total == 0, 0.0, out)
