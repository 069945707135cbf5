"""Inline SVG plots for the HTML report, drawn with plain string building (no plotting library).

Coordinates are printed with one decimal and every label is escaped, so the same input always
gives the same bytes and a label such as ``<b>`` stays text.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from html import escape

__all__ = ["bar_chart", "diverging", "heatmap", "sequential", "text_color"]

FONT = 12
CHAR_W = 7.0  # rough width of one character at 12px sans-serif
MAX_LABEL_CHARS = 24
CELL_TEXT_LIMIT = 20  # above this many rows/columns, cells carry no printed value (hover shows it)

Color = tuple[float, float, float]
RED: Color = (178, 24, 43)
WHITE: Color = (247, 247, 247)
BLUE: Color = (33, 102, 172)
PALE: Color = (255, 255, 255)
GREEN: Color = (0, 109, 44)
ORANGE: Color = (204, 76, 2)
GREY = "#d9d9d9"


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _f(x: float) -> str:
    text = f"{x:.1f}"
    return "0.0" if text == "-0.0" else text


def _n(x: float) -> str:
    text = f"{x:.3f}"
    return text[1:] if text.startswith("-") and float(text) == 0.0 else text


def _mix(a: Color, b: Color, t: float) -> Color:
    t = min(1.0, max(0.0, t))
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t)


def _hex(c: Color) -> str:
    return "#" + "".join(f"{round(v):02x}" for v in c)


def diverging(value: float, lo: float = -1.0, hi: float = 1.0) -> str:
    """Red below 0, near-white at 0, blue towards ``hi``."""
    if value < 0:
        return _hex(_mix(WHITE, RED, value / lo if lo else 0.0))
    return _hex(_mix(WHITE, BLUE, value / hi if hi else 0.0))


def sequential(value: float, vmax: float, color: Color) -> str:
    """White at 0 to ``color`` at ``vmax`` (square-root scale, so small counts still show)."""
    t = math.sqrt(value / vmax) if vmax > 0 and value > 0 else 0.0
    return _hex(_mix(PALE, color, t))


def text_color(fill: str) -> str:
    """Black or white, whichever reads better on ``fill`` (``#rrggbb``)."""
    r, g, b = (int(fill[i : i + 2], 16) / 255 for i in (1, 3, 5))
    return "#ffffff" if 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5 else "#111111"


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL_CHARS else label[: MAX_LABEL_CHARS - 1] + "\u2026"


def heatmap(
    rows: Sequence[str],
    cols: Sequence[str],
    values: Sequence[Sequence[float | None]],
    *,
    css_class: str,
    title: str,
    fill: Callable[[int, int, float], str],
    fmt: Callable[[float], str],
    tooltip: Callable[[int, int, float | None], str],
    row_axis: str = "",
    col_axis: str = "",
    empty_text: Callable[[int, int], str] = lambda i, j: "n/a",
) -> str:
    """A matrix of coloured cells with row labels on the left and column labels rotated on top.

    ``values[i][j]`` is ``None`` for an empty cell (drawn grey, printed ``empty_text(i, j)``). ``fill(i, j, v)``
    gives the colour of a cell; ``tooltip`` its hover text.
    """
    n_r, n_c = len(rows), len(cols)
    cell = 36.0 if max(n_r, n_c) <= 12 else max(10.0, 432.0 / max(n_r, n_c))
    left = 16 + CHAR_W * max([len(_short(r)) for r in rows] + [4])
    col_text = CHAR_W * 0.72 * max([len(_short(c)) for c in cols] + [4])  # rotated by 45 degrees
    top = 16 + col_text
    width = left + cell * n_c + max(16.0, col_text - cell / 2 + 8)
    height = top + cell * n_r + (32 if row_axis or col_axis else 8)
    show_text = max(n_r, n_c) <= CELL_TEXT_LIMIT
    out = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="plot {_e(css_class)}" role="img" '
            f'width="{_f(width)}" height="{_f(height)}" viewBox="0 0 {_f(width)} {_f(height)}" '
            f'font-family="sans-serif" font-size="{FONT}">'
        ),
        f"<title>{_e(title)}</title>",
    ]
    for i, r in enumerate(rows):
        y = top + cell * (i + 0.5)
        out.append(
            f'<text class="row-label" x="{_f(left - 6)}" y="{_f(y)}" text-anchor="end" '
            f'dominant-baseline="middle">{_e(_short(r))}<title>{_e(r)}</title></text>'
        )
    for j, c in enumerate(cols):
        x = left + cell * (j + 0.5)
        out.append(
            f'<text class="col-label" x="{_f(x)}" y="{_f(top - 6)}" '
            f'transform="rotate(-45 {_f(x)} {_f(top - 6)})">{_e(_short(c))}<title>{_e(c)}</title></text>'
        )
    for i in range(n_r):
        for j in range(n_c):
            v = values[i][j]
            x, y = left + cell * j, top + cell * i
            color = GREY if v is None else fill(i, j, v)
            data = "" if v is None else f' data-value="{_e(fmt(v))}"'
            out.append(
                f'<rect class="cell" x="{_f(x)}" y="{_f(y)}" width="{_f(cell)}" height="{_f(cell)}" '
                f'fill="{color}" stroke="#ffffff" stroke-width="1" data-row="{_e(rows[i])}" '
                f'data-col="{_e(cols[j])}"{data}><title>{_e(tooltip(i, j, v))}</title></rect>'
            )
            if show_text:
                label = empty_text(i, j) if v is None else fmt(v)
                out.append(
                    f'<text class="cell-value" x="{_f(x + cell / 2)}" y="{_f(y + cell / 2)}" '
                    f'text-anchor="middle" dominant-baseline="middle" font-size="{10 if cell < 36 else 11}" '
                    f'fill="{text_color(color)}" pointer-events="none">{_e(label)}</text>'
                )
    if row_axis or col_axis:
        out.append(
            f'<text class="axis-title" x="{_f(left)}" y="{_f(height - 10)}" fill="#555555">'
            f"{_e(' / '.join(t for t in (row_axis, col_axis) if t))}</text>"
        )
    out.append("</svg>")
    return "\n".join(out)


def bar_chart(
    labels: Sequence[str],
    values: Sequence[float | None],
    cis: Sequence[tuple[float, float] | None],
    *,
    css_class: str,
    title: str,
    fill: Callable[[float], str],
    references: Sequence[tuple[float, str]] = (),
    missing_text: Sequence[str] = (),
) -> str:
    """Horizontal bars from 0 to each value, with 95% error bars where ``cis[i]`` is given and
    dashed reference lines (``(x, label)``). Missing values are printed as text."""
    finite = [v for v in values if v is not None]
    finite += [x for ci in cis if ci is not None for x in ci]
    lo = max(-1.0, min([0.0] + finite))
    lo = math.floor(lo * 5) / 5  # to a multiple of 0.2
    hi = 1.0
    bar_h, gap = 18.0, 8.0
    left = 16 + CHAR_W * max([len(_short(lab)) for lab in labels] + [4])
    plot_w = 420.0
    top, bottom = 24.0, 36.0
    height = top + (bar_h + gap) * len(labels) + bottom
    width = left + plot_w + 110

    def sx(x: float) -> float:
        return left + (min(hi, max(lo, x)) - lo) / (hi - lo) * plot_w

    out = [
        (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="plot {_e(css_class)}" role="img" '
            f'width="{_f(width)}" height="{_f(height)}" viewBox="0 0 {_f(width)} {_f(height)}" '
            f'font-family="sans-serif" font-size="{FONT}">'
        ),
        f"<title>{_e(title)}</title>",
    ]
    axis_y = top + (bar_h + gap) * len(labels)
    n_ticks = round((hi - lo) / 0.2)
    for k in range(n_ticks + 1):
        t = lo + 0.2 * k
        x = sx(t)
        out.append(
            f'<line class="grid" x1="{_f(x)}" y1="{_f(top - 6)}" x2="{_f(x)}" y2="{_f(axis_y)}" '
            f'stroke="{"#888888" if abs(t) < 1e-9 else "#eeeeee"}" stroke-width="1"/>'
        )
        out.append(
            f'<text class="tick" x="{_f(x)}" y="{_f(axis_y + 14)}" text-anchor="middle">'
            f"{_e(f'{t:.1f}'.replace('-0.0', '0.0'))}</text>"
        )
    for x_ref, name in references:
        x = sx(x_ref)
        out.append(
            f'<line class="reference" x1="{_f(x)}" y1="{_f(top - 10)}" x2="{_f(x)}" y2="{_f(axis_y)}" '
            f'stroke="#555555" stroke-width="1" stroke-dasharray="4 3"/>'
        )
        out.append(
            f'<text class="reference-label" x="{_f(x + 3)}" y="{_f(top - 12)}" font-size="10" '
            f'fill="#555555">{_e(name)}</text>'
        )
    x0 = sx(0.0)
    for i, lab in enumerate(labels):
        y = top + (bar_h + gap) * i
        mid = y + bar_h / 2
        out.append(
            f'<text class="row-label" x="{_f(left - 6)}" y="{_f(mid)}" text-anchor="end" '
            f'dominant-baseline="middle">{_e(_short(lab))}<title>{_e(lab)}</title></text>'
        )
        v = values[i]
        if v is None:
            reason = missing_text[i] if i < len(missing_text) else ""
            out.append(
                f'<text class="missing" x="{_f(x0 + 4)}" y="{_f(mid)}" dominant-baseline="middle" '
                f'fill="#777777">{_e("n/a" + (f" ({reason})" if reason else ""))}</text>'
            )
            continue
        x1 = sx(v)
        out.append(
            f'<rect class="bar" x="{_f(min(x0, x1))}" y="{_f(y)}" width="{_f(abs(x1 - x0))}" '
            f'height="{_f(bar_h)}" fill="{fill(v)}" data-label="{_e(lab)}" data-value="{_n(v)}">'
            f"<title>{_e(f'{lab}: {_n(v)}')}</title></rect>"
        )
        ci = cis[i]
        text_x = x1
        if ci is not None:
            a, b = sx(ci[0]), sx(ci[1])
            out.append(
                f'<g class="errorbar" data-lo="{_n(ci[0])}" data-hi="{_n(ci[1])}" stroke="#222222" '
                f'stroke-width="1.5"><line x1="{_f(a)}" y1="{_f(mid)}" x2="{_f(b)}" y2="{_f(mid)}"/>'
                f'<line x1="{_f(a)}" y1="{_f(y + 3)}" x2="{_f(a)}" y2="{_f(y + bar_h - 3)}"/>'
                f'<line x1="{_f(b)}" y1="{_f(y + 3)}" x2="{_f(b)}" y2="{_f(y + bar_h - 3)}"/></g>'
            )
            text_x = max(text_x, b)
        out.append(
            f'<text class="bar-value" x="{_f(max(text_x, x0) + 5)}" y="{_f(mid)}" '
            f'dominant-baseline="middle" font-size="11">{_n(v)}</text>'
        )
    out.append("</svg>")
    return "\n".join(out)
