"""Writing annotation tables: CSV/TSV, JSON Lines or Parquet by extension, atomically.

Every column of the annotation table is written, the value as ``label``, so a table written and
read back (:func:`aqt.formats.table.read_table`) is equal, set and span values included.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aqt.errors import InputError
from aqt.fileio import atomic_write
from aqt.records import AnnotationTable, value_to_json

__all__ = ["OPTIONAL_COLUMNS", "write_table"]

OPTIONAL_COLUMNS = (
    "kind",
    "control",
    "timestamp",
    "guideline_version",
    "source",
    "annotation_id",
    "text",
)
_WRITE_COLUMNS = ("item", "annotator", "label", *OPTIONAL_COLUMNS)


def _label_text(kind: str, value: Any) -> str:
    if kind in ("multichoice", "spans"):
        return json.dumps(value_to_json(value), ensure_ascii=False)
    if kind in ("rating", "number"):
        return repr(float(value))
    return str(value)


def _rows_for_write(table: AnnotationTable) -> Iterator[tuple]:
    return (r.row() for r in table.records)


def write_table(table: AnnotationTable, path: str | Path) -> None:
    """Write ``table`` to ``.csv``, ``.tsv``, ``.jsonl`` or ``.parquet`` (by extension), atomically.

    Every column of the annotation table is written (the value as ``label``); sets and spans are
    JSON text in CSV and Parquet, JSON lists in JSON Lines.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix in (".csv", ".tsv"):
        # RFC 4180 line ends, so a cell holding a lone "\r" is quoted too; newline="" keeps them
        with atomic_write(p, "wb") as raw:
            fh = io.TextIOWrapper(raw, encoding="utf-8", newline="")
            writer = csv.writer(
                fh, delimiter="\t" if suffix == ".tsv" else ",", lineterminator="\r\n"
            )
            writer.writerow(_WRITE_COLUMNS)
            for item, ann, value, kind, *rest in _rows_for_write(table):
                writer.writerow(
                    [item, ann, _label_text(kind, value), kind]
                    + ["" if v is None else (repr(v) if isinstance(v, float) else v) for v in rest]
                )
            fh.flush()
            fh.detach()
    elif suffix in (".jsonl", ".ndjson"):
        with atomic_write(p, "w", encoding="utf-8") as fh:
            for row in _rows_for_write(table):
                d = dict(zip(_WRITE_COLUMNS, row))
                d["label"] = value_to_json(d["label"])
                fh.write(json.dumps(d, ensure_ascii=False) + "\n")
    elif suffix in (".parquet", ".pq"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = list(_rows_for_write(table))
        cols: dict[str, list] = {c: [] for c in _WRITE_COLUMNS}
        for row in rows:
            for c, v in zip(_WRITE_COLUMNS, row):
                cols[c].append(v)
        cols["label"] = [_label_text(k, v) for k, v in zip(cols["kind"], cols["label"])]
        schema = pa.schema(
            [(c, pa.float64() if c == "timestamp" else pa.string()) for c in _WRITE_COLUMNS]
        )
        arrow = pa.table(cols, schema=schema)
        with atomic_write(p, "wb") as fh:
            pq.write_table(arrow, fh)
    else:
        raise InputError(
            f"Cannot tell the table format from {p.name!r}.",
            fix="End the file name with .csv, .tsv, .jsonl or .parquet.",
        )
