"""Findings: the one result shape of every check in aqt.

A check (calibration gate, dataset validation, preference checks, selection review) returns a list of
:class:`Finding`. Front ends render them; a finding of severity ``error`` makes the CLI exit 3.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SEVERITIES", "Finding", "has_errors", "sort_findings", "worst_severity"]

#: allowed severities, mildest first
SEVERITIES = ("info", "warning", "error")


@dataclass(frozen=True)
class Finding:
    """One problem a check found.

    Parameters
    ----------
    check : str
        Name of the check (``"empty_text"``, ``"near_duplicate"``, ...).
    severity : {"info", "warning", "error"}
        How bad it is; ``error`` fails a gate (exit code 3).
    items : tuple of str
        Ids of the items concerned, sorted; may be empty for dataset-wide findings.
    message : str
        What is wrong, with the offending values.
    fix : str
        What to do about it.
    """

    check: str
    severity: str
    items: tuple[str, ...] = field(default_factory=tuple)
    message: str = ""
    fix: str = ""

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"severity must be one of {SEVERITIES}, got {self.severity!r}")
        object.__setattr__(self, "items", tuple(str(i) for i in self.items))

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": self.check,
            "severity": self.severity,
            "items": list(self.items),
            "message": self.message,
            "fix": self.fix,
        }


def worst_severity(findings: Iterable[Finding]) -> str | None:
    """The most severe level among ``findings`` (``None`` when there are none)."""
    levels = [SEVERITIES.index(f.severity) for f in findings]
    return SEVERITIES[max(levels)] if levels else None


def has_errors(findings: Iterable[Finding]) -> bool:
    """True when any finding has severity ``error`` (the CLI then exits 3)."""
    return any(f.severity == "error" for f in findings)


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    """Worst first, then by check name and first item, for byte-identical reports."""
    return sorted(
        findings,
        key=lambda f: (-SEVERITIES.index(f.severity), f.check, f.items[:1], f.message),
    )
