"""Plain-text and GitHub-Markdown renderings of an agreement report."""

from __future__ import annotations

import textwrap
import unicodedata
from collections.abc import Mapping
from typing import Any

from aqt.report.model import Table, build_tables

__all__ = ["render_markdown", "render_text"]

TITLE = "Agreement report"


def _printable(text: str) -> str:
    """Replace control characters and line separators (newlines, terminal escapes, U+2028) with
    their escape sequences, so one cell stays one line and cannot drive the terminal."""
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if (cat.startswith("C") and ch != "\u200d") or cat in ("Zl", "Zp"):
            out.append(ch.encode("unicode_escape").decode("ascii"))
        else:
            out.append(ch)
    return "".join(out)


def _text_table(table: Table) -> list[str]:
    header = [_printable(c) for c in table.columns]
    rows = [[_printable(c) for c in row] for row in table.rows]
    widths = [max([len(header[i])] + [len(r[i]) for r in rows]) for i in range(len(header))]
    align = table.alignment()

    def line(cells: list[str]) -> str:
        parts = [
            c.rjust(w) if a == "r" else c.ljust(w)
            for c, w, a in zip(cells, widths, align, strict=True)
        ]
        return ("  " + "  ".join(parts)).rstrip()

    out = [_printable(table.title), "-" * len(_printable(table.title))]
    if table.key == "summary":
        out += [line(r) for r in rows]
    else:
        out += [line(header), "  " + "  ".join("-" * w for w in widths)]
        out += [line(r) for r in rows]
    if table.note:
        out += textwrap.wrap(
            _printable(table.note), width=100, initial_indent="  ", subsequent_indent="  "
        )
    return out


def render_text(d: Mapping[str, Any]) -> str:
    """Render the report dict as aligned plain-text tables (for a terminal).

    Parameters
    ----------
    d : dict
        ``AgreementReport.to_dict()`` (see ``docs/architecture.md``).

    Returns
    -------
    str
        The report, ending with a newline; identical input gives identical output.
    """
    lines = [TITLE, "=" * len(TITLE), ""]
    for table in build_tables(d):
        lines += _text_table(table)
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


_MD_SPECIAL = {
    "\\": "\\\\",
    "|": "\\|",
    "`": "\\`",
    "*": "\\*",
    "_": "\\_",
    "[": "\\[",
    "]": "\\]",
    "#": "\\#",
    "<": "&lt;",
    ">": "&gt;",
    "&": "&amp;",
}


def md_escape(text: str) -> str:
    """Escape a string for a GitHub Markdown table cell (pipes, emphasis, raw HTML, newlines)."""
    return "".join(_MD_SPECIAL.get(ch, ch) for ch in _printable(text))


def _md_table(table: Table) -> list[str]:
    out = [f"## {md_escape(table.title)}", ""]
    out.append("| " + " | ".join(md_escape(c) for c in table.columns) + " |")
    out.append("|" + "|".join("---:" if a == "r" else "---" for a in table.alignment()) + "|")
    for row in table.rows:
        out.append("| " + " | ".join(md_escape(c) for c in row) + " |")
    if table.note:
        out += ["", md_escape(table.note)]
    return out


def render_markdown(d: Mapping[str, Any]) -> str:
    """Render the report dict as GitHub-flavoured Markdown tables (for a pull request or wiki).

    User strings (labels, annotator names, item ids) are escaped so they cannot break the table or
    inject HTML.
    """
    lines = [f"# {TITLE}", ""]
    for table in build_tables(d):
        lines += _md_table(table)
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"
