"""Report renderers: golden files, determinism, escaping, plots present, self-contained HTML."""

from __future__ import annotations

import copy
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from aqt.report import interpret, render_html, render_json, render_markdown, render_text
from aqt.report.model import COEFFICIENT_NAMES
from hypothesis import given, settings
from hypothesis import strategies as st

FIXTURES = Path(__file__).parent / "fixtures" / "report"
GOLDEN = FIXTURES / "golden"
NAMES = ("full", "degenerate", "sets_spans")
RENDERERS = {
    "txt": render_text,
    "md": render_markdown,
    "json": render_json,
    "html": render_html,
}
#: tags the HTML report may contain; a user string that became a tag would show up as another one
ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "main", "h1", "h2", "p", "section", "code",
    "table", "thead", "tbody", "tr", "th", "td", "span", "svg", "g", "rect", "line", "text",
}  # fmt: skip


def load(name: str) -> dict:
    return json.loads((FIXTURES / f"report_{name}.json").read_text(encoding="utf-8"))


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.stack: list[str] = []
        self.svg_text: list[tuple[str, str]] = []  # (svg class, text content)
        self.current_svg = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.append((tag, a))
        if tag == "svg":
            self.current_svg = a.get("class") or ""
        if tag not in ("meta",):
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if tag == "svg":
            self.current_svg = ""
        if self.stack and self.stack[-1] == tag:
            self.stack.pop()

    def handle_data(self, data):
        if self.current_svg and data.strip():
            self.svg_text.append((self.current_svg, data))

    def find(self, tag: str, cls: str | None = None) -> list[dict[str, str | None]]:
        return [
            a
            for t, a in self.tags
            if t == tag and (cls is None or cls in (a.get("class") or "").split())
        ]


def parse(html: str) -> TagCollector:
    p = TagCollector()
    p.feed(html)
    p.close()
    return p


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("ext", sorted(RENDERERS))
def test_golden(name: str, ext: str) -> None:
    out = RENDERERS[ext](load(name))
    golden = GOLDEN / f"{name}.{ext}"
    if os.environ.get("AQT_UPDATE_GOLDEN"):
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(out, encoding="utf-8")
    assert out == golden.read_text(encoding="utf-8"), (
        f"{golden} differs (AQT_UPDATE_GOLDEN=1 rewrites)"
    )


@pytest.mark.parametrize("ext", sorted(RENDERERS))
def test_same_input_same_bytes_and_input_untouched(ext: str) -> None:
    d = load("full")
    before = copy.deepcopy(d)
    first = RENDERERS[ext](d)
    second = RENDERERS[ext](copy.deepcopy(d))
    assert first.encode() == second.encode()
    assert d == before


def test_json_is_exactly_the_dict_with_its_key_order() -> None:
    d = load("full")
    out = render_json(d)
    back = json.loads(out)
    assert back == d
    assert list(back) == list(d)
    assert list(back["metrics"]) == list(d["metrics"])
    assert out.startswith('{\n  "n_items": 12,\n  "n_annotators": 3,')
    # key order is the dict's, not sorted
    shuffled = dict(reversed(list(d.items())))
    assert list(json.loads(render_json(shuffled))) == list(reversed(list(d)))


def test_json_nan_becomes_null() -> None:
    d = load("degenerate")
    d["metrics"]["fleiss_kappa"]["value"] = float("nan")
    assert json.loads(render_json(d))["metrics"]["fleiss_kappa"]["value"] is None


@pytest.mark.parametrize(
    ("name", "value", "band"),
    [
        ("krippendorff_alpha", 0.9, "reliable"),
        ("krippendorff_alpha", 0.8, "reliable"),
        ("krippendorff_alpha", 0.7994, "tentative"),
        ("krippendorff_alpha", 0.667, "tentative"),
        ("krippendorff_alpha", 0.6664, "discard"),
        ("krippendorff_alpha", 2 / 3, "tentative"),
        ("krippendorff_alpha", 0.79996, "reliable"),
        ("brennan_prediger", -0.00001, "slight"),
        ("brennan_prediger", -0.0006, "poor"),
        ("krippendorff_alpha", -0.3, "discard"),
        ("cohen_kappa", -0.01, "poor"),
        ("fleiss_kappa", 0.0, "slight"),
        ("scott_pi", 0.2, "slight"),
        ("conger_kappa", 0.21, "fair"),
        ("gwet_ac1", 0.4, "fair"),
        ("gwet_ac2", 0.41, "moderate"),
        ("brennan_prediger", 0.6, "moderate"),
        ("cohen_kappa", 0.61, "substantial"),
        ("cohen_kappa", 0.8, "substantial"),
        ("cohen_kappa", 0.81, "almost perfect"),
        ("cohen_kappa", 1.0, "almost perfect"),
        ("percent_agreement", 0.95, ""),
        ("krippendorff_alpha", None, ""),
        ("cohen_kappa", float("nan"), ""),
    ],
)
def test_interpret_bands(name: str, value: float | None, band: str) -> None:
    assert interpret(name, value) == band


def test_text_lists_nine_coefficients_values_intervals_bands_and_reasons() -> None:
    out = render_text(load("full"))
    lines = out.splitlines()
    for label in COEFFICIENT_NAMES.values():
        assert sum(line.strip().startswith(label) for line in lines) == 1, label
    alpha = next(line for line in lines if line.strip().startswith("Krippendorff's alpha"))
    assert "0.743" in alpha and "[0.551, 0.880]" in alpha and "tentative" in alpha
    cohen = next(line for line in lines if line.strip().startswith("Cohen's kappa "))
    assert "n/a" in cohen and "needs exactly two annotators" in cohen
    fleiss = next(line for line in lines if line.strip().startswith("Fleiss' kappa"))
    assert "substantial" in fleiss
    for section in (
        "Per label",
        "Annotator pairs",
        "Items with the most disagreement",
        "Confused label pairs",
    ):
        assert any(line.startswith(section) for line in lines), section
    assert "cancelled 1, ignored 2" in out
    assert "v1, v2" in out


def test_text_leaves_out_empty_sections_and_interval_column() -> None:
    out = render_text(load("degenerate"))
    assert "95% CI" not in out
    assert "Annotator pairs" not in out and "Per label" not in out
    assert out.count("needs items with at least two annotations") == 7


def test_sets_and_spans_sections() -> None:
    d = load("sets_spans")
    out = render_text(d)
    assert "Krippendorff's alpha (MASI distance)" in out
    assert "Spans: per label" in out and "Spans: annotator pairs" in out
    assert re.search(r"F1 \(overlap\)\s+0\.750", out)
    assert re.search(r"PER\|x\s+n/a\s+n/a\s+0", out)
    assert "Items: 3" in out  # the sets' item count is a note, not a coefficient row
    assert "ann: ORG[0:5]; ben: {}" in out
    md = render_markdown(d)
    assert "## Spans" in md and "| Token-level alpha | 0.420 |" in md
    assert "| PER\\|x | n/a | n/a | 0 |" in md


def test_text_keeps_control_characters_out_of_the_terminal() -> None:
    d = load("full")
    d["pairwise"][0]["a"] = "evil\x1b[31m\nname"
    out = render_text(d)
    assert "\x1b" not in out
    assert "evil\\x1b[31m\\nname" in out


def test_markdown_tables_keep_their_shape_and_escape_html() -> None:
    md = render_markdown(load("full"))
    assert "<carol>" not in md and "<b>" not in md
    assert "&lt;carol&gt;" in md
    assert "item\\|11" in md
    for block in md.split("\n\n"):
        rows = [line for line in block.splitlines() if line.startswith("|")]
        if not rows:
            continue
        widths = {len(re.findall(r"(?<!\\)\|", row)) for row in rows}
        assert len(widths) == 1, block


def test_html_is_self_contained() -> None:
    html = render_html(load("full"))
    assert html.startswith("<!DOCTYPE html>")
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert not re.search(r"\b(src|href)=", html)
    urls = set(re.findall(r"https?://[^\s\"']+", html))
    assert urls == {"http://www.w3.org/2000/svg"}
    assert "default-src 'none'" in html


def test_html_escapes_user_strings() -> None:
    d = load("full")
    d["disagreements"][0]["item"] = '"><img src=x onerror=alert(1)>'
    html = render_html(d)
    tags = {t for t, _ in parse(html).tags}
    assert tags <= ALLOWED_TAGS, tags - ALLOWED_TAGS
    assert "<carol>" not in html and "<b>bold" not in html
    assert "&lt;carol&gt;" in html


def test_html_plots_have_their_marks() -> None:
    d = load("full")
    p = parse(render_html(d))
    svgs = [a.get("class") for a in p.find("svg")]
    assert svgs == ["plot per-label-bars", "plot pairwise-heatmap", "plot coincidence-heatmap"]
    # per-label bars: one bar per label with a value, one error bar per interval
    bars = p.find("rect", "bar")
    assert [b["data-label"] for b in bars] == ["neg", "neu", "pos"]
    assert [b["data-value"] for b in bars] == ["0.851", "0.412", "0.700"]
    assert [(g["data-lo"], g["data-hi"]) for g in p.find("g", "errorbar")] == [
        ("0.701", "0.943"),
        ("0.150", "0.622"),
    ]
    assert any(text.startswith("n/a") for cls, text in p.svg_text if "per-label" in cls)
    # heatmaps: n x n cells
    cells = p.find("rect", "cell")
    pair_cells = [c for c in cells if c["data-row"] in ("alice", "bob", "<carol>")]
    assert len(pair_cells) == 9
    kappa = {(c["data-row"], c["data-col"]): c.get("data-value") for c in pair_cells}
    assert kappa[("alice", "bob")] == kappa[("bob", "alice")] == "0.86"
    assert kappa[("bob", "<carol>")] == "-0.12"
    assert kappa[("alice", "alice")] is None
    coincidence = [c for c in cells if c not in pair_cells]
    assert len(coincidence) == 16
    values = {(c["data-row"], c["data-col"]): c["data-value"] for c in coincidence}
    assert values[("neu", "pos")] == "2" and values[("neg", "neu")] == "1.50"


def test_html_without_optional_sections() -> None:
    p = parse(render_html(load("degenerate")))
    assert [a.get("class") for a in p.find("svg")] == ["plot coincidence-heatmap"]
    assert not p.find("rect", "bar")


def test_html_pairwise_colour_follows_kappa() -> None:
    p = parse(render_html(load("full")))
    fills = {(c["data-row"], c["data-col"]): c["fill"] for c in p.find("rect", "cell")}
    good, bad = fills[("alice", "bob")], fills[("bob", "<carol>")]

    def rgb(h: str) -> tuple[int, int, int]:
        return int(h[1:3], 16), int(h[3:5], 16), int(h[5:7], 16)

    assert rgb(good)[2] > rgb(good)[0]  # blue for agreement
    assert rgb(bad)[0] > rgb(bad)[2]  # red below chance


label_text = st.text(min_size=1, max_size=12)


@settings(max_examples=40, deadline=None)
@given(
    labels=st.lists(label_text, min_size=1, max_size=5, unique=True),
    annotators=st.lists(label_text, min_size=2, max_size=4, unique=True),
    value=st.one_of(st.none(), st.floats(-1, 1, allow_nan=False)),
)
def test_any_strings_stay_text(
    labels: list[str], annotators: list[str], value: float | None
) -> None:
    d = load("degenerate")
    d["categories"] = labels
    d["per_label"] = {lab: {"krippendorff_alpha": value, "fleiss_kappa": value,
                            "cohen_kappa": None, "n_items": 1} for lab in labels}  # fmt: skip
    d["pairwise"] = [
        {"a": a, "b": b, "n_items": 2, "cohen_kappa": value, "percent_agreement": 0.5}
        for i, a in enumerate(annotators)
        for b in annotators[i + 1 :]
    ]
    k = len(labels)
    d["coincidence"] = {"categories": labels, "matrix": [[1.0] * k for _ in range(k)]}
    html = render_html(d)
    p = parse(html)
    assert {t for t, _ in p.tags} <= ALLOWED_TAGS
    assert len(p.find("rect", "cell")) == k * k + len(annotators) ** 2
    assert html == render_html(copy.deepcopy(d))
    text = render_text(d)
    n_rows = len(labels) + len(d["pairwise"])
    # every table row is one line: header lines + one line per label and per pair
    assert len(text.splitlines()) == len(render_text(load("degenerate")).splitlines()) + n_rows + 10


def _real_reports() -> dict[str, dict]:
    from aqt.agreement import agreement_report
    from aqt.records import Annotation, AnnotationTable, Span

    def table(kind: str, rows: list[tuple[str, str, object]]) -> AnnotationTable:
        return AnnotationTable.from_records(Annotation(i, a, v, kind=kind) for i, a, v in rows)

    choice = table("choice", [("1", "a", "x"), ("1", "b", "x"), ("2", "a", "x"), ("2", "b", "y"),
                              ("3", "a", "y"), ("3", "b", "y"), ("3", "c", "<y>")])  # fmt: skip
    rating = table("rating", [("1", "a", 1.0), ("1", "b", 2.0), ("2", "a", 4.0), ("2", "b", 4.0),
                              ("3", "a", 5.0), ("3", "b", 3.0)])  # fmt: skip
    sets = table("multichoice", [("1", "a", frozenset({"x", "y"})), ("1", "b", frozenset({"x"})),
                                 ("2", "a", frozenset({"y"})), ("2", "b", frozenset({"y"}))])  # fmt: skip
    spans = table("spans", [("1", "a", (Span(0, 5, "PER"), Span(10, 15, "LOC"))),
                            ("1", "b", (Span(0, 5, "PER"),))])  # fmt: skip
    return {
        "choice": agreement_report(choice, ci=20).to_dict(),
        "rating": agreement_report(rating, level="interval", weights="quadratic").to_dict(),
        "multichoice": agreement_report(sets).to_dict(),
        "spans": agreement_report(spans).to_dict(),
    }


def test_real_reports_of_every_kind_render() -> None:
    for kind, d in _real_reports().items():
        text = render_text(d)
        assert f"Kind                {kind}" in text
        assert json.loads(render_json(d)) == d
        p = parse(render_html(d))
        assert {t for t, _ in p.tags} <= ALLOWED_TAGS, kind
        md = render_markdown(d)
        assert md.count("## ") >= 2
        if kind == "multichoice":
            assert "Krippendorff's alpha (MASI distance)" in text and "{x, y}" in text
            assert '["x"' not in text  # label sets read as sets, not JSON
        if kind == "spans":
            assert "F1 (overlap)" in text and "Spans: per label" in text
        if kind == "choice":
            assert "95% CI" in text
            assert "&lt;y&gt;" in render_html(d)


def test_big_matrices_drop_cell_text_then_the_plot() -> None:
    d = load("degenerate")
    cats = [f"c{i}" for i in range(60)]
    d["categories"] = cats
    d["coincidence"] = {
        "categories": cats,
        "matrix": [[float(i == j) for j in range(60)] for i in range(60)],
    }
    p = parse(render_html(d))
    assert len(p.find("rect", "cell")) == 3600
    assert not p.find("text", "cell-value")  # too small to print values; hover titles remain
    cats = [f"c{i}" for i in range(101)]
    d["coincidence"] = {"categories": cats, "matrix": [[0.0] * 101 for _ in range(101)]}
    html = render_html(d)
    assert not parse(html).find("rect", "cell")
    assert "101 categories are too many to plot" in html


def test_superscript_digits_in_names_sort_and_render() -> None:
    d = load("full")
    d["pairwise"][0]["b"] = "bob\u00b2"  # '²' is a digit to str.isdigit but not a decimal number
    p = parse(render_html(d))
    assert "bob\u00b2" in {c["data-row"] for c in p.find("rect", "cell")}
