"""Everything the report needs, computed from one codes matrix in a few vectorised passes.

:func:`agreement_from_codes` is the array-level entry point (the benchmark calls it directly);
:func:`aqt.agreement.agreement_report` builds the codes matrix from an annotation table first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from aqt.agreement import _kernel
from aqt.agreement.coefficients import cohen_from_table, compute_coefficients
from aqt.agreement.stats import (
    Stats,
    coincidence,
    compress,
    item_agreement_patterns,
    stats_from_patterns,
)
from aqt.agreement.weights import check_level, check_weights, weight_matrix

__all__ = ["agreement_from_codes", "item_agreement_codes", "metrics_dict", "per_label_from_stats"]


def metrics_dict(
    res: dict[str, tuple], ci: dict[str, Any] | None = None, se: dict[str, Any] | None = None
) -> dict[str, dict]:
    """``{name: {"value", "ci95", "reason"}}`` from ``compute_coefficients`` output, plus ``"se"``
    (Gwet's standard error, :mod:`aqt.agreement.variance`) when ``se`` is given."""
    ci = ci or {}
    out = {
        name: {"value": value, "ci95": ci.get(name), "reason": reason}
        for name, (value, reason) in res.items()
    }
    if se is not None:
        for name, entry in out.items():
            entry["se"] = se.get(name) if entry["value"] is not None else None
    return out


def item_agreement_codes(X: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Per-item weighted observed agreement ``p_a,i = sum_k r_ik (r*_ik - 1) / (r_i (r_i - 1))``
    (the weighted share of agreeing ordered pairs of judgements); NaN when ``r_i < 2``."""
    pat, _, inverse = compress(np.asarray(X), len(W))
    pa = item_agreement_patterns(pat, W)
    return pa if inverse is None else pa[inverse]


def per_label_from_stats(st: Stats, labels: Sequence[str]) -> dict[str, dict]:
    """One-vs-rest alpha (nominal), Fleiss' kappa and (two annotators) Cohen's kappa per label."""
    out = {}
    eye = np.eye(2)
    for k, label in enumerate(labels):
        res = compute_coefficients(st.binary(k), eye)
        out[label] = _label_entry(res, int(st.used[k]))
    return out


def _label_entry(res: dict[str, tuple], n_items: int) -> dict[str, Any]:
    return {
        "krippendorff_alpha": res["krippendorff_alpha"][0],
        "fleiss_kappa": res["fleiss_kappa"][0],
        "cohen_kappa": res["cohen_kappa"][0],
        "n_items": n_items,
    }


def _pairwise(tables: dict, annotators: Sequence[str], W: np.ndarray) -> list[dict]:
    out = []
    for (g, h), t in sorted(tables.items()):
        kappa, pa = cohen_from_table(t, W)
        out.append(
            {
                "a": annotators[g],
                "b": annotators[h],
                "n_items": int(t.sum()),
                "cohen_kappa": kappa,
                "percent_agreement": pa,
            }
        )
    return out


def _top_disagreements(pa_i: np.ndarray, limit: int) -> np.ndarray:
    d = np.round(1.0 - pa_i, 12)  # rounded so that ties do not depend on summation order
    cand = np.flatnonzero(d > 0)  # NaN compares False: items under two judgements drop out
    if limit <= 0 or cand.size == 0:
        return cand[:0]
    dc = d[cand]
    if cand.size > limit:
        kth = np.partition(dc, cand.size - limit)[cand.size - limit]
        keep = dc >= kth
        cand, dc = cand[keep], dc[keep]
    order = np.lexsort((cand, -dc))  # worst first, ties by natural item order
    return cand[order[:limit]]


def _confused_pairs(o: np.ndarray, labels: Sequence[str]) -> list[dict]:
    q = len(labels)
    iu, ju = np.triu_indices(q, 1)
    counts = o[iu, ju] + o[ju, iu]
    total = counts.sum()
    keep = np.flatnonzero(counts > 0)
    order = keep[np.lexsort((ju[keep], iu[keep], -counts[keep]))]
    return [
        {
            "labels": [labels[iu[p]], labels[ju[p]]],
            "count": float(counts[p]),
            "share": float(counts[p] / total),
        }
        for p in order
    ]


def agreement_from_codes(
    X: np.ndarray,
    labels: Sequence[str],
    annotators: Sequence[str],
    *,
    level: str = "nominal",
    weights: str = "identity",
    values: np.ndarray | None = None,
    max_disagreements: int = 20,
    per_label: bool = True,
) -> dict[str, Any]:
    """Metrics, per-label, pairwise, coincidence, confused pairs and the worst items of ``X``.

    Parameters
    ----------
    X : (n_items, n_annotators) integer codes into ``labels``, ``-1`` missing
    labels : the ordered category domain
    annotators : annotator ids, one per column
    values : numeric category values (interval and ratio levels)

    Returns
    -------
    dict with ``stats`` (:class:`Stats`), ``metrics``, ``per_label``, ``pairwise``,
    ``coincidence``, ``confused_pairs`` and ``disagreement_rows`` (row indices, worst first) with
    ``disagreement_values`` (their observed disagreement).
    """
    check_level(level)
    check_weights(weights)
    q = len(labels)
    W = weight_matrix(weights, q)
    X = np.asarray(X)
    if _kernel.use_kernel(X, q, want_pairs=True):
        n_r, C, P, n_gk, used, tables, pa_i = _kernel.scan(X, q, W, want_pairs=True)
        st = Stats(n_r, C, P, n_gk, used).trimmed()
    else:
        pat, w, inverse = compress(X, q)
        st, tables = stats_from_patterns(pat, w, q, want_pairs=True)
        pa_pat = item_agreement_patterns(pat, W)
        pa_i = pa_pat if inverse is None else pa_pat[inverse]
    res = compute_coefficients(st, W, level=level, values=values, labels=list(labels))
    o = coincidence(st)
    rows = _top_disagreements(pa_i, max_disagreements)
    return {
        "stats": st,
        "metrics": res,
        "per_label": per_label_from_stats(st, labels) if per_label else {},
        "pairwise": _pairwise(tables or {}, annotators, W),
        "coincidence": {"categories": list(labels), "matrix": o.tolist()},
        "confused_pairs": _confused_pairs(o, labels),
        "disagreement_rows": rows,
        "disagreement_values": np.round(1.0 - pa_i[rows], 12).tolist(),
    }
