"""Renderers for agreement reports: text, Markdown, JSON and one self-contained HTML file.

Each renderer takes the ``AgreementReport.to_dict()`` dict (``docs/architecture.md``) and returns a
string; the same dict always gives the same output, so golden files work.

>>> from aqt.report import interpret
>>> interpret("krippendorff_alpha", 0.7)
'tentative'
"""

from __future__ import annotations

from aqt.report.bands import interpret
from aqt.report.html import render_html
from aqt.report.jsonout import render_json
from aqt.report.text import render_markdown, render_text

__all__ = ["interpret", "render_html", "render_json", "render_markdown", "render_text"]
