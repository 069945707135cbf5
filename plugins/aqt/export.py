"""Validated export: final labels, every dataset check, and the training files with a datasheet.

:func:`plan_export` computes everything (final labels, splits, agreement, findings) without
writing; :func:`write_export` writes the files into a temporary directory beside the output
directory and renames it into place only when every file is written, so a failed export leaves
nothing behind. An export with an error-severity finding is refused unless ``allow_failures``
gives a reason, which the datasheet records.

Files: ``dataset.jsonl``, ``dataset.csv``, ``dataset.parquet`` (one row per item with ``id``,
``text``, ``label``, ``split``, ``label_source`` (adjudicated, unanimous, dawid_skene, majority), ``confidence``, ``n_annotators``, ``meta``),
``{split}.spacy`` (spaCy DocBin: ``doc.cats`` for classification, ``doc.spans["sc"]`` and, when
they do not overlap, ``doc.ents`` for spans), ``datasheet.json``, ``datasheet.md`` and
``report.html``.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from aqt.adjudication import Decision
from aqt.aggregate import FinalLabels, final_labels
from aqt.edgecases import Catalogue, SourceItem
from aqt.errors import AqtError, MissingExtraError, UsageError, truncate
from aqt.findings import Finding, has_errors, sort_findings
from aqt.records import AnnotationTable, natural_key, value_to_json
from aqt.validate import (
    find_class_imbalance,
    find_edge_case_gaps,
    find_label_errors,
    find_leakage,
    find_low_agreement,
    find_missing_adversarial,
    find_split_problems,
    make_splits,
)
from aqt.validate.datasheet import build_datasheet, render_datasheet_markdown, render_export_html

__all__ = [
    "EXPORT_FORMATS",
    "ExportOptions",
    "ExportPlan",
    "ExportRefused",
    "export_dataset",
    "file_provenance",
    "plan_export",
    "write_export",
]

EXPORT_FORMATS = ("jsonl", "csv", "parquet", "spacy")
_CLASS_KINDS = ("choice", "binary", "rating", "pairwise")


class ExportRefused(AqtError):
    """An error-severity finding and no ``allow_failures`` reason: exit code 3. ``findings``
    holds every finding of the refused export."""

    exit_code = 3

    def __init__(
        self, message: str, *, fix: str | None = None, findings: Sequence[Finding] = ()
    ) -> None:
        super().__init__(message, fix=fix)
        self.findings = tuple(findings)


@dataclass(frozen=True)
class ExportOptions:
    """Settings of the export checks (defaults mirror ``configs/thresholds.toml`` where shared)."""

    method: str = "dawid_skene"
    min_confidence: float = 0.7
    split: tuple[float, ...] = (0.8, 0.1, 0.1)
    group_key: str | None = None
    iaa_threshold: float = 0.667
    iaa_target: float = 0.8
    ci: int = 200
    target_balance: Mapping[str, float] | None = None
    balance_tolerance: float = 0.1
    edge_case_min: int = 3
    adversarial_min_share: float = 0.02
    label_error_threshold: float = 0.9
    label_error_max_share: float = 0.01
    near_duplicate: float = 0.7
    split_tolerance: float = 0.05
    seed: int = 0


@dataclass(frozen=True)
class ExportPlan:
    """What an export would write: rows (one per final item), findings, and the datasheet parts."""

    rows: tuple[Mapping[str, Any], ...]
    final: FinalLabels
    agreement: Mapping[str, Any]
    findings: tuple[Finding, ...]
    summaries: Mapping[str, Any] = field(default_factory=dict)
    kind: str = "choice"
    categories: tuple[str, ...] = ()

    @property
    def failed(self) -> bool:
        return has_errors(self.findings)


def _label_str(value: Any) -> str:
    v = value_to_json(value)
    return v if isinstance(v, str) else json.dumps(v, sort_keys=True, ensure_ascii=False)


def plan_export(
    table: AnnotationTable,
    *,
    decisions: Sequence[Decision] | None = None,
    meta: Mapping[str, Mapping[str, Any]] | None = None,
    catalogue: Catalogue | None = None,
    production_labels: Sequence[str] | None = None,
    predictions: Mapping[str, str] | None = None,
    options: ExportOptions = ExportOptions(),
) -> ExportPlan:
    """Final labels, splits and every check, without writing anything.

    Parameters
    ----------
    table
        Annotations of one control.
    decisions
        Adjudication decisions (``AdjudicationLog(path).read()``); they come first.
    meta
        ``{item: {field: value}}``: metadata per item. ``split`` (if every item has one) is used
        as the given split and checked; ``adversarial`` (truthy) flags an item; ``options.group_key``
        names the grouping field (``source`` falls back to the annotations' source).
    catalogue
        Edge-case catalogue: each case must match at least ``options.edge_case_min`` items.
    production_labels
        Labels of a production sample: the class-balance target when ``options.target_balance``
        is not given.
    predictions
        ``{item: label}`` of an earlier model, for the adversarial check.
    """
    from aqt.agreement import agreement_report

    if not len(table):
        raise UsageError(
            "The annotations are empty; nothing to export.", fix="Check the input file."
        )
    table = table.select_control(None)
    meta = meta or {}
    kinds = table.kinds()
    kind = kinds[0] if len(kinds) == 1 else "choice"
    final = final_labels(
        table,
        decisions=decisions,
        method=options.method,
        min_confidence=options.min_confidence,
        seed=options.seed,
    )
    labs = final.labels
    if not labs:
        raise UsageError(
            f"No item has a final label ({len(final.unresolved)} unresolved).",
            fix="Adjudicate the disagreements (aqt adjudicate) or lower --min-confidence.",
        )
    ids = [f.item for f in labs]
    texts = [f.text or str(meta.get(f.item, {}).get("text") or "") for f in labs]
    labels = [_label_str(f.value) for f in labs]
    source_of = {r.item: r.source for r in table.records if r.source}
    groups = None
    if options.group_key:
        key = options.group_key.removeprefix("meta.")
        groups = [
            meta.get(i, {}).get(key, source_of.get(i) if key == "source" else None) for i in ids
        ]
        if all(g in (None, "") for g in groups):
            raise UsageError(
                f"--group-col {options.group_key!r} has no value for any item.",
                fix="Name a field of the items' metadata (--meta FILE) or 'source'.",
            )
    findings: list[Finding] = []
    summaries: dict[str, Any] = {}
    given = [meta.get(i, {}).get("split") for i in ids]
    if all(given):
        splits = [str(s) for s in given]
        findings += find_split_problems(
            ids, labels, splits, groups=groups, tolerance=options.split_tolerance
        )
    else:
        plan = make_splits(
            ids,
            labels,
            ratios=options.split,
            groups=groups,
            texts=texts,
            dedup_threshold=options.near_duplicate,
            seed=options.seed,
        )
        splits = [plan.assignment[i] for i in ids]
        summaries["splits"] = plan.to_dict()
        findings += find_split_problems(
            ids, labels, splits, groups=groups, tolerance=options.split_tolerance
        )
    report = agreement_report(table, ci=options.ci, seed=options.seed).to_dict()
    findings += find_low_agreement(
        report, threshold=options.iaa_threshold, target=options.iaa_target
    )
    is_class = kind in _CLASS_KINDS
    if is_class:
        findings += find_class_imbalance(
            dict(zip(ids, labels)),
            target=options.target_balance,
            production=production_labels,
            tolerance=options.balance_tolerance,
        )
    if catalogue is not None:
        items = [SourceItem(i, t, dict(meta.get(i, {}))) for i, t in zip(ids, texts)]
        findings += find_edge_case_gaps(
            catalogue, items, dict(zip(ids, labels)) if is_class else None, k=options.edge_case_min
        )
    has_text = sum(bool(t.strip()) for t in texts)
    if has_text < len(texts):
        findings.append(
            Finding(
                "text",
                "warning",
                tuple(i for i, t in zip(ids, texts) if not t.strip())[:50],
                f"{len(texts) - has_text} of {len(texts)} items have no text; text checks skip them.",
                "Export the task text with the annotations, or pass --meta with a text field.",
            )
        )
    flagged = [
        i
        for i in ids
        if meta.get(i, {}).get("adversarial") in (True, 1, "1", "true", "True", "yes")
    ]
    findings += find_missing_adversarial(
        ids,
        texts,
        labels,
        flagged=flagged,
        predictions=predictions,
        min_share=options.adversarial_min_share,
        threshold=options.near_duplicate,
    )
    if is_class and has_text:
        summary, found = find_label_errors(
            ids,
            texts,
            labels,
            threshold=options.label_error_threshold,
            max_share=options.label_error_max_share,
            seed=options.seed,
        )
        summaries["label_errors"] = summary
        findings += found
    findings += find_leakage(ids, texts, splits, threshold=options.near_duplicate)
    rows = tuple(
        {
            "id": f.item,
            "text": t,
            "label": value_to_json(f.value),
            "split": s,
            "label_source": f.source,
            "confidence": round(float(f.confidence), 6),
            "n_annotators": f.n_annotators,
            "meta": {
                k: v for k, v in sorted(meta.get(f.item, {}).items()) if k not in ("text", "split")
            },
        }
        for f, t, s in zip(labs, texts, splits)
    )
    cats = tuple(report.get("categories") or sorted(set(labels), key=natural_key))
    return ExportPlan(
        rows,
        final,
        report,
        tuple(sort_findings(findings)),
        summaries,
        kind,
        tuple(str(c) for c in cats),
    )


# -- writers: each takes (plan, path) and writes one file -------------------------------------------


def _write_jsonl(plan: ExportPlan, path: Path) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.writelines(
            json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n" for row in plan.rows
        )


def _flat(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["label"] = _label_str(row["label"]) if not isinstance(row["label"], str) else row["label"]
    out["meta"] = json.dumps(row["meta"], ensure_ascii=False, sort_keys=True)
    return out


def _write_csv(plan: ExportPlan, path: Path) -> None:
    cols = ["id", "text", "label", "split", "label_source", "confidence", "n_annotators", "meta"]
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, lineterminator="\r\n")
        w.writeheader()
        for row in plan.rows:
            w.writerow(_flat(row))


def _write_parquet(plan: ExportPlan, path: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame(
        [_flat(r) for r in plan.rows],
        columns=[
            "id",
            "text",
            "label",
            "split",
            "label_source",
            "confidence",
            "n_annotators",
            "meta",
        ],
    )
    frame.to_parquet(path, index=False)


def _doc(nlp: Any, row: Mapping[str, Any], plan: ExportPlan, dropped: list[str]) -> Any:
    doc = nlp.make_doc(row["text"] or "")
    value = row["label"]
    if plan.kind == "spans":
        from spacy.util import filter_spans

        spans = []
        for s in value:
            span = doc.char_span(
                int(s["start"]), int(s["end"]), label=str(s["label"]), alignment_mode="contract"
            )
            if span is None or not len(span):
                dropped.append(f"{row['id']}:{s['start']}-{s['end']}")
            else:
                spans.append(span)
        doc.spans["sc"] = spans
        ordered = sorted(spans, key=lambda x: (x.start, x.end))
        if filter_spans(spans) == ordered and len({(x.start, x.end) for x in spans}) == len(spans):
            doc.ents = spans
    elif plan.kind == "multichoice":
        doc.cats = {c: float(c in value) for c in plan.categories}
    else:
        doc.cats = {c: float(c == str(value)) for c in plan.categories}
    return doc


def _spacy_writer(split: str) -> Callable[[ExportPlan, Path], None]:
    def write(plan: ExportPlan, path: Path) -> None:
        try:
            import spacy
            from spacy.tokens import DocBin
        except ImportError as exc:
            raise MissingExtraError(
                "The .spacy format needs spaCy.",
                fix="pip install 'aqt[spacy]', or leave spacy out of --format.",
            ) from exc
        nlp = spacy.blank("en")
        db = DocBin(store_user_data=False)
        dropped: list[str] = []
        for row in plan.rows:
            if row["split"] == split:
                db.add(_doc(nlp, row, plan, dropped))
        db.to_disk(path)
        if dropped:
            plan.summaries.setdefault("spacy_dropped_spans", []).extend(dropped)  # type: ignore[union-attr]

    return write


_WRITERS: dict[str, Callable[[ExportPlan, Path], None]] = {
    "jsonl": _write_jsonl,
    "csv": _write_csv,
    "parquet": _write_parquet,
}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_export(
    plan: ExportPlan,
    out_dir: str | os.PathLike,
    *,
    formats: Sequence[str] = EXPORT_FORMATS,
    provenance: Mapping[str, Any] | None = None,
    allow_failures: str | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Write the export atomically and return the datasheet dict.

    Raises
    ------
    ExportRefused
        ``plan`` has an error-severity finding and ``allow_failures`` is empty (exit code 3).
    UsageError
        ``out_dir`` exists (without ``force``) or a format is unknown.
    """
    unknown = [f for f in formats if f not in EXPORT_FORMATS]
    if unknown or not formats:
        raise UsageError(
            f"Unknown export format(s) {truncate(unknown)}.",
            fix=f"Use some of {', '.join(EXPORT_FORMATS)}.",
        )
    if allow_failures is not None and not allow_failures.strip():
        raise UsageError(
            "--allow-failures needs a reason.",
            fix='Write e.g. --allow-failures "pilot model, labels reviewed later".',
        )
    if plan.failed and allow_failures is None:
        errors = [f for f in plan.findings if f.severity == "error"]
        raise ExportRefused(
            f"{len(errors)} check(s) failed: "
            + "; ".join(f"{f.check}: {f.message}" for f in errors[:5]),
            fix='Fix the data, or export anyway with --allow-failures "REASON" (recorded in the datasheet).',
            findings=plan.findings,
        )
    out = Path(out_dir)
    if out.exists() and not force:
        raise UsageError(
            f"The output directory {str(out)!r} already exists.",
            fix="Pass a new directory, or --force to replace it.",
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
    plan = replace(plan, summaries=dict(plan.summaries))
    try:
        steps: list[tuple[str, Callable[[ExportPlan, Path], None]]] = []
        for fmt in EXPORT_FORMATS:
            if fmt not in formats:
                continue
            if fmt == "spacy":
                for split in sorted({r["split"] for r in plan.rows}):
                    steps.append((f"{split}.spacy", _spacy_writer(split)))
            else:
                steps.append((f"dataset.{fmt}", _WRITERS[fmt]))
        files = {}
        for name, writer in steps:
            writer(plan, tmp / name)
            files[name] = {"bytes": (tmp / name).stat().st_size, "sha256": _sha256(tmp / name)}
        prov = dict(provenance or {"input": {"path": "-", "sha256": ""}, "adjudication_log": None})
        sheet = build_datasheet(plan, out.name, dict(sorted(files.items())), prov, allow_failures)
        (tmp / "datasheet.json").write_text(
            json.dumps(sheet, indent=2, sort_keys=True, ensure_ascii=False) + "\n", encoding="utf-8"
        )
        (tmp / "datasheet.md").write_text(render_datasheet_markdown(sheet), encoding="utf-8")
        (tmp / "report.html").write_text(
            render_export_html(sheet, plan.agreement), encoding="utf-8"
        )
        mode = 0o777 & ~_umask()
        os.chmod(tmp, mode)
        if out.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
            os.replace(out, old / "x")
            os.replace(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            shutil.rmtree(tmp)
        raise
    return sheet


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def file_provenance(path: str | os.PathLike | None) -> dict[str, Any] | None:
    """``{"path", "sha256", "bytes"}`` of a file (``None`` for ``None``)."""
    if path is None:
        return None
    p = Path(path)
    return {"path": str(p), "sha256": _sha256(p), "bytes": p.stat().st_size}


def export_dataset(
    table: AnnotationTable,
    out_dir: str | os.PathLike,
    *,
    input_path: str | os.PathLike | None = None,
    adjudication_log: str | os.PathLike | None = None,
    edge_cases: str | os.PathLike | None = None,
    meta: Mapping[str, Mapping[str, Any]] | None = None,
    production: str | os.PathLike | None = None,
    predictions: str | os.PathLike | None = None,
    options: ExportOptions = ExportOptions(),
    formats: Sequence[str] = EXPORT_FORMATS,
    allow_failures: str | None = None,
    force: bool = False,
) -> tuple[ExportPlan, dict[str, Any]]:
    """Read the side files, plan, check and write: the one call behind ``aqt export`` and the
    ``aqt.export`` recipe. Returns the plan and the datasheet; raises :class:`ExportRefused`
    (exit 3) when a check fails without ``allow_failures``."""
    from aqt.adjudication import AdjudicationLog
    from aqt.edgecases import load_catalogue
    from aqt.validate.inputs import load_predictions, production_labels

    unknown = [f for f in formats if f not in EXPORT_FORMATS]
    if unknown or not formats:
        raise UsageError(
            f"Unknown export format(s) {truncate(unknown)}.",
            fix=f"Use some of {', '.join(EXPORT_FORMATS)}.",
        )
    if Path(out_dir).exists() and not force:
        raise UsageError(
            f"The output directory {str(out_dir)!r} already exists.",
            fix="Pass a new directory, or --force to replace it.",
        )
    if adjudication_log is not None and not Path(adjudication_log).is_file():
        raise UsageError(
            f"No adjudication log at {str(adjudication_log)!r}.",
            fix="Check the --adjudication-log path.",
        )
    decisions = AdjudicationLog(adjudication_log).read() if adjudication_log is not None else None
    catalogue = load_catalogue(edge_cases) if edge_cases is not None else None
    prod = production_labels(production)[1] if production is not None else None
    if production is not None and not prod and options.target_balance is None:
        raise UsageError(
            f"The production sample {str(production)!r} has no 'label' field, so it cannot set the balance target.",
            fix="Label a production sample, or give --target-balance.",
        )
    preds = load_predictions(predictions) if predictions is not None else None
    plan = plan_export(
        table,
        decisions=decisions,
        meta=meta,
        catalogue=catalogue,
        production_labels=prod,
        predictions=preds,
        options=options,
    )
    log = file_provenance(adjudication_log)
    if log is not None:
        log["n_decisions"] = len(decisions or [])
    provenance = {
        "input": file_provenance(input_path) or {"path": "-", "sha256": ""},
        "adjudication_log": log,
        "edge_cases": file_provenance(edge_cases),
        "production": file_provenance(production),
        "predictions": file_provenance(predictions),
        "options": {
            k: (dict(v) if isinstance(v, Mapping) else v) for k, v in options.__dict__.items()
        },
    }
    sheet = write_export(
        plan,
        out_dir,
        formats=formats,
        provenance=provenance,
        allow_failures=allow_failures,
        force=force,
    )
    return plan, sheet
