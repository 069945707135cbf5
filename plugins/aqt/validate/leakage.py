"""Leakage: the same text (exactly or nearly) in more than one split."""

from __future__ import annotations

from collections.abc import Sequence

from aqt.findings import Finding
from aqt.validate._dups import duplicate_pairs

__all__ = ["find_leakage"]

CHECK = "leakage"


def find_leakage(
    ids: Sequence[str], texts: Sequence[str], splits: Sequence[str], *, threshold: float = 0.7
) -> list[Finding]:
    """An ``error`` for exact and one for near duplicates that sit in different splits.

    ``splits`` gives each item's split name (``train``, ``dev``, ``test``); items lists both ids
    of every leaking pair.
    """
    findings = []
    leaks: dict[str, list[tuple[str, str, str]]] = {"exact": [], "near": []}
    for i, j, kind, _ in duplicate_pairs(texts, threshold):
        if splits[i] != splits[j]:
            leaks[kind].append((str(ids[i]), str(ids[j]), f"{splits[i]}/{splits[j]}"))
    for kind, rows in leaks.items():
        if not rows:
            continue
        shown = "; ".join(
            f"{a} ({s.split('/')[0]}) ~ {b} ({s.split('/')[1]})" for a, b, s in rows[:5]
        )
        more = f" (+{len(rows) - 5} more)" if len(rows) > 5 else ""
        what = (
            "exact duplicates"
            if kind == "exact"
            else f"near duplicates (similarity >= {threshold})"
        )
        findings.append(
            Finding(
                CHECK,
                "error",
                sorted({x for a, b, _ in rows for x in (a, b)}),
                f"{len(rows)} pair(s) of {what} across splits: {shown}{more}.",
                "Let aqt make the splits (duplicates are grouped into one split), or drop the "
                "copies.",
            )
        )
    if not findings:
        findings.append(
            Finding(CHECK, "info", (), "No exact or near duplicates across splits.", "")
        )
    return findings
