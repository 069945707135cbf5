"""The datasheet of an export: what is in it, how good it is, and every check's result.

:func:`render_datasheet_markdown` renders the datasheet dict (built by :mod:`aqt.export`) as
Markdown and :func:`render_export_html` puts the checks and counts in front of the agreement
report's HTML page. Both are pure functions of the dict: the same export gives the same bytes.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from aqt.report import render_html

__all__ = ["render_datasheet_markdown", "render_export_html"]


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
                [lab, n, f"{n / max(c['final'], 1):.1%}"] + [dist["by_split"][s].get(lab, 0) for s in splits]
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
                    f"{log['path']} (sha256 {log['sha256'][:16]}, {log['n_decisions']} decisions)" if log else "-",
                ],
                ["aggregation", f"{d['aggregation']['method']}, min confidence {d['aggregation']['min_confidence']}"],
            ],
        )
    )
    out.append(
        (
            "Checks",
            ["Check", "Severity", "Items", "Message", "Fix"],
            [[f["check"], f["severity"], len(f["items"]), f["message"], f["fix"]] for f in d["checks"]],
        )
    )
    out.append(("Files", ["File", "Bytes", "sha256"], [[k, v["bytes"], v["sha256"]] for k, v in d["files"].items()]))
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
        lines += _md_table(["Item", "Reason", "Detail"], [[u["item"], u["reason"], u["detail"]] for u in d["unresolved"][:50]])
    return "\n".join(lines).rstrip() + "\n"


def _html_table(title: str, header: list[str], rows: list[list[Any]]) -> str:
    e = html.escape
    head = "".join(f"<th>{e(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{e(_fmt(c))}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<section><h2>{e(title)}</h2><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></section>"


def render_export_html(d: Mapping[str, Any], agreement: Mapping[str, Any]) -> str:
    """One self-contained HTML page: the datasheet sections, then the agreement report."""
    page = render_html(agreement)
    parts = [f"<h1>Export: {html.escape(d['name'])}</h1>", f'<p class="lede">{html.escape(_verdict(d))}</p>']
    parts += [_html_table(t, h, r) for t, h, r in _sections(d)]
    parts.append("<h1>Agreement report</h1>")
    return page.replace("<h1>Agreement report</h1>", "\n".join(parts), 1)
