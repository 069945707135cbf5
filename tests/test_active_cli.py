"""``aqt al simulate`` and ``aqt curve`` through click's test runner, on real snippets plus junk."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from aqt.cli import cli
from click.testing import CliRunner
from test_active_helpers import EMPTY, foreign, garbled, reviews


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    df = reviews(500)[["text", "label"]].assign(kind="review")
    junk = EMPTY[:4] + garbled(6) + foreign(4)["de"]
    kinds = ["empty"] * 4 + ["garbled"] * 6 + ["foreign"] * 4
    df = pd.concat(
        [df, pd.DataFrame({"text": junk, "label": "", "kind": kinds})], ignore_index=True
    )
    df["split"] = ["test" if i % 5 == 0 and df["label"][i] else "pool" for i in range(len(df))]
    path = tmp_path_factory.mktemp("al") / "data.csv"
    df.to_csv(path, index=False)
    return path


def test_simulate_json_shape(data_csv: Path) -> None:
    r = CliRunner().invoke(
        cli,
        [
            "al",
            "simulate",
            "--data",
            str(data_csv),
            "--kind-col",
            "kind",
            "--split-col",
            "split",
            "--strategy",
            "margin",
            "--strategy",
            "default",
            "--budget",
            "100",
            "--seeds",
            "2",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert set(d) >= {
        "n_pool",
        "n_test",
        "full_pool_accuracy",
        "strategies",
        "labels_to_match_random",
    }
    assert d["n_test"] == 100 and d["n_pool"] == 414
    assert sorted(d["strategies"]) == ["default", "margin", "random"]
    for name, run in d["strategies"].items():
        assert set(run) >= {"curve", "spent_by_kind", "duplicates_sent", "ece"}
        ns = [p[0] for p in run["curve"]]
        assert ns[0] == 20 and ns[-1] == 100 and ns == sorted(ns)
        assert all(len(p) == 3 and 0 <= p[1] <= 1 and p[2] >= 0 for p in run["curve"])
        assert sum(run["spent_by_kind"].values()) == 100
        assert set(d["labels_to_match_random"][name]) == {"1000", "4000"}
    assert d["labels_to_match_random"]["random"]["1000"] is None  # budget below 1,000
    # review keeps empty and garbled items away from annotators
    spent = d["strategies"]["default"]["spent_by_kind"]
    assert spent.get("empty", 0) == 0 and spent.get("garbled", 0) == 0


def test_simulate_text_output_and_test_size(data_csv: Path) -> None:
    r = CliRunner().invoke(
        cli,
        [
            "al",
            "simulate",
            "--data",
            str(data_csv),
            "--test-size",
            "80",
            "--strategy",
            "entropy",
            "--budget",
            "60",
            "--seeds",
            "1",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "test 80" in r.output and "entropy:" in r.output and "random:" in r.output


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["--split-col", "split", "--test-size", "5"], 2, "do not go together"),
        (["--strategy", "bogus"], 2, "unknown strategy"),
        (["--label-col", "nope"], 1, "missing column"),
        (["--budget", "5"], 2, "--budget"),
    ],
)
def test_simulate_usage_errors_name_the_fix(data_csv: Path, args, code, needle) -> None:
    r = CliRunner().invoke(cli, ["al", "simulate", "--data", str(data_csv), *args])
    assert r.exit_code == code, r.output
    assert needle in r.output and "Fix:" in r.output
    assert "Traceback" not in r.output


def test_curve_json_and_svg(data_csv: Path, tmp_path: Path) -> None:
    svg = tmp_path / "curve.svg"
    r = CliRunner().invoke(cli, ["curve", "--data", str(data_csv), "--plot", str(svg), "--json"])
    assert r.exit_code == 0, r.output
    d = json.loads(r.output)
    assert set(d) == {"points", "gain_last_doubling", "flattened", "message"}
    ns = [p[0] for p in d["points"]]
    assert ns == sorted(ns) and len(ns) == 6
    assert isinstance(d["flattened"], bool)
    text = svg.read_text()
    assert text.startswith("<svg") and "polyline" in text and "http://www.w3.org/2000/svg" in text
    r2 = CliRunner().invoke(cli, ["curve", "--data", str(data_csv)])
    assert r2.exit_code == 0 and ("flattened" in r2.output or "still rising" in r2.output)


def test_curve_rejects_png_and_missing_file(tmp_path: Path, data_csv: Path) -> None:
    r = CliRunner().invoke(
        cli, ["curve", "--data", str(data_csv), "--plot", str(tmp_path / "c.png")]
    )
    assert r.exit_code == 2 and "SVG" in r.output
    r = CliRunner().invoke(cli, ["curve", "--data", str(tmp_path / "none.csv")])
    assert r.exit_code == 1 and "no such file" in r.output
