"""The nine agreement coefficients, each derived from :class:`aqt.agreement.stats.Stats`.

Missing ratings and unequal numbers of annotators per item follow Gwet's generalisations
(Handbook of Inter-Rater Reliability, 4th ed., 2014; as in the irrCAC package):

* percent agreement ``p_a``: mean over items with ``r_i >= 2`` of
  ``sum_k r_ik (r*_ik - 1) / (r_i (r_i - 1))`` with ``r*_ik = sum_l w_kl r_il``;
* Fleiss: ``pi_k`` = mean over items with ``r_i >= 1`` of ``r_ik / r_i``,
  ``p_e = sum_kl w_kl pi_k pi_l`` (Fleiss 1971);
* Gwet's AC1 / AC2: ``p_e = sum(w) sum_k pi_k (1 - pi_k) / (q (q - 1))`` (Gwet 2008);
* Brennan-Prediger: ``p_e = sum(w) / q^2`` (Brennan and Prediger 1981);
* Conger: ``p_gk = n_gk / n_g``, ``pbar_k`` their mean over annotators, ``s2_kl`` their covariance
  (divisor ``r - 1``), ``p_e = sum_kl w_kl (pbar_k pbar_l - s2_kl / r)`` (Conger 1980);
* Cohen's kappa is Conger's with exactly two annotators, Scott's pi is Fleiss' with two;
* Krippendorff's alpha: ``1 - (n - 1) sum o_kl d2_kl / sum n_k n_l d2_kl`` from the coincidence
  matrix (Krippendorff 2011), with ``d2`` from the level of measurement.

Every coefficient is ``(p_a - p_e) / (1 - p_e)``; it is ``None`` with a reason when undefined.
"""

from __future__ import annotations

import numpy as np

from aqt.agreement.stats import Stats, coincidence
from aqt.agreement.weights import delta2

__all__ = ["COEFFICIENTS", "alpha_from_coincidence", "cohen_from_table", "compute_coefficients"]

COEFFICIENTS = (
    "percent_agreement",
    "cohen_kappa",
    "scott_pi",
    "fleiss_kappa",
    "conger_kappa",
    "krippendorff_alpha",
    "gwet_ac1",
    "gwet_ac2",
    "brennan_prediger",
)

_EPS = 1e-12
Result = tuple  # (value: float | None, reason: str | None)


def _chance(pa: float, pe: float, what: str) -> Result:
    if not np.isfinite(pe) or abs(1.0 - pe) < _EPS:
        return None, f"chance agreement is 1 for {what}: every judgement falls in one category"
    return float((pa - pe) / (1.0 - pe)), None


def alpha_from_coincidence(o: np.ndarray, d2: np.ndarray) -> float | None:
    """Krippendorff's alpha from a coincidence matrix and squared differences (None if undefined)."""
    n_k = o.sum(1)
    n = n_k.sum()
    de = float((np.outer(n_k, n_k) * d2).sum())
    if n <= 1 or de <= 0:
        return None
    return float(1.0 - (n - 1.0) * float((o * d2).sum()) / de)


def cohen_from_table(t: np.ndarray, W: np.ndarray) -> tuple[float | None, float | None]:
    """Cohen's (weighted) kappa and weighted percent agreement from a ``q x q`` table."""
    n = t.sum()
    if n == 0:
        return None, None
    p = t / n
    pa = float((W * p).sum())
    pe = float((W * np.outer(p.sum(1), p.sum(0))).sum())
    if abs(1.0 - pe) < _EPS:
        return None, pa
    return float((pa - pe) / (1.0 - pe)), pa


def _percent(st: Stats, W: np.ndarray) -> float:
    r = np.arange(len(st.n_r), dtype=np.float64)
    n2 = st.n_r[2:].sum()
    wp = (st.P[2:] * W).sum(axis=(1, 2)) - st.C[2:].sum(1)
    return float((wp / (r[2:] * (r[2:] - 1.0))).sum() / n2)


def _pi(st: Stats) -> np.ndarray:
    r = np.arange(len(st.n_r), dtype=np.float64)
    n1 = st.n_r[1:].sum()
    return (st.C[1:] / r[1:, None]).sum(0) / n1


def compute_coefficients(
    st: Stats,
    W: np.ndarray,
    *,
    level: str = "nominal",
    values: np.ndarray | None = None,
    labels: list[str] | None = None,
) -> dict[str, Result]:
    """Every coefficient of :data:`COEFFICIENTS` as ``(value, reason)``.

    Parameters
    ----------
    st : trimmed statistics over ``q`` categories and ``G`` annotators
    W : (q, q) agreement weights (used by all but alpha)
    level : Krippendorff's level of measurement for alpha
    values : (q,) numeric category values (interval and ratio levels)
    labels : category labels, only used in messages
    """
    n_g = st.n_gk.sum(1)
    if (n_g == 0).any():  # annotators without judgements (e.g. in a bootstrap resample) drop out
        st = Stats(st.n_r, st.C, st.P, st.n_gk[n_g > 0], st.used)
        n_g = n_g[n_g > 0]
    q, G = st.q, st.n_annotators
    n1 = int(st.n_r[1:].sum())
    n2 = int(st.n_r[2:].sum())
    out: dict[str, Result] = {}
    reason = None
    if G < 2:
        reason = f"only {G} annotator: agreement needs two or more"
    elif n2 == 0:
        reason = "no item has two or more judgements"
    if reason:
        return {name: (None, reason) for name in COEFFICIENTS}
    pa = _percent(st, W)
    out["percent_agreement"] = (pa, None)
    chance_reason = None
    if n1 < 2:
        chance_reason = "only one item: chance agreement cannot be estimated"
    elif q < 2:
        shown = f" ({labels[0]!r})" if labels else ""
        chance_reason = (
            f"only one category{shown} in the domain: chance-corrected coefficients are undefined"
        )
    if chance_reason:
        for name in COEFFICIENTS[1:]:
            out[name] = (None, chance_reason)
        return _two(out, G)
    pi = _pi(st)
    out["fleiss_kappa"] = _chance(pa, float((W * np.outer(pi, pi)).sum()), "Fleiss' kappa")
    sw = float(W.sum())
    pe_ac = sw * float((pi * (1.0 - pi)).sum()) / (q * (q - 1.0))
    pa_id = pa if np.array_equal(W, np.eye(q)) else _percent(st, np.eye(q))
    pe_ac1 = q * float((pi * (1.0 - pi)).sum()) / (q * (q - 1.0))
    out["gwet_ac1"] = _chance(pa_id, pe_ac1, "AC1")
    out["gwet_ac2"] = _chance(pa, pe_ac, "AC2")
    out["brennan_prediger"] = _chance(pa, sw / q**2, "Brennan-Prediger")
    pgk = st.n_gk / n_g[:, None]
    pbar = pgk.mean(0)
    s2 = (pgk.T @ pgk - G * np.outer(pbar, pbar)) / (G - 1.0)
    pe_c = float((W * (np.outer(pbar, pbar) - s2 / G)).sum())
    out["conger_kappa"] = _chance(pa, pe_c, "Conger's kappa")
    o = coincidence(st)
    d2 = delta2(level, o.sum(1), values)
    alpha = alpha_from_coincidence(o, d2)
    out["krippendorff_alpha"] = (
        (alpha, None)
        if alpha is not None
        else (None, "no variation among pairable values: expected disagreement is 0")
    )
    return _two(out, G)


def _two(out: dict[str, Result], G: int) -> dict[str, Result]:
    if G == 2:
        out["cohen_kappa"] = out["conger_kappa"]
        out["scott_pi"] = out["fleiss_kappa"]
    else:
        why = f"needs exactly two annotators (the data has {G})"
        out["cohen_kappa"] = (None, why)
        out["scott_pi"] = (None, why)
    return {name: out[name] for name in COEFFICIENTS}
