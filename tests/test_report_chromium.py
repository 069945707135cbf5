"""The HTML report in a real browser: headless Chromium (Debian's ``chromium``, installed by
``scripts/chromium.sh``) loads a report made by ``aqt agreement`` and the plots are there, both in
the DOM Chromium builds and in the pixels it paints."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from aqt.cli import cli
from aqt.report import render_html
from click.testing import CliRunner

FIXTURES = Path(__file__).parent / "fixtures" / "report"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--force-device-scale-factor=1",
]


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    assert exe, (
        "headless Chromium is missing: run 'bash scripts/chromium.sh' (Debian package chromium)"
    )
    return exe


def run_chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    profile = tmp_path / "profile"
    profile.mkdir(exist_ok=True)
    return subprocess.run(
        [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


class Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.elements: list[
            tuple[str, dict[str, str | None], str]
        ] = []  # tag, attrs, enclosing svg
        self.svg = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "svg":
            self.svg = a.get("class") or ""
        self.elements.append((tag, a, self.svg))

    def handle_endtag(self, tag):
        if tag == "svg":
            self.svg = ""

    def marks(self, svg_class: str, tag: str, cls: str) -> list[dict[str, str | None]]:
        return [
            a
            for t, a, svg in self.elements
            if svg_class in svg.split() and t == tag and cls in (a.get("class") or "").split()
        ]


def read_png(path: Path) -> np.ndarray:
    """The pixels of an 8-bit RGB/RGBA PNG (what Chromium writes) as a ``(height, width, 3)`` array."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert ihdr is not None
    width, height, depth, color_type = ihdr[:4]
    assert depth == 8 and color_type in (2, 6), ihdr
    bpp = 3 if color_type == 2 else 4
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, width * bpp + 1)
    out = np.zeros((height, width * bpp), dtype=np.uint8)
    prev = np.zeros(width * bpp, dtype=np.uint8)
    for y in range(height):
        f, line = raw[y, 0], raw[y, 1:]
        if f == 0:
            cur = line.copy()
        elif f == 1:  # Sub: running sum per channel
            cur = (
                np.cumsum(line.reshape(width, bpp), axis=0, dtype=np.uint64)
                .astype(np.uint8)
                .ravel()
            )
        elif f == 2:  # Up
            cur = line + prev
        else:  # Average and Paeth depend on the byte to the left: one byte at a time
            cur = bytearray(line.tobytes())
            up = prev.tolist()
            for i in range(len(cur)):
                a = cur[i - bpp] if i >= bpp else 0
                b, c = up[i], up[i - bpp] if i >= bpp else 0
                if f == 3:
                    cur[i] = (cur[i] + (a + b) // 2) & 0xFF
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                    cur[i] = (cur[i] + pred) & 0xFF
            cur = np.frombuffer(bytes(cur), dtype=np.uint8)
        out[y] = cur
        prev = out[y]
    return out.reshape(height, width, bpp)[:, :, :3]


def colour_counts(pixels: np.ndarray) -> Counter:
    packed = (pixels[:, :, 0].astype(np.uint32) << 16) | (pixels[:, :, 1].astype(np.uint32) << 8)
    packed |= pixels[:, :, 2]
    values, counts = np.unique(packed, return_counts=True)
    return Counter({f"#{int(v):06x}": int(n) for v, n in zip(values, counts, strict=True)})


@pytest.fixture(scope="module")
def real_report(tmp_path_factory) -> tuple[Path, dict]:
    """The HTML and JSON of ``aqt agreement`` on a small export, with bootstrap intervals."""
    out = tmp_path_factory.mktemp("chromium") / "report.html"
    runner = CliRunner()
    args = [
        "agreement",
        str(FIXTURES / "cli_small.csv"),
        "--ci",
        "50",
        "--json",
        "--html",
        str(out),
    ]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    return out, json.loads(result.stdout)


def test_plots_survive_in_chromium_dom(real_report, tmp_path: Path) -> None:
    html_path, d = real_report
    result = run_chromium(tmp_path, "--dump-dom", html_path.as_uri())
    assert result.returncode == 0, result.stderr[-2000:]
    dom = Dom()
    dom.feed(result.stdout)
    svgs = [a.get("class") for t, a, _ in dom.elements if t == "svg"]
    assert svgs == ["plot per-label-bars", "plot pairwise-heatmap", "plot coincidence-heatmap"]
    labels = list(d["per_label"])
    bars = dom.marks("per-label-bars", "rect", "bar")
    assert [b["data-label"] for b in bars] == labels
    assert len(dom.marks("per-label-bars", "line", "reference")) == 2
    n_annotators = d["n_annotators"]
    assert len(dom.marks("pairwise-heatmap", "rect", "cell")) == n_annotators**2
    k = len(d["coincidence"]["categories"])
    assert len(dom.marks("coincidence-heatmap", "rect", "cell")) == k * k
    values = [c.get("data-value") for c in dom.marks("coincidence-heatmap", "rect", "cell")]
    flat = [x for row in d["coincidence"]["matrix"] for x in row]
    assert [float(v) for v in values] == pytest.approx(flat, abs=0.01)
    # the coefficient table came through with its bands, and intervals from --ci
    assert "Krippendorff's alpha" in result.stdout and "95% CI" in result.stdout


def test_screenshot_shows_the_plots(tmp_path: Path) -> None:
    d = json.loads((FIXTURES / "report_full.json").read_text(encoding="utf-8"))
    html_path = tmp_path / "full.html"
    html_path.write_text(render_html(d), encoding="utf-8")
    png = tmp_path / "shot.png"
    result = run_chromium(
        tmp_path, "--window-size=1000,2600", f"--screenshot={png}", html_path.as_uri()
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert png.exists() and png.stat().st_size > 20_000, "screenshot missing or nearly empty"
    pixels = read_png(png)
    assert pixels.shape == (2600, 1000, 3)
    colours = colour_counts(pixels)
    assert len(colours) > 50  # text, tables and plots, not a blank page
    # per-label bars, filled by band: reliable (neg), discard (neu), tentative (pos)
    for fill in ("#2e8b57", "#d1495b", "#e0a526"):
        assert colours[fill] > 500, (fill, colours[fill])
    # heatmap cells: the most-confused off-diagonal pair and the strongest kappa
    off_diag = [
        c["fill"] for c in _cells(d, "coincidence-heatmap") if c["data-row"] != c["data-col"]
    ]
    strongest = max(off_diag, key=lambda f: colours[f])
    assert colours[strongest] > 300
    alice_bob = next(
        c["fill"]
        for c in _cells(d, "pairwise-heatmap")
        if (c["data-row"], c["data-col"]) == ("alice", "bob")
    )
    assert colours[alice_bob] > 300


def _cells(d: dict, svg_class: str) -> list[dict]:
    dom = Dom()
    dom.feed(render_html(d))
    return dom.marks(svg_class, "rect", "cell")
