"""The coverage report as one self-contained HTML page (inline CSS and SVG, no scripts, no network).

It uses the page head (aqt.report.html.page_open), CSS and legend of the agreement report
(:mod:`aqt.report.html`) and the SVG conventions of :mod:`aqt.report.svg` (escaped labels, one-decimal
coordinates, so the same input gives the same bytes). Sections, in order: the summary, the gaps
(clusters production sends and the annotated set lacks, worst first) with their shares and a
suggested collection, the per-feature distribution comparison as paired bars (production vs
annotated), and the findings.

The page is produced in chunks (:func:`iter_coverage_html`) and :func:`write_coverage_html` writes
them through :func:`aqt.fileio.atomic_write`, so a failure while rendering leaves an existing file
untouched and no partial file behind.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from aqt.fileio import atomic_write
from aqt.report import svg
from aqt.report.fmt import fmt_count, fmt_num, fmt_share
from aqt.report.html import CSS, _e, _legend, page_open

__all__ = [
    "SERIES",
    "grouped_bars",
    "iter_coverage_html",
    "render_coverage_html",
    "suggested_count",
    "write_coverage_html",
]

#: bar colours of the two sides: production (blue) and the annotated set (orange)
SERIES = {"production": svg._hex(svg.BLUE), "annotated": svg._hex(svg.ORANGE)}
GAP_STATUSES = ("under_covered", "rare_but_present")

EXTRA_CSS = """
.gap { border-left: 4px solid #cf222e; padding: 2px 0 2px 14px; margin: 14px 0 22px; }
.gap.rare_but_present { border-left-color: #9a6700; }
.gap h3 { font-size: 16px; margin: 0 0 6px; }
.gap blockquote { color: #444444; font-size: 13px; margin: 4px 0; padding-left: 8px;
                  border-left: 2px solid #e3e3e3; }
.severity-error { color: #cf222e; font-weight: 600; }
.severity-warning { color: #9a6700; font-weight: 600; }
.severity-info { color: #555555; font-weight: 600; }
"""


def suggested_count(production_share: float, n_in_cluster: int, n_dataset: int) -> int:
    """Annotated items like a gap's to add so its share of the annotated set reaches production's.

    Solves ``(n + x) / (N + x) = p`` for ``x``: ``x = (p N - n) / (1 - p)``, rounded up, never
    negative (``p`` the production share, ``n`` the gap's annotated items, ``N`` the annotated set).

    >>> suggested_count(0.089, 37, 1000)  # (37 + 58) / (1000 + 58) = 0.0898
    58
    """
    p = float(production_share)
    if p >= 1.0:
        return 0
    return max(0, math.ceil((p * n_dataset - n_in_cluster) / (1.0 - p) - 1e-9))


def _nice_max(vmax: float) -> tuple[float, float]:
    """Axis end and tick step: the smallest step of 1, 2 or 5 times a power of ten that reaches
    ``vmax`` in at most six ticks, and the first multiple of it at or above ``vmax``.

    >>> _nice_max(0.103), _nice_max(116.0)[0]
    ((0.12, 0.02), 120.0)
    """
    if vmax <= 0:
        return 1.0, 0.2
    power = 10.0 ** (math.floor(math.log10(vmax)) - 1)
    for mult in (1, 2, 5, 10, 20, 50):
        step = mult * power
        n = math.ceil(vmax / step - 1e-9)
        if n <= 6:
            return round(n * step, 12), round(step, 12)
    return vmax, vmax / 5  # pragma: no cover - the loop always returns


def grouped_bars(
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float], str]],
    *,
    css_class: str,
    title: str,
    fmt: Any = fmt_share,
    vmax: float | None = None,
) -> str:
    """Horizontal bars, one group per label and one bar per series (``(name, values, colour)``).

    The axis runs from 0 to a rounded maximum of the values (or ``vmax``), so small shares still
    show. Each bar carries ``data-label``, ``data-series`` and ``data-value`` and a hover title.
    """
    n_s = max(1, len(series))
    bar_h, gap = 12.0, 10.0
    group_h = bar_h * n_s
    left = 16 + svg.CHAR_W * max([len(svg._short(lab)) for lab in labels] + [4])
    plot_w = 420.0
    top, bottom = 12.0, 30.0
    height = top + (group_h + gap) * len(labels) + bottom
    width = left + plot_w + 70
    values = [float(v) for _, vs, _ in series for v in vs]
    hi, step = _nice_max(vmax if vmax is not None else max(values + [0.0]))

    def sx(x: float) -> float:
        return left + min(hi, max(0.0, x)) / hi * plot_w

    axis_y = top + (group_h + gap) * len(labels)
    out = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="plot {_e(css_class)}" role="img" '
            f'width="{svg._f(width)}" height="{svg._f(height)}" '
            f'viewBox="0 0 {svg._f(width)} {svg._f(height)}" '
            f'font-family="sans-serif" font-size="{svg.FONT}">'
        ),
        f"<title>{_e(title)}</title>",
    ]
    for k in range(round(hi / step) + 1):
        x = sx(step * k)
        out.append(
            f'<line class="grid" x1="{svg._f(x)}" y1="{svg._f(top - 4)}" x2="{svg._f(x)}" '
            f'y2="{svg._f(axis_y)}" stroke="{"#888888" if k == 0 else "#eeeeee"}" stroke-width="1"/>'
        )
        out.append(
            f'<text class="tick" x="{svg._f(x)}" y="{svg._f(axis_y + 14)}" text-anchor="middle">'
            f"{_e(fmt(step * k))}</text>"
        )
    for i, lab in enumerate(labels):
        y0 = top + (group_h + gap) * i
        out.append(
            f'<text class="row-label" x="{svg._f(left - 6)}" y="{svg._f(y0 + group_h / 2)}" '
            f'text-anchor="end" dominant-baseline="middle">{_e(svg._short(lab))}'
            f"<title>{_e(lab)}</title></text>"
        )
        for s, (name, vs, colour) in enumerate(series):
            v = float(vs[i])
            y = y0 + bar_h * s
            out.append(
                f'<rect class="bar" x="{svg._f(left)}" y="{svg._f(y + 1)}" '
                f'width="{svg._f(sx(v) - left)}" height="{svg._f(bar_h - 2)}" fill="{colour}" '
                f'data-label="{_e(lab)}" data-series="{_e(name)}" data-value="{svg._n(v)}">'
                f"<title>{_e(f'{lab}, {name}: {fmt(v)}')}</title></rect>"
            )
            out.append(
                f'<text class="bar-value" x="{svg._f(sx(v) + 4)}" y="{svg._f(y + bar_h / 2)}" '
                f'dominant-baseline="middle" font-size="10">{_e(fmt(v))}</text>'
            )
    out.append("</svg>")
    return "\n".join(out)


def _two_sided(
    labels: Sequence[str], prod: Sequence[float], data: Sequence[float], **kw: Any
) -> str:
    return grouped_bars(
        labels,
        [("production", prod, SERIES["production"]), ("annotated", data, SERIES["annotated"])],
        **kw,
    )


def _table(columns: Sequence[str], rows: Sequence[Sequence[str]], num: Sequence[int] = ()) -> str:
    head = "".join(
        f'<th class="num">{_e(c)}</th>' if i in num else f"<th>{_e(c)}</th>"
        for i, c in enumerate(columns)
    )
    body = [
        "<tr>"
        + "".join(
            f'<td class="num">{_e(c)}</td>' if i in num else f"<td>{_e(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    ]
    return f"<table><thead><tr>{head}</tr></thead><tbody>" + "".join(body) + "</tbody></table>"


def _cluster_name(c: Mapping[str, Any]) -> str:
    terms = ", ".join(str(t) for t in (c.get("terms") or [])[:4])
    return f"Cluster {c['cluster']}" + (f" ({terms})" if terms else "")


def _summary(d: Mapping[str, Any]) -> Iterator[str]:
    gaps = [c for c in d["clusters"] if c["status"] in GAP_STATUSES]
    n_err = sum(f["severity"] == "error" for f in d["findings"])
    yield "<h1>Coverage report</h1>"
    yield (
        f'<p class="lede">{_e(fmt_count(d["n_production"]))} production items, '
        f"{_e(fmt_count(d['n_dataset']))} annotated; coverage score "
        f"<strong>{_e(fmt_num(d['coverage_score']))}</strong> (1 = same mix of text clusters, "
        f"0 = disjoint); {len(gaps)} gap(s) in {len(d['clusters'])} clusters"
        + (f"; {n_err} error finding(s)" if n_err else "")
        + ".</p>"
    )


def _gaps(
    d: Mapping[str, Any], collection: Sequence[Mapping[str, Any]], collect_file: str | None
) -> Iterator[str]:
    gaps = [c for c in d["clusters"] if c["status"] in GAP_STATUSES]
    listed: dict[int, list[str]] = {}
    for row in collection:
        meta = row.get("meta") or {}
        listed.setdefault(meta.get("cluster"), []).append(str(meta.get("id")))
    yield '<section class="gaps" id="gaps"><h2>Gaps, worst first</h2>'
    if not gaps:
        yield '<p class="caption">No cluster is under-covered or rare but missing.</p></section>'
        return
    yield (
        '<p class="caption">Clusters of production text the annotated set lacks, ranked by missing '
        "mass (production share minus annotated share). Rare clusters (under 2% of production "
        "with fewer than 3 annotated items) follow.</p>"
    )
    yield _two_sided(
        [_cluster_name(c) for c in gaps],
        [c["production_share"] for c in gaps],
        [c["dataset_share"] for c in gaps],
        css_class="gap-bars",
        title="Share of production and of the annotated set, per gap",
    )
    yield _legend([(SERIES["production"], "production"), (SERIES["annotated"], "annotated")])
    for rank, c in enumerate(gaps, 1):
        more = suggested_count(c["production_share"], c["n_dataset"], d["n_dataset"])
        ids = listed.get(c["cluster"], [])
        status = str(c["status"])
        parts = [
            f'<article class="gap {_e(status)}" id="gap-{rank}" data-cluster="{_e(c["cluster"])}">',
            f"<h3>{rank}. {_e(_cluster_name(c))} \u2014 {_e(status.replace('_', ' '))}</h3>",
            (
                f"<p>{_e(fmt_share(c['production_share']))} of production "
                f"({_e(fmt_count(c['n_production']))} items) vs "
                f"{_e(fmt_share(c['dataset_share']))} of the annotated set "
                f"({_e(fmt_count(c['n_dataset']))} items); missing mass "
                f"{_e(fmt_share(c['missing_mass']))}.</p>"
            ),
        ]
        suggestion = (
            f"Suggested collection: annotate about {more} more item(s) like these to match "
            "production's share"
        )
        if ids:
            where = f"in {collect_file}" if collect_file else "in the targeted-collection list"
            suggestion += (
                f"; {len(ids)} candidate(s) from production are {where}: "
                + ", ".join(ids[:8])
                + (f" (+{len(ids) - 8} more)" if len(ids) > 8 else "")
            )
        elif not collect_file:
            suggestion += "; write candidates from production with --collect FILE"
        parts.append(f'<p class="suggestion">{_e(suggestion + ".")}</p>')
        parts += [f"<blockquote>{_e(t)}</blockquote>" for t in c.get("examples") or []]
        parts.append("</article>")
        yield "\n".join(parts)
    yield "</section>"


def _features(d: Mapping[str, Any]) -> Iterator[str]:
    yield '<section class="features" id="features"><h2>Feature distributions</h2>'
    yield _legend([(SERIES["production"], "production"), (SERIES["annotated"], "annotated")])
    for name, f in d["features"].items():
        key = "".join(ch if ch.isalnum() else "-" for ch in str(name).lower())
        yield f'<section class="feature" id="feature-{_e(key)}"><h3>{_e(name)}</h3>'
        if "total_variation" in f:
            labels = list(f["production"])
            labels += [k for k in f["dataset"] if k not in f["production"]]
            prod = [f["production"].get(k, 0.0) for k in labels]
            data = [f["dataset"].get(k, 0.0) for k in labels]
            missing = ", ".join(str(m) for m in f.get("missing") or [])
            yield (
                f'<p class="caption">Share of each value; total variation distance '
                f"{_e(fmt_num(f['total_variation']))}"
                + (f"; in production only: {_e(missing)}" if missing else "")
                + ".</p>"
            )
            yield _two_sided(
                [str(k) for k in labels],
                prod,
                data,
                css_class=f"feature-bars feature-{key}",
                title=f"{name}: share of each value",
            )
        elif "ks" in f:
            yield (
                f'<p class="caption">Median text length in characters; two-sample KS statistic '
                f"{_e(fmt_num(f['ks']))} (p {_e(f.get('p_value'))}).</p>"
            )
            yield _two_sided(
                ["median"],
                [f["production_median"]],
                [f["dataset_median"]],
                css_class=f"feature-bars feature-{key}",
                title=f"{name}: median",
                fmt=fmt_count,
            )
        yield "</section>"
    yield "</section>"


def _findings(d: Mapping[str, Any]) -> Iterator[str]:
    yield '<section class="findings" id="findings"><h2>Findings</h2>'
    if not d["findings"]:
        yield '<p class="caption">No findings.</p></section>'
        return
    rows = []
    for f in d["findings"]:
        items = list(f.get("items") or [])
        shown = ", ".join(items[:8]) + (f" (+{len(items) - 8} more)" if len(items) > 8 else "")
        rows.append(
            "<tr>"
            f'<td class="severity-{_e(f["severity"])}">{_e(f["severity"])}</td>'
            f"<td>{_e(f['check'])}</td><td>{_e(f['message'])}</td>"
            f"<td>{_e(f.get('fix') or '')}</td><td>{_e(shown)}</td></tr>"
        )
    yield (
        "<table><thead><tr><th>Severity</th><th>Check</th><th>Message</th><th>Fix</th>"
        "<th>Items</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></section>"
    )


def _clusters(d: Mapping[str, Any]) -> Iterator[str]:
    yield '<section class="clusters" id="clusters"><h2>All clusters</h2>'
    rows = [
        (
            str(c["cluster"]),
            str(c["status"]),
            fmt_share(c["production_share"]),
            fmt_share(c["dataset_share"]),
            fmt_count(c["n_production"]),
            fmt_count(c["n_dataset"]),
            ", ".join(str(t) for t in (c.get("terms") or [])[:6]),
        )
        for c in d["clusters"]
    ]
    cols = ("Cluster", "Status", "Production", "Annotated", "n prod.", "n ann.", "Terms")
    yield _table(cols, rows, num=(0, 2, 3, 4, 5)) + "</section>"


def iter_coverage_html(
    d: Mapping[str, Any],
    *,
    collection: Sequence[Mapping[str, Any]] = (),
    collect_file: str | None = None,
) -> Iterator[str]:
    """The page of :func:`render_coverage_html` in chunks (for streaming into a file)."""
    yield page_open("Coverage report", CSS + EXTRA_CSS)
    for part in (
        _summary(d),
        _gaps(d, collection, collect_file),
        _features(d),
        _findings(d),
        _clusters(d),
    ):
        for chunk in part:
            yield "\n" + chunk
    yield "\n</main>\n</body>\n</html>\n"


def render_coverage_html(
    d: Mapping[str, Any],
    *,
    collection: Sequence[Mapping[str, Any]] = (),
    collect_file: str | None = None,
) -> str:
    """Render ``CoverageReport.to_dict()`` as one self-contained HTML page with inline SVG.

    Parameters
    ----------
    d : dict
        ``aqt.coverage.CoverageReport.to_dict()``.
    collection : sequence of dict, optional
        ``CoverageReport.collection`` (``{"text", "meta": {"id", "cluster", ...}}``): each gap then
        names the production items of the targeted-collection list that belong to it.
    collect_file : str, optional
        Where that list was written (``--collect FILE``), named in the suggestions.

    Returns
    -------
    str
        A complete HTML5 document; no scripts, no external resources; identical input gives
        identical bytes. Texts, terms, labels and ids from the data are HTML-escaped.
    """
    return "".join(iter_coverage_html(d, collection=collection, collect_file=collect_file))


def write_coverage_html(
    d: Mapping[str, Any],
    path: str | Path,
    *,
    collection: Sequence[Mapping[str, Any]] = (),
    collect_file: str | None = None,
) -> None:
    """Write :func:`render_coverage_html` to ``path`` atomically: if rendering or writing fails,
    an existing file is left as it was and no partial file remains."""
    with atomic_write(path) as fh:
        for chunk in iter_coverage_html(d, collection=collection, collect_file=collect_file):
            fh.write(chunk)
