"""The report as a list of plain tables, shared by the text, Markdown and HTML renderers.

Every renderer draws the same sections in the same order from the ``AgreementReport.to_dict()``
dict (see ``docs/architecture.md``), so the formats never disagree. Cells are unescaped strings;
each renderer escapes them for its own medium.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from aqt.report.bands import interpret
from aqt.report.fmt import (
    MISSING,
    fmt_category,
    fmt_ci,
    fmt_count,
    fmt_num,
    fmt_share,
    fmt_value,
    is_number,
    metric_entry,
)

__all__ = ["COEFFICIENT_NAMES", "SET_NAMES", "Table", "build_tables", "coefficient_label"]

#: display names, in the order of ``aqt.agreement.COEFFICIENTS``
COEFFICIENT_NAMES: dict[str, str] = {
    "percent_agreement": "Percent agreement",
    "cohen_kappa": "Cohen's kappa",
    "scott_pi": "Scott's pi",
    "fleiss_kappa": "Fleiss' kappa",
    "conger_kappa": "Conger's kappa",
    "krippendorff_alpha": "Krippendorff's alpha",
    "gwet_ac1": "Gwet's AC1",
    "gwet_ac2": "Gwet's AC2",
    "brennan_prediger": "Brennan-Prediger",
}
SET_NAMES: dict[str, str] = {
    "krippendorff_alpha_masi": "Krippendorff's alpha (MASI distance)",
    "krippendorff_alpha_jaccard": "Krippendorff's alpha (Jaccard distance)",
}
#: display names of the other keys that appear in the spans and sets sections
KEY_NAMES: dict[str, str] = {
    "n_items": "Items",
    "a": "Annotator A",
    "b": "Annotator B",
    "f1_exact": "F1 (exact match)",
    "f1_overlap": "F1 (overlap)",
    "token_alpha": "Token-level alpha",
    "support": "Spans",
    "per_label": "per label",
    "pairwise": "annotator pairs",
}
BANDS_NOTE = (
    "Bands: alpha (Krippendorff) >= 0.8 reliable, 0.667-0.8 tentative, below discard; kappa family "
    "(Landis & Koch) < 0 poor, to 0.2 slight, 0.4 fair, 0.6 moderate, 0.8 substantial, "
    "above almost perfect."
)
MAX_CATEGORIES_SHOWN = 30


@dataclass(frozen=True)
class Table:
    """One report section: a title, column headers, rows of strings, and alignment per column."""

    key: str
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    align: tuple[str, ...] = field(default=())  # "l" or "r" per column
    note: str = ""

    def alignment(self) -> tuple[str, ...]:
        return self.align or tuple("l" for _ in self.columns)


def coefficient_label(name: str) -> str:
    """Display name of a coefficient (``cohen_kappa`` -> ``Cohen's kappa``)."""
    return (
        COEFFICIENT_NAMES.get(name) or SET_NAMES.get(name) or KEY_NAMES.get(name) or humanize(name)
    )


def humanize(key: str) -> str:
    text = str(key).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def _per_label_metric(row: Mapping[str, Any], name: str) -> tuple[Any, Any]:
    value, ci, _ = metric_entry(row.get(name))
    if ci is None:
        ci = row.get(f"{name}_ci95")
        if ci is None and isinstance(row.get("ci95"), Mapping):
            ci = row["ci95"].get(name)
    return value, ci


def _with_ci(value: Any, ci: Any) -> str:
    text = fmt_num(value)
    interval = fmt_ci(ci)
    return f"{text} {interval}" if interval else text


# --------------------------------------------------------------------------------------- sections


def _summary(d: Mapping[str, Any]) -> Table:
    cats = [fmt_category(c) for c in d.get("categories") or []]
    shown = ", ".join(cats[:MAX_CATEGORIES_SHOWN])
    if len(cats) > MAX_CATEGORIES_SHOWN:
        shown += f" (+{len(cats) - MAX_CATEGORIES_SHOWN} more)"
    skipped = d.get("skipped") or {}
    skipped_text = ", ".join(f"{k} {fmt_count(v)}" for k, v in skipped.items()) or "none"
    versions = [str(v) for v in d.get("guideline_versions") or []]
    rows = [
        ("Items", fmt_count(d.get("n_items"))),
        ("Annotators", fmt_count(d.get("n_annotators"))),
        ("Annotations", fmt_count(d.get("n_annotations"))),
        ("Skipped", skipped_text),
        ("Kind", str(d.get("kind") or MISSING)),
        ("Control", MISSING if d.get("control") is None else str(d.get("control"))),
        ("Level", str(d.get("level") or MISSING)),
        ("Weights", str(d.get("weights") or MISSING)),
        ("Categories", f"{len(cats)}: {shown}" if cats else "none"),
        ("Guideline versions", ", ".join(versions) if versions else "none recorded"),
    ]
    return Table("summary", "Summary", ("Field", "Value"), tuple(rows), ("l", "l"))


def _coefficient_table(
    key: str, title: str, metrics: Mapping[str, Any], order: Sequence[str]
) -> Table:
    counts = {n: v for n, v in metrics.items() if isinstance(v, int) and not isinstance(v, bool)}
    names = [n for n in order if n in metrics] + [
        n for n in metrics if n not in order and n not in counts
    ]
    note = "; ".join(f"{coefficient_label(n)}: {v}" for n, v in counts.items())
    entries = [(n, *metric_entry(metrics[n])) for n in names]
    has_ci = any(fmt_ci(ci) for _, _, ci, _ in entries)
    rows = []
    for name, value, ci, reason in entries:
        row = [coefficient_label(name), fmt_num(value)]
        if has_ci:
            row.append(fmt_ci(ci))
        row += [interpret(name, value), "" if reason is None else str(reason)]
        rows.append(tuple(row))
    columns = ["Coefficient", "Value"] + (["95% CI"] if has_ci else []) + ["Interpretation", "Note"]
    align = ["l", "r"] + (["r"] if has_ci else []) + ["l", "l"]
    return Table(key, title, tuple(columns), tuple(rows), tuple(align), note)


def _per_label(per_label: Mapping[str, Any]) -> Table:
    rows = []
    for label, row in per_label.items():
        row = row if isinstance(row, Mapping) else {}
        alpha, alpha_ci = _per_label_metric(row, "krippendorff_alpha")
        fleiss, fleiss_ci = _per_label_metric(row, "fleiss_kappa")
        cohen, cohen_ci = _per_label_metric(row, "cohen_kappa")
        rows.append(
            (
                str(label),
                fmt_count(row.get("n_items")),
                _with_ci(alpha, alpha_ci),
                interpret("krippendorff_alpha", alpha),
                _with_ci(fleiss, fleiss_ci),
                _with_ci(cohen, cohen_ci),
            )
        )
    return Table(
        "per_label",
        "Per label (one vs rest)",
        ("Label", "Items", "Krippendorff's alpha", "Alpha band", "Fleiss' kappa", "Cohen's kappa"),
        tuple(rows),
        ("l", "r", "r", "l", "r", "r"),
    )


def _pairwise(pairs: Sequence[Mapping[str, Any]]) -> Table:
    rows = tuple(
        (
            str(p.get("a")),
            str(p.get("b")),
            fmt_count(p.get("n_items")),
            fmt_num(p.get("cohen_kappa")),
            interpret("cohen_kappa", p.get("cohen_kappa")),
            fmt_num(p.get("percent_agreement")),
        )
        for p in pairs
    )
    return Table(
        "pairwise",
        "Annotator pairs",
        ("Annotator A", "Annotator B", "Items", "Cohen's kappa", "Band", "Percent agreement"),
        rows,
        ("l", "l", "r", "r", "l", "r"),
    )


def _disagreements(rows_in: Sequence[Mapping[str, Any]]) -> Table:
    rows = []
    for r in rows_in:
        values = r.get("values") or {}
        shown = "; ".join(f"{a}: {fmt_value(v)}" for a, v in values.items())
        rows.append((str(r.get("item")), fmt_num(r.get("observed_disagreement")), shown))
    return Table(
        "disagreements",
        "Items with the most disagreement",
        ("Item", "Observed disagreement", "Values"),
        tuple(rows),
        ("l", "r", "l"),
    )


def _confused(pairs: Sequence[Mapping[str, Any]]) -> Table:
    rows = []
    for p in pairs:
        labels = list(p.get("labels") or []) + ["", ""]
        rows.append(
            (
                fmt_category(labels[0]),
                fmt_category(labels[1]),
                fmt_count(p.get("count")),
                fmt_share(p.get("share")),
            )
        )
    return Table(
        "confused_pairs",
        "Confused label pairs",
        ("Label A", "Label B", "Coincidences", "Share of disagreement"),
        tuple(rows),
        ("l", "l", "r", "r"),
    )


def _cell(v: Any) -> str:
    if isinstance(v, str):
        return v
    if is_number(v) or v is None:
        return fmt_num(v)
    if isinstance(v, Mapping) and "value" in v:
        value, ci, reason = metric_entry(v)
        text = _with_ci(value, ci)
        return f"{text} ({reason})" if value is None and reason else text
    return fmt_value(v)


def _is_scalar(v: Any) -> bool:
    return (
        v is None
        or isinstance(v, (str, int, float, bool))
        or (isinstance(v, Mapping) and "value" in v and "reason" in v)
    )


def generic_tables(key: str, title: str, obj: Any) -> list[Table]:
    """Tables for a nested section whose exact shape is open (``spans``): scalars as key/value
    rows, dicts of records and lists of records as tables with one column per field."""
    tables: list[Table] = []
    if isinstance(obj, Mapping):
        scalars = [(coefficient_label(k), _cell(v)) for k, v in obj.items() if _is_scalar(v)]
        if scalars:
            tables.append(Table(key, title, ("Measure", "Value"), tuple(scalars), ("l", "r")))
        for k, v in obj.items():
            if _is_scalar(v):
                continue
            sub_key, sub_title = f"{key}.{k}", f"{title}: {coefficient_label(k).lower()}"
            if isinstance(v, Mapping) and v and all(isinstance(x, Mapping) for x in v.values()):
                first = "Label" if k == "per_label" else "Name"
                tables.append(_records_table(sub_key, sub_title, list(v.items()), first))
            elif isinstance(v, Sequence) and v and all(isinstance(x, Mapping) for x in v):
                tables.append(_records_table(sub_key, sub_title, [(None, x) for x in v]))
            else:
                tables.extend(
                    generic_tables(sub_key, sub_title, v)
                    if isinstance(v, Mapping)
                    else [Table(sub_key, sub_title, ("Value",), ((_cell(v),),), ("l",))]
                )
    elif obj is not None:
        tables.append(Table(key, title, ("Value",), ((_cell(obj),),), ("l",)))
    return tables


def _records_table(
    key: str, title: str, records: list[tuple[Any, Mapping[str, Any]]], first: str = "Name"
) -> Table:
    columns: list[str] = []
    for _, rec in records:
        for c in rec:
            if c not in columns:
                columns.append(c)
    named = any(name is not None for name, _ in records)
    header = ([first] if named else []) + [coefficient_label(c) for c in columns]
    rows = []
    for name, rec in records:
        cells = [_cell(rec.get(c)) if c in rec else "" for c in columns]
        rows.append(tuple(([str(name)] if named else []) + cells))
    align = (["l"] if named else []) + [
        "r" if all(is_number(rec.get(c)) or rec.get(c) is None for _, rec in records) else "l"
        for c in columns
    ]
    return Table(key, title, tuple(header), tuple(rows), tuple(align))


def build_tables(d: Mapping[str, Any]) -> list[Table]:
    """Every section of the report, in order; empty sections are left out."""
    tables = [_summary(d)]
    metrics = _coefficient_table(
        "metrics", "Coefficients", d.get("metrics") or {}, list(COEFFICIENT_NAMES)
    )
    tables.append(replace(metrics, note=BANDS_NOTE))
    sets = d.get("sets")
    if isinstance(sets, Mapping) and sets:
        tables.append(_coefficient_table("sets", "Label sets", sets, list(SET_NAMES)))
    spans = d.get("spans")
    if spans:
        tables.extend(generic_tables("spans", "Spans", spans))
    if d.get("per_label"):
        tables.append(_per_label(d["per_label"]))
    if d.get("pairwise"):
        tables.append(_pairwise(d["pairwise"]))
    if d.get("disagreements"):
        tables.append(_disagreements(d["disagreements"]))
    if d.get("confused_pairs"):
        tables.append(_confused(d["confused_pairs"]))
    return tables
