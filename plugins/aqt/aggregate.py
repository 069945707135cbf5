"""Final labels per item: adjudicated first, then unanimous, then an aggregate of the annotators.

The order of precedence is fixed and every final label says where it came from:

1. ``adjudicated``: the last decision of an :class:`~aqt.adjudication.AdjudicationLog` (a
   ``reject`` outcome drops the item and lists it as unresolved);
2. ``unanimous``: every annotator (at least two) gave the same value; ``single``: the item has
   one annotator, whose value it keeps (most items, when only an overlap share is doubled);
3. an aggregate: ``majority`` (plurality vote; ties are unresolved) or ``dawid_skene`` (the
   posterior mode of the Dawid & Skene (1979) latent class model; confidence = posterior
   probability). Items whose confidence is under ``min_confidence`` are unresolved.

Unresolved items are left out of the final labels and listed with the reason; nothing is guessed
silently. Dawid-Skene applies to one-category kinds (``choice``, ``binary``, ``rating``,
``pairwise``); other kinds (sets, spans) are aggregated by exact-match majority.

References
----------
Dawid, A. P. & Skene, A. M. (1979). Maximum likelihood estimation of observer error-rates using
the EM algorithm. *Journal of the Royal Statistical Society C*, 28(1), 20-28.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from aqt.adjudication import Decision, build_review_items, final_decisions
from aqt.errors import UsageError
from aqt.records import AnnotationTable, natural_key, value_to_json

__all__ = [
    "METHODS",
    "DawidSkeneResult",
    "FinalLabel",
    "FinalLabels",
    "Unresolved",
    "dawid_skene",
    "final_labels",
    "label_matrix",
    "majority_vote",
]

METHODS = ("dawid_skene", "majority")
_DS_KINDS = ("choice", "binary", "rating", "number", "pairwise")


@dataclass(frozen=True)
class DawidSkeneResult:
    """Fitted Dawid-Skene model.

    Attributes
    ----------
    categories : tuple of str, length K
    annotators : tuple of str, length J
    posterior : ndarray, shape (n_items, K)
        ``T[i, k]``: probability that item i's true class is k; rows sum to 1.
    priors : ndarray, shape (K,)
        Class prevalences ``p_k``.
    confusion : ndarray, shape (J, K, K)
        ``pi[j, k, l]``: probability that annotator j says l when the truth is k; rows sum to 1.
    log_likelihood : tuple of float
        Marginal log-likelihood after each EM iteration (non-decreasing up to rounding).
    converged : bool
    """

    categories: tuple[str, ...]
    annotators: tuple[str, ...]
    posterior: np.ndarray
    priors: np.ndarray
    confusion: np.ndarray
    log_likelihood: tuple[float, ...]
    converged: bool

    @property
    def labels(self) -> np.ndarray:
        """Index of the most probable class per item (ties: lowest category index)."""
        return np.argmax(self.posterior, axis=1)

    @property
    def confidence(self) -> np.ndarray:
        return np.max(self.posterior, axis=1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "categories": list(self.categories),
            "annotators": list(self.annotators),
            "priors": [float(x) for x in self.priors],
            "confusion": {
                a: [[float(x) for x in row] for row in self.confusion[j]]
                for j, a in enumerate(self.annotators)
            },
            "n_iterations": len(self.log_likelihood),
            "log_likelihood": float(self.log_likelihood[-1]) if self.log_likelihood else None,
            "converged": self.converged,
        }


def dawid_skene(
    counts: np.ndarray,
    *,
    categories: Sequence[str] | None = None,
    annotators: Sequence[str] | None = None,
    max_iter: int = 100,
    tol: float = 1e-6,
    smoothing: float = 0.01,
    init: str = "majority",
    seed: int = 0,
) -> DawidSkeneResult:
    """Fit the Dawid-Skene model by EM.

    Parameters
    ----------
    counts : ndarray, shape (n_items, J, K)
        ``n[i, j, l]``: how often annotator j gave item i the label l (usually 0 or 1).
    max_iter, tol
        Stop when the log-likelihood improves by less than ``tol`` (relative) or after
        ``max_iter`` iterations.
    smoothing
        Pseudo-count added to every confusion cell and prior (keeps logarithms finite).
    init : {"majority", "random"}
        Start from the soft majority vote (deterministic) or a seeded random posterior.
    seed
        Seed of the ``random`` start.

    Returns
    -------
    DawidSkeneResult

    Examples
    --------
    Three annotators, the third one always wrong on class 1; Dawid-Skene learns that and trusts the
    other two:

    >>> n = np.zeros((4, 3, 2))
    >>> truth = [0, 1, 0, 1]
    >>> for i, t in enumerate(truth):
    ...     n[i, 0, t] = n[i, 1, t] = 1
    ...     n[i, 2, 0] = 1
    >>> r = dawid_skene(n)
    >>> r.labels.tolist(), round(float(r.confusion[2, 1, 0]), 2)
    ([0, 1, 0, 1], 1.0)
    """
    n = np.asarray(counts, dtype=np.float64)
    if n.ndim != 3:
        raise UsageError(f"counts must have shape (items, annotators, classes), got {n.shape}.")
    n_items, n_ann, n_cls = n.shape
    cats = tuple(categories) if categories is not None else tuple(str(k) for k in range(n_cls))
    anns = tuple(annotators) if annotators is not None else tuple(str(j) for j in range(n_ann))
    if init == "majority":
        votes = n.sum(axis=1) + 1e-9
        T = votes / votes.sum(axis=1, keepdims=True)
    elif init == "random":
        T = np.random.default_rng(seed).dirichlet(np.ones(n_cls), size=n_items)
    else:
        raise UsageError(f"init must be 'majority' or 'random', got {init!r}.")
    history: list[float] = []
    converged = False
    for _ in range(max_iter):
        # M-step: priors p_k and confusion pi[j, k, l]
        p = (T.sum(axis=0) + smoothing) / (n_items + smoothing * n_cls)
        pi = np.einsum("ik,ijl->jkl", T, n) + smoothing
        pi /= pi.sum(axis=2, keepdims=True)
        # E-step: log T[i, k] = log p_k + sum_j sum_l n[i, j, l] log pi[j, k, l]
        log_t = np.log(p)[None, :] + np.einsum("ijl,jkl->ik", n, np.log(pi))
        top = log_t.max(axis=1, keepdims=True)
        log_norm = top[:, 0] + np.log(np.exp(log_t - top).sum(axis=1))
        T = np.exp(log_t - log_norm[:, None])
        history.append(float(log_norm.sum()))
        if len(history) > 1 and abs(history[-1] - history[-2]) <= tol * abs(history[-2]):
            converged = True
            break
    return DawidSkeneResult(cats, anns, T, p, pi, tuple(history), converged)


def label_matrix(table: AnnotationTable, categories: Sequence[str] | None = None):
    """The count tensor of a one-control table for :func:`dawid_skene`.

    Returns
    -------
    items : list of str (natural order), annotators : list of str, categories : list of str,
    counts : ndarray, shape (n_items, n_annotators, n_categories)
        When an annotator judged an item twice, the latest judgement counts.
    """
    reviews = build_review_items(table)
    items = [r.item for r in reviews]
    annotators = table.annotators()
    cats = (
        list(categories)
        if categories is not None
        else sorted({str(v) for r in reviews for v in r.values.values()}, key=natural_key)
    )
    ci = {c: k for k, c in enumerate(cats)}
    ai = {a: j for j, a in enumerate(annotators)}
    counts = np.zeros((len(items), len(annotators), len(cats)))
    rows, cols, ks = [], [], []
    for i, r in enumerate(reviews):
        for a, v in r.values.items():
            rows.append(i)
            cols.append(ai[a])
            ks.append(ci[str(v)])
    np.add.at(counts, (np.array(rows, int), np.array(cols, int), np.array(ks, int)), 1.0)
    return items, annotators, cats, counts


def majority_vote(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plurality vote per item.

    Returns
    -------
    labels : ndarray of int, shape (n_items,)
        Index of the most voted class (``-1`` when two or more classes tie for the most votes).
    confidence : ndarray, shape (n_items,)
        Share of votes for the winner.
    tie : ndarray of bool
    """
    votes = np.asarray(counts, dtype=np.float64).sum(axis=1)
    top = votes.max(axis=1)
    tie = (votes == top[:, None]).sum(axis=1) > 1
    labels = np.where(tie, -1, np.argmax(votes, axis=1))
    total = votes.sum(axis=1)
    conf = np.divide(top, total, out=np.zeros_like(top), where=total > 0)
    return labels, conf, tie


@dataclass(frozen=True)
class FinalLabel:
    """The final value of one item and where it came from.

    ``source`` is ``adjudicated``, ``unanimous``, ``single``, ``majority`` or ``dawid_skene``;
    ``confidence`` is 1.0 for adjudicated, unanimous and single-annotator items, the vote share
    for ``majority`` and the posterior probability for ``dawid_skene``.
    """

    item: str
    value: Any
    kind: str
    source: str
    confidence: float
    n_annotators: int
    text: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "value": value_to_json(self.value),
            "kind": self.kind,
            "source": self.source,
            "confidence": round(float(self.confidence), 6),
            "n_annotators": self.n_annotators,
            "text": self.text,
        }


@dataclass(frozen=True)
class Unresolved:
    """An item left out of the final labels, with the reason (``tie``, ``low_confidence``,
    ``rejected``) and the competing values."""

    item: str
    reason: str
    detail: str
    values: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "reason": self.reason,
            "detail": self.detail,
            "values": {a: value_to_json(v) for a, v in self.values.items()},
        }


@dataclass(frozen=True)
class FinalLabels:
    """Final labels (natural item order), unresolved items, and the fitted aggregate model."""

    labels: tuple[FinalLabel, ...]
    unresolved: tuple[Unresolved, ...]
    method: str
    min_confidence: float
    model: DawidSkeneResult | None = None

    def as_dict(self) -> dict[str, Any]:
        """``{item: value}`` of the resolved items."""
        return {f.item: f.value for f in self.labels}

    def source_counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for f in self.labels:
            out[f.source] = out.get(f.source, 0) + 1
        return dict(sorted(out.items()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "min_confidence": self.min_confidence,
            "n_final": len(self.labels),
            "n_unresolved": len(self.unresolved),
            "sources": self.source_counts(),
            "labels": [f.to_dict() for f in self.labels],
            "unresolved": [u.to_dict() for u in self.unresolved],
            "model": self.model.to_dict() if self.model is not None else None,
        }


def final_labels(
    table: AnnotationTable,
    *,
    decisions: Iterable[Decision] | Mapping[str, Decision] | None = None,
    method: str = "dawid_skene",
    min_confidence: float = 0.7,
    categories: Sequence[str] | None = None,
    seed: int = 0,
) -> FinalLabels:
    """Final label per item: adjudicated, else unanimous, else the aggregate of ``method``.

    Parameters
    ----------
    table
        Annotations of one control.
    decisions
        Adjudication decisions (the last per item wins), e.g. ``AdjudicationLog(path).read()``.
    method : {"dawid_skene", "majority"}
    min_confidence
        Aggregated items under this confidence are unresolved (in [0, 1]).
    categories
        Category domain for Dawid-Skene (default: observed values).

    Examples
    --------
    >>> from aqt.records import Annotation as A
    >>> t = AnnotationTable.from_records([A("1", "a", "x"), A("1", "b", "x"), A("2", "a", "x"),
    ...     A("2", "b", "y"), A("3", "a", "y"), A("3", "b", "y"), A("3", "c", "x")])
    >>> r = final_labels(t, method="majority", min_confidence=0.6)
    >>> [(f.item, f.value, f.source) for f in r.labels], [(u.item, u.reason) for u in r.unresolved]
    ([('1', 'x', 'unanimous'), ('3', 'y', 'majority')], [('2', 'tie')])
    """
    if method not in METHODS:
        raise UsageError(
            f"Unknown aggregation method {method!r}.", fix=f"Use one of {', '.join(METHODS)}."
        )
    if not 0.0 <= min_confidence <= 1.0:
        raise UsageError(
            f"min_confidence must be in [0, 1], got {min_confidence}.", fix="Use e.g. 0.7."
        )
    if isinstance(decisions, Mapping):
        decided = dict(decisions)
    else:
        decided = final_decisions(decisions or ())
    reviews = build_review_items(table)
    by_item = {r.item: r for r in reviews}
    done: dict[str, FinalLabel] = {}
    unresolved: dict[str, Unresolved] = {}
    for item, d in decided.items():
        r = by_item.get(item)
        values = dict(r.values) if r else {}
        if d.outcome == "reject":
            unresolved[item] = Unresolved(
                item, "rejected", d.reason or "rejected by the adjudicator", values
            )
            continue
        done[item] = FinalLabel(
            item, d.decision, d.kind, "adjudicated", 1.0, len(values), r.text if r else None
        )
    rest = [r for r in reviews if r.item not in done and r.item not in unresolved]
    agg = []
    for r in rest:
        if r.unanimous:
            source = "unanimous" if r.n_annotators > 1 else "single"
            done[r.item] = FinalLabel(
                r.item, r.majority, r.kind, source, 1.0, r.n_annotators, r.text
            )
        else:
            agg.append(r)
    model = None
    if agg:
        scalar = all(r.kind in _DS_KINDS for r in agg)
        if method == "dawid_skene" and scalar:
            sub = table.with_records(rec for rec in table.records if rec.item in by_item)
            items, anns, cats, counts = label_matrix(sub, categories)
            model = dawid_skene(counts, categories=cats, annotators=anns, seed=seed)
            row = {it: i for i, it in enumerate(items)}
            for r in agg:
                post = model.posterior[row[r.item]]
                k = int(np.argmax(post))
                conf = float(post[k])
                tie = int(np.sum(post >= post[k] - 1e-12)) > 1
                value = next((v for v in r.values.values() if str(v) == cats[k]), cats[k])
                _settle(r, value, conf, "dawid_skene", tie, min_confidence, done, unresolved)
        else:
            for r in agg:
                tie = len(r.versions) > 1 and len(r.versions[0].annotators) == len(
                    r.versions[1].annotators
                )
                conf = len(r.versions[0].annotators) / r.n_annotators
                _settle(r, r.majority, conf, "majority", tie, min_confidence, done, unresolved)
    labels = tuple(done[k] for k in sorted(done, key=natural_key))
    unres = tuple(unresolved[k] for k in sorted(unresolved, key=natural_key))
    return FinalLabels(labels, unres, method, float(min_confidence), model)


def _settle(r, value, conf, source, tie, min_confidence, done, unresolved) -> None:
    if tie:
        shown = ", ".join(f"{value_to_json(v.value)!r} x{len(v.annotators)}" for v in r.versions)
        unresolved[r.item] = Unresolved(r.item, "tie", f"{source}: {shown}", dict(r.values))
    elif conf < min_confidence:
        unresolved[r.item] = Unresolved(
            r.item,
            "low_confidence",
            f"{source}: {value_to_json(value)!r} with confidence {conf:.3f} < {min_confidence}",
            dict(r.values),
        )
    else:
        done[r.item] = FinalLabel(r.item, value, r.kind, source, conf, r.n_annotators, r.text)
