"""The annotation table: one record per judgement.

Every reader produces an :class:`AnnotationTable`; every computation takes one. A record holds the
item id, the annotator id, the value (a label, a set of labels, spans, a number or a pairwise
choice), the task kind, the control (Label Studio ``from_name`` or Prodigy view id), a timestamp,
the guideline version, the source, and optionally the annotation id and the item text.

Values by kind
--------------
``choice``, ``binary``, ``pairwise``
    a ``str`` (``binary`` answers are ``"accept"`` / ``"reject"``, pairwise ``"left"`` / ``"right"``)
``multichoice``
    a ``frozenset`` of ``str``
``spans``
    a ``tuple`` of :class:`Span`, sorted
``rating``, ``number``
    a ``float``
``text``
    a ``str`` (free text; agreement is not computed on it)
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, NamedTuple

from aqt.errors import InputError, UsageError, truncate

__all__ = [
    "KINDS",
    "SCALAR_KINDS",
    "Annotation",
    "AnnotationTable",
    "Span",
    "TableColumns",
    "natural_key",
    "normalize_value",
    "value_from_json",
    "value_to_json",
]

KINDS = ("choice", "multichoice", "binary", "spans", "rating", "number", "pairwise", "text")
#: kinds whose value is one category or number, so the nine coefficients apply directly
SCALAR_KINDS = ("choice", "binary", "rating", "number", "pairwise")

TABLE_COLUMNS = (
    "item",
    "annotator",
    "value",
    "kind",
    "control",
    "timestamp",
    "guideline_version",
    "source",
    "annotation_id",
    "text",
)


class Span(NamedTuple):
    """A labelled character span; ``end`` is exclusive."""

    start: int
    end: int
    label: str


_NUM_RE = re.compile(r"(\d+)")


def natural_key(value: object) -> tuple:
    """Sort key that orders ``"2"`` before ``"10"`` and keeps other strings alphabetical.

    >>> sorted(["10", "2", "b", "a1"], key=natural_key)
    ['2', '10', 'a1', 'b']
    """
    text = str(value)
    parts = _NUM_RE.split(text)
    return tuple((0, int(p), "") if p.isdecimal() else (1, 0, p) for p in parts if p != "")


def normalize_value(kind: str, value: Any) -> Any:
    """Coerce a raw value into the canonical Python type for ``kind`` (see module docstring)."""
    if kind not in KINDS:
        raise InputError(f"Unknown task kind {kind!r}.", fix=f"Use one of {', '.join(KINDS)}.")
    if kind == "multichoice":
        if isinstance(value, str):
            return frozenset([value])
        return frozenset(str(v) for v in value)
    if kind == "spans":
        spans = []
        for s in value:
            if isinstance(s, Span):
                spans.append(s)
            elif isinstance(s, Mapping):
                spans.append(Span(int(s["start"]), int(s["end"]), str(s["label"])))
            else:
                start, end, label = s
                spans.append(Span(int(start), int(end), str(label)))
        return tuple(sorted(spans))
    if kind in ("rating", "number"):
        number = float(value)
        if math.isnan(number):
            raise InputError("A rating or number value is NaN.", fix="Drop the empty judgement.")
        return number
    return str(value)


def value_to_json(value: Any) -> Any:
    """A JSON-friendly form of a value (sets become sorted lists, spans become dicts)."""
    if isinstance(value, frozenset):
        return sorted(value, key=natural_key)
    if isinstance(value, tuple) and (not value or isinstance(value[0], Span)):
        return [{"start": s.start, "end": s.end, "label": s.label} for s in value]
    return value


def value_from_json(kind: str, value: Any) -> Any:
    """Inverse of :func:`value_to_json`; accepts a JSON string for set and span kinds."""
    if kind in ("multichoice", "spans") and isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            value = json.loads(text)
    return normalize_value(kind, value)


@dataclass(frozen=True)
class Annotation:
    """One judgement: what ``annotator`` said about ``item``."""

    item: str
    annotator: str
    value: Any
    kind: str = "choice"
    control: str = ""
    timestamp: float | None = None
    guideline_version: str | None = None
    source: str | None = None
    annotation_id: str | None = None
    text: str | None = None

    def row(self) -> tuple:
        """The record's fields in the order of :data:`TABLE_COLUMNS`; values stay Python objects."""
        return (
            self.item,
            self.annotator,
            self.value,
            self.kind,
            self.control,
            self.timestamp,
            self.guideline_version,
            self.source,
            self.annotation_id,
            self.text,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "annotator": self.annotator,
            "value": value_to_json(self.value),
            "kind": self.kind,
            "control": self.control,
            "timestamp": self.timestamp,
            "guideline_version": self.guideline_version,
            "source": self.source,
            "annotation_id": self.annotation_id,
            "text": self.text,
        }


class TableColumns:
    """The judgements of a table as parallel columns, for readers that parse column-wise.

    ``item``, ``annotator`` and ``value`` are sequences of equal length (lists, numpy arrays or
    pyarrow arrays of ``str``); ``kind`` and ``control`` are one string for every row, and the
    other :class:`Annotation` fields are ``None``. :attr:`AnnotationTable.records` builds the
    records from these on first use.
    """

    __slots__ = ("annotator", "control", "item", "kind", "value")

    def __init__(
        self, item: Any, annotator: Any, value: Any, kind: str = "choice", control: str = ""
    ) -> None:
        if not (len(item) == len(annotator) == len(value)):
            raise ValueError("TableColumns: item, annotator and value differ in length")
        self.item, self.annotator, self.value = item, annotator, value
        self.kind, self.control = kind, control

    def __len__(self) -> int:
        return len(self.item)

    def __getstate__(self) -> tuple:
        return (self.item, self.annotator, self.value, self.kind, self.control)

    def __setstate__(self, state: tuple) -> None:
        self.item, self.annotator, self.value, self.kind, self.control = state

    def as_lists(self) -> tuple[list, list, list]:
        """``item``, ``annotator`` and ``value`` as Python lists of ``str``."""
        return _as_list(self.item), _as_list(self.annotator), _as_list(self.value)

    def unique(self, name: str) -> list[str]:
        """The distinct values of column ``name`` in order of first appearance."""
        col = getattr(self, name)
        if hasattr(col, "unique") and hasattr(col, "to_pylist"):  # pyarrow
            return col.unique().to_pylist()
        return list(dict.fromkeys(_as_list(col)))

    def to_records(self) -> tuple[Annotation, ...]:
        items, anns, values = self.as_lists()
        kind, control = self.kind, self.control
        new, set_dict = object.__new__, object.__setattr__
        out = []
        append = out.append
        for item, ann, value in zip(items, anns, values):
            a = new(Annotation)
            set_dict(
                a,
                "__dict__",
                {
                    "item": item,
                    "annotator": ann,
                    "value": value,
                    "kind": kind,
                    "control": control,
                    "timestamp": None,
                    "guideline_version": None,
                    "source": None,
                    "annotation_id": None,
                    "text": None,
                },
            )
            append(a)
        return tuple(out)


def _as_list(col: Any) -> list:
    if isinstance(col, list):
        return col
    if hasattr(col, "to_pylist"):  # pyarrow Array / ChunkedArray
        return col.to_pylist()
    if hasattr(col, "tolist"):  # numpy / pandas
        return col.tolist()
    return list(col)


class _RecordsField:
    """The ``records`` field of :class:`AnnotationTable`: a tuple of records, or
    :class:`TableColumns` that become that tuple when first read."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            raise AttributeError(self.name)  # no default value for the dataclass field
        d = obj.__dict__
        records = d.get("_records")
        if records is None:
            records = d["_columns"].to_records()
            d["_records"] = records
        return records

    def __set__(self, obj: Any, value: Any) -> None:
        d = obj.__dict__
        if isinstance(value, TableColumns):
            d["_records"], d["_columns"] = None, value
        else:
            d["_records"], d["_columns"] = (
                value if isinstance(value, tuple) else tuple(value),
                None,
            )


@dataclass(frozen=True)
class AnnotationTable:
    """An ordered collection of :class:`Annotation` records plus what the reader left out.

    ``skipped`` counts judgements the reader dropped on purpose: ``cancelled`` (Label Studio
    skips) and ``ignored`` (Prodigy ``ignore`` answers).

    A table made with :meth:`from_columns` holds :class:`TableColumns` instead of records until
    something reads :attr:`records` (iteration, equality, ``to_frame``...); ``len``, ``items``,
    ``annotators``, ``controls``, ``kinds`` and ``select_control`` answer from the columns, and
    :func:`aqt.agreement.agreement_report` encodes them without building records. Either way the
    table behaves the same; :attr:`columns` tells which it holds.
    """

    records: tuple[Annotation, ...] = _RecordsField()  # type: ignore[assignment]
    skipped: Mapping[str, int] = field(default_factory=lambda: {"cancelled": 0, "ignored": 0})

    @classmethod
    def from_records(
        cls, records: Iterable[Annotation], skipped: Mapping[str, int] | None = None
    ) -> AnnotationTable:
        base = {"cancelled": 0, "ignored": 0}
        base.update(skipped or {})
        return cls(tuple(records), base)

    @classmethod
    def from_columns(
        cls, columns: TableColumns, skipped: Mapping[str, int] | None = None
    ) -> AnnotationTable:
        """A table over :class:`TableColumns`; its records are built only when read."""
        base = {"cancelled": 0, "ignored": 0}
        base.update(skipped or {})
        return cls(columns, base)  # type: ignore[arg-type]

    @property
    def columns(self) -> TableColumns | None:
        """The columns the table was made from while its records are not built yet, else ``None``."""
        d = self.__dict__
        return d["_columns"] if d.get("_records") is None else None

    def __len__(self) -> int:
        cols = self.columns
        return len(cols) if cols is not None else len(self.records)

    def __iter__(self) -> Iterator[Annotation]:
        return iter(self.records)

    def items(self) -> list[str]:
        """Item ids in natural order."""
        cols = self.columns
        if cols is not None:
            return sorted(set(cols.unique("item")), key=natural_key)
        return sorted({r.item for r in self.records}, key=natural_key)

    def annotators(self) -> list[str]:
        """Annotator ids in natural order."""
        cols = self.columns
        if cols is not None:
            return sorted(set(cols.unique("annotator")), key=natural_key)
        return sorted({r.annotator for r in self.records}, key=natural_key)

    def controls(self) -> list[str]:
        cols = self.columns
        if cols is not None:
            return [cols.control] if len(cols) else []
        return sorted({r.control for r in self.records}, key=natural_key)

    def kinds(self) -> list[str]:
        cols = self.columns
        if cols is not None:
            return [cols.kind] if len(cols) else []
        return sorted({r.kind for r in self.records})

    def select_control(self, control: str | None = None) -> AnnotationTable:
        """The records of one control: ``control`` if given, else the only one there is.

        Raises :class:`UsageError` naming the controls when the choice is ambiguous or unknown.
        """
        controls = self.controls()
        if control is None:
            if len(controls) <= 1:
                return self
            raise UsageError(
                f"The data has {len(controls)} controls: {truncate(controls, 10)}.",
                fix="Pick one with --control NAME.",
            )
        if control not in controls and controls in ([], [""]):
            raise UsageError(
                f"--control {control!r} was given, but this data has no control names "
                "(a table or a one-question export holds a single control).",
                fix="Leave out --control.",
            )
        if control not in controls:
            raise UsageError(
                f"No control named {control!r}; the data has {truncate(controls, 10)}.",
                fix="Pass one of those to --control.",
            )
        cols = self.columns
        if cols is not None:  # one control for every row, and it is the one asked for
            return self
        return replace(self, records=tuple(r for r in self.records if r.control == control))

    def with_records(self, records: Iterable[Annotation]) -> AnnotationTable:
        return replace(self, records=tuple(records))

    def to_frame(self):  # -> pandas.DataFrame
        """One row per record with the columns of :data:`TABLE_COLUMNS`; values stay Python objects."""
        import pandas as pd

        frame = pd.DataFrame([r.row() for r in self.records], columns=list(TABLE_COLUMNS))
        frame.attrs["skipped"] = dict(self.skipped)
        return frame

    @classmethod
    def from_frame(cls, frame, skipped: Mapping[str, int] | None = None) -> AnnotationTable:
        """Inverse of :meth:`to_frame`. Missing optional columns default to empty; values are
        normalised for their kind (JSON strings are accepted for set and span kinds)."""
        missing = [c for c in ("item", "annotator", "value") if c not in frame.columns]
        if missing:
            raise InputError(
                f"The frame lacks column(s) {truncate(missing)}; it has {truncate(frame.columns)}.",
                fix="Rename the columns to item, annotator, value.",
            )
        records = []
        cols = set(frame.columns)

        def opt(row: Mapping[str, Any], name: str) -> Any:
            if name not in cols:
                return None
            v = row[name]
            if v is None or (isinstance(v, float) and math.isnan(v)):
                return None
            return v

        for row in frame.to_dict("records"):
            kind = opt(row, "kind") or "choice"
            ts = opt(row, "timestamp")
            records.append(
                Annotation(
                    item=str(row["item"]),
                    annotator=str(row["annotator"]),
                    value=value_from_json(kind, row["value"]),
                    kind=kind,
                    control=str(opt(row, "control") or ""),
                    timestamp=float(ts) if ts is not None else None,
                    guideline_version=opt(row, "guideline_version"),
                    source=opt(row, "source"),
                    annotation_id=(
                        str(opt(row, "annotation_id"))
                        if opt(row, "annotation_id") is not None
                        else None
                    ),
                    text=opt(row, "text"),
                )
            )
        if skipped is None:
            skipped = frame.attrs.get("skipped")
        return cls.from_records(records, skipped)
