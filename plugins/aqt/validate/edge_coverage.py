"""Edge-case coverage: each case of the catalogue is covered by at least ``k`` exported items."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aqt.edgecases import Catalogue, SourceItem, find_candidates
from aqt.findings import Finding

__all__ = ["find_edge_case_gaps"]

CHECK = "edge_case_coverage"


def find_edge_case_gaps(
    catalogue: Catalogue,
    items: Sequence[SourceItem],
    labels: Mapping[str, str] | None = None,
    *,
    k: int = 3,
) -> list[Finding]:
    """One ``error`` per catalogue case matched by fewer than ``k`` items of the export.

    When ``labels`` (``{item: label}``) are given, a ``warning`` lists covered items whose final
    label differs from the case's expected label (the catalogue and the labels disagree), and an
    ``info`` finding gives the count per case.
    """
    hits = find_candidates(catalogue, items)
    findings: list[Finding] = []
    counts = []
    for case in catalogue.cases:
        ids = hits.get(case.id, [])
        counts.append(f"{case.id} {len(ids)}")
        if len(ids) < k:
            findings.append(
                Finding(
                    CHECK,
                    "error",
                    tuple(ids),
                    f"Edge case {case.id!r} ({case.description}) is covered by {len(ids)} item(s), "
                    f"fewer than {k}.",
                    "Find candidates with `aqt guidelines check --source FILE` and annotate at "
                    f"least {k - len(ids)} more, or lower --edge-case-min.",
                )
            )
        if labels is not None and case.expected:
            off = [i for i in ids if i in labels and str(labels[i]) != case.expected]
            if off:
                findings.append(
                    Finding(
                        CHECK,
                        "warning",
                        tuple(off[:50]),
                        f"Edge case {case.id!r}: {len(off)} of {len(ids)} matching items are not "
                        f"labelled {case.expected!r}.",
                        "Check those items against the guideline section, or narrow the rule.",
                    )
                )
    findings.append(
        Finding(CHECK, "info", (), f"Items per edge case (k = {k}): {', '.join(counts)}.", "")
    )
    return findings
