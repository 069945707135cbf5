"""95% intervals by a seeded bootstrap over items (percentile method).

Items are resampled with replacement (Efron's unit-level bootstrap, as recommended by Gwet 2015
and Zapf et al. 2016 over the Hayes-Krippendorff pair bootstrap); every coefficient is recomputed
from the resample's sufficient statistics. Items with identical rows are interchangeable, so a
resample is drawn as multinomial counts over the distinct rows (``Multinomial(N, w / N)``, the
same distribution as drawing ``N`` items) and the statistics are weighted sums over those rows.
The resamples come from one ``numpy.random.Generator(seed)``: intervals are identical across runs.
"""

from __future__ import annotations

import numpy as np

from aqt.agreement.coefficients import COEFFICIENTS, compute_coefficients
from aqt.agreement.stats import compress, stats_from_patterns
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
    pat, w, _ = compress(np.asarray(X), q)
    draws_w = rng.multinomial(N, w / w.sum(), size=int(n))
    for wb in draws_w:
        keep = wb > 0
        st, _ = stats_from_patterns(pat[keep], wb[keep].astype(np.int64), q)
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
