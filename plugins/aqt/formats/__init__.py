"""Readers and writers: every supported export becomes an :class:`aqt.records.AnnotationTable`.

Formats (``--from``):

``table``
    CSV/TSV, JSON Lines, JSON or Parquet with ``item``, ``annotator``, ``label`` columns.
``prodigy``
    ``prodigy db-out`` JSON Lines (or a JSON list of saved examples).
``labelstudio``
    Label Studio JSON export: a list of tasks with ``annotations``.
``labelstudio-min``
    Label Studio JSON_MIN export: a list of flat rows with ``annotator`` and ``annotation_id``.
``labelstudio-csv``
    Label Studio CSV export: the JSON_MIN columns as CSV.

:func:`detect_format` tells them apart by content (the extension alone is not trusted).
"""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path

from aqt.errors import AqtError, FormatError, UsageError
from aqt.formats._common import (
    PARQUET_MAGIC,
    Progress,
    binary_error,
    check_file,
    load_json_document,
    looks_binary,
    read_head,
    read_text,
)
from aqt.formats.labelstudio import (
    parse_label_config,
    read_labelstudio_json,
    read_labelstudio_tasks,
)
from aqt.formats.labelstudio_flat import (
    read_labelstudio_csv,
    read_labelstudio_min,
    read_labelstudio_min_json,
)
from aqt.formats.prodigy import read_prodigy_examples, read_prodigy_jsonl
from aqt.formats.table import read_table, write_table
from aqt.records import AnnotationTable

__all__ = [
    "FORMATS",
    "detect_format",
    "parse_label_config",
    "read_annotations",
    "read_labelstudio_csv",
    "read_labelstudio_json",
    "read_labelstudio_min",
    "read_labelstudio_min_json",
    "read_labelstudio_tasks",
    "read_prodigy_examples",
    "read_prodigy_jsonl",
    "read_table",
    "write_table",
]

FORMATS = ("table", "prodigy", "labelstudio", "labelstudio-min", "labelstudio-csv")


def detect_format(path: str | Path) -> str:
    """The format of ``path``, one of :data:`FORMATS`, told by content.

    Prodigy lines carry ``_input_hash`` / ``answer``; a Label Studio JSON export is a list of tasks
    with ``annotations``; JSON_MIN is a list of flat rows with ``annotator`` / ``annotation_id``; a
    Label Studio CSV has ``id``, ``annotator`` and ``annotation_id`` columns (and no ``item``);
    anything else is a ``table``.
    Raises :class:`aqt.errors.FormatError` for empty files and binary data that is not Parquet.
    """
    p = check_file(path)
    head = read_head(p)
    if head.startswith(PARQUET_MAGIC) or p.suffix.lower() in (".parquet", ".pq"):
        return "table"
    if looks_binary(head):
        raise binary_error(p)
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped:
        raise FormatError(f"{p.name} holds only whitespace.", fix="Export the project again.")
    first = stripped[:1]
    if first == b"[":
        return _detect_json_list(p)
    if first == b"{":
        return _detect_json_object(p)
    text = stripped.decode("utf-8", "replace").splitlines()[0]
    delimiter = "\t" if p.suffix.lower() == ".tsv" else ","
    columns = next(csv.reader([text], delimiter=delimiter), [])
    if _is_flat_labelstudio(columns):
        return "labelstudio-csv"
    return "table"


def _detect_json_object(p: Path) -> str:
    """JSON Lines (Prodigy or a table), or one JSON document (Label Studio's API shape)."""
    objs: list[object] = []
    with open(p, "rb") as fh:
        for line in itertools.islice(fh, 20):  # the first lines, read whole however long
            if not line.strip():
                continue
            try:
                objs.append(json.loads(line.lstrip(b"\xef\xbb\xbf")))
            except ValueError:
                objs.append(None)
    obj = objs[0] if objs else None
    if not isinstance(obj, dict):
        try:  # a pretty-printed document?
            doc = json.loads(read_text(p))
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            return "labelstudio" if ("tasks" in doc or "annotations" in doc) else "table"
        # JSON Lines with a bad first line: decide on the first good one; the reader reports the bad
        obj = next((o for o in objs if isinstance(o, dict)), None)
        if obj is None:
            load_json_document(p)  # raises with the line and column of the first error
            return "table"
    if "_input_hash" in obj or "answer" in obj:
        return "prodigy"
    if isinstance(obj.get("tasks"), list) or "annotations" in obj:
        return "labelstudio"  # the API's {"tasks": [...]} or one task, on one line
    return "table"


def _is_flat_labelstudio(columns) -> bool:
    """Label Studio's flat rows: ``id`` (the task), ``annotator`` and ``annotation_id``; a table
    written by :func:`write_table` also has the last two, but ``item`` instead of ``id``."""
    return {"id", "annotator", "annotation_id"} <= set(columns) and "item" not in columns


def _detect_json_list(p: Path) -> str:
    text = read_text(p).lstrip("\ufeff \t\r\n")
    decoder = json.JSONDecoder()
    pos = 1
    while pos < len(text) and text[pos] in " \t\r\n":
        pos += 1
    if pos < len(text) and text[pos] == "]":
        raise FormatError(
            f"{p.name} is an empty list: no tasks or annotations.",
            fix="Export again with the annotated tasks included (download_all_tasks or a filter).",
        )
    try:
        first, _ = decoder.raw_decode(text, pos)
    except ValueError:
        load_json_document(p, text)  # raises with line and column
        raise
    if not isinstance(first, dict):
        return "table"
    if "annotations" in first or isinstance(first.get("data"), dict):
        return "labelstudio"
    if "_input_hash" in first or "answer" in first:
        return "prodigy"
    if _is_flat_labelstudio(first):
        return "labelstudio-min"
    return "table"


def read_annotations(
    path: str | Path,
    fmt: str | None = None,
    *,
    item_col: str = "item",
    annotator_col: str = "annotator",
    label_col: str = "label",
    kind: str | None = None,
    progress: Progress | None = None,
) -> AnnotationTable:
    """Read any supported export into an :class:`AnnotationTable`.

    Parameters
    ----------
    path
        The file.
    fmt
        One of :data:`FORMATS`; detected from the content when ``None``.
    item_col, annotator_col, label_col
        Column names for ``table`` files. For Label Studio JSON_MIN and CSV a ``label_col`` other
        than ``"label"`` names the control column(s) (comma-separated) instead of finding them.
    kind
        The kind of every value for ``table`` and flat Label Studio files (e.g. ``"rating"``).
    progress
        ``progress(bytes_read, total)``, called during long JSON Lines reads.

    Returns
    -------
    AnnotationTable
        Every control kept; use :meth:`AnnotationTable.select_control` to pick one.
    """
    if fmt is not None and fmt not in FORMATS:
        raise UsageError(
            f"Unknown format {fmt!r}; valid formats: {', '.join(FORMATS)}.",
            fix="Pass one of those to --from, or leave --from out to detect it.",
        )
    detected = detect_format(path)
    chosen = fmt or detected
    try:
        return _read(Path(path), chosen, item_col, annotator_col, label_col, kind, progress)
    except AqtError as exc:
        if fmt is not None and detected != fmt:
            raise type(exc)(
                exc.message + f" (The content looks like {detected!r}.)",
                fix=f"Pass --from {detected}, or leave --from out.",
            ) from None
        raise


def _read(
    p: Path,
    fmt: str,
    item_col: str,
    annotator_col: str,
    label_col: str,
    kind: str | None,
    progress: Progress | None,
) -> AnnotationTable:
    if fmt == "table":
        return read_table(
            p,
            item_col=item_col,
            annotator_col=annotator_col,
            label_col=label_col,
            kind=kind,
            progress=progress,
        )
    if fmt == "prodigy":
        if read_head(p, 4096).lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"[":
            doc = load_json_document(p)
            if not isinstance(doc, list):
                raise FormatError(
                    f"{p.name} is not a list of Prodigy examples.",
                    fix="Export with `prodigy db-out DATASET > file.jsonl`.",
                )
            return read_prodigy_examples(doc)
        return read_prodigy_jsonl(p, progress=progress)
    if fmt == "labelstudio":
        return read_labelstudio_json(p)
    controls = (
        [c.strip() for c in label_col.split(",") if c.strip()] if label_col != "label" else None
    )
    if fmt == "labelstudio-min":
        return read_labelstudio_min_json(p, controls=controls, kind=kind)
    check_file(p)
    return read_labelstudio_csv(p, controls=controls, kind=kind)
