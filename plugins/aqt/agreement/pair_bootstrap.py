"""Hayes & Krippendorff's (2007) bootstrap of Krippendorff's alpha over pairs of values.

Hayes, A. F. and Krippendorff, K. (2007). Answering the call for a standard reliability measure
for coding data. *Communication Methods and Measures* 1(1): 77-89; the algorithm is Krippendorff's
"Algorithm for bootstrapping a distribution of alpha" (2006, revised 2011), as in the KALPHA macro.

Unlike :func:`aqt.agreement.bootstrap.bootstrap_ci` (items resampled), this resamples *pairs of
values*: each resample draws ``M = sum_u m_u (m_u - 1) / 2`` pairs (the number of pairs of values
within units, 239 in Hayes and Krippendorff's example) with replacement from the coincidence
matrix, cell ``(c, k)`` with probability ``p_ck = o_ck / n``, and keeps the expected disagreement
``D_e`` of the data fixed::

    alpha_b = 1 - (sum_{j=1}^{M} delta^2_j / M) / D_e

The distribution of ``alpha_b`` gives a percentile 95% interval and, for each smallest acceptable
alpha ``alpha_min``, ``q = P(alpha_b < alpha_min)``: the probability of failing to reach it.

Only the counts per distinct ``delta^2`` value matter, so a resample is one multinomial draw over
those values (two for nominal data): the cost does not depend on ``M`` or on the number of items.
Draws come from one ``numpy.random.Generator(seed)``; results are identical across runs. Gwet
(2015) points out that this bootstrap ignores the sampling of units and tends to give narrower
intervals than the item bootstrap or the analytic standard error
(:mod:`aqt.agreement.variance`); it is offered for comparability with KALPHA.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aqt.agreement.stats import coincidence, stats_from_codes
from aqt.agreement.weights import check_level, delta2
from aqt.errors import UsageError

__all__ = ["ALPHA_MIN", "PairBootstrap", "pair_bootstrap_alpha"]

#: the smallest acceptable alphas KALPHA reports ``q`` for
ALPHA_MIN = (0.9, 0.8, 0.7, 0.667, 0.6, 0.5)
#: resamples per multinomial call (bounds memory: chunk x distinct delta^2 values)
_CHUNK = 1 << 14


@dataclass(frozen=True)
class PairBootstrap:
    """The bootstrap distribution of alpha; :meth:`to_dict` leaves the draws out."""

    alpha: float | None
    ci95: tuple[float, float] | None
    q: tuple[tuple[float, float], ...]  # (alpha_min, P(alpha_b < alpha_min)), alpha_min descending
    n_resamples: int
    n_pairs: int
    n_values: int
    seed: int
    reason: str | None = None
    draws: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "alpha": self.alpha,
            "ci95": list(self.ci95) if self.ci95 is not None else None,
            "q": [{"alpha_min": a, "q": p} for a, p in self.q],
            "n_resamples": self.n_resamples,
            "n_pairs": self.n_pairs,
            "n_values": self.n_values,
            "seed": self.seed,
            "method": "pairs",
            "reason": self.reason,
        }


def _check(n: int, alpha_min: tuple[float, ...]) -> None:
    if int(n) < 1:
        raise UsageError(
            f"The pair bootstrap needs at least one resample (got {n}).",
            fix="Pass a positive number of resamples, e.g. 1000.",
        )
    bad = [a for a in alpha_min if not -1.0 <= a <= 1.0]
    if bad:
        raise UsageError(
            f"alpha_min values must lie in [-1, 1] (got {bad}).",
            fix="Pass smallest acceptable alphas such as 0.8 or 0.667.",
        )


def pair_bootstrap_alpha(
    X: np.ndarray,
    q: int,
    *,
    level: str = "nominal",
    values: np.ndarray | None = None,
    n: int = 1000,
    seed: int = 0,
    alpha_min: tuple[float, ...] = ALPHA_MIN,
) -> PairBootstrap:
    """Bootstrap distribution of Krippendorff's alpha over pairs of values (Hayes & Krippendorff).

    Parameters
    ----------
    X : (n_items, n_annotators) codes, ``-1`` missing
    q : number of categories
    level : level of measurement (``delta^2``)
    values : (q,) numeric category values (interval and ratio levels)
    n : number of resamples
    seed : seed of the generator
    alpha_min : smallest acceptable alphas to report ``q = P(alpha_b < alpha_min)`` for

    Returns
    -------
    PairBootstrap
        ``alpha`` is the data's alpha; ``ci95`` the 2.5% and 97.5% percentiles of the draws; ``q``
        sorted by ``alpha_min``, largest first. When alpha is undefined everything but the counts
        is None and ``reason`` says why.

    Examples
    --------
    >>> X = np.array([[0, 0], [1, 1], [0, 1], [1, 1], [0, 0], [2, 2], [2, 1], [0, 0]])
    >>> b = pair_bootstrap_alpha(X, 3, n=2000, seed=1)
    >>> b.n_pairs, round(b.alpha, 4), b.ci95[0] < b.alpha < b.ci95[1]
    (8, 0.6296, True)
    """
    check_level(level)
    alpha_min = tuple(sorted({float(a) for a in alpha_min}, reverse=True))
    _check(n, alpha_min)
    X = np.asarray(X)
    m_u = (X >= 0).sum(1) if X.ndim == 2 else np.zeros(0, np.int64)
    m_u = m_u[m_u >= 2]
    n_pairs = int((m_u * (m_u - 1) // 2).sum())
    n_values = int(m_u.sum())

    def undefined(reason: str) -> PairBootstrap:
        return PairBootstrap(None, None, (), int(n), n_pairs, n_values, int(seed), reason)

    if n_pairs == 0:
        return undefined("no unit has two or more values: alpha is undefined")
    st, _ = stats_from_codes(X, q)
    o = coincidence(st)
    n_k = o.sum(1)
    d2 = delta2(level, n_k, values)
    n_dot = float(n_k.sum())
    d_e = float((np.outer(n_k, n_k) * d2).sum()) / (n_dot * (n_dot - 1.0))
    if d_e <= 0:
        return undefined("no variation among pairable values: expected disagreement is 0")
    d_o = float((o * d2).sum()) / n_dot
    alpha = 1.0 - d_o / d_e
    # cells grouped by their delta^2: only the count of draws per value matters
    cells = o.ravel() > 0
    d_vals, group = np.unique(d2.ravel()[cells], return_inverse=True)
    p = np.bincount(group, weights=o.ravel()[cells] / n_dot)
    p = p / p.sum()
    rng = np.random.default_rng(seed)
    draws = np.empty(int(n))
    for start in range(0, int(n), _CHUNK):
        size = min(_CHUNK, int(n) - start)
        counts = rng.multinomial(n_pairs, p, size=size)
        draws[start : start + size] = 1.0 - (counts @ d_vals) / n_pairs / d_e
    lo, hi = np.quantile(draws, [0.025, 0.975])
    qs = tuple((a, float((draws < a).mean())) for a in alpha_min)
    return PairBootstrap(
        float(alpha), (float(lo), float(hi)), qs, int(n), n_pairs, n_values, int(seed), None, draws
    )
