"""What the calibration gate says about its numbers: confused pairs with the guideline sections and
edge cases they touch and a revision question, the findings, and the next step."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aqt.calibration import Manifest
from aqt.edgecases import Catalogue
from aqt.errors import truncate
from aqt.findings import Finding

__all__ = ["gate_findings", "next_step", "pair_entry"]


def pair_entry(
    p: Mapping[str, Any],
    by_item: Mapping[str, Mapping[str, str]],
    catalogue: Catalogue | None,
    guidelines: Any,
    manifest: Manifest,
) -> dict[str, Any]:
    a, b = p["labels"]
    items = [i for i, vals in by_item.items() if a in vals.values() and b in vals.values()]
    sections = []
    if guidelines is not None:
        sections = [s.title for s in guidelines.sections_about([a, b])[:2]]
    touched = []
    if catalogue is not None:
        hit = set(items)
        touched = [c.id for c in catalogue.cases if hit & set(manifest.edge_cases.get(c.id, ()))]
        # cases expecting one of the two labels first: they rule on this very confusion
        touched.sort(key=lambda cid: catalogue.get(cid).expected not in (a, b))  # type: ignore[union-attr]
        for cid in touched:
            sec = catalogue.get(cid).section  # type: ignore[union-attr]
            if sec and sec not in sections:
                sections.append(sec)
    shown = ", ".join(items[:5]) + (f" (+{len(items) - 5} more)" if len(items) > 5 else "")
    where = f"section '{sections[0]}'" if sections else f"a new section on {a} versus {b}"
    if touched and catalogue is not None:
        case = catalogue.get(touched[0])
        question = (
            f"Edge case '{case.id}' ({case.description.rstrip('.')}) should be {case.expected}, "  # type: ignore[union-attr]
            f"yet annotators split {a}/{b} on items {shown}: does {where} state that rule "
            "clearly, with one of these items as an example?"
        )
    else:
        question = (
            f"When is a text {a} rather than {b}? Annotators split on {len(items)} item(s) "
            f"({shown}); state the deciding rule in {where} and add one of them as an example."
        )
    return {
        "labels": [a, b],
        "count": p["count"],
        "share": p.get("share"),
        "items": items,
        "sections": sections,
        "edge_cases": touched,
        "question": question,
    }


def gate_findings(
    overall, per_label, pairs, unfinished, others, thr, report, gversion, n_outside, worst
) -> list[Finding]:
    out = []
    worst_ids = [w["item"] for w in worst]
    if overall["status"] == "FAIL":
        out.append(
            Finding(
                "calibration_gate",
                "error",
                worst_ids,
                f"Krippendorff's alpha on the batch is {_f(overall['value'])}, under the gate "
                f"{thr:.3f}.",
                "Revise the guidelines on the confused pairs and calibrate again.",
            )
        )
    for lab, row in per_label.items():
        if row["status"] == "FAIL":
            out.append(
                Finding(
                    "calibration_label",
                    "error",
                    (),
                    f"Label {lab!r}: alpha {_f(row['value'])} under the gate {thr:.3f} "
                    f"({row['n_items']} items).",
                    f"Clarify when to use {lab!r} in the guidelines.",
                )
            )
        elif row["status"] == "PASS" and row["ci95"] and row["ci95"][0] < thr:
            out.append(
                Finding(
                    "calibration_label_uncertain",
                    "warning",
                    (),
                    f"Label {lab!r}: alpha {_f(row['value'])} passes, but its 95% interval starts "
                    f"at {_f(row['ci95'][0])}, under the gate.",
                    "Watch this label during full-scale work (gold items, overlap).",
                )
            )
    for p in pairs[:5]:
        a, b = p["labels"]
        out.append(
            Finding(
                "confused_pair", "warning", p["items"], f"{a} / {b}: {p['question']}", p["question"]
            )
        )
    for u in unfinished:
        out.append(
            Finding(
                "calibration_incomplete",
                "error",
                u["missing"],
                f"{u['annotator']} answered {u['done']} of {u['total']} batch items.",
                f"Ask {u['annotator']} to finish the batch, then run the gate again.",
            )
        )
    if others:
        out.append(
            Finding(
                "other_annotators",
                "info",
                (),
                f"Also answered the batch, not counted: {truncate(others, 10)}.",
                "Add them to --annotators if they are part of the team.",
            )
        )
    seen = list(report.get("guideline_versions") or [])
    if gversion and seen and seen != [gversion]:
        out.append(
            Finding(
                "guideline_version_mismatch",
                "warning",
                (),
                f"Answers carry guideline version(s) {truncate(seen)}, the guidelines are "
                f"{gversion!r}.",
                "Calibrate on answers given under the current guidelines.",
            )
        )
    if n_outside:
        out.append(
            Finding(
                "items_outside_batch",
                "info",
                (),
                f"{n_outside} answered item(s) are not in the batch and were left out.",
                "Nothing to do unless the manifest is the wrong one.",
            )
        )
    return out


def _f(v: Any) -> str:
    return "n/a" if v is None else f"{float(v):.3f}"


def next_step(status: str, unfinished: Sequence[Mapping[str, Any]], pairs: Sequence) -> str:
    if unfinished:
        names = ", ".join(u["annotator"] for u in unfinished)
        return f"Wait for {names} to finish the batch, then run the gate again."
    if status == "PASS":
        return (
            "Record the result (aqt guidelines record GUIDELINES --report GATE.json), then start "
            "full-scale annotation with gold items from this batch (prodigy aqt.annotate ... "
            "--gold GOLD.jsonl)."
        )
    focus = "; ".join("/".join(p["labels"]) for p in pairs[:3]) or "the labels that failed"
    return (
        f"Do not start full-scale annotation. Discuss the disagreements ({focus}) with the "
        "discussion sheet (--sheet), revise the guideline sections named above, record the "
        "decisions (aqt guidelines record GUIDELINES --report GATE.json --decision ...), then "
        "calibrate again on a new batch (aqt calibrate select ... --seed N+1)."
    )
