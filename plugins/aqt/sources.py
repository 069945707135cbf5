"""Data sources for calibration and the edge-case catalogue: items with an id, a text and metadata.

A source is JSONL or a JSON list of task dicts (``text``, optional ``id`` and ``meta``, other fields
kept as metadata), or CSV with a ``text`` column. An item without an id is named by its text hash,
which is also the item hash manifests record.

>>> it = SourceItem("1", "ok", {"source": "app", "meta": {"lang": "en"}})
>>> field_value(it, "source"), field_value(it, "meta.lang"), field_value(it, "lang")
('app', 'en', 'en')
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aqt.errors import InputError, collect_problems, truncate

__all__ = ["SourceItem", "field_value", "read_language_samples", "read_source_items", "text_hash"]


@dataclass(frozen=True)
class SourceItem:
    """One item of a data source: its id, text and metadata (the task's other fields)."""

    id: str
    text: str
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def hash(self) -> str:
        return text_hash(self.text)


def text_hash(text: str) -> str:
    """``sha256`` of the UTF-8 text, first 16 hex digits: the item hash of manifests."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def field_value(item: SourceItem, path: str) -> Any:
    """A field of an item: ``meta.x.y`` or ``x`` (looked up in the item's fields, then ``meta``)."""
    parts = path.split(".")
    if parts[0] == "meta":
        parts = parts[1:]
    node: Any = item.meta
    if parts and parts[0] not in node and isinstance(node.get("meta"), Mapping):
        node = node["meta"]
    for p in parts:
        if not isinstance(node, Mapping) or p not in node:
            return None
        node = node[p]
    return node


def _item(raw: Any, where: str, problems: list[str]) -> SourceItem | None:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: expected an object with a text field")
        return None
    text = raw.get("text")
    if not isinstance(text, str) or not text.strip():
        problems.append(f"{where}: no text")
        return None
    meta = {k: v for k, v in raw.items() if k != "text" and not str(k).startswith("_")}
    raw_id = raw.get("id")
    if raw_id is None and isinstance(raw.get("meta"), Mapping):
        raw_id = raw["meta"].get("id")
    return SourceItem(str(raw_id) if raw_id is not None else text_hash(text), text, meta)


def read_source_items(path: str | Path) -> list[SourceItem]:
    """Items of a data source: JSONL or a JSON list of task dicts (``text``, optional ``id`` and
    ``meta``), or CSV with a ``text`` column. An item without ``id`` (or ``meta.id``) is named by
    its text hash. Every bad line is reported; repeated ids are errors."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"No data source at {str(p)!r}.", fix="Check the path.")
    problems: list[str] = []
    rows: list[tuple[str, Any]] = []
    suffix = p.suffix.lower()
    if suffix == ".csv":
        with open(p, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            if "text" not in (reader.fieldnames or []):
                raise InputError(
                    f"{p}: no 'text' column (columns: {truncate(reader.fieldnames or [])}).",
                    fix="Name the column holding the texts 'text'.",
                )
            rows = [(f"line {i}", dict(r)) for i, r in enumerate(reader, 2)]
    elif suffix == ".json":
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(f"{p}: not valid JSON ({exc}).", fix="Fix the file.") from None
        if not isinstance(data, list):
            raise InputError(f"{p}: expected a JSON list of tasks.", fix="Use JSONL or a list.")
        rows = [(f"task {i}", r) for i, r in enumerate(data)]
    else:
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append((f"line {i}", json.loads(line)))
            except json.JSONDecodeError as exc:
                problems.append(f"line {i}: not JSON ({exc.msg})")
    items, ids = [], {}
    for where, raw in rows:
        it = _item(raw, where, problems)
        if it is None:
            continue
        if it.id in ids:
            problems.append(f"{where}: id {it.id!r} repeats {ids[it.id]}")
            continue
        ids[it.id] = where
        items.append(it)
    collect_problems(problems, f"Data source {p}", "Fix or drop the listed lines.")
    if not items:
        raise InputError(f"Data source {p} holds no items.", fix="Pass a file with texts.")
    return items


def read_language_samples(path: str | Path) -> dict[str, list[str]]:
    """``{lang: [texts]}`` from an existing JSONL file of ``{"text": ..., "lang": ...}`` lines
    (reference text for the selection-review language check); blank lines are skipped."""
    p = Path(path)
    out: dict[str, list[str]] = {}
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            row = None
        if not isinstance(row, dict) or not row.get("lang") or not row.get("text"):
            raise InputError(
                f'{p} line {n}: expected {{"text": ..., "lang": ...}}, got {line[:80]!r}.',
                fix="Give every sample its text and language code.",
            )
        out.setdefault(str(row["lang"]), []).append(str(row["text"]))
    return out
