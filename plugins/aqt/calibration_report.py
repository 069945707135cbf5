"""Renderers of the calibration gate (text, Markdown, JSON, HTML) and the discussion sheet.

Each takes ``GateResult.to_dict()`` and returns a string; the same dict gives the same bytes. The
tables, escaping, CSS and the per-label bar chart are those of :mod:`aqt.report`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aqt.report import render_json
from aqt.report.html import _e, _per_label_plot, _table_html, page
from aqt.report.model import Table, fmt_ci, fmt_num
from aqt.report.text import _md_table, _text_table, md_escape

__all__ = [
    "discussion_sheet",
    "gate_tables",
    "render_gate_html",
    "render_gate_json",
    "render_gate_markdown",
    "render_gate_text",
]

MAX_TEXT = 160
METRIC_NAMES = {"krippendorff_alpha": "Krippendorff's alpha", "token_alpha": "Token-level alpha"}


def _short(text: Any, n: int = MAX_TEXT) -> str:
    if not text:
        return ""
    t = " ".join(str(text).split())
    return t if len(t) <= n else t[: n - 1] + "\u2026"


def _values(values: Mapping[str, Any], annotators: Sequence[str]) -> str:
    return "; ".join(f"{a}: {values.get(a, '-')}" for a in annotators if a in values)


def gate_tables(d: Mapping[str, Any]) -> list[Table]:
    """The gate as plain tables, in report order."""
    ov = d.get("overall") or {}
    b = d.get("batch") or {}
    anns = list(d.get("annotators") or [])
    summary = Table(
        "gate",
        "Calibration gate",
        ("", ""),
        (
            ("Result", str(d.get("status"))),
            (METRIC_NAMES.get(str(d.get("metric")), "Alpha"), fmt_num(ov.get("value"))),
            ("95% interval", fmt_ci(ov.get("ci95"))),
            ("Gate / target", f"{fmt_num(d.get('threshold'))} / {fmt_num(d.get('target'))}"),
            ("Batch", f"{b.get('id')} ({b.get('n_items')} items, seed {b.get('seed')})"),
            ("Guideline version", str(d.get("guideline_version") or "n/a")),
            ("Annotators", ", ".join(anns)),
            ("Items judged", str(ov.get("n_items"))),
        ),
        ("l", "l"),
    )
    tables = [summary]
    rows = tuple(
        (lab, fmt_num(r.get("value")), fmt_ci(r.get("ci95")), str(r.get("n_items")), r["status"])
        for lab, r in (d.get("per_label") or {}).items()
    )
    tables.append(
        Table(
            "per_label",
            "Per label (one vs rest)",
            ("Label", "Alpha", "95% interval", "Items", "Result"),
            rows,
            ("l", "r", "l", "r", "l"),
        )
    )
    pairs = d.get("confused_pairs") or []
    if pairs:
        tables.append(
            Table(
                "confused_pairs",
                "Confused label pairs",
                ("Labels", "Confusions", "Items", "Guideline sections", "Edge cases", "Question"),
                tuple(
                    (
                        " / ".join(p["labels"]),
                        fmt_num(p.get("count"), 0),
                        ", ".join(p["items"][:8]) + (" ..." if len(p["items"]) > 8 else ""),
                        "; ".join(p.get("sections") or []) or "none",
                        ", ".join(p.get("edge_cases") or []) or "none",
                        p.get("question", ""),
                    )
                    for p in pairs
                ),
                ("l", "r", "l", "l", "l", "l"),
            )
        )
    worst = d.get("worst_items") or []
    if worst:
        tables.append(
            Table(
                "worst_items",
                "Items with most disagreement",
                ("Item", "Text", "Answers", "Disagreement", "Edge cases"),
                tuple(
                    (
                        str(w["item"]),
                        _short(w.get("text"), 80),
                        _values(w.get("values") or {}, anns),
                        fmt_num(w.get("observed_disagreement")),
                        ", ".join(w.get("edge_cases") or []),
                    )
                    for w in worst
                ),
                ("l", "l", "l", "r", "l"),
            )
        )
    people = [(u["annotator"], f"{u['done']} of {u['total']} items") for u in d["unfinished"]]
    people += [(o, "answered the batch, not named: not counted") for o in d["other_annotators"]]
    if people:
        tables.append(Table("annotators", "Annotators", ("Annotator", "Status"), tuple(people)))
    findings = d.get("findings") or []
    if findings:
        tables.append(
            Table(
                "findings",
                "Findings",
                ("Severity", "Check", "Message", "Fix"),
                tuple((f["severity"], f["check"], f["message"], f["fix"]) for f in findings),
            )
        )
    return tables


def render_gate_text(d: Mapping[str, Any]) -> str:
    """Aligned text for a terminal; the next step last."""
    lines: list[str] = []
    for t in gate_tables(d):
        if t.key == "findings":
            continue
        lines += _text_table(t)
        lines.append("")
    lines.append(f"Next step: {d.get('next_step')}")
    return "\n".join(lines) + "\n"


def render_gate_markdown(d: Mapping[str, Any]) -> str:
    """GitHub Markdown with every table and the next step."""
    lines = ["# Calibration gate: " + str(d.get("status")), ""]
    for t in gate_tables(d):
        lines += _md_table(t)
        lines.append("")
    lines += ["## Next step", "", md_escape(str(d.get("next_step"))), ""]
    return "\n".join(lines)


def render_gate_json(d: Mapping[str, Any]) -> str:
    """The gate dict as JSON (indent 2), as ``aqt.report.render_json``."""
    return render_json(d)


def render_gate_html(d: Mapping[str, Any]) -> str:
    """One self-contained HTML page: the tables and a per-label alpha chart with intervals."""
    tables = gate_tables(d)
    plot_input = {
        lab: {"krippendorff_alpha": r.get("value"), "krippendorff_alpha_ci95": r.get("ci95")}
        for lab, r in (d.get("per_label") or {}).items()
    }
    status = str(d.get("status"))
    colour = "#1a7f37" if status == "PASS" else "#cf222e"
    body = [
        f'<h1>Calibration gate: <span style="color:{colour}">{_e(status)}</span></h1>',
        f'<p class="lede">{_e(d.get("next_step"))}</p>',
    ]
    for t in tables:
        body.append(_table_html(t))
        if t.key == "per_label" and plot_input:
            body.append(_per_label_plot(plot_input))
    return page("Calibration gate", body)


def discussion_sheet(d: Mapping[str, Any], texts: Mapping[str, str] | None = None) -> str:
    """Markdown for the calibration meeting: disagreements grouped by confused label pair.

    Each group gives the guideline sections and edge cases it touches, the revision question,
    and a table of its items (text, every annotator's answer, an empty decision column). An item
    appears once, under the first (most confused) pair it belongs to; disagreements on no pair
    are listed last. ``texts`` maps item ids to texts where the gate has none.
    """
    texts = dict(texts or {})
    every = list(d.get("disagreements") or d.get("worst_items") or [])
    for w in every:
        if w.get("text"):
            texts.setdefault(str(w["item"]), str(w["text"]))
    anns = list(d.get("annotators") or [])
    values = {str(w["item"]): w.get("values") or {} for w in every}
    b = d.get("batch") or {}
    ov = d.get("overall") or {}
    lines = [
        f"# Calibration meeting: batch {md_escape(str(b.get('id')))}",
        "",
        (
            f"Gate: **{d.get('status')}**, "
            f"{METRIC_NAMES.get(str(d.get('metric')), 'alpha')} {fmt_num(ov.get('value'))} "
            f"({fmt_ci(ov.get('ci95'))}) against {fmt_num(d.get('threshold'))}; guideline "
            f"version {md_escape(str(d.get('guideline_version') or 'n/a'))}; annotators "
            f"{md_escape(', '.join(anns))}."
        ),
        "",
        (
            "For each group: agree on the rule, write it into the guideline section named, and "
            "fill in the decision column. Record the outcome with `aqt guidelines record`."
        ),
        "",
    ]
    placed: set[str] = set()
    head = "| Item | Text | " + " | ".join(md_escape(a) for a in anns) + " | Decision |"
    rule = "|---|---|" + "---|" * len(anns) + "---|"
    for n, p in enumerate(d.get("confused_pairs") or [], 1):
        items = [i for i in p["items"] if i not in placed]
        if not items:
            continue
        placed |= set(items)
        a, b_ = p["labels"]
        lines += [
            f"## {n}. {md_escape(a)} or {md_escape(b_)}? ({len(items)} item(s))",
            "",
            f"- Guideline sections: {md_escape('; '.join(p.get('sections') or []) or 'none yet')}",
            f"- Edge cases: {md_escape(', '.join(p.get('edge_cases') or []) or 'none')}",
            f"- Question: {md_escape(p.get('question', ''))}",
            "",
            head,
            rule,
        ]
        for i in items:
            vals = values.get(i, {})
            cells = [md_escape(str(vals.get(x, ""))) for x in anns]
            lines.append(
                f"| {md_escape(i)} | {md_escape(_short(texts.get(i)))} | "
                + " | ".join(cells)
                + " |  |"
            )
        lines.append("")
    rest = [w for w in every if str(w["item"]) not in placed]
    if rest:
        lines += ["## Other disagreements", "", head, rule]
        for w in rest:
            vals = w.get("values") or {}
            cells = [md_escape(str(vals.get(x, ""))) for x in anns]
            lines.append(
                f"| {md_escape(str(w['item']))} | {md_escape(_short(texts.get(str(w['item']))))} | "
                + " | ".join(cells)
                + " |  |"
            )
        lines.append("")
    if not placed and not rest:
        lines += ["No disagreements on this batch.", ""]
    return "\n".join(lines)
