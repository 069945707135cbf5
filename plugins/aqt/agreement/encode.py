"""From values to category labels, the category domain, and the integer codes matrix.

Labels are strings: a ``str`` value is its own label, an integral number prints without a
decimal point (``3.0`` -> ``"3"``), a set of labels is its sorted JSON list. The default domain is
the sorted observed labels, sorted numerically when they all parse as numbers; ``categories=``
sets the domain and its order (unused categories included).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from aqt.errors import InputError, truncate
from aqt.records import natural_key

__all__ = [
    "category_values",
    "codes_from_columns",
    "codes_matrix",
    "domain",
    "factorize_column",
    "label_of",
    "parse_number",
]


def label_of(value: Any) -> str:
    """The category label of a value (see the module docstring)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        v = float(value)
        if math.isfinite(v) and v == int(v) and abs(v) < 1e15:
            return str(int(v))
        return repr(v)
    if isinstance(value, (frozenset, set)):
        return json.dumps(sorted(value, key=natural_key))
    return str(value)


def parse_number(label: str) -> float | None:
    try:
        v = float(label)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def domain(observed: Iterable[str], categories: Sequence[Any] | str | None = None) -> list[str]:
    """The ordered category domain.

    Raises :class:`InputError` when ``categories`` is given and misses observed labels.
    """
    seen = set(observed)
    if categories is None:
        labels = list(seen)
        nums = [parse_number(x) for x in labels]
        if labels and all(v is not None for v in nums):
            return [x for _, x in sorted(zip(nums, labels), key=lambda t: (t[0], t[1]))]
        return sorted(labels)
    if isinstance(categories, str):
        categories = [c.strip() for c in categories.split(",") if c.strip()]
    dom = [label_of(c) for c in categories]
    # a category written "3.0" names the observed rating "3" (unless "3.0" itself was observed)
    dom = [
        label_of(parse_number(c))
        if c not in seen and parse_number(c) is not None and label_of(parse_number(c)) in seen
        else c
        for c in dom
    ]
    dups = sorted({c for c in dom if dom.count(c) > 1})
    if dups:
        raise InputError(
            f"The category list repeats {truncate(dups)}.", fix="List each category once."
        )
    missing = sorted(seen - set(dom), key=natural_key)
    if missing:
        raise InputError(
            f"The data uses label(s) {truncate(missing, 10)} that are not in the categories "
            f"{truncate(dom, 10)}.",
            fix="Add them to --categories (categories=) or drop that option.",
        )
    return dom


def category_values(labels: Sequence[str], level: str) -> np.ndarray | None:
    """Numeric values of the categories for interval / ratio levels (InputError if not numbers)."""
    if level not in ("interval", "ratio"):
        return None
    nums = [parse_number(x) for x in labels]
    bad = [x for x, v in zip(labels, nums) if v is None]
    if bad:
        raise InputError(
            f"The {level} level needs numeric labels, but {truncate(bad, 10)} are not numbers.",
            fix="Use --level nominal or ordinal (ordinal keeps the --categories order), "
            "or recode the labels as numbers.",
        )
    values = np.array(nums, dtype=np.float64)
    if level == "ratio" and (values < 0).any():
        raise InputError(
            f"The ratio level needs non-negative values; got {truncate(values[values < 0])}.",
            fix="Use --level interval.",
        )
    return values


def natural_sorted(values: Iterable[str]) -> list[str]:
    """``sorted(values, key=natural_key)``, with a fast path for all-digit ids."""
    values = list(values)
    if all(v.isdigit() and v.isascii() for v in values):
        return sorted(values, key=int)
    return sorted(values, key=natural_key)


def _factorize(values: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Codes in natural order of the distinct values (no pandas: the core stays light to import)."""
    index = dict.fromkeys(values)
    for rank, v in enumerate(natural_sorted(index)):
        index[v] = rank
    codes = np.fromiter(map(index.__getitem__, values), np.int64, count=len(values))
    return codes, sorted(index, key=index.__getitem__)


def codes_matrix(
    items: Sequence[str], annotators: Sequence[str], labels: Sequence[str], dom: Sequence[str]
) -> tuple[np.ndarray, list[str], list[str]]:
    """Codes matrix (items x annotators, ``-1`` missing) from parallel per-judgement lists.

    Items and annotators are in natural order; when an annotator judged an item twice the last
    judgement counts.
    """
    item_codes, item_ids = _factorize(items)
    ann_codes, ann_ids = _factorize(annotators)
    index = {lab: k for k, lab in enumerate(dom)}
    lab_codes = np.fromiter(map(index.__getitem__, labels), dtype=np.int64, count=len(labels))
    X = _matrix(item_codes, len(item_ids), ann_codes, len(ann_ids), lab_codes, len(dom))
    return X, [str(i) for i in item_ids], [str(a) for a in ann_ids]


def _matrix(
    item_codes: np.ndarray,
    n_items: int,
    ann_codes: np.ndarray,
    n_ann: int,
    lab_codes: np.ndarray,
    n_dom: int,
) -> np.ndarray:
    dtype = np.int8 if n_dom < 127 else (np.int16 if n_dom < 32767 else np.int32)
    X = np.full((n_items, n_ann), -1, dtype=dtype)
    flat = item_codes.astype(np.int64) * n_ann + ann_codes
    X.flat[flat] = lab_codes
    if np.count_nonzero(X >= 0) != len(flat):  # repeated judgements: keep the last one
        _, first_rev = np.unique(flat[::-1], return_index=True)
        keep = len(flat) - 1 - first_rev
        X.flat[flat[keep]] = lab_codes[keep]
    return X


def factorize_column(column: Any) -> tuple[np.ndarray, Any]:
    """Codes of a column of strings (a pyarrow array, numpy array or list) and its distinct
    values in order of first appearance (a pyarrow array for a pyarrow column, else a list),
    without a Python object per row for pyarrow columns."""
    if hasattr(column, "dictionary_encode"):  # pyarrow
        if hasattr(column, "combine_chunks"):
            column = column.combine_chunks()
        if column.null_count:
            raise ValueError("factorize_column: the column has nulls")
        encoded = column.dictionary_encode()
        return _arrow_ints(encoded.indices), encoded.dictionary
    import pandas as pd

    codes, uniques = pd.factorize(np.asarray(column, dtype=object), sort=False)
    return codes, list(uniques)


def _arrow_ints(arr: Any) -> np.ndarray:
    """The values of a pyarrow integer array without nulls, as a numpy view of its buffer
    (pyarrow's own ``to_numpy`` would import pandas)."""
    dtype = np.dtype(f"int{arr.type.bit_width}")
    values = np.frombuffer(arr.buffers()[1], dtype=dtype, count=arr.offset + len(arr))
    return values[arr.offset :]


def _natural_ranks(uniques: Any) -> tuple[np.ndarray, list[str]]:
    """Rank of each distinct value in natural order, as :func:`_factorize` orders them, and the
    values in that order. All-digit ids in a pyarrow array are ranked with a stable sort by value
    (what :func:`natural_sorted` does), without a Python object per id."""
    if hasattr(uniques, "to_pylist"):  # pyarrow
        if len(uniques) > 1000:
            import pyarrow as pa
            import pyarrow.compute as pc

            if pc.all(pc.match_substring_regex(uniques, r"^[0-9]{1,18}$")).as_py():
                nums = _arrow_ints(pc.cast(uniques, pa.int64()))
                order = np.argsort(nums, kind="stable")
                ranks = np.empty(len(order), dtype=np.int64)
                ranks[order] = np.arange(len(order), dtype=np.int64)
                names = uniques.to_pylist()
                return ranks, [names[i] for i in order.tolist()]
        uniques = uniques.to_pylist()
    return _factorize(uniques)


def codes_from_columns(
    items: Any, annotators: Any, labels: Any, categories: Sequence[Any] | str | None = None
) -> tuple[np.ndarray, list[str], list[str], list[str]]:
    """Codes matrix, item ids, annotator ids and the category domain from string columns.

    Equal to ``codes_matrix(items, annotators, labels, domain(labels, categories))`` on the same
    values as lists, with the per-row work done on arrays.
    """
    item_codes, item_uniques = factorize_column(items)
    ann_codes, ann_uniques = factorize_column(annotators)
    lab_codes, lab_uniques = factorize_column(labels)
    if hasattr(lab_uniques, "to_pylist"):
        lab_uniques = lab_uniques.to_pylist()
    dom = domain(lab_uniques, categories)
    index = {lab: k for k, lab in enumerate(dom)}
    lab_lut = np.array([index[u] for u in lab_uniques], dtype=np.int64)
    item_rank, item_ids = _natural_ranks(item_uniques)
    ann_rank, ann_ids = _natural_ranks(ann_uniques)
    X = _matrix(
        item_rank[item_codes],
        len(item_ids),
        ann_rank[ann_codes],
        len(ann_ids),
        lab_lut[lab_codes],
        len(dom),
    )
    return X, item_ids, ann_ids, dom
