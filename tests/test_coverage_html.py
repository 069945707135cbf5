"""``aqt coverage --html``: one self-contained page that names the planted gap (plot synopses the
annotated reviews lack) first, parses, fetches nothing, escapes the data, and is written atomically."""

from __future__ import annotations

import errno
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from aqt.cli import cli
from aqt.coverage import coverage_report
from aqt.edgecases import SourceItem
from aqt.report import coverage_html
from aqt.report.coverage_html import SERIES, render_coverage_html, suggested_count
from click.testing import CliRunner
from test_export_data import review_sample, rotten_tomatoes_full
from test_report_chromium import colour_counts, read_png, run_chromium

VOID = {"meta", "br", "hr", "img", "input", "link", "area", "base", "col", "source", "wbr"}
SVG_EMPTY = {"line", "path", "circle"}  # written as <x .../>


class Page(HTMLParser):
    """Elements in order with their attributes, checking that tags nest and close."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.errors: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:]}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag: str, cls: str) -> list[dict[str, str | None]]:
        return [a for t, a in self.elements if t == tag and cls in (a.get("class") or "").split()]


def parse(page: str) -> Page:
    p = Page()
    p.feed(page)
    p.close()
    return p


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """Production (1000 reviews + 100 plot synopses) and annotated reviews as JSONL, as in
    ``test_coverage_production``."""
    _, plots = rotten_tomatoes_full()
    root = tmp_path_factory.mktemp("coverage_html")
    prod, data = root / "prod.jsonl", root / "data.jsonl"
    prod_rows = [
        {"id": r.id, "text": r.text, "label": r.label}
        for r in review_sample(1000, seed=1).itertuples()
    ]
    prod_rows += [{"id": f"plot{i}", "text": t} for i, t in enumerate(plots["text"][:100])]
    data_rows = [
        {"id": r.id, "text": r.text, "label": r.label}
        for r in review_sample(1000, seed=1, offset=1000).itertuples()
    ]
    prod.write_text("".join(json.dumps(r) + "\n" for r in prod_rows), encoding="utf-8")
    data.write_text("".join(json.dumps(r) + "\n" for r in data_rows), encoding="utf-8")
    return {"root": root, "prod": prod, "data": data}


@pytest.fixture(scope="module")
def made(files) -> tuple[str, dict]:
    """The page ``aqt coverage --html`` writes, and the ``--json`` report of the same run."""
    out, collect = files["root"] / "coverage.html", files["root"] / "collect.jsonl"
    args = ["coverage", "--production", str(files["prod"]), "--dataset", str(files["data"])]
    result = CliRunner().invoke(
        cli, [*args, "--json", "--html", str(out), "--collect", str(collect)]
    )
    assert result.exit_code == 0, result.output
    assert f"Wrote HTML report to {out}" in result.stderr
    return out.read_text(encoding="utf-8"), json.loads(result.stdout)


def test_the_planted_gap_is_named_first(made) -> None:
    page, d = made
    dom = parse(page)
    gaps = dom.find("article", "gap")
    expected = [c for c in d["clusters"] if c["status"] in ("under_covered", "rare_but_present")]
    assert [int(a["data-cluster"]) for a in gaps] == [c["cluster"] for c in expected]
    first = expected[0]
    assert first["status"] == "under_covered" and gaps[0]["id"] == "gap-1"
    # the first gap's bars: production share well above the annotated share
    bars = [b for b in dom.find("rect", "bar") if b["data-label"].startswith("Cluster ")]
    assert bars[0]["data-label"] == bars[1]["data-label"]
    assert bars[0]["data-label"].startswith(f"Cluster {first['cluster']} (")
    assert [b["data-series"] for b in bars[:2]] == ["production", "annotated"]
    assert float(bars[0]["data-value"]) == pytest.approx(first["production_share"], abs=1e-3)
    assert float(bars[1]["data-value"]) == pytest.approx(first["dataset_share"], abs=1e-3)
    # its suggested collection names plot synopses from the --collect list
    article = page[page.index('id="gap-1"') : page.index("</article>", page.index('id="gap-1"'))]
    suggestion = re.search(r'<p class="suggestion">(.*?)</p>', article).group(1)
    more = suggested_count(first["production_share"], first["n_dataset"], d["n_dataset"])
    assert f"annotate about {more} more item(s)" in suggestion and more > 0
    assert "collect.jsonl" in suggestion
    named = re.findall(r"\b(plot\d+|rt\d+)\b", suggestion)
    assert len(named) == 8 and sum(n.startswith("plot") for n in named) >= 6
    # order of the page: summary, gaps, features, findings
    heads = ("Coverage report", "Gaps, worst first", "Feature distributions", "Findings")
    positions = [page.index(h) for h in heads]
    assert positions == sorted(positions)


def test_page_parses_and_has_the_feature_bars_and_findings(made) -> None:
    page, d = made
    dom = parse(page)
    assert not dom.errors and dom.stack == [], (dom.errors, dom.stack)
    assert page.startswith("<!DOCTYPE html>")
    svgs = [a["class"] for t, a in dom.elements if t == "svg"]
    assert svgs[0] == "plot gap-bars"
    assert {"plot feature-bars feature-length", "plot feature-bars feature-language"} <= set(svgs)
    assert "plot feature-bars feature-label" in svgs
    label_bars = [
        (b["data-label"], b["data-series"], float(b["data-value"]))
        for b in dom.find("rect", "bar")
        if b["data-label"] in ("fresh", "rotten")
    ]
    f = d["features"]["label"]
    assert label_bars == [
        (k, side, pytest.approx(f[key][k], abs=1e-3))
        for k in ("fresh", "rotten")
        for side, key in (("production", "production"), ("annotated", "dataset"))
    ]
    text = " ".join(dom.text)
    for finding in d["findings"]:
        assert finding["check"] in text
    assert "coverage_gap" in text
    assert f"coverage score {d['coverage_score']:.3f}" in " ".join(text.split())


def test_no_external_urls_and_no_scripts(made) -> None:
    page, _ = made
    dom = parse(page)
    for tag, attrs in dom.elements:
        assert tag != "script"
        for name, value in attrs.items():
            if name in ("src", "href", "xlink:href", "action", "data"):
                assert not re.match(r"\s*(https?:)?//", value or ""), (tag, name, value)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", page)
    assert "url(" not in page and "@import" not in page
    assert "default-src 'none'" in page  # the agreement report's Content-Security-Policy


def test_text_from_the_data_is_escaped_and_output_is_stable() -> None:
    bad = "<script>alert(1)</script>"
    production = [
        SourceItem(str(i), t, {"platform": p})
        for i, (t, p) in enumerate(
            [("great film, loved the acting", "web")] * 60
            + [("terrible plot and awful acting", "web")] * 60
            + [(f"{bad} {bad} weird markup & stuff", bad)] * 10
        )
    ]
    dataset = [
        SourceItem(f"d{i}", t, {"platform": "web"})
        for i, t in enumerate(
            ["great film, loved the acting"] * 50 + ["terrible plot and awful acting"] * 50
        )
    ]
    report = coverage_report(production, dataset, n_clusters=3, seed=0)
    assert bad in report.features["platform"]["missing"]
    page = render_coverage_html(report.to_dict(), collection=report.collection)
    assert "<script" not in page.lower()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    dom = parse(page)
    assert not dom.errors and dom.stack == []
    assert bad in {b["data-label"] for b in dom.find("rect", "bar")}  # unescaped once parsed
    assert render_coverage_html(report.to_dict(), collection=report.collection) == page


def test_a_failed_render_leaves_no_half_written_file(made, files, monkeypatch) -> None:
    _, d = made
    target = files["root"] / "kept.html"
    target.write_text("the earlier report\n", encoding="utf-8")

    def broken(d):
        yield "<section>half a page"
        raise RuntimeError("renderer broke")

    monkeypatch.setattr(coverage_html, "_features", broken)
    with pytest.raises(RuntimeError, match="renderer broke"):
        coverage_html.write_coverage_html(d, target)
    assert target.read_text(encoding="utf-8") == "the earlier report\n"
    assert not list(files["root"].glob(".kept.html.*"))


def test_cli_write_failure_exits_1_and_leaves_nothing(files, monkeypatch, tmp_path) -> None:
    def full_disk(d):
        yield "<section>"
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(coverage_html, "_features", full_disk)
    out = tmp_path / "new.html"
    result = CliRunner().invoke(
        cli,
        [
            "coverage",
            "--production",
            str(files["prod"]),
            "--dataset",
            str(files["data"]),
            "--html",
            str(out),
        ],
    )
    assert result.exit_code == 1, result.output
    assert "Cannot write the HTML report" in result.output and "No space left" in result.output
    assert "Traceback" not in result.output
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_html_with_synthetic_is_a_usage_error(files, tmp_path) -> None:
    args = ["coverage", "--synthetic", str(files["data"]), "--real", str(files["prod"])]
    result = CliRunner().invoke(cli, [*args, "--html", str(tmp_path / "x.html")])
    assert result.exit_code == 2 and "--html" in result.output
    assert not (tmp_path / "x.html").exists()


def test_doctests_and_the_suggested_count_reaches_the_production_share() -> None:
    import doctest

    result = doctest.testmod(coverage_html)
    assert result.attempted >= 2 and result.failed == 0
    for p, n, total in [(0.089, 37, 1000), (0.103, 37, 1000), (0.5, 0, 10), (0.02, 0, 999)]:
        x = suggested_count(p, n, total)
        assert (n + x) / (total + x) >= p > (n + x - 1) / (total + x - 1)
    assert suggested_count(0.01, 50, 1000) == 0


def test_page_renders_in_chromium(made, tmp_path: Path) -> None:
    page, _ = made
    html_path = tmp_path / "coverage.html"
    html_path.write_text(page, encoding="utf-8")
    png = tmp_path / "shot.png"
    result = run_chromium(
        tmp_path, "--window-size=1000,1600", f"--screenshot={png}", html_path.as_uri()
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert png.exists() and png.stat().st_size > 10_000, "screenshot missing or nearly empty"
    pixels = read_png(png)
    assert pixels.shape == (1600, 1000, 3)
    colours = colour_counts(pixels)
    assert len(colours) > 50  # text, tables and bars, not a blank page
    for fill in SERIES.values():  # both sides of the gap bars were painted
        assert colours[fill] > 200, (fill, colours[fill])
