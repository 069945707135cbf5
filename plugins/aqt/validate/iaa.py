"""Final inter-annotator agreement against the threshold."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aqt.findings import Finding

__all__ = ["find_low_agreement"]

CHECK = "final_iaa"


def find_low_agreement(
    report: Mapping[str, Any],
    *,
    threshold: float = 0.667,
    target: float = 0.8,
    metric: str = "krippendorff_alpha",
) -> list[Finding]:
    """Findings on the agreement of the annotations behind the final labels.

    Parameters
    ----------
    report
        ``AgreementReport.to_dict()`` of the annotations (``metrics[metric]`` with ``value``,
        ``ci95`` and ``reason``).
    threshold
        Below it: ``error`` (Krippendorff's 0.667, the lowest bound for tentative conclusions).
    target
        Below it (but at or above ``threshold``), or a 95% interval reaching under ``threshold``:
        ``warning``.

    Returns
    -------
    list of Finding
        One finding: ``error``, ``warning`` or ``info`` (the value and its interval).
    """
    entry = (report.get("metrics") or {}).get(metric) or {}
    value = entry.get("value")
    ci = entry.get("ci95")
    shown = (
        f"{metric} = {value:.3f}" if isinstance(value, (int, float)) else f"{metric} is not defined"
    )
    if ci:
        shown += f" (95% CI {ci[0]:.3f} to {ci[1]:.3f})"
    n = report.get("n_items")
    if not isinstance(value, (int, float)):
        return [
            Finding(
                CHECK,
                "warning",
                (),
                f"{shown} on {n} items: {entry.get('reason') or 'no overlapping annotations'}.",
                "Have at least two annotators label an overlap share of the items.",
            )
        ]
    worst = [str(d["item"]) for d in (report.get("disagreements") or [])[:20]]
    if value < threshold:
        return [
            Finding(
                CHECK,
                "error",
                sorted(worst),
                f"Final agreement {shown} on {n} items is below the threshold {threshold}.",
                "Revise the guidelines on the confused labels, re-calibrate and re-annotate the "
                "disagreements (aqt calibrate gate, prodigy aqt.adjudicate), or lower alpha_gate with a reason.",
            )
        ]
    if value < target or (ci and ci[0] < threshold):
        return [
            Finding(
                CHECK,
                "warning",
                sorted(worst),
                f"Final agreement {shown} on {n} items passes {threshold} but not the target "
                f"{target}.",
                "Adjudicate the listed disagreements; more overlap narrows the interval.",
            )
        ]
    return [
        Finding(
            CHECK,
            "info",
            (),
            f"Final agreement {shown} on {n} items meets the target {target}.",
            "",
        )
    ]
