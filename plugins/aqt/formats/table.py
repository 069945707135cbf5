"""Plain annotation tables: CSV (or TSV), JSON Lines, a JSON list of rows, or Parquet.

Columns ``item``, ``annotator`` and ``label`` by default (any names, given as ``item_col``,
``annotator_col``, ``label_col``; a ``value`` column stands in for ``label`` when there is none).
These optional columns are used when present: ``kind``, ``control``, ``timestamp`` (Unix seconds or
ISO 8601), ``guideline_version``, ``source``, ``annotation_id``, ``text``. A row with an empty label
holds no judgement and is left out.

Values: without a ``kind`` column (or ``kind=``) a JSON list of strings is a ``multichoice`` set, a
list of ``{start, end, label}`` objects is ``spans``, anything else a ``choice`` label (numbers
become labels such as ``"4"``). In CSV and Parquet, sets and spans are JSON text.

:func:`write_table` (in :mod:`aqt.formats.table_write`) writes every column, so a table written
and read back is equal.
"""

from __future__ import annotations

import io
import itertools
import json
import math
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from aqt.errors import FormatError, InputError, collect_problems, truncate
from aqt.formats._columnar import columnar_table, jsonl_columnar
from aqt.formats._common import (
    PARQUET_MAGIC,
    Progress,
    binary_error,
    check_file,
    fast_annotation,
    gc_paused,
    is_missing,
    iter_jsonl,
    load_json_document,
    looks_binary,
    parse_timestamp,
    read_head,
    read_text,
)
from aqt.formats.table_write import OPTIONAL_COLUMNS, write_table
from aqt.records import KINDS, Annotation, AnnotationTable, normalize_value

__all__ = ["OPTIONAL_COLUMNS", "TABLE_SUFFIXES", "read_table", "write_table"]

TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".parquet", ".pq")


@gc_paused
def read_table(
    path: str | Path,
    *,
    item_col: str = "item",
    annotator_col: str = "annotator",
    label_col: str = "label",
    kind: str | None = None,
    progress: Progress | None = None,
) -> AnnotationTable:
    """Read an annotation table from CSV, TSV, JSON Lines, JSON or Parquet (chosen by content).

    Parameters
    ----------
    path
        The file.
    item_col, annotator_col, label_col
        Column names of the item id, the annotator id and the label.
    kind
        The kind of every value (``choice``, ``rating``...); overrides a ``kind`` column.
    progress
        ``progress(bytes_read, total)`` for JSON Lines files.

    Returns
    -------
    AnnotationTable
        One record per row that holds a label.
    """
    p = check_file(path)
    if kind is not None and kind not in KINDS:
        raise InputError(f"Unknown kind {kind!r}.", fix=f"Use one of {', '.join(KINDS)}.")
    head = read_head(p)
    suffix = p.suffix.lower()
    if head.startswith(PARQUET_MAGIC) or suffix in (".parquet", ".pq"):
        columns, rows = _parquet_rows(p, item_col, annotator_col, label_col, kind)
        if isinstance(rows, AnnotationTable):
            return rows
        where = "row {}"
    elif looks_binary(head):
        raise binary_error(p)
    else:
        first = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
        if first == b"[":
            doc = load_json_document(p)
            if not isinstance(doc, list) or not all(isinstance(r, Mapping) for r in doc):
                raise FormatError(
                    f"{p.name} is a JSON list but not a list of row objects.",
                    fix="Write one JSON object per row, or pass --from to pick another format.",
                )
            rows, where = enumerate(doc), "row {}"
            columns = list(dict.fromkeys(k for r in doc[:1000] for k in r))
        elif first == b"{":
            fast = jsonl_columnar(p, item_col, annotator_col, label_col, kind, progress)
            if fast is not None:
                return fast
            first_rows = []
            it = iter_jsonl(p, progress, what="JSON Lines")
            for lineno, row in it:
                first_rows.append((lineno, row))
                break
            if not first_rows:
                for _ in it:  # no good line: let the reader report the bad ones
                    pass
            columns = list(first_rows[0][1]) if first_rows else []
            rows, where = itertools.chain(first_rows, it), "line {}"
        else:
            columns, rows = _csv_rows(p, item_col, annotator_col, label_col, kind)
            if isinstance(rows, AnnotationTable):
                return rows
            where = "line {}"
    return _rows_to_table(p.name, columns, rows, where, item_col, annotator_col, label_col, kind)


def _csv_rows(
    p: Path, item_col: str, annotator_col: str, label_col: str, kind: str | None
) -> tuple[list[str], Iterator[tuple[str, dict]] | AnnotationTable]:
    """The columns and the rows of a CSV file, or the columns and the whole table when the
    columnar path could read it."""
    import pandas as pd

    sep = "\t" if p.suffix.lower() == ".tsv" else ","
    text = read_text(p)
    try:
        frame = pd.read_csv(
            io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, na_values=[""]
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as exc:
        raise FormatError(
            f"{p.name} is not a readable CSV table: {str(exc).strip()}.",
            fix="Check the quoting and the number of fields per line, or pass --from.",
        ) from None
    columns = [str(c) for c in frame.columns]
    if frame.empty:
        raise InputError(
            f"{p.name} has a header ({truncate(columns, 8)}) but no rows.",
            fix="Add one row per judgement.",
        )
    if len(set(columns)) == len(columns):
        fast = columnar_table(
            p.name, columns, lambda c: frame[c], item_col, annotator_col, label_col, kind
        )
        if fast is not None:
            return columns, fast
    values = [frame[c].tolist() for c in frame.columns]
    rows = ((i, dict(zip(columns, vals))) for i, vals in enumerate(zip(*values), 2))
    return columns, rows


def _parquet_rows(
    p: Path, item_col: str, annotator_col: str, label_col: str, kind: str | None
) -> tuple[list[str], Iterator[tuple[str, dict]] | AnnotationTable]:
    """The columns and the rows of a Parquet file, or the columns and the whole table when the
    columnar path could read it."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        arrow = pq.read_table(p)
        names = arrow.column_names
        if arrow.num_rows and len(set(names)) == len(names):
            fast = columnar_table(
                p.name, names, arrow.column, item_col, annotator_col, label_col, kind
            )
            if fast is not None:
                return names, fast
        data = arrow.to_pydict()
    except (pa.ArrowException, OSError, ValueError) as exc:
        raise FormatError(
            f"{p.name} is not a readable Parquet file ({str(exc).strip()[:120]}).",
            fix="Write it again (e.g. pandas DataFrame.to_parquet) or pass a CSV/JSONL table.",
        ) from None
    columns = list(data)
    n = len(data[columns[0]]) if columns else 0
    if n == 0:
        raise InputError(f"{p.name} has no rows.", fix="Add one row per judgement.")
    values = [data[c] for c in columns]
    rows = ((i, dict(zip(columns, vals))) for i, vals in enumerate(zip(*values), 1))
    return columns, rows


def _rows_to_table(
    name: str,
    columns: list[str],
    rows: Iterable[tuple[int, Mapping]],
    where: str,
    item_col: str,
    annotator_col: str,
    label_col: str,
    kind: str | None,
) -> AnnotationTable:
    if label_col == "label" and "label" not in columns and "value" in columns:
        label_col = "value"
    missing = [c for c in (item_col, annotator_col, label_col) if c not in columns]
    if missing:
        hint = _suggest_columns(columns, item_col, annotator_col, label_col)
        raise InputError(
            f"{name} has no column {truncate(missing)}; columns found: {truncate(columns, 12)}.",
            fix="Name the columns with --item-col, --annotator-col and --label-col"
            + (f" (perhaps {hint})" if hint else "")
            + ".",
        )
    opt = [c for c in OPTIONAL_COLUMNS if c in columns]
    has_kind = "kind" in opt
    plain = not [c for c in opt if c != "kind"]
    problems: list[str] = []
    records: list[Annotation] = []
    append = records.append
    make = fast_annotation()
    for loc, row in rows:
        raw = row.get(label_col)
        if raw is None or raw == "" or raw != raw:  # noqa: PLR0124 (NaN: no judgement)
            continue
        item, annotator = row.get(item_col), row.get(annotator_col)
        if not (item.__class__ is str and item and annotator.__class__ is str and annotator):
            if is_missing(item) or is_missing(annotator):
                bad = item_col if is_missing(item) else annotator_col
                problems.append(f"{where.format(loc)}: empty {bad}")
                continue
            item, annotator = _id(item), _id(annotator)
        k = kind or (row.get("kind") if has_kind else None)
        if k is None or k == "" or k != k:  # noqa: PLR0124 (NaN)
            k = "choice" if raw.__class__ is str else _infer_kind(raw)
        try:
            value = raw if k == "choice" and raw.__class__ is str else _value(k, raw)
            ts = parse_timestamp(row.get("timestamp")) if "timestamp" in opt else None
        except (TypeError, ValueError, KeyError, InputError) as exc:
            msg = exc.message if isinstance(exc, InputError) else str(exc)
            problems.append(f"{where.format(loc)}: {k} value {str(raw)[:30]!r}: {msg}")
            continue
        if plain:
            append(make(item, annotator, value, k))
            continue
        control, gv, source, aid, text = (
            None if c not in opt or is_missing(row.get(c)) else row.get(c)
            for c in ("control", "guideline_version", "source", "annotation_id", "text")
        )
        append(
            make(
                item,
                annotator,
                value,
                k,
                "" if control is None else str(control),
                ts,
                None if gv is None else _id(gv),
                None if source is None else str(source),
                None if aid is None else _id(aid),
                None if text is None else str(text),
            )
        )
    collect_problems(problems, f"{name} has bad rows", fix="Fix or delete those rows.")
    if not records:
        raise InputError(
            f"{name} holds no judgements: every {label_col!r} cell is empty.",
            fix="Fill the label column, or name another with --label-col.",
        )
    return AnnotationTable.from_records(records)


_SYNONYMS = {
    "--item-col": (
        "item",
        "item_id",
        "id",
        "task",
        "task_id",
        "doc",
        "doc_id",
        "document",
        "unit",
        "example",
        "example_id",
        "text_id",
        "sample",
        "sample_id",
        "subject",
    ),
    "--annotator-col": (
        "annotator",
        "annotator_id",
        "rater",
        "rater_id",
        "coder",
        "user",
        "user_id",
        "worker",
        "worker_id",
        "labeler",
        "labeller",
        "judge",
        "email",
    ),
    "--label-col": (
        "label",
        "value",
        "answer",
        "category",
        "class",
        "code",
        "rating",
        "score",
        "choice",
        "sentiment",
        "tag",
        "judgement",
        "judgment",
    ),
}


def _suggest_columns(columns: list[str], item_col: str, annotator_col: str, label_col: str) -> str:
    """Flags that would probably fix the column names, e.g. ``--item-col doc --label-col s``."""
    lower = {c.lower(): c for c in columns}
    wanted = {"--item-col": item_col, "--annotator-col": annotator_col, "--label-col": label_col}
    taken = {c for c in wanted.values() if c in columns}
    picks = {}
    for flag, current in wanted.items():
        if current in columns:
            continue
        for name in _SYNONYMS[flag]:
            if name in lower and lower[name] not in taken:
                picks[flag] = lower[name]
                taken.add(lower[name])
                break
    left = [c for c in columns if c not in taken and c not in OPTIONAL_COLUMNS]
    unfilled = [f for f, cur in wanted.items() if cur not in columns and f not in picks]
    if len(unfilled) == 1 and len(left) == 1:
        picks[unfilled[0]] = left[0]
    return " ".join(f"{flag} {col}" for flag, col in picks.items())


def _infer_kind(raw: Any) -> str:
    if isinstance(raw, list):
        return "spans" if raw and isinstance(raw[0], Mapping) else "multichoice"
    return "choice"


def _value(kind: str, raw: Any) -> Any:
    if kind not in KINDS:
        raise ValueError(f"unknown kind (use one of {', '.join(KINDS)})")
    if kind in ("multichoice", "spans"):
        if isinstance(raw, str) and raw.lstrip()[:1] == "[":
            raw = json.loads(raw)
        return normalize_value(kind, raw)
    if kind in ("rating", "number"):
        return normalize_value(kind, raw)
    if isinstance(raw, bool):
        return str(raw).lower()
    if isinstance(raw, float) and math.isfinite(raw) and raw.is_integer():
        return str(int(raw))
    return str(raw)


def _id(value: Any) -> str:
    if type(value) is str:
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
