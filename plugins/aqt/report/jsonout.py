"""The JSON rendering: exactly the report dict, key order kept, indent 2."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["render_json", "to_jsonable"]


def to_jsonable(obj: Any) -> Any:
    """Plain JSON types: NaN/inf become ``null``, numpy scalars and arrays become Python values,
    sets become sorted lists; mapping key order is kept."""
    if isinstance(obj, float):
        return None if (math.isnan(obj) or math.isinf(obj)) else obj
    if obj is None or isinstance(obj, (str, int, bool)):
        return obj
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (set, frozenset)):
        return [to_jsonable(v) for v in sorted(obj, key=str)]
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if hasattr(obj, "tolist"):  # numpy arrays and scalars
        return to_jsonable(obj.tolist())
    if hasattr(obj, "to_dict"):
        return to_jsonable(obj.to_dict())
    return str(obj)


def render_json(d: Mapping[str, Any]) -> str:
    """The report dict as JSON text: the dict's own key order, indent 2, UTF-8 kept, no trailing
    newline. ``json.loads(render_json(d)) == d`` for any dict of plain JSON values."""
    return json.dumps(to_jsonable(d), indent=2, ensure_ascii=False, allow_nan=False)
