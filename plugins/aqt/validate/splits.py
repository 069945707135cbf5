"""Train/dev/test splits that are stratified by label and grouped, and the check of given splits.

Grouping keeps together what must not be separated: items sharing a group value (for example the
source document) and exact or near duplicates (so a split made here never leaks). Groups are
assigned greedily, largest first (ties in a seeded random order), each to the split where it
reduces the weighted squared gap between the split's label counts and their targets most
(targets: split ratio x label total; weights 1 / target), a grouped form of stratified k-fold
assignment (as in scikit-learn's ``StratifiedGroupKFold``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from aqt.errors import UsageError
from aqt.findings import Finding
from aqt.records import natural_key
from aqt.validate._dups import connected_groups, duplicate_pairs

__all__ = ["SPLIT_NAMES", "SplitPlan", "find_split_problems", "make_splits", "parse_ratios"]

SPLIT_NAMES = ("train", "dev", "test")


def parse_ratios(text: str | Sequence[float]) -> tuple[float, ...]:
    """``"0.8,0.1,0.1"`` -> ``(0.8, 0.1, 0.1)``; 1 to 3 non-negative parts summing to 1."""
    try:
        parts = tuple(float(p) for p in (text.split(",") if isinstance(text, str) else text))
    except ValueError:
        raise UsageError(
            f"--split {text!r} is not a list of numbers.", fix="Write e.g. --split 0.8,0.1,0.1."
        ) from None
    if not 1 <= len(parts) <= 3 or any(p < 0 for p in parts) or abs(sum(parts) - 1) > 1e-6:
        raise UsageError(
            f"--split {text!r} must be 1 to 3 non-negative shares summing to 1 (train, dev, test).",
            fix="Write e.g. --split 0.8,0.1,0.1.",
        )
    return parts


@dataclass(frozen=True)
class SplitPlan:
    """``assignment``: item -> split name; ``counts``: split -> label -> count."""

    assignment: Mapping[str, str]
    ratios: tuple[float, ...]
    n_groups: int
    counts: Mapping[str, Mapping[str, int]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "ratios": list(self.ratios),
            "n_groups": self.n_groups,
            "counts": {s: dict(c) for s, c in self.counts.items()},
        }


def _counts(
    labels: Sequence[str], splits: Sequence[str], names: Sequence[str]
) -> dict[str, dict[str, int]]:
    cats = sorted({str(v) for v in labels}, key=natural_key)
    out = {s: {c: 0 for c in cats} for s in names}
    for lab, s in zip(labels, splits):
        out.setdefault(s, {c: 0 for c in cats})[str(lab)] += 1
    return out


def make_splits(
    ids: Sequence[str],
    labels: Sequence[str],
    *,
    ratios: Sequence[float] = (0.8, 0.1, 0.1),
    groups: Sequence[object] | None = None,
    texts: Sequence[str] | None = None,
    dedup_threshold: float = 0.7,
    seed: int = 0,
) -> SplitPlan:
    """Stratified, grouped splits.

    Parameters
    ----------
    ids, labels
        Items and their final labels (same order).
    ratios
        Shares of train, dev, test (1 to 3 values summing to 1).
    groups
        Group value per item (``None`` or ``""``: no group); items of one group share a split.
    texts
        When given, exact and near duplicates (MinHash similarity >= ``dedup_threshold``) are
        grouped too.
    """
    ratios = parse_ratios(ratios)
    names = SPLIT_NAMES[: len(ratios)]
    n = len(ids)
    pairs = (
        [(i, j) for i, j, _, _ in duplicate_pairs(texts, dedup_threshold)]
        if texts is not None
        else []
    )
    gid = connected_groups(n, pairs, groups)
    cats = sorted({str(v) for v in labels}, key=natural_key)
    ci = {c: k for k, c in enumerate(cats)}
    y = np.array([ci[str(v)] for v in labels], dtype=np.int64)
    uniq, inv = np.unique(gid, return_inverse=True)
    G = np.zeros((len(uniq), len(cats)))
    np.add.at(G, (inv, y), 1.0)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(uniq))
    order = order[np.argsort(-G[order].sum(axis=1), kind="stable")]
    r = np.array(ratios)
    T = r[:, None] * G.sum(axis=0)[None, :]
    W = 1.0 / np.maximum(T, 1.0)
    C = np.zeros_like(T)
    where = np.zeros(len(uniq), dtype=np.int64)
    for g in order:
        gv = G[g]
        delta = (W * ((C + gv - T) ** 2 - (C - T) ** 2)).sum(axis=1)
        delta[r == 0] = np.inf
        s = int(np.argmin(delta))
        C[s] += gv
        where[g] = s
    split_of = [names[where[inv[i]]] for i in range(n)]
    assignment = {str(ids[i]): split_of[i] for i in range(n)}
    return SplitPlan(assignment, tuple(ratios), len(uniq), _counts(labels, split_of, names))


def find_split_problems(
    ids: Sequence[str],
    labels: Sequence[str],
    splits: Sequence[str],
    *,
    groups: Sequence[object] | None = None,
    tolerance: float = 0.05,
) -> list[Finding]:
    """Check given splits: ``split_grouping`` (a group spread over several splits: ``error``) and
    ``split_stratification`` (a split whose share of a label differs from the overall share by
    more than ``tolerance``, or that lacks a label: ``error``)."""
    findings: list[Finding] = []
    n = len(ids)
    if groups is not None:
        spread: dict[object, set[str]] = {}
        members: dict[object, list[str]] = {}
        for i in range(n):
            g = groups[i]
            if g is None or g == "":
                continue
            spread.setdefault(g, set()).add(splits[i])
            members.setdefault(g, []).append(str(ids[i]))
        bad = sorted((g for g, s in spread.items() if len(s) > 1), key=natural_key)
        if bad:
            shown = "; ".join(f"{g!r} in {', '.join(sorted(spread[g]))}" for g in bad[:5])
            findings.append(
                Finding(
                    "split_grouping",
                    "error",
                    sorted({i for g in bad for i in members[g]}, key=natural_key)[:200],
                    f"{len(bad)} group(s) are spread over several splits: {shown}"
                    + (f" (+{len(bad) - 5} more)" if len(bad) > 5 else "")
                    + ".",
                    "Let aqt make the splits with --group-col, or move each group into one split.",
                )
            )
    names = sorted(set(splits), key=lambda s: (SPLIT_NAMES.index(s) if s in SPLIT_NAMES else 9, s))
    counts = _counts(labels, splits, names)
    total = {c: sum(counts[s][c] for s in names) for c in counts[names[0]]} if names else {}
    overall = {c: v / max(n, 1) for c, v in total.items()}
    problems = []
    for s in names:
        size = sum(counts[s].values())
        for c, v in counts[s].items():
            share = v / max(size, 1)
            if abs(share - overall[c]) > tolerance or (v == 0 and total[c] >= len(names)):
                problems.append(f"{s}: {c} {share:.1%} (overall {overall[c]:.1%})")
    if problems:
        findings.append(
            Finding(
                "split_stratification",
                "error",
                (),
                f"Splits are not stratified by label (tolerance {tolerance:.0%}): "
                f"{'; '.join(problems[:6])}.",
                "Let aqt make the splits (--split 0.8,0.1,0.1), or rebalance the split column.",
            )
        )
    sizes = ", ".join(f"{s} {sum(counts[s].values())}" for s in names)
    findings.append(Finding("split_stratification", "info", (), f"Split sizes: {sizes}.", ""))
    return findings
