"""Number, interval and value formatting shared by every renderer (deterministic, never ``-0.000``)."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "MISSING",
    "fmt_category",
    "fmt_ci",
    "fmt_count",
    "fmt_num",
    "fmt_share",
    "fmt_value",
    "is_number",
    "metric_entry",
]

MISSING = "n/a"


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def fmt_num(v: Any, digits: int = 3) -> str:
    """A coefficient with ``digits`` decimals; ``None``/NaN becomes ``n/a``; never ``-0.000``."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return MISSING
    if not is_number(v):
        return str(v)
    if isinstance(v, int):
        return str(v)
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    text = f"{v:.{digits}f}"
    if text.startswith("-") and float(text) == 0.0:
        text = text[1:]
    return text


def fmt_count(v: Any) -> str:
    """A count that may be fractional (coincidences): integers plainly, others with 2 decimals."""
    if is_number(v) and not (isinstance(v, float) and (math.isnan(v) or math.isinf(v))):
        if float(v).is_integer():
            return str(int(v))
        return fmt_num(v, 2)
    return fmt_num(v)


def fmt_share(v: Any) -> str:
    if not is_number(v) or (isinstance(v, float) and math.isnan(v)):
        return MISSING
    return f"{100.0 * v:.1f}%"


def fmt_ci(ci: Any) -> str:
    """``[lo, hi]`` with three decimals, or ``""`` when there is no interval."""
    if not isinstance(ci, Sequence) or isinstance(ci, str) or len(ci) != 2:
        return ""
    lo, hi = ci
    if not (is_number(lo) and is_number(hi)):
        return ""
    return f"[{fmt_num(lo)}, {fmt_num(hi)}]"


def fmt_value(v: Any) -> str:
    """A judgement as a short string: labels as is, sets as ``{a, b}``, spans as ``label[0:5]``."""
    if v is None:
        return MISSING
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if is_number(v):
        return fmt_count(v) if float(v).is_integer() else repr(float(v))
    if isinstance(v, Mapping) and {"start", "end", "label"} <= set(v):
        return f"{v['label']}[{v['start']}:{v['end']}]"
    if isinstance(v, (list, tuple, set, frozenset)):
        parts = [fmt_value(x) for x in v]
        if all(isinstance(x, Mapping) for x in v) and v:
            return " ".join(parts)
        return "{" + ", ".join(parts) + "}"
    return json.dumps(v, ensure_ascii=False, sort_keys=False, default=str)


def metric_entry(entry: Any, name: str | None = None) -> tuple[Any, Any, Any]:
    """``(value, ci95, reason)`` from either a metric dict or a bare number.

    Per-label and set coefficients may be given as plain numbers or as ``{value, ci95, reason}``
    dicts; a sibling ``<name>_ci95`` key in ``entry``'s parent is looked up by the caller.
    """
    if isinstance(entry, Mapping):
        return entry.get("value"), entry.get("ci95"), entry.get("reason")
    return entry, None, None


def fmt_category(c: Any) -> str:
    """A category for display; label sets (JSON lists in ``categories``) show as ``{a, b}``."""
    text = str(c)
    if text.startswith("[") and text.endswith("]"):
        try:
            parsed = json.loads(text)
        except ValueError:
            return text
        if isinstance(parsed, list) and all(isinstance(x, str) for x in parsed):
            return "{" + ", ".join(parsed) + "}"
    return text
