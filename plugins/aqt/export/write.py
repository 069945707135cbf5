"""Writing an export atomically: the files, their hashes, the datasheet and the report."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aqt.errors import MissingExtraError, UsageError, truncate
from aqt.export.plan import (
    EXPORT_FORMATS,
    ExportOptions,
    ExportPlan,
    ExportRefused,
    _label_str,
    plan_export,
)
from aqt.records import AnnotationTable

if TYPE_CHECKING:
    from aqt.adjudication import Decision
from aqt.validate.datasheet import build_datasheet, render_datasheet_markdown, render_export_html

__all__ = ["export_dataset", "file_provenance", "write_export"]


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
            fix=(
                'Fix the data, or export anyway with --allow-failures "REASON" (recorded in the '
                "datasheet)."
            ),
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
    decisions: Sequence[Decision] | None = None,
    provenance: Mapping[str, Any] | None = None,
    edge_cases: str | os.PathLike | None = None,
    meta: Mapping[str, Mapping[str, Any]] | None = None,
    production: str | os.PathLike | None = None,
    predictions: str | os.PathLike | None = None,
    options: ExportOptions | None = None,
    formats: Sequence[str] = EXPORT_FORMATS,
    allow_failures: str | None = None,
    force: bool = False,
) -> tuple[ExportPlan, dict[str, Any]]:
    """Read the side files, plan, check and write: the one call behind ``aqt export``,
    ``aqt ls export --validated`` and the ``aqt.export`` recipe. Returns the plan and the
    datasheet; raises :class:`ExportRefused` (exit 3) when a check fails without
    ``allow_failures``.

    ``decisions`` are adjudication decisions given directly (e.g. Label Studio ground-truth
    annotations); with ``adjudication_log`` too, both count and the log's decision wins for the
    same item. ``provenance`` entries are added to (and override) the datasheet's provenance,
    e.g. ``{"input": {"path": "<where the annotations came from>", "sha256": ...}}``."""
    options = options if options is not None else ExportOptions()
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
    logged = AdjudicationLog(adjudication_log).read() if adjudication_log is not None else None
    given = list(decisions or ())
    merged = given + list(logged or ()) if given or logged is not None else None
    catalogue = load_catalogue(edge_cases) if edge_cases is not None else None
    prod = production_labels(production)[1] if production is not None else None
    if production is not None and not prod and options.target_balance is None:
        raise UsageError(
            f"The production sample {str(production)!r} has no 'label' field, so it cannot set "
            "the balance target.",
            fix="Label a production sample, or give --target-balance.",
        )
    preds = load_predictions(predictions) if predictions is not None else None
    plan = plan_export(
        table,
        decisions=merged,
        meta=meta,
        catalogue=catalogue,
        production_labels=prod,
        predictions=preds,
        options=options,
    )
    log = file_provenance(adjudication_log)
    if log is not None:
        log["n_decisions"] = len(logged or [])
    prov = {
        "input": file_provenance(input_path) or {"path": "-", "sha256": ""},
        "adjudication_log": log,
        "edge_cases": file_provenance(edge_cases),
        "production": file_provenance(production),
        "predictions": file_provenance(predictions),
        "options": {
            k: (dict(v) if isinstance(v, Mapping) else v) for k, v in options.__dict__.items()
        },
    }
    if given:
        prov["decisions"] = {"n_decisions": len(given)}
    prov.update(provenance or {})
    sheet = write_export(
        plan,
        out_dir,
        formats=formats,
        provenance=prov,
        allow_failures=allow_failures,
        force=force,
    )
    return plan, sheet
