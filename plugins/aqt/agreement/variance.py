"""Gwet's analytic standard errors of the agreement coefficients (linearisation over items).

Every coefficient ``kappa = (p_a - p_e) / (1 - p_e)`` is linearised item by item (Gwet, *Handbook
of Inter-Rater Reliability*, 4th ed., 2014, ch. 5; the formulas the irrCAC package implements):

* ``kappa_i = (n / n_2) (p_a,i - p_e [r_i >= 2]) / (1 - p_e)`` with ``p_a,i`` the item's weighted
  agreement (0 when ``r_i < 2``), ``n`` the items with a judgement, ``n_2`` those with two or more;
* ``kappa*_i = kappa_i - 2 (1 - kappa) (p_e,i - p_e) / (1 - p_e)`` with ``p_e,i`` the item's
  contribution to chance agreement (none for Brennan-Prediger and percent agreement, whose ``p_e``
  is fixed);
* ``v(kappa) = sum_i (kappa*_i - kappa)^2 / (n (n - 1))``, without finite-population correction
  (``f = n / N = 0``, irrCAC's default ``N = inf``).

``p_e,i`` is ``sum_k r_ik pibar_k / r_i`` with ``pibar_k`` the symmetrised weighted ``pi`` (Fleiss),
``sum(w) / (q (q - 1)) sum_k r_ik (1 - pi_k) / r_i`` (AC1, AC2), and for Conger's kappa the
annotator-level term ``lambda_ig`` (Gwet 2014, eq. 5.33). Krippendorff's alpha uses Gwet's
formulation over items with ``r_i >= 2`` (rbar-normalised terms, Gwet 2015, "On Krippendorff's
alpha", eq. 7) with agreement weights ``1 - delta^2 / max delta^2`` of the level of measurement;
for nominal, interval and ratio levels this is exactly irrCAC's alpha with identity, quadratic and
ratio weights. For the ordinal level ``delta^2`` depends on the marginals, which the formula treats
as fixed (an approximation). Percent agreement's error is the same formula with ``p_e = 0``.

Items with identical rows contribute identical terms, so the sums run over distinct rows weighted
by their multiplicity (:func:`aqt.agreement.stats.compress`).
"""

from __future__ import annotations

import numpy as np

from aqt.agreement.coefficients import COEFFICIENTS
from aqt.agreement.stats import compress
from aqt.agreement.weights import delta2, weight_matrix

__all__ = ["standard_errors"]

_EPS = 1e-12


def _counts(pat: np.ndarray, q: int) -> np.ndarray:
    """``r_ik`` (rows x q) from distinct rows of codes."""
    m = len(pat)
    R = np.zeros((m, q))
    rows = np.broadcast_to(np.arange(m)[:, None], pat.shape)
    ok = pat >= 0
    np.add.at(R, (rows[ok], pat[ok]), 1.0)
    return R


def _agreement_terms(R: np.ndarray, W: np.ndarray) -> np.ndarray:
    """``sum_k r_ik (r*_ik - 1)`` per row, ``r*_ik = sum_l w_kl r_il``."""
    return (R * (R @ W.T - 1.0)).sum(1)


def _se(x: np.ndarray, kappa: float, w: np.ndarray, n: float) -> float:
    return float(np.sqrt((w * (x - kappa) ** 2).sum() / (n * (n - 1.0))))


class _Linear:
    """The per-row quantities shared by the ``p_a``-based coefficients."""

    def __init__(self, R: np.ndarray, w: np.ndarray, W: np.ndarray):
        self.R, self.w = R, w
        self.r = R.sum(1)
        self.two = self.r >= 2
        self.n = float(w.sum())
        self.n2 = float(w[self.two].sum())
        den = np.where(self.two, self.r * (self.r - 1.0), 1.0)
        self.pa_i = np.where(self.two, _agreement_terms(R, W) / den, 0.0)
        self.pa = float((w * self.pa_i).sum() / self.n2)
        self.pi = (w[:, None] * R / self.r[:, None]).sum(0) / self.n

    def coefficient(self, pe: float, pe_i: np.ndarray | None) -> tuple[float, float] | None:
        if not np.isfinite(pe) or abs(1.0 - pe) < _EPS:
            return None
        kappa = (self.pa - pe) / (1.0 - pe)
        x = (self.n / self.n2) * (self.pa_i - pe * self.two) / (1.0 - pe)
        if pe_i is not None:
            x = x - 2.0 * (1.0 - kappa) * (pe_i - pe) / (1.0 - pe)
        return kappa, _se(x, kappa, self.w, self.n)


def _fleiss(lin: _Linear, W: np.ndarray) -> float | None:
    pi = lin.pi
    pe = float((W * np.outer(pi, pi)).sum())
    pibar = (W @ pi + W.T @ pi) / 2.0
    out = lin.coefficient(pe, lin.R @ pibar / lin.r)
    return None if out is None else out[1]


def _gwet(lin: _Linear, W: np.ndarray) -> float | None:
    q = len(W)
    pi = lin.pi
    scale = float(W.sum()) / (q * (q - 1.0))
    pe = scale * float((pi * (1.0 - pi)).sum())
    out = lin.coefficient(pe, scale * (lin.R @ (1.0 - pi)) / lin.r)
    return None if out is None else out[1]


def _conger(lin: _Linear, pat: np.ndarray, W: np.ndarray) -> float | None:
    """Conger's kappa with Gwet's annotator-level linearisation ``lambda_ig``."""
    q = len(W)
    w = lin.w
    present = pat >= 0
    n_g = (w[:, None] * present).sum(0)
    keep = n_g > 0  # annotators without judgements drop out, as in the engine
    pat, present, n_g = pat[:, keep], present[:, keep], n_g[keep]
    G = pat.shape[1]
    if G < 2:
        return None
    n_gk = np.zeros((G, q))
    for g in range(G):
        ok = present[:, g]
        n_gk[g] = np.bincount(pat[ok, g], weights=w[ok], minlength=q)
    p_gk = n_gk / n_g[:, None]
    pbar = p_gk.mean(0)
    s2 = (p_gk.T @ p_gk - G * np.outer(pbar, pbar)) / (G - 1.0)
    pe = float((W * (np.outer(pbar, pbar) - s2 / G)).sum())
    B = G * pbar[None, :] - p_gk  # (G, q): r pbar_k - p_gk
    M = B @ W  # M[g, l] = sum_k w_kl B[g, k]
    a = ((p_gk @ W.T) * B).sum(1)  # a_g = sum_k B[g, k] sum_l w_kl p_gl
    eps = present.astype(np.float64)
    Mx = np.take_along_axis(M.T, np.where(present, pat, 0), axis=0)  # M[g, x_ig]
    lam = (lin.n / n_g) * (eps * Mx - (eps - n_g / lin.n) * a)
    pe_i = lam.sum(1) / (G * (G - 1.0))
    out = lin.coefficient(pe, pe_i)
    return None if out is None else out[1]


def _alpha(R: np.ndarray, w: np.ndarray, W: np.ndarray) -> float | None:
    """Gwet's linearisation of Krippendorff's alpha over items with two or more judgements."""
    r = R.sum(1)
    two = r >= 2
    R, w, r = R[two], w[two], r[two]
    n = float(w.sum())
    if n < 2:
        return None
    rbar = float((w * r).sum() / n)
    eps = 1.0 / float((w * r).sum())
    terms = _agreement_terms(R, W) / (rbar * (r - 1.0))
    pa_prime = float((w * terms).sum() / n)
    pa = (1.0 - eps) * pa_prime + eps
    pi = (w[:, None] * R).sum(0) / (n * rbar)
    pe = float((W * np.outer(pi, pi)).sum())
    if abs(1.0 - pe) < _EPS:
        return None
    alpha_prime = (pa_prime - pe) / (1.0 - pe)
    pa_i = terms - pa * (r - rbar) / rbar
    pibar = (W @ pi + W.T @ pi) / 2.0
    pe_i = R @ pibar / rbar - pe * (r - rbar) / rbar
    x = (pa_i - pe) / (1.0 - pe) - 2.0 * (1.0 - alpha_prime) * (pe_i - pe) / (1.0 - pe)
    return _se(x, alpha_prime, w, n)


def alpha_weights(level: str, n_k: np.ndarray, values: np.ndarray | None) -> np.ndarray:
    """Agreement weights ``1 - delta^2 / max delta^2`` equivalent to alpha's level of measurement."""
    d2 = delta2(level, n_k, values)
    top = float(d2.max()) if d2.size else 0.0
    return np.eye(len(n_k)) if top <= 0 else 1.0 - d2 / top


def standard_errors(
    X: np.ndarray,
    q: int,
    *,
    level: str = "nominal",
    weights: str = "identity",
    values: np.ndarray | None = None,
) -> dict[str, float | None]:
    """Gwet's standard error of every coefficient of :data:`COEFFICIENTS` (None when undefined).

    Parameters
    ----------
    X : (n_items, n_annotators) codes, ``-1`` missing; items without judgements are ignored
    q : number of categories
    level : Krippendorff's level of measurement for alpha
    weights : Gwet's weights for every other coefficient
    values : (q,) numeric category values (interval and ratio levels)

    Returns
    -------
    dict
        ``{coefficient: se}``; Cohen's kappa and Scott's pi (two annotators only) share Conger's
        and Fleiss' errors, AC1 uses identity weights, the others ``weights``.

    Examples
    --------
    Gwet's raw4raters data (Krippendorff 2011; 12 units, 4 raters, categories 1..5 as codes
    0..4): irrCAC prints ``se`` 0.14295 for AC1 and 0.15302 for Fleiss' kappa.

    >>> X = np.array([[0, 1, 2, 2, 1, 0, 3, 0, 1, -1, -1, -1],
    ...               [0, 1, 2, 2, 1, 1, 3, 0, 1, 4, -1, -1],
    ...               [-1, 2, 2, 2, 1, 2, 3, 1, 1, 4, 0, 2],
    ...               [0, 1, 2, 2, 1, 3, 3, 0, 1, 4, 0, -1]]).T
    >>> se = standard_errors(X, 5)
    >>> round(se["gwet_ac1"], 5), round(se["fleiss_kappa"], 5)
    (0.14295, 0.15302)
    """
    X = np.asarray(X)
    out: dict[str, float | None] = {name: None for name in COEFFICIENTS}
    if X.ndim != 2 or X.size == 0:
        return out
    X = X[(X >= 0).any(1)]
    G = int((X >= 0).any(0).sum())
    if len(X) < 2 or G < 2:
        return out
    pat, w, _ = compress(X, q)
    w = w.astype(np.float64)
    R = _counts(pat, q)
    W = weight_matrix(weights, q)
    lin = _Linear(R, w, W)
    if lin.n2 == 0:
        return out
    pa_out = lin.coefficient(0.0, None)
    out["percent_agreement"] = pa_out[1] if pa_out else None
    if q >= 2:
        lin_id = lin if np.array_equal(W, np.eye(q)) else _Linear(R, w, np.eye(q))
        out["fleiss_kappa"] = _fleiss(lin, W)
        out["gwet_ac1"] = _gwet(lin_id, np.eye(q))
        out["gwet_ac2"] = _gwet(lin, W)
        bp = lin.coefficient(float(W.sum()) / q**2, None)
        out["brennan_prediger"] = bp[1] if bp else None
        out["conger_kappa"] = _conger(lin, pat, W)
        n_k = R[R.sum(1) >= 2].T @ w[R.sum(1) >= 2]
        out["krippendorff_alpha"] = _alpha(R, w, alpha_weights(level, n_k, values))
        if G == 2:
            out["cohen_kappa"] = out["conger_kappa"]
            out["scott_pi"] = out["fleiss_kappa"]
    return out
