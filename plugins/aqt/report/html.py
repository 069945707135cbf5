"""The HTML report: one self-contained file (inline CSS and SVG, no scripts, no network).

Plots: the annotator x annotator heatmap of Cohen's kappa, per-label Krippendorff's alpha bars with
95% error bars when intervals were computed, and the label coincidence heatmap (Krippendorff's
coincidence matrix: the diagonal is agreement, off-diagonal cells are confusions). Every table of
the text report follows its plot. A Content-Security-Policy forbids any network fetch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from aqt.records import natural_key
from aqt.report import svg
from aqt.report.bands import interpret
from aqt.report.fmt import fmt_category, fmt_count, fmt_num, metric_entry
from aqt.report.model import Table, build_tables

__all__ = ["page", "page_open", "render_html"]

CSS = """
body { font-family: -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif;
       color: #1b1b1b; background: #ffffff; margin: 0; }
main { max-width: 1100px; margin: 0 auto; padding: 24px 32px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 36px 0 10px; border-bottom: 1px solid #e3e3e3; padding-bottom: 4px; }
p.lede { color: #555555; margin: 0 0 12px; }
p.caption { color: #555555; font-size: 13px; margin: 4px 0 12px; max-width: 760px; }
table { border-collapse: collapse; font-size: 14px; margin: 8px 0 16px; }
th, td { padding: 4px 10px; border-bottom: 1px solid #ececec; text-align: left; vertical-align: top; }
th { background: #f6f6f6; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
td.band { font-weight: 600; }
.band-reliable, .band-almost-perfect, .band-substantial { color: #1a7f37; }
.band-tentative, .band-moderate { color: #9a6700; }
.band-discard, .band-poor, .band-slight, .band-fair { color: #cf222e; }
.plot { display: block; margin: 8px 0; max-width: 100%; height: auto; }
.legend span { display: inline-block; width: 12px; height: 12px; vertical-align: middle;
               margin: 0 4px 0 12px; border: 1px solid #cccccc; }
.legend { font-size: 13px; color: #555555; }
"""

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
#: heatmaps with more rows than this are left out (the tables below them still list every pair)
MAX_HEATMAP = 100
BAND_FILL = {"reliable": "#2e8b57", "tentative": "#e0a526", "discard": "#d1495b"}


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _slug(text: str) -> str:
    return "-".join(text.lower().split())


def _table_html(table: Table, *, heading: bool = True) -> str:
    out = [f'<section class="table" id="{_e(table.key)}">'] if heading else []
    if heading:
        out.append(f"<h2>{_e(table.title)}</h2>")
    align = table.alignment()
    band_cols = {
        i for i, c in enumerate(table.columns) if c in ("Interpretation", "Alpha band", "Band")
    }
    head = "".join(
        (f'<th class="num">{_e(c)}</th>' if a == "r" else f"<th>{_e(c)}</th>")
        for c, a in zip(table.columns, align, strict=True)
    )
    out.append(f'<table class="{_e(table.key)}"><thead><tr>{head}</tr></thead><tbody>')
    for row in table.rows:
        cells = []
        for i, (c, a) in enumerate(zip(row, align, strict=True)):
            if i in band_cols and c:
                cells.append(f'<td class="band band-{_e(_slug(c))}">{_e(c)}</td>')
            elif a == "r":
                cells.append(f'<td class="num">{_e(c)}</td>')
            else:
                cells.append(f"<td>{_e(c)}</td>")
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    if table.note:
        out.append(f'<p class="caption">{_e(table.note)}</p>')
    if heading:
        out.append("</section>")
    return "\n".join(out)


def _pairwise_plot(pairs: Sequence[Mapping[str, Any]]) -> str:
    names = sorted(
        {str(p.get("a")) for p in pairs} | {str(p.get("b")) for p in pairs}, key=natural_key
    )
    index = {n: i for i, n in enumerate(names)}
    kappa: list[list[float | None]] = [[None] * len(names) for _ in names]
    shared: dict[tuple[int, int], Any] = {}
    for p in pairs:
        i, j = index[str(p.get("a"))], index[str(p.get("b"))]
        value = metric_entry(p.get("cohen_kappa"))[0]
        v = float(value) if isinstance(value, (int, float)) else None
        kappa[i][j] = kappa[j][i] = v
        shared[(i, j)] = shared[(j, i)] = p.get("n_items")

    def tooltip(i: int, j: int, v: float | None) -> str:
        if i == j:
            return names[i]
        items = fmt_count(shared.get((i, j)))
        return f"{names[i]} vs {names[j]}: Cohen's kappa {fmt_num(v)} on {items} shared items"

    return svg.heatmap(
        names,
        names,
        kappa,
        css_class="pairwise-heatmap",
        title="Cohen's kappa for each pair of annotators",
        fill=lambda i, j, v: svg.diverging(v),
        fmt=lambda v: fmt_num(v, 2),
        tooltip=tooltip,
        empty_text=lambda i, j: "\u2014" if i == j else "n/a",
    )


def _per_label_plot(per_label: Mapping[str, Any]) -> str:
    labels, values, cis = [], [], []
    for label, row in per_label.items():
        row = row if isinstance(row, Mapping) else {}
        value, ci, _ = metric_entry(row.get("krippendorff_alpha"))
        if ci is None:
            ci = row.get("krippendorff_alpha_ci95")
        labels.append(str(label))
        values.append(float(value) if isinstance(value, (int, float)) else None)
        ok = (
            isinstance(ci, Sequence)
            and len(ci) == 2
            and all(isinstance(x, (int, float)) for x in ci)
        )
        cis.append((float(ci[0]), float(ci[1])) if ok else None)
    return svg.bar_chart(
        labels,
        values,
        cis,
        css_class="per-label-bars",
        title="Krippendorff's alpha per label (one vs rest)",
        fill=lambda v: BAND_FILL.get(interpret("krippendorff_alpha", v), "#888888"),
        references=((0.667, "0.667"), (0.8, "0.8")),
    )


def _coincidence_plot(coincidence: Mapping[str, Any]) -> str:
    cats = [fmt_category(c) for c in coincidence.get("categories") or []]
    matrix = [[float(x) for x in row] for row in coincidence.get("matrix") or []]
    diag_max = max([matrix[i][i] for i in range(len(cats))] + [0.0])
    off_max = max(
        [matrix[i][j] for i in range(len(cats)) for j in range(len(cats)) if i != j] + [0.0]
    )

    def fill(i: int, j: int, v: float) -> str:
        return (
            svg.sequential(v, diag_max, svg.GREEN)
            if i == j
            else svg.sequential(v, off_max, svg.ORANGE)
        )

    def tooltip(i: int, j: int, v: float | None) -> str:
        kind = "agreement" if i == j else "confusion"
        return f"{cats[i]} / {cats[j]}: {fmt_count(v)} coincidences ({kind})"

    return svg.heatmap(
        cats,
        cats,
        matrix,
        css_class="coincidence-heatmap",
        title="Label coincidence matrix",
        fill=fill,
        fmt=fmt_count,
        tooltip=tooltip,
    )


def _legend(items: Sequence[tuple[str, str]]) -> str:
    return (
        '<p class="legend">'
        + "".join(f'<span style="background:{c}"></span>{_e(t)}' for c, t in items)
        + "</p>"
    )


def _coincidence_ok(c: Any) -> bool:
    if not isinstance(c, Mapping):
        return False
    cats, matrix = c.get("categories") or [], c.get("matrix") or []
    return bool(cats) and len(matrix) == len(cats) and all(len(r) == len(cats) for r in matrix)


def render_html(d: Mapping[str, Any]) -> str:
    """Render the report dict as one self-contained HTML page with inline SVG plots.

    Parameters
    ----------
    d : dict
        ``AgreementReport.to_dict()`` (see ``docs/architecture.md``).

    Returns
    -------
    str
        A complete HTML5 document; no scripts, no external resources; identical input gives
        identical bytes. Labels, annotator names and item ids are HTML-escaped.
    """
    tables = build_tables(d)
    by_key = {t.key: t for t in tables}
    summary = (
        f"{fmt_count(d.get('n_items'))} items, {fmt_count(d.get('n_annotators'))} annotators, "
        f"{fmt_count(d.get('n_annotations'))} annotations; level {d.get('level')}, "
        f"weights {d.get('weights')}."
    )
    body = [
        "<h1>Agreement report</h1>",
        f'<p class="lede">{_e(summary)}</p>',
    ]
    for t in tables:
        if t.key in ("per_label", "pairwise", "confused_pairs", "disagreements"):
            continue
        body.append(_table_html(t))
    if "per_label" in by_key:
        body.append('<section class="plot-section" id="per-label">')
        body.append(f"<h2>{_e(by_key['per_label'].title)}</h2>")
        body.append(
            '<p class="caption">Krippendorff\'s alpha of each label against all others. Dashed lines '
            "mark 0.667 (tentative conclusions) and 0.8 (reliable); error bars are 95% bootstrap "
            "intervals when computed (<code>--ci</code>).</p>"
        )
        body.append(_per_label_plot(d["per_label"]))
        body.append(
            _legend(
                [
                    (BAND_FILL["reliable"], "reliable"),
                    (BAND_FILL["tentative"], "tentative"),
                    (BAND_FILL["discard"], "discard"),
                ]
            )
        )
        body.append(_table_html(by_key["per_label"], heading=False))
        body.append("</section>")
    if "pairwise" in by_key:
        body.append('<section class="plot-section" id="pairwise-plot">')
        body.append(f"<h2>{_e(by_key['pairwise'].title)}</h2>")
        body.append(
            '<p class="caption">Cohen\'s kappa for every pair of annotators on the items both '
            "labelled: blue is agreement beyond chance, red is worse than chance, grey has no value."
            "</p>"
        )
        n_names = len({str(p.get(k)) for p in d["pairwise"] for k in ("a", "b")})
        if n_names <= MAX_HEATMAP:
            body.append(_pairwise_plot(d["pairwise"]))
        else:
            body.append(
                f'<p class="caption">{n_names} annotators are too many to plot; see the table.</p>'
            )
        body.append(
            _legend(
                [(svg.diverging(-1.0), "-1"), (svg.diverging(0.0), "0"), (svg.diverging(1.0), "1")]
            )
        )
        body.append(_table_html(by_key["pairwise"], heading=False))
        body.append("</section>")
    coincidence = d.get("coincidence")
    if _coincidence_ok(coincidence) or "confused_pairs" in by_key:
        body.append('<section class="plot-section" id="confusion">')
        body.append("<h2>Where annotators confuse labels</h2>")
        if _coincidence_ok(coincidence):
            body.append(
                '<p class="caption">Krippendorff\'s coincidence matrix: each pair of values that two '
                "annotators gave the same item, counted both ways. Green diagonal cells are agreement; "
                "orange off-diagonal cells are confusions (darker is more).</p>"
            )
            n_cats = len(coincidence["categories"])
            if n_cats <= MAX_HEATMAP:
                body.append(_coincidence_plot(coincidence))
            else:
                body.append(
                    f'<p class="caption">{n_cats} categories are too many to plot; see the table.</p>'
                )
        if "confused_pairs" in by_key:
            body.append(_table_html(by_key["confused_pairs"], heading=False))
        body.append("</section>")
    if "disagreements" in by_key:
        body.append(_table_html(by_key["disagreements"]))
    return page("Agreement report", body)


def page_open(title: str, css: str = CSS) -> str:
    """A self-contained page up to and including ``<main>``: the network-forbidding CSP, the shared
    CSS (plus any page-specific ``css``) and the escaped ``title``."""
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{_e(title)}</title>",
            f"<style>{css}</style>",
            "</head>",
            "<body>",
            "<main>",
        ]
    )


def page(title: str, body: Sequence[str], css: str = CSS) -> str:
    """The whole page: :func:`page_open`, the ``body`` chunks one per line, then the closing tags."""
    return "\n".join([page_open(title, css), *body, "</main>", "</body>", "</html>"]) + "\n"
