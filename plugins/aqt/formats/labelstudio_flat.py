"""Label Studio JSON_MIN and CSV exports: one flat row per (non-cancelled) annotation.

These exports carry no labeling config, so the control columns are found from the data. A row holds
the task data fields, ``id`` (the task), one column per control ``from_name``, and bookkeeping
(``annotator``, ``annotation_id``, ``created_at``, ``updated_at``, ``lead_time``, ``agreement``,
``history``). A control column's value is a plain string for one choice (or one TextArea line),
``{"choices": [...]}`` for several, a list of result values for the other tags (``[{"rating": 4}]``,
``[{"start": 0, "end": 5, "labels": ["PER"]}, ...]``, ``[{"selected": "left"}]``), and absent (CSV:
empty) when nothing was picked. The CSV writes non-string values as JSON text and renames task
data colliding with a control to ``_data_NAME``.

Which columns are controls
--------------------------
1. The ``controls`` hint (``--label-col`` / ``--control``), when given: exactly those columns.
2. Otherwise every column whose values are shaped like results (a dict or list of result values).
3. Plus every other column whose value differs between annotations of the same task (task data is
   the same in every row of a task; a judgement is not, or is missing in some rows).
4. If that finds nothing: the short, few-valued string columns that do not hold a distinct value
   per task (a review text does). Several such columns: an error listing them, pass the hint.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from aqt.errors import FormatError, InputError, UsageError, collect_problems, truncate
from aqt.formats._common import (
    annotation_from_base,
    check_file,
    gc_paused,
    is_missing,
    load_json_document,
    parse_timestamp,
    read_text,
)
from aqt.records import AnnotationTable, normalize_value

__all__ = [
    "BOOKKEEPING",
    "read_labelstudio_csv",
    "read_labelstudio_min",
    "read_labelstudio_min_json",
]

BOOKKEEPING = frozenset(
    {
        "id",
        "annotator",
        "annotation_id",
        "created_at",
        "updated_at",
        "lead_time",
        "agreement",
        "history",
        "drafts",
        "predictions",
    }
)
_RESULT_KEYS = ("labels", "rating", "number", "selected", "choices", "text", "taxonomy")
_HINT_FIX = "Name the control column(s) with --label-col NAME (or --control NAME)."


def read_labelstudio_min_json(
    path: str | Path, *, controls: Sequence[str] | None = None, kind: str | None = None
) -> AnnotationTable:
    """Read a JSON_MIN export file; see :func:`read_labelstudio_min`."""
    p = check_file(path)
    doc = load_json_document(p)
    if not isinstance(doc, list):
        raise FormatError(
            f"{p.name} is a JSON {type(doc).__name__}, not a JSON_MIN list of annotations.",
            fix="Export the project again as JSON_MIN, or pass --from to pick another format.",
        )
    return read_labelstudio_min(doc, controls=controls, kind=kind, name=p.name)


@gc_paused
def read_labelstudio_min(
    records: list[dict],
    *,
    controls: Sequence[str] | None = None,
    kind: str | None = None,
    name: str = "records",
) -> AnnotationTable:
    """Turn JSON_MIN rows (one flat dict per annotation) into an :class:`AnnotationTable`.

    Parameters
    ----------
    records
        Flat dicts with ``id``, ``annotator``, ``annotation_id``, task data and control columns.
    controls
        Control column names; found from the data when omitted (module docstring).
    kind
        Force the kind of every value (e.g. ``"text"`` for TextArea, ``"rating"``).

    Returns
    -------
    AnnotationTable
        One record per row per control that holds a judgement. ``skipped["cancelled"]`` is 0:
        these exports already leave cancelled annotations out.
    """
    bad = [f"record {i}" for i, r in enumerate(records) if not isinstance(r, Mapping)]
    collect_problems(bad, f"{name} is not JSON_MIN", fix="Each record must be a JSON object.")
    return _rows_to_table(list(records), name, controls, kind, from_csv=False)


@gc_paused
def read_labelstudio_csv(
    path: str | Path, *, controls: Sequence[str] | None = None, kind: str | None = None
) -> AnnotationTable:
    """Read a Label Studio CSV (or TSV) export; same rules as :func:`read_labelstudio_min`."""
    p = check_file(path)
    text = read_text(p)
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    delimiter = "\t" if p.suffix.lower() == ".tsv" else ","
    try:
        rows = list(csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise FormatError(f"{p.name} is not valid CSV: {exc}.", fix="Export it again.") from None
    if not rows:
        raise InputError(
            f"{p.name} has a header but no rows.", fix="Export a project with annotations."
        )
    return _rows_to_table(rows, p.name, controls, kind, from_csv=True)


def _decode(value: Any, from_csv: bool) -> Any:
    """CSV cells hold JSON text for non-string values; decode those that look like it."""
    if from_csv and isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _shaped(value: Any) -> bool:
    if isinstance(value, Mapping):
        return isinstance(value.get("choices"), list) or isinstance(value.get("text"), list)
    if isinstance(value, list) and value:
        return all(isinstance(v, Mapping) and any(k in v for k in _RESULT_KEYS) for v in value)
    return False


def _find_controls(rows: list[dict], columns: list[str], from_csv: bool) -> list[str]:
    candidates = [
        c
        for c in columns
        if c not in BOOKKEEPING and not c.startswith("_data_") and not c.endswith("_transcript")
    ]
    found = []
    for c in candidates:
        if any(_shaped(_decode(r.get(c), from_csv)) for r in rows):
            found.append(c)
            continue
        per_task: dict[str, set] = {}
        for r in rows:
            v = r.get(c)
            per_task.setdefault(str(r.get("id")), set()).add(
                None if is_missing(v) else json.dumps(v, sort_keys=True)
            )
        if any(len(vs) > 1 for vs in per_task.values()):
            found.append(c)
    if found:
        return found
    n_tasks = len({str(r.get("id")) for r in rows})
    fallback = []
    for c in candidates:
        values = [r.get(c) for r in rows if not is_missing(r.get(c))]
        distinct = {v for v in values if isinstance(v, str)}
        if (
            values
            and all(isinstance(v, str) for v in values)
            and len(distinct) <= 50
            and (n_tasks == 1 or len(distinct) < n_tasks)
            and max(len(v) for v in distinct) <= 60
        ):
            fallback.append(c)
    if len(fallback) == 1:
        return fallback
    if not fallback:
        raise InputError(
            f"Found no control column among {truncate(candidates, 12)}.", fix=_HINT_FIX
        )
    raise UsageError(
        f"Cannot tell task data from control columns: {truncate(fallback, 12)} could be either.",
        fix=_HINT_FIX,
    )


def _cell_value(value: Any) -> tuple[str, Any] | None:
    """``(kind, value)`` for one control cell, or ``None`` when it holds nothing."""
    if is_missing(value):
        return None
    if isinstance(value, str):
        return "choice", value
    if isinstance(value, bool):
        return "choice", str(value).lower()
    if isinstance(value, (int, float)):
        return "choice", str(int(value)) if float(value).is_integer() else str(value)
    if isinstance(value, Mapping):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ValueError(f"not a result value: {str(value)[:40]!r}")
    first = value[0]
    if not isinstance(first, Mapping):
        raise TypeError(f"not a result value: {str(value)[:40]!r}")
    if "labels" in first:
        return "spans", normalize_value(
            "spans", [(v["start"], v["end"], lab) for v in value for lab in v.get("labels") or []]
        )
    if "choices" in first:
        return "multichoice", frozenset(str(c) for v in value for c in v.get("choices") or [])
    for key, kind in (("rating", "rating"), ("number", "number"), ("selected", "pairwise")):
        if key in first:
            return kind, normalize_value(kind, first[key])
    if "text" in first:
        texts = first["text"]
        return "text", "\n".join(texts) if isinstance(texts, list) else str(texts)
    raise ValueError(f"unknown result value with keys {sorted(first)}")


def _rows_to_table(
    rows: list[dict], name: str, controls: Sequence[str] | None, kind: str | None, from_csv: bool
) -> AnnotationTable:
    if not rows:
        raise InputError(f"{name} holds no annotations.", fix="Export a project with annotations.")
    columns: list[str] = list(dict.fromkeys(k for r in rows for k in r))
    missing = [c for c in ("id", "annotator") if c not in columns]
    if missing:
        raise FormatError(
            f"{name} has no {truncate(missing)} column(s); columns found: {truncate(columns, 12)}.",
            fix="Pass a Label Studio JSON_MIN/CSV export, or --from table with --item-col, "
            "--annotator-col and --label-col.",
        )
    if all(is_missing(r.get("annotator")) and is_missing(r.get("annotation_id")) for r in rows):
        raise InputError(
            f"{name} holds no annotations ({len(rows)} task(s), none annotated).",
            fix="Annotate some tasks, then export again.",
        )
    if controls:
        unknown = [c for c in controls if c not in columns]
        if unknown:
            raise UsageError(
                f"No column {truncate(unknown)} in {name}; columns found: {truncate(columns, 12)}.",
                fix="Pass one of those to --label-col / --control.",
            )
        control_cols = list(controls)
    else:
        control_cols = _find_controls(rows, columns, from_csv)
    problems: list[str] = []
    cells: list[tuple] = []
    multi: set[str] = set()
    text_col = "text" if "text" not in control_cols else "_data_text"
    for i, row in enumerate(rows):
        where = f"row {i + 2}" if from_csv else f"record {i}"
        item, annotator = row.get("id"), row.get("annotator")
        if is_missing(annotator) and is_missing(row.get("annotation_id")):
            continue  # a task exported without annotations
        if is_missing(item) or is_missing(annotator):
            problems.append(f"{where}: empty id or annotator")
            continue
        try:
            ts = parse_timestamp(row.get("created_at"))
        except (TypeError, ValueError):
            ts = None
        aid = row.get("annotation_id")
        text = row.get(text_col)
        base = (
            _id(item),
            _id(annotator),
            ts,
            None if is_missing(aid) else _id(aid),
            text if isinstance(text, str) and text else None,
        )
        for c in control_cols:
            try:
                got = _cell_value(_decode(row.get(c), from_csv))
            except (KeyError, TypeError, ValueError) as exc:
                problems.append(f"{where} column {c!r}: {exc}")
                continue
            if got is None:
                continue
            if got[0] == "multichoice":
                multi.add(c)
            cells.append((base, c, got))
    collect_problems(problems, f"{name} has unreadable rows", fix="Export the project again.")
    # an annotation with no region of a Labels control says "no spans", as in the JSON reader
    span_cols = sorted({c for _, c, (k, _) in cells if k == "spans"})
    if span_cols and kind in (None, "spans"):
        have = {(base, c) for base, c, _ in cells}
        for base in dict.fromkeys(base for base, _, _ in cells):
            cells.extend((base, c, ("spans", ())) for c in span_cols if (base, c) not in have)
    records = []
    for base, c, (k, value) in cells:
        if kind is not None and kind != k:
            try:
                value = normalize_value(kind, value)
            except (TypeError, ValueError) as exc:
                raise InputError(
                    f"{name} column {c!r}: value {value!r} is not a {kind} ({exc}).",
                    fix="Pick another --kind or leave it out.",
                ) from None
            k = kind
        elif c in multi and k == "choice":
            k, value = "multichoice", frozenset([value])
        records.append(annotation_from_base(base, value, k, c))
    if not records:
        n_tasks = len({str(r.get("id")) for r in rows})
        raise InputError(
            f"{name} holds no judgements ({len(rows)} row(s), {n_tasks} task(s)): no control "
            f"column {truncate(control_cols)} has a value.",
            fix="Annotate some tasks, or name the control column with --label-col.",
        )
    return AnnotationTable.from_records(records)


def _id(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def controls_of(rows: Iterable[Mapping]) -> list[str]:
    """The control columns :func:`read_labelstudio_min` would use for ``rows`` (for messages)."""
    rows = list(rows)
    return _find_controls(rows, list(dict.fromkeys(k for r in rows for k in r)), False)
