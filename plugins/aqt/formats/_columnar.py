"""The columnar path of the table reader: JSON Lines, CSV and Parquet tables read column-wise.

:func:`jsonl_columnar` and :func:`columnar_table` return an :class:`AnnotationTable` over
:class:`TableColumns` (pyarrow ``string`` arrays; no Python object per row) when the result is
exactly what the row-by-row reader in :mod:`aqt.formats.table` would give, and ``None`` otherwise,
so that the row-by-row reader decides every unusual case and words every error.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from aqt.formats._common import Progress
from aqt.formats.table_write import OPTIONAL_COLUMNS
from aqt.records import AnnotationTable, TableColumns

__all__ = ["columnar_table", "jsonl_columnar"]

# two JSON values on one line: the line-by-line reader reports that line, pyarrow would not
_TWO_ON_A_LINE = re.compile(rb"[}\]][ \t\r]*[{\[]")


_PIECE_MIN, _PIECE_MAX = 1 << 20, 16 << 20  # bytes of JSON Lines parsed at a time


def jsonl_columnar(
    p: Path,
    item_col: str,
    annotator_col: str,
    label_col: str,
    kind: str | None,
    progress: Progress | None = None,
) -> AnnotationTable | None:
    """A JSON Lines table parsed column-wise by pyarrow, or ``None`` when the line-by-line reader
    must decide (anything unusual: other value types, optional columns, bad lines...), so that
    every message about bad input stays the line-by-line reader's."""
    if kind not in (None, "choice"):
        return None
    data = p.read_bytes()
    start = 3 if data.startswith(b"\xef\xbb\xbf") else 0
    while start < len(data) and data[start] in b" \t\r\n":  # the first line that holds a row
        start += 1
    end = data.find(b"\n", start)
    try:
        first_row = json.loads(data[start : end if end >= 0 else len(data)])
    except ValueError:
        return None
    if type(first_row) is not dict:
        return None
    try:
        import pyarrow as pa
        import pyarrow.json as pj

        buffer, pieces, start, total = pa.py_buffer(data), [], 0, len(data)
        step = max(_PIECE_MIN, min(_PIECE_MAX, total // 8))
        while start < total:  # whole lines, a piece at a time, so progress can be told
            stop = data.find(b"\n", start + step)
            stop = total if stop < 0 else stop + 1
            pieces.append(pj.read_json(pa.BufferReader(buffer.slice(start, stop - start))))
            start = stop
            if progress is not None:
                progress(start, total)
        arrow = (
            pieces[0] if len(pieces) == 1 else pa.concat_tables(pieces, promote_options="default")
        )
    except Exception:  # noqa: BLE001 (any parse failure: the line-by-line reader explains it)
        return None
    # one row per line: each line that ends in "}\n" holds at least one row, so as many rows as
    # such lines means one each and no others (the usual case, checked at C speed)
    ends = data.count(b"}\n") + (data.endswith(b"}") and not data.endswith(b"\n"))
    if arrow.num_rows != ends and _TWO_ON_A_LINE.search(data):
        return None
    del data
    if not arrow.num_rows or len(set(arrow.column_names)) != arrow.num_columns:
        return None
    names = set(arrow.column_names)
    return columnar_table(
        p.name,
        list(first_row),
        lambda c: arrow.column(c) if c in names else None,
        item_col,
        annotator_col,
        label_col,
        kind,
    )


def columnar_table(
    name: str,
    columns: list[str],
    column: Any,
    item_col: str,
    annotator_col: str,
    label_col: str,
    kind: str | None,
) -> AnnotationTable | None:
    """The table over string columns (``column(name)`` gives a pyarrow or pandas column), or
    ``None`` when the row-by-row reader must decide.

    Taken only when the result is the row-by-row reader's exactly: no optional columns, labels
    that are strings or integers (plain ``choice`` values), item and annotator ids that are
    strings or integers and present on every row that holds a label.
    """
    if kind not in (None, "choice"):
        return None
    if label_col == "label" and "label" not in columns and "value" in columns:
        label_col = "value"
    wanted = (item_col, annotator_col, label_col)
    if any(c not in columns for c in wanted) or any(c in columns for c in OPTIONAL_COLUMNS):
        return None
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    arrays = []
    try:
        for c in wanted:
            col = column(c)
            if col is None:
                return None
            if not isinstance(col, (pa.Array, pa.ChunkedArray)):  # pandas: str or NaN cells
                values = col.to_numpy(dtype=object)
                col = pa.array(values, from_pandas=True)
                if col.null_count == len(col):
                    col = col.cast(pa.string())
            if isinstance(col, pa.ChunkedArray):
                col = col.combine_chunks()
            t = col.type
            if pa.types.is_integer(t):
                col = pc.cast(col, pa.string())
            elif pa.types.is_large_string(t):
                col = col.cast(pa.string())
            elif not pa.types.is_string(t):
                return None
            col.validate(full=True)  # UTF-8
            arrays.append(col)
    except (pa.ArrowException, ValueError, TypeError):
        return None
    # plain numpy on the Arrow buffers from here: no Python object per row (and pyarrow's
    # conversions to numpy would import pandas, a second or two of a command's start-up)
    keep = _string_lengths(arrays[2]) > 0
    valid = _validity(arrays[2])
    if valid is not None:
        keep &= valid
    if not keep.any():
        return None
    if not keep.all():
        mask = pa.BooleanArray.from_buffers(
            pa.bool_(), len(keep), [None, pa.py_buffer(np.packbits(keep, bitorder="little"))]
        )
        arrays = [a.filter(mask) for a in arrays]
    for ids in arrays[:2]:
        if ids.null_count or not _string_lengths(ids).all():
            return None
    return AnnotationTable.from_columns(TableColumns(*arrays))


def _string_lengths(col: Any) -> Any:
    """Byte lengths of the values of a pyarrow ``string`` array, as a numpy array."""
    import numpy as np

    offsets = np.frombuffer(col.buffers()[1], dtype=np.int32, count=col.offset + len(col) + 1)
    return np.diff(offsets[col.offset :])


def _validity(col: Any) -> Any:
    """Which values of a pyarrow array are not null (numpy bools), or ``None`` when all are."""
    import numpy as np

    if not col.null_count:
        return None
    bits = np.frombuffer(col.buffers()[0], dtype=np.uint8)
    return np.unpackbits(bits, count=col.offset + len(col), bitorder="little")[col.offset :].astype(
        bool
    )
