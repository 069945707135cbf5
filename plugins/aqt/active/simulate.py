"""Simulated active learning against known labels (``aqt al simulate``).

The protocol (see ``benchmarks/active_learning.py``): vectoriser fitted on the unlabelled pool,
cold start of 20 labels, then batches of 20 up to 200 labels, 50 up to 1,000 and 100 after; random
sampling always runs as the baseline in the same run. Items without a label are junk: the simulated
annotator spends a label on them, learns nothing and skips them (which teaches the skip model).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aqt.active.dedup import DuplicateIndex
from aqt.active.models import SklearnTextModel
from aqt.active.recalibration import expected_calibration_error
from aqt.active.reviewer import SelectionReview, SkipModel
from aqt.active.simtools import accuracy, committee_scores, dense_projection, oof_recalibrator
from aqt.active.strategies import (
    EXPLORATION_SHARE,
    STRATEGIES,
    exploration_share,
    select_cold_start,
    select_diverse,
    select_random,
    select_top,
    uncertainty_scores,
)
from aqt.errors import InputError

__all__ = [
    "EXPLORATION_SHARE",
    "SimulationResult",
    "StrategyRun",
    "batch_schedule",
    "labels_to_match",
    "simulate",
]


def exploration_count(k: int, n_explored: int) -> int:
    """How many of a batch of ``k`` are drawn at random, given ``n_explored`` so far."""
    return round(exploration_share(n_explored) * k)


def batch_schedule(budget: int, cold_start: int = 20) -> list[int]:
    """Cumulative label counts: cold start, +20 to 200, +50 to 1,000, +100 after, up to ``budget``.

    >>> batch_schedule(300)
    [20, 40, 60, 80, 100, 120, 140, 160, 180, 200, 250, 300]
    """
    n, out = cold_start, [cold_start]
    while n < budget:
        n += 20 if n < 200 else 50 if n < 1000 else 100
        out.append(min(n, budget))
    return out


def labels_to_match(curve: Sequence[Sequence[float]], target: float) -> float | None:
    """Labels at which a mean learning curve first reaches ``target`` accuracy, interpolating
    linearly between the schedule points; ``None`` if it never does."""
    prev = None
    for n, acc, *_ in curve:
        if acc >= target:
            if prev is None or prev[1] >= acc:
                return float(n)
            n0, a0 = prev
            return float(n0 + (n - n0) * (target - a0) / (acc - a0))
        prev = (n, acc)
    return None


@dataclass(frozen=True)
class StrategyRun:
    """One strategy over all seeds."""

    name: str
    curve: tuple[tuple[int, float, float], ...]
    spent_by_kind: dict[str, float]
    duplicates_sent: float
    ece: float
    ece_uncalibrated: float
    flagged_by_kind: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "curve": [[n, round(a, 5), round(s, 5)] for n, a, s in self.curve],
            "spent_by_kind": {k: self.spent_by_kind[k] for k in sorted(self.spent_by_kind)},
            "duplicates_sent": self.duplicates_sent,
            "ece": round(self.ece, 5),
            "ece_uncalibrated": round(self.ece_uncalibrated, 5),
            "flagged_by_kind": {k: self.flagged_by_kind[k] for k in sorted(self.flagged_by_kind)},
        }


@dataclass(frozen=True)
class SimulationResult:
    n_pool: int
    n_test: int
    full_pool_accuracy: float
    strategies: dict[str, StrategyRun]
    labels_to_match_random: dict[str, dict[str, float | None]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_pool": self.n_pool,
            "n_test": self.n_test,
            "full_pool_accuracy": round(self.full_pool_accuracy, 5),
            "strategies": {k: self.strategies[k].to_dict() for k in sorted(self.strategies)},
            "labels_to_match_random": {
                k: self.labels_to_match_random[k] for k in sorted(self.labels_to_match_random)
            },
        }


def _run_one(
    strategy: str,
    seed: int,
    X: Any,
    Z: np.ndarray,
    y: np.ndarray,
    junk: np.ndarray,
    kinds: np.ndarray,
    X_test: Any,
    y_test: np.ndarray,
    schedule: list[int],
    review: SelectionReview | None,
    model_factory: Callable[[], SklearnTextModel],
) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    n = X.shape[0]
    use_review = strategy == "default" and review is not None
    available = np.ones(n, dtype=bool)
    sent: list[int] = []
    explore: list[int] = []
    sent_index = DuplicateIndex()
    skip = SkipModel(seed=seed) if use_review else None
    flagged_kind: dict[str, int] = {}
    curve: list[tuple[int, float]] = []
    model = None

    def take(picks: Sequence[int]) -> None:
        for i in picks:
            available[i] = False
            sent.append(int(i))
        if review is not None:
            sent_index.add(
                [str(i) for i in picks],
                [""] * len(picks),
                signatures=review.signatures[list(picks)],
                keys=[review.keys[i] for i in picks],
            )

    def reviewed(order: np.ndarray, k: int) -> list[int]:
        """Walk ``order`` (pool indices, best first), review in chunks until ``k`` are kept."""
        if not use_review:
            return [int(i) for i in order[:k]]
        kept: list[int] = []
        pos = 0
        while len(kept) < k and pos < len(order):
            chunk = order[pos : pos + max(2 * k, 50)]
            pos += len(chunk)
            earlier = set(approved)  # kept by the reviewer before: duplicate checks only
            out = review.review(chunk, sent=sent_index, skip_model=skip, approved=earlier)
            for i, reasons in out.flagged.items():
                # demoted to the reviewer, who rejects junk and duplicates and keeps real items:
                # a kept item goes back to the pool, where it competes on uncertainty again and
                # is not reviewed a second time
                available[i] = False
                flagged_kind[kinds[i]] = flagged_kind.get(kinds[i], 0) + 1
                if (
                    i not in earlier
                    and not junk[i]
                    and not any(r.startswith(("exact_dup", "near_dup")) for r in reasons)
                ):
                    available[i] = True
                    approved.add(i)
            new = [i for i in out.kept if i not in kept][: k - len(kept)]
            take(new)  # sent at once, so later chunks and the exploration share see them
            kept += new
        return kept

    approved: set[int] = set()
    for target in schedule:
        k = target - len(sent)
        if k <= 0:
            continue
        cand = np.flatnonzero(available)
        if len(cand) == 0:
            break
        if model is None and strategy != "random":
            first = cand[
                select_cold_start(X[cand], min(len(cand), 3 * k if use_review else k), rng)
            ]
            picks = reviewed(first, k)
        elif strategy == "random":
            picks = cand[select_random(len(cand), k, rng)].tolist()
        else:
            n_explore = exploration_count(k, len(explore)) if use_review else 0
            proba = model.predict_proba_vectors(X[cand])
            scores = uncertainty_scores(strategy, proba)
            if strategy == "committee":
                scores = committee_scores(
                    model_factory, X, y, junk, sent, cand, model.classes_, rng
                )
            if strategy == "default":
                # margin order, reviewed in chunks until enough items pass
                picks = reviewed(cand[select_top(scores, len(cand))], k - n_explore)
            elif strategy == "diverse":
                picks = cand[select_diverse(scores, Z[cand], k, rng)].tolist()
            else:
                picks = cand[select_top(scores, k)].tolist()
            if n_explore:
                rest = np.setdiff1d(cand, picks)
                rnd = rest[rng.permutation(len(rest))]
                extra = reviewed(rnd[: 4 * n_explore], n_explore)
                explore += extra
                picks += extra
        take([i for i in picks if available[i]])  # reviewed picks are already taken
        lab = np.asarray([i for i in sent if not junk[i]], dtype=int)
        if len(set(y[lab].tolist())) >= 2:
            model = model_factory().fit_vectors(X[lab], y[lab])
            curve.append((len(sent), accuracy(model, X_test, y_test)))
        else:
            majority = max(set(y_test.tolist()), key=y_test.tolist().count)
            curve.append((len(sent), float(np.mean(y_test == majority))))
        if use_review:
            review.update_reference(lab, approved=sorted(approved))
            skip.fit_features(review.skip_features[sent], junk[sent])
    # calibration on the random holdout (the test set)
    lab = np.asarray([i for i in sent if not junk[i]], dtype=int)
    ece_raw = ece = float("nan")
    if model is not None:
        proba = model.predict_proba_vectors(X_test)
        y_idx = np.array(
            [list(model.classes_).index(v) if v in model.classes_ else -1 for v in y_test]
        )
        ece_raw = expected_calibration_error(proba, y_idx)
        explore_rows = lab if strategy == "random" else np.intersect1d(explore, lab)
        rec = oof_recalibrator(model_factory, X, y, lab, explore_rows, model.classes_)
        ece = expected_calibration_error(rec.transform(proba), y_idx)
    spent: dict[str, int] = {}
    for i in sent:
        spent[kinds[i]] = spent.get(kinds[i], 0) + 1
    seen: set[str] = set()
    dups = 0
    if review is not None:
        for i in sent:
            dups += review.keys[i] in seen
            seen.add(review.keys[i])
    return {
        "curve": curve,
        "spent": spent,
        "dups": dups,
        "ece": ece,
        "ece_raw": ece_raw,
        "flagged": flagged_kind,
    }


def simulate(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    test_texts: Sequence[str],
    test_labels: Sequence[str],
    kinds: Sequence[str] | None = None,
    strategies: Sequence[str] = ("margin", "default"),
    budget: int = 1000,
    seeds: int = 5,
    other_languages: Mapping[str, Sequence[str]] | None = None,
    reference_texts: Sequence[str] = (),
    C: float = 3.0,
    class_weight: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> SimulationResult:
    """Run active learning against known labels; ``random`` is always added as the baseline.

    Parameters
    ----------
    texts, labels : the pool; an empty label marks a junk item (a label is spent, nothing learnt).
    test_texts, test_labels : a random holdout for accuracy and calibration error.
    kinds : optional item kinds for the labels-spent report (default ``"item"`` for all).
    """
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        raise InputError(f"unknown strategy {unknown}.", fix=f"use one of {', '.join(STRATEGIES)}.")
    names = ["random"] + [s for s in dict.fromkeys(strategies) if s != "random"]
    y = np.asarray(["" if v is None else str(v) for v in labels], dtype=object)
    junk = y == ""
    kinds_arr = np.asarray(
        ["item"] * len(y) if kinds is None else [str(k) for k in kinds], dtype=object
    )
    y_test = np.asarray([str(v) for v in test_labels], dtype=object)
    if len(set(y[~junk].tolist())) < 2 or len(y_test) == 0:
        raise InputError(
            "the pool needs labelled items of at least two classes and a non-empty test set.",
            fix="check --label-col and the split (--split-col or --test-size).",
        )
    budget = min(budget, len(y))

    def factory() -> SklearnTextModel:
        return SklearnTextModel(features="tfidf", C=C, class_weight=class_weight)

    base = factory().fit_vectorizer(texts)
    X = base.vectorize(texts)
    X_test = base.vectorize(test_texts)
    Z = dense_projection(X)
    full = factory().fit_vectors(X[~junk], y[~junk])
    full_acc = accuracy(full, X_test, y_test)
    schedule = batch_schedule(budget)
    runs: dict[str, StrategyRun] = {}
    for name in names:
        results = []
        for seed in range(seeds):
            if progress:
                progress(f"{name} seed {seed}")
            review = None
            if name == "default" or kinds is not None:
                review = SelectionReview(
                    list(texts),
                    reference_texts=reference_texts,
                    other_languages=other_languages,
                    vectors=X,
                    off_task=False,
                )
            results.append(
                _run_one(
                    name, seed, X, Z, y, junk, kinds_arr, X_test, y_test, schedule, review, factory
                )
            )
        ns = [n for n, _ in results[0]["curve"]]
        accs = np.array([[a for _, a in r["curve"]] for r in results])
        curve = tuple(
            (int(n), float(accs[:, j].mean()), float(accs[:, j].std())) for j, n in enumerate(ns)
        )
        kinds_all = sorted({k for r in results for k in r["spent"]})
        runs[name] = StrategyRun(
            name=name,
            curve=curve,
            spent_by_kind={
                k: float(np.mean([r["spent"].get(k, 0) for r in results])) for k in kinds_all
            },
            duplicates_sent=float(np.mean([r["dups"] for r in results])),
            ece=float(np.nanmean([r["ece"] for r in results])),
            ece_uncalibrated=float(np.nanmean([r["ece_raw"] for r in results])),
            flagged_by_kind={
                k: float(np.mean([r["flagged"].get(k, 0) for r in results]))
                for k in sorted({k for r in results for k in r["flagged"]})
            },
        )
    rand = {n: a for n, a, _ in runs["random"].curve}
    match: dict[str, dict[str, float | None]] = {}
    for name, run in runs.items():
        match[name] = {}
        for at in (1000, 4000):
            match[name][str(at)] = labels_to_match(run.curve, rand[at]) if at in rand else None
    return SimulationResult(
        n_pool=len(y),
        n_test=len(y_test),
        full_pool_accuracy=full_acc,
        strategies=runs,
        labels_to_match_random=match,
    )
