"""The datasheet of an export: what is in it, how good it is, and every check's result.

:func:`build_datasheet` builds the dict from an export plan, :func:`render_datasheet_markdown`
renders it as Markdown and :func:`render_export_html` puts the checks and counts in front of the
agreement report's HTML page. Both are pure functions of the dict: the same export gives the same
bytes.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

from aqt.records import natural_key, value_to_json
from aqt.report import render_html

__all__ = ["build_datasheet", "render_datasheet_markdown", "render_export_html"]


def build_datasheet(
    plan: Any,
    name: str,
    files: dict[str, dict[str, Any]],
    provenance: Mapping[str, Any],
    allow_failures: str | None,
) -> dict[str, Any]:
    """The datasheet dict of an :class:`aqt.export.ExportPlan`: counts, label distribution per
    split, agreement with intervals, provenance (input, adjudication log and side files with their
    hashes, guideline versions), aggregation, every check's finding, summaries, unresolved items
    and the written files with sizes and sha256."""
    by_split: dict[str, dict[str, int]] = {}
    overall: dict[str, int] = {}
    for r in plan.rows:
        lab = r["label"] if isinstance(r["label"], str) else _label_str(r["label"])
        if plan.kind == "spans":
            lab = "(spans)"
        overall[lab] = overall.get(lab, 0) + 1
        by_split.setdefault(r["split"], {})
        by_split[r["split"]][lab] = by_split[r["split"]].get(lab, 0) + 1
    order = sorted(
        by_split,
        key=lambda s: (
            ("train", "dev", "test").index(s) if s in ("train", "dev", "test") else 9,
            s,
        ),
    )
    rep = plan.agreement
    return {
        "name": name,
        "passed": not plan.failed,
        "allow_failures": allow_failures,
        "kind": plan.kind,
        "counts": {
            "annotations": rep.get("n_annotations"),
            "items": rep.get("n_items"),
            "annotators": rep.get("n_annotators"),
            "final": len(plan.rows),
            "unresolved": len(plan.final.unresolved),
            "by_source": plan.final.source_counts(),
            "by_split": {s: sum(by_split[s].values()) for s in order},
        },
        "label_distribution": {
            "overall": {k: overall[k] for k in sorted(overall, key=natural_key)},
            "by_split": {s: dict(sorted(by_split[s].items())) for s in order},
        },
        "iaa": {"level": rep.get("level"), "metrics": rep.get("metrics") or {}},
        "provenance": {
            **provenance,
            "guideline_versions": list(rep.get("guideline_versions") or []),
        },
        "aggregation": {
            "method": plan.final.method,
            "min_confidence": plan.final.min_confidence,
            "model": plan.final.model.to_dict() if plan.final.model is not None else None,
        },
        "checks": [f.to_dict() for f in plan.findings],
        "summaries": json.loads(json.dumps(dict(plan.summaries), default=str)),
        "unresolved": [u.to_dict() for u in plan.final.unresolved],
        "files": files,
    }


def _label_str(value: Any) -> str:
    v = value_to_json(value)
    return v if isinstance(v, str) else json.dumps(v, sort_keys=True, ensure_ascii=False)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3f}"
    if v is None:
        return "-"
    return str(v)


def _md_cell(v: Any) -> str:
    return _fmt(v).replace("|", "\\|").replace("\n", " ")


def _md_table(header: list[str], rows: list[list[Any]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(_md_cell(c) for c in r) + " |" for r in rows]
    return out + [""]


def _ci(entry: Mapping[str, Any]) -> str:
    ci = entry.get("ci95")
    return f"{ci[0]:.3f} to {ci[1]:.3f}" if ci else "-"


def _sections(d: Mapping[str, Any]) -> list[tuple[str, list[str], list[list[Any]]]]:
    c = d["counts"]
    out: list[tuple[str, list[str], list[list[Any]]]] = []
    out.append(
        (
            "Counts",
            ["What", "Value"],
            [
                ["annotations", c["annotations"]],
                ["annotated items", c["items"]],
                ["annotators", c["annotators"]],
                ["exported items", c["final"]],
                ["unresolved (left out)", c["unresolved"]],
            ]
            + [[f"final label from: {k}", v] for k, v in c["by_source"].items()]
            + [[f"split: {k}", v] for k, v in c["by_split"].items()],
        )
    )
    dist = d["label_distribution"]
    splits = list(dist["by_split"])
    out.append(
        (
            "Label distribution",
            ["Label", "Items", "Share"] + splits,
            [
                [lab, n, f"{n / max(c['final'], 1):.1%}"]
                + [dist["by_split"][s].get(lab, 0) for s in splits]
                for lab, n in dist["overall"].items()
            ],
        )
    )
    iaa = d["iaa"]
    out.append(
        (
            "Inter-annotator agreement",
            ["Coefficient", "Value", "95% interval", "Note"],
            [[k, v.get("value"), _ci(v), v.get("reason") or ""] for k, v in iaa["metrics"].items()],
        )
    )
    prov = d["provenance"]
    log = prov.get("adjudication_log")
    out.append(
        (
            "Provenance",
            ["What", "Value"],
            [
                ["input", f"{prov['input']['path']} (sha256 {prov['input']['sha256'][:16]})"],
                ["guideline versions", ", ".join(prov["guideline_versions"]) or "-"],
                [
                    "adjudication log",
                    f"{log['path']} (sha256 {log['sha256'][:16]}, {log['n_decisions']} decisions)"
                    if log
                    else "-",
                ],
                [
                    "aggregation",
                    (
                        f"{d['aggregation']['method']}, min confidence "
                        f"{d['aggregation']['min_confidence']}"
                    ),
                ],
            ],
        )
    )
    out.append(
        (
            "Checks",
            ["Check", "Severity", "Items", "Message", "Fix"],
            [
                [f["check"], f["severity"], len(f["items"]), f["message"], f["fix"]]
                for f in d["checks"]
            ],
        )
    )
    out.append(
        (
            "Files",
            ["File", "Bytes", "sha256"],
            [[k, v["bytes"], v["sha256"]] for k, v in d["files"].items()],
        )
    )
    return out


def _verdict(d: Mapping[str, Any]) -> str:
    if d["passed"]:
        return "All checks passed (no error-severity finding)."
    return f"Exported with failing checks; reason given: {d['allow_failures']!r}."


def render_datasheet_markdown(d: Mapping[str, Any]) -> str:
    """The datasheet as Markdown: verdict, counts, labels, agreement, provenance, checks, files."""
    lines = [f"# Datasheet: {d['name']}", "", _verdict(d), ""]
    for title, header, rows in _sections(d):
        lines += [f"## {title}", ""] + _md_table(header, rows)
    if d["unresolved"]:
        lines += ["## Unresolved items (left out)", ""]
        lines += _md_table(
            ["Item", "Reason", "Detail"],
            [[u["item"], u["reason"], u["detail"]] for u in d["unresolved"][:50]],
        )
    return "\n".join(lines).rstrip() + "\n"


def _html_table(title: str, header: list[str], rows: list[list[Any]]) -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{e(_fmt(c))}</td>" for c in r) + "</tr>" for r in rows)
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f"<section><h2>{e(title)}</h2>{table}</section>"


def render_export_html(d: Mapping[str, Any], agreement: Mapping[str, Any]) -> str:
    """One self-contained HTML page: the datasheet sections, then the agreement report."""
    page = render_html(agreement)
    parts = [
        f"<h1>Export: {html.escape(d['name'])}</h1>",
        f'<p class="lede">{html.escape(_verdict(d))}</p>',
    ]
    parts += [_html_table(t, h, r) for t, h, r in _sections(d)]
    parts.append("<h1>Agreement report</h1>")
    return page.replace("<h1>Agreement report</h1>", "\n".join(parts), 1)
