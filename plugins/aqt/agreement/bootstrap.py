"""95% intervals by a seeded bootstrap over items (percentile method).

Items are resampled with replacement (Efron's unit-level bootstrap, as recommended by Gwet 2015
and Zapf et al. 2016 over the Hayes-Krippendorff pair bootstrap); every coefficient is recomputed
from the resample's sufficient statistics. The resamples are drawn from one
``numpy.random.Generator(seed)``, so intervals are identical across runs.
"""

from __future__ import annotations

import numpy as np

from aqt.agreement.coefficients import COEFFICIENTS, compute_coefficients
from aqt.agreement.stats import stats_from_codes
from aqt.agreement.weights import weight_matrix

__all__ = ["bootstrap_ci"]


def bootstrap_ci(
    X: np.ndarray,
    q: int,
    *,
    level: str = "nominal",
    weights: str = "identity",
    values: np.ndarray | None = None,
    n: int = 1000,
    seed: int = 0,
) -> dict[str, list[float] | None]:
    """Percentile 95% interval ``[lo, hi]`` per coefficient (None when undefined in most resamples).

    Parameters
    ----------
    X : (n_items, n_annotators) codes, ``-1`` missing
    q : number of categories
    n : number of resamples
    seed : seed of the generator
    """
    rng = np.random.default_rng(seed)
    W = weight_matrix(weights, q)
    N = len(X)
    draws: dict[str, list[float]] = {name: [] for name in COEFFICIENTS}
    if N == 0:
        return {name: None for name in COEFFICIENTS}
    for _ in range(int(n)):
        idx = rng.integers(0, N, N)
        st, _ = stats_from_codes(X[idx], q, need_used=False)
        res = compute_coefficients(st, W, level=level, values=values)
        for name, (value, _reason) in res.items():
            if value is not None:
                draws[name].append(value)
    out: dict[str, list[float] | None] = {}
    for name in COEFFICIENTS:
        vals = np.array(draws[name])
        if vals.size < max(2, n // 2):
            out[name] = None
        else:
            lo, hi = np.quantile(vals, [0.025, 0.975])
            out[name] = [float(lo), float(hi)]
    return out
