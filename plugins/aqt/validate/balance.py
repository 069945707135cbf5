"""Class balance of the final labels against a target or the production distribution."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from aqt.errors import UsageError
from aqt.findings import Finding
from aqt.records import natural_key

__all__ = ["find_class_imbalance", "label_shares"]

CHECK = "class_balance"


def label_shares(labels: Sequence[str]) -> dict[str, float]:
    """Share of each label, labels in natural order."""
    counts = Counter(str(v) for v in labels)
    total = sum(counts.values()) or 1
    return {k: counts[k] / total for k in sorted(counts, key=natural_key)}


def find_class_imbalance(
    labels: Mapping[str, str],
    *,
    target: Mapping[str, float] | None = None,
    production: Sequence[str] | None = None,
    tolerance: float = 0.1,
    min_share: float = 0.02,
) -> list[Finding]:
    """Compare the label distribution of the final labels with a target.

    Parameters
    ----------
    labels
        ``{item: label}`` of the final labels.
    target
        ``{label: share}``; shares are normalised to sum to 1.
    production
        Labels of a production sample (used as the target when ``target`` is not given).
    tolerance
        Largest allowed absolute difference between a label's share and its target share.
    min_share
        Without a target: a label under this share is a ``warning``.

    Returns
    -------
    list of Finding
        ``error`` for each label off its target by more than ``tolerance`` (or a target label
        missing), ``warning`` for labels without a target, ``info`` with the distribution.
    """
    shares = label_shares(list(labels.values()))
    if target is None and production is not None:
        target, source = label_shares(production), "the production sample"
    else:
        source = "the target"
    findings: list[Finding] = []
    dist = ", ".join(f"{k} {v:.1%}" for k, v in shares.items())
    if target is not None:
        total = float(sum(target.values()))
        if total <= 0 or any(v < 0 for v in target.values()):
            raise UsageError(
                f"Target shares must be non-negative with a positive sum, got {dict(target)}.",
                fix="Write e.g. --target-balance pos=0.5,neg=0.5.",
            )
        goal = {str(k): float(v) / total for k, v in target.items()}
        for lab in sorted(set(goal) | set(shares), key=natural_key):
            have, want = shares.get(lab, 0.0), goal.get(lab)
            items = sorted((i for i, v in labels.items() if str(v) == lab), key=natural_key)
            if want is None:
                findings.append(
                    Finding(
                        CHECK,
                        "warning",
                        (),
                        f"Label {lab!r} ({have:.1%}) is not in {source}.",
                        "Add it to the target, or check the label set.",
                    )
                )
            elif abs(have - want) > tolerance + 1e-12:
                more = "over" if have > want else "under"
                findings.append(
                    Finding(
                        CHECK,
                        "error",
                        (),
                        f"Label {lab!r} is {more}-represented: {have:.1%} of {len(labels)} items "
                        f"({len(items)}) against {want:.1%} in {source} (tolerance "
                        f"{tolerance:.0%}).",
                        f"Collect or select more {'other' if have > want else repr(lab)} items "
                        "(aqt coverage lists candidates), or down-sample; or change the target.",
                    )
                )
        findings.append(
            Finding(
                CHECK,
                "info",
                (),
                f"Label distribution: {dist}; {source}: "
                + ", ".join(
                    f"{k} {v:.1%}"
                    for k, v in sorted(goal.items(), key=lambda kv: natural_key(kv[0]))
                )
                + ".",
                "",
            )
        )
        return findings
    for lab, have in shares.items():
        if have < min_share:
            findings.append(
                Finding(
                    CHECK,
                    "warning",
                    (),
                    f"Label {lab!r} has only {have:.1%} of the items.",
                    "Collect more of it, or pass a target with --target-balance.",
                )
            )
    findings.append(Finding(CHECK, "info", (), f"Label distribution: {dist}.", ""))
    return findings
