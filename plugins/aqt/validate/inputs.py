"""Reading the side inputs of an export: item metadata, earlier-model predictions, production
labels and a target balance. Shared by ``aqt export`` and the ``aqt.export`` recipe."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aqt.edgecases import SourceItem, read_source_items
from aqt.errors import InputError, UsageError, truncate

__all__ = [
    "item_meta",
    "load_meta",
    "load_predictions",
    "parse_balance",
    "production_labels",
    "table_columns",
]


def item_meta(item: SourceItem) -> dict[str, Any]:
    """The fields of a data-source item, with a nested ``meta`` object merged in (outer wins)."""
    out: dict[str, Any] = {}
    inner = item.meta.get("meta")
    if isinstance(inner, Mapping):
        out.update(inner)
    out.update({k: v for k, v in item.meta.items() if k != "meta"})
    out["text"] = item.text
    return out


def load_meta(path: str | Path) -> dict[str, dict[str, Any]]:
    """``{id: fields}`` from a data source (JSONL, JSON or CSV with ``text`` and ``id``)."""
    return {it.id: item_meta(it) for it in read_source_items(path)}


def production_labels(path: str | Path) -> tuple[list[SourceItem], list[str]]:
    """Items of a production sample and the labels of those that have one (``label`` field)."""
    items = read_source_items(path)
    labels = [
        str(item_meta(it)["label"]) for it in items if item_meta(it).get("label") not in (None, "")
    ]
    return items, labels


def _read_rows(path: Path) -> list[dict[str, Any]]:
    import pandas as pd

    if not path.is_file():
        raise InputError(f"No file at {str(path)!r}.", fix="Check the path.")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        elif suffix == ".parquet":
            frame = pd.read_parquet(path)
        else:
            rows = [
                json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()
            ]
            return [r for r in rows if isinstance(r, dict)]
    except (ValueError, OSError) as exc:
        raise InputError(
            f"Cannot read {path}: {exc}.", fix="Pass a CSV, JSONL or Parquet file."
        ) from None
    return frame.to_dict("records")


def load_predictions(path: str | Path) -> dict[str, str]:
    """``{item: predicted label}`` from a CSV/JSONL/Parquet file with columns ``item`` (or ``id``)
    and ``prediction`` (or ``label``)."""
    p = Path(path)
    rows = _read_rows(p)
    out: dict[str, str] = {}
    problems = []
    for n, r in enumerate(rows, 1):
        item = r.get("item", r.get("id"))
        pred = r.get("prediction", r.get("label"))
        if item in (None, "") or pred in (None, ""):
            problems.append(n)
            continue
        out[str(item)] = str(pred)
    if problems:
        raise InputError(
            f"{p}: {len(problems)} row(s) lack an item or prediction (rows {truncate(problems)}).",
            fix="Give every row 'item' and 'prediction' columns.",
        )
    return out


def table_columns(
    path: str | Path, item_col: str = "item", skip: tuple[str, ...] = ()
) -> dict[str, dict[str, Any]]:
    """Extra columns of an annotation table (CSV/JSONL/Parquet) per item (first non-empty value),
    e.g. a source document column for ``--group-col``."""
    rows = _read_rows(Path(path))
    known = {
        item_col,
        "annotator",
        "label",
        "value",
        "kind",
        "control",
        "timestamp",
        "annotation_id",
        *skip,
    }
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        item = r.get(item_col)
        if item is None:
            continue
        d = out.setdefault(str(item), {})
        for k, v in r.items():
            if (
                k not in known
                and k not in d
                and v not in (None, "")
                and not (isinstance(v, float) and math.isnan(v))
            ):
                d[k] = v
    return out


def parse_balance(text: str | None) -> dict[str, float] | None:
    """``"pos=0.5,neg=0.5"`` -> ``{"pos": 0.5, "neg": 0.5}``."""
    if text is None:
        return None
    out = {}
    for part in text.split(","):
        if "=" not in part:
            raise UsageError(
                f"--target-balance {text!r}: {part!r} is not label=share.",
                fix="Write e.g. --target-balance pos=0.5,neg=0.5.",
            )
        k, v = part.split("=", 1)
        try:
            out[k.strip()] = float(v)
        except ValueError:
            raise UsageError(
                f"--target-balance {text!r}: {v!r} is not a number.",
                fix="Write e.g. --target-balance pos=0.5,neg=0.5.",
            ) from None
    return out
