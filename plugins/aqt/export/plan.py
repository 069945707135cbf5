"""Export planning: final labels, splits, agreement and every dataset check, without writing."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aqt.adjudication import Decision
from aqt.aggregate import FinalLabels, final_labels
from aqt.edgecases import Catalogue, SourceItem
from aqt.errors import AqtError, UsageError
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

__all__ = ["EXPORT_FORMATS", "ExportOptions", "ExportPlan", "ExportRefused", "plan_export"]

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
        as the given split and checked; ``adversarial`` (truthy) flags an item;
        ``options.group_key`` names the grouping field (``source`` falls back to the annotations'
        source).
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
            fix="Adjudicate the disagreements (prodigy aqt.adjudicate, or a ground-truth annotation in Label Studio) or lower --min-confidence.",
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
                f"{len(texts) - has_text} of {len(texts)} items have no text; text checks skip "
                "them.",
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
    if kind == "multichoice":  # the labels inside the sets, for multi-label doc.cats
        cats = tuple(sorted({str(x) for f in labs for x in f.value}, key=natural_key))
    elif kind == "spans":
        cats = tuple(sorted({s.label for f in labs for s in f.value}, key=natural_key))
    else:
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


# -- writers: each takes (plan, path) and writes one file ------------------------------------------
