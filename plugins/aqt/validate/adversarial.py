"""Adversarial and near-boundary items: the export must contain some hard cases.

Three kinds count as near-boundary: near-duplicate pairs with different labels (contrast pairs,
such as "one of the best movies" / "one of the worst movies"), items flagged adversarial, and,
when an earlier model's predictions are given, items it got wrong (its common confusions).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence

from aqt.findings import Finding
from aqt.records import natural_key
from aqt.validate._dups import duplicate_pairs

__all__ = ["contrast_pairs", "find_missing_adversarial"]

CHECK = "adversarial_coverage"


def contrast_pairs(
    ids: Sequence[str], texts: Sequence[str], labels: Sequence[str], threshold: float = 0.7
):
    """Near-duplicate pairs ``(id_a, id_b, similarity)`` whose labels differ."""
    return [
        (ids[i], ids[j], s)
        for i, j, _, s in duplicate_pairs(texts, threshold)
        if str(labels[i]) != str(labels[j])
    ]


def find_missing_adversarial(
    ids: Sequence[str],
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    flagged: Iterable[str] = (),
    predictions: Mapping[str, str] | None = None,
    min_share: float = 0.02,
    threshold: float = 0.7,
) -> list[Finding]:
    """An ``error`` when fewer than ``min_share`` of the items are near-boundary.

    Parameters
    ----------
    ids, texts, labels
        The exported items and their final labels (same order).
    flagged
        Ids of items flagged adversarial (for example ``meta.adversarial``).
    predictions
        ``{item: label}`` from an earlier model version; items where it differs from the final
        label are the model's confusions, and the commonest confused pairs are reported.
    min_share
        Least share of near-boundary items (contrast pairs, flagged, confusions together).

    Returns
    -------
    list of Finding
        ``error`` or ``info`` with the counts per kind; ``info`` with the common confusions.
    """
    ids = [str(i) for i in ids]
    n = len(ids)
    pos = {i: k for k, i in enumerate(ids)}
    pairs = contrast_pairs(ids, texts, labels, threshold)
    in_pairs = {i for a, b, _ in pairs for i in (a, b)}
    flagged_in = {str(f) for f in flagged} & set(pos)
    confused: set[str] = set()
    findings: list[Finding] = []
    if predictions is not None:
        conf_counts: Counter = Counter()
        for i in ids:
            if i in predictions and str(predictions[i]) != str(labels[pos[i]]):
                confused.add(i)
                conf_counts[(str(labels[pos[i]]), str(predictions[i]))] += 1
        if conf_counts:
            top = ", ".join(
                f"{t} -> {p}: {c}"
                for (t, p), c in sorted(conf_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:5]
            )
            findings.append(
                Finding(
                    CHECK,
                    "info",
                    (),
                    "Earlier model's confusions present in the export (label -> predicted): "
                    f"{top}.",
                    "",
                )
            )
    boundary = in_pairs | flagged_in | confused
    need = max(1, round(min_share * n))
    counts = (
        f"{len(pairs)} contrast pair(s) ({len(in_pairs)} items), {len(flagged_in)} flagged "
        "adversarial"
        + (f", {len(confused)} earlier-model confusion(s)" if predictions is not None else "")
    )
    if len(boundary) < need:
        findings.append(
            Finding(
                CHECK,
                "error",
                sorted(boundary, key=natural_key),
                f"Only {len(boundary)} of {n} items are adversarial or near the boundary "
                f"({counts}); "
                f"at least {need} ({min_share:.0%}) are needed.",
                "Add hard cases: contrast pairs (minimal edits that flip the label), items an "
                "earlier "
                "model got wrong (--predictions), or flagged adversarial items (meta.adversarial).",
            )
        )
    else:
        findings.append(
            Finding(
                CHECK,
                "info",
                sorted(boundary, key=natural_key)[:50],
                f"{len(boundary)} of {n} items are adversarial or near the boundary ({counts}).",
                "",
            )
        )
    return findings
