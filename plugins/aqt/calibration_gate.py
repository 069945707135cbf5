"""The calibration gate: do the named annotators agree well enough on the batch to start?

PASS needs Krippendorff's alpha (nominal) on the batch at or above the threshold (default
``Thresholds.alpha_gate`` = 0.667, Krippendorff 2004) overall and for every label with enough
items (one-vs-rest alpha, as in ``agreement_report``'s ``per_label``), and every named annotator
finished. Span tasks gate on the token-level alpha of ``aqt.agreement.spans`` and show each
label's overlap F1 without gating on it. Intervals are the engine's seeded item bootstrap (``aqt.agreement.bootstrap``). On FAIL
the result names the confused label pairs with their items, the guideline sections and edge cases
each pair touches, a revision question per pair, and the next step.

Examples
--------
>>> from aqt.records import Annotation, AnnotationTable
>>> from aqt.edgecases import SourceItem
>>> from aqt.calibration import select_calibration_batch
>>> src = [SourceItem(str(i), f"text {i}", {}) for i in range(6)]
>>> m = select_calibration_batch(src, 6, 0).manifest
>>> recs = [Annotation(str(i), a, "POS" if i % 2 else "NEG") for i in range(6) for a in "ab"]
>>> g = calibration_gate(AnnotationTable.from_records(recs), m, ["a", "b"], ci=0)
>>> g.status, g.overall["value"]
('PASS', 1.0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aqt.calibration import Manifest
from aqt.calibration_advice import gate_findings, next_step, pair_entry
from aqt.config import Thresholds
from aqt.edgecases import Catalogue, SourceItem, text_hash
from aqt.errors import InputError, truncate
from aqt.findings import Finding, has_errors, sort_findings
from aqt.records import AnnotationTable, natural_key

__all__ = ["MIN_LABEL_ITEMS", "GateResult", "calibration_gate", "gold_labels"]

#: a label judged on fewer items than this is reported but does not fail the gate
MIN_LABEL_ITEMS = 5


@dataclass(frozen=True)
class GateResult:
    """The gate's verdict and everything the calibration meeting needs; see :meth:`to_dict`."""

    status: str
    threshold: float
    target: float
    batch: Mapping[str, Any]
    guideline_version: str | None
    annotators: tuple[str, ...]
    overall: Mapping[str, Any]
    per_label: Mapping[str, Mapping[str, Any]]
    confused_pairs: tuple[Mapping[str, Any], ...]
    worst_items: tuple[Mapping[str, Any], ...]
    other_annotators: tuple[str, ...]
    unfinished: tuple[Mapping[str, Any], ...]
    agreement: Mapping[str, Any]
    disagreements: tuple[Mapping[str, Any], ...] = ()
    metric: str = "krippendorff_alpha"
    gold: tuple[Mapping[str, Any], ...] = ()
    findings: tuple[Finding, ...] = field(default_factory=tuple)
    next_step: str = ""

    @property
    def exit_code(self) -> int:
        """3 when the gate fails (an error finding), else 0."""
        return 3 if has_errors(self.findings) else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "check": "calibration_gate",
            "status": self.status,
            "metric": self.metric,
            "threshold": self.threshold,
            "target": self.target,
            "batch": dict(self.batch),
            "guideline_version": self.guideline_version,
            "annotators": list(self.annotators),
            "overall": dict(self.overall),
            "per_label": {k: dict(v) for k, v in self.per_label.items()},
            "confused_pairs": [dict(p) for p in self.confused_pairs],
            "worst_items": [dict(w) for w in self.worst_items],
            "disagreements": [dict(w) for w in self.disagreements],
            "gold": [dict(g) for g in self.gold],
            "other_annotators": list(self.other_annotators),
            "unfinished": [dict(u) for u in self.unfinished],
            "findings": [f.to_dict() for f in self.findings],
            "next_step": self.next_step,
            "agreement": dict(self.agreement),
        }


def _align(table: AnnotationTable, manifest: Manifest) -> tuple[dict[str, str], int]:
    """Map table item ids to manifest ids (by id, else by the text hash); count the rest."""
    ids = set(manifest.ids())
    by_hash = {m.hash: m.id for m in manifest.items}
    mapping, outside = {}, set()
    for r in table.records:
        if r.item in mapping or r.item in outside:
            continue
        if r.item in ids:
            mapping[r.item] = r.item
        elif r.text and text_hash(r.text) in by_hash:
            mapping[r.item] = by_hash[text_hash(r.text)]
        else:
            outside.add(r.item)
    return mapping, len(outside)


def _label_intervals(
    last: Mapping[tuple[str, str], str], labels: Sequence[str], ci: int, seed: int
) -> dict[str, list[float] | None]:
    """95% bootstrap intervals of each label's one-vs-rest alpha (the engine's bootstrap)."""
    from aqt.agreement.bootstrap import bootstrap_ci

    items = sorted({i for i, _ in last}, key=natural_key)
    anns = sorted({a for _, a in last}, key=natural_key)
    ii = {x: n for n, x in enumerate(items)}
    aa = {x: n for n, x in enumerate(anns)}
    lab = {x: n for n, x in enumerate(labels)}
    X = np.full((len(items), len(anns)), -1, np.int64)
    for (i, a), v in last.items():
        X[ii[i], aa[a]] = lab[v]
    out = {}
    for k, label in enumerate(labels):
        Xb = np.where(X < 0, -1, (X != k).astype(np.int64))
        res = bootstrap_ci(Xb, 2, n=ci, seed=seed)
        out[label] = res["krippendorff_alpha"]
    return out


def gold_labels(table: AnnotationTable, min_share: float = 1.0) -> dict[str, str]:
    """Items whose answers agree (share of the most common label >= ``min_share``) -> that label;
    the gold items of full-scale quality control come from a passed calibration batch."""
    votes: dict[str, list[str]] = {}
    for r in table.records:
        votes.setdefault(r.item, []).append(str(r.value))
    out = {}
    for item, vs in votes.items():
        if len(vs) < 2:
            continue
        top = max(sorted(set(vs)), key=vs.count)
        if vs.count(top) / len(vs) >= min_share:
            out[item] = top
    return dict(sorted(out.items(), key=lambda kv: natural_key(kv[0])))


def _status(value: float | None, n: int, thr: float) -> str:
    if value is None:
        return "n/a"
    if n < MIN_LABEL_ITEMS:
        return "too few"
    return "PASS" if value >= thr else "FAIL"


def calibration_gate(
    table: AnnotationTable,
    manifest: Manifest,
    annotators: Sequence[str],
    thresholds: Thresholds | None = None,
    edge_cases: Catalogue | None = None,
    guidelines: Any = None,
    *,
    threshold: float | None = None,
    items: Sequence[SourceItem] | None = None,
    ci: int = 1000,
    seed: int = 0,
    max_items: int = 10,
) -> GateResult:
    """Gate a calibration batch.

    Parameters
    ----------
    table : every answer on the batch (one control; items matched to the manifest by id or by
        the text hash of the record's text)
    manifest : the batch (:func:`aqt.calibration.read_manifest`)
    annotators : the named annotators; only their answers count
    thresholds : ``alpha_gate`` and ``alpha_target``; ``threshold`` overrides ``alpha_gate``
    edge_cases : the catalogue, to say which cases each confused pair touches
    guidelines : :class:`aqt.guidelines.Guidelines`, for sections and the current version
    items : the batch's source items, for texts in the worst-items list
    ci : bootstrap resamples for the intervals (0: none)
    """
    from aqt.agreement import agreement_report

    th = thresholds or Thresholds()
    thr = float(threshold if threshold is not None else th.alpha_gate)
    named = [str(a) for a in annotators]
    if not named:
        raise InputError("No annotators named.", fix="Pass --annotators alice,bob,carol.")
    table = table.select_control()
    mapping, n_outside = _align(table, manifest)
    in_batch = [r for r in table.records if r.item in mapping]
    others = sorted({r.annotator for r in in_batch} - set(named), key=natural_key)
    recs = [r for r in in_batch if r.annotator in named]
    if not recs:
        raise InputError(
            f"No answers by {truncate(named)} on the {len(manifest.items)} items of batch "
            f"{manifest.batch_id}.",
            fix="Check --annotators against the session names, and the manifest.",
        )
    from dataclasses import replace

    recs = [replace(r, item=mapping[r.item]) for r in recs]
    sub = table.with_records(recs)
    report = agreement_report(sub, ci=ci, seed=seed, max_disagreements=10**6).to_dict()
    spans = report["kind"] == "spans"
    labels = [] if spans else list(report["categories"])
    last = {(r.item, r.annotator): str(r.value) for r in recs}
    ivals = _label_intervals(last, labels, ci, seed) if ci and labels else {}
    if spans:  # token-level alpha gates; per-label span F1 is shown, not gated
        sp = report.get("spans") or {}
        alpha = {"value": sp.get("token_alpha"), "ci95": None}
    else:
        alpha = report["metrics"]["krippendorff_alpha"]
    overall = {
        "value": alpha["value"],
        "ci95": alpha["ci95"],
        "status": "PASS" if alpha["value"] is not None and alpha["value"] >= thr else "FAIL",
        "n_items": report["n_items"],
        "n_annotations": report["n_annotations"],
    }
    per_label = {}
    for lab in labels:
        row = report["per_label"].get(lab, {})
        v, n = row.get("krippendorff_alpha"), int(row.get("n_items") or 0)
        per_label[lab] = {"value": v, "ci95": ivals.get(lab), "n_items": n}
        per_label[lab]["status"] = _status(v, n, thr)
    for lab, row in ((report.get("spans") or {}).get("per_label") or {}).items():
        per_label[lab] = {
            "value": row.get("f1_overlap"),
            "ci95": None,
            "n_items": int(row.get("support") or 0),
            "status": "n/a",
        }
    # who answered what
    answered: dict[str, set[str]] = {a: set() for a in named}
    for i, a in last:
        answered[a].add(i)
    order = manifest.ids()
    unfinished = tuple(
        {
            "annotator": a,
            "done": len(answered[a]),
            "total": len(order),
            "missing": [i for i in order if i not in answered[a]][:20],
        }
        for a in named
        if len(answered[a]) < len(order)
    )
    texts = {it.id: it.text for it in items or ()}
    for r in in_batch:
        if r.text:
            texts.setdefault(mapping[r.item], r.text)
    ec_of = {m.id: list(m.edge_cases) for m in manifest.items}
    by_item: dict[str, dict[str, str]] = {}
    for (i, a), v in sorted(last.items(), key=lambda kv: (natural_key(kv[0][0]), kv[0][1])):
        by_item.setdefault(i, {})[a] = v
    disagreements = tuple(
        {
            "item": d["item"],
            "text": texts.get(d["item"]),
            "values": d["values"],
            "observed_disagreement": d["observed_disagreement"],
            "edge_cases": ec_of.get(d["item"], []),
        }
        for d in report["disagreements"]
    )
    worst = disagreements[:max_items]
    pairs = tuple(
        pair_entry(p, by_item, edge_cases, guidelines, manifest)
        for p in report["confused_pairs"]
        if p.get("count")
    )
    gversion = guidelines.version.id if guidelines is not None else manifest.guideline_version
    findings = gate_findings(
        overall, per_label, pairs, unfinished, others, thr, report, gversion, n_outside, worst
    )
    failed = has_errors(findings)
    status = "FAIL" if failed else "PASS"
    return GateResult(
        status=status,
        threshold=thr,
        target=th.alpha_target,
        batch={
            "id": manifest.batch_id,
            "n_items": len(order),
            "seed": manifest.seed,
            "strata": manifest.strata,
            "guideline_version": manifest.guideline_version,
        },
        guideline_version=gversion,
        annotators=tuple(named),
        overall=overall,
        per_label=per_label,
        confused_pairs=pairs,
        worst_items=worst,
        disagreements=disagreements,
        metric="token_alpha" if spans else "krippendorff_alpha",
        gold=()
        if spans
        else tuple(
            {"id": i, "text": texts.get(i), "label": lab} for i, lab in gold_labels(sub).items()
        ),
        other_annotators=tuple(others),
        unfinished=unfinished,
        agreement={k: report[k] for k in ("metrics", "pairwise", "guideline_versions")},
        findings=tuple(sort_findings(findings)),
        next_step=next_step(status, unfinished, pairs),
    )
