"""``aqt agreement`` through click's test runner: exact output, bad input, degenerate data."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pytest
from aqt.agreement import agreement_report
from aqt.cli import cli
from aqt.formats import read_annotations
from aqt.report import render_html, render_json
from click.testing import CliRunner

FIXTURES = Path(__file__).parent / "fixtures" / "report"
SMALL = FIXTURES / "cli_small.csv"
GOLDEN = FIXTURES / "golden"


def run(*args: str, **kwargs):
    return CliRunner().invoke(cli, ["agreement", *map(str, args)], **kwargs)


def check_golden(name: str, text: str) -> None:
    golden = GOLDEN / name
    if os.environ.get("AQT_UPDATE_GOLDEN"):
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), (
        f"{golden} differs (AQT_UPDATE_GOLDEN=1 rewrites)"
    )


def assert_one_line_error(result, code: int, *needles: str) -> str:
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception  # no traceback
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: "), lines[0]
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle.lower() in lines[0].lower(), (needle, lines[0])
    return lines[0]


# ------------------------------------------------------------------------------ exact output


@pytest.mark.parametrize(("flag", "ext"), [(None, "txt"), ("--md", "md")])
def test_small_input_exact_output(flag: str | None, ext: str) -> None:
    result = run(SMALL, *([flag] if flag else []))
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    check_golden(f"cli_small.{ext}", result.stdout)


def test_small_input_json_is_exactly_the_report_dict() -> None:
    result = run(SMALL, "--json")
    assert result.exit_code == 0, result.output
    expected = agreement_report(read_annotations(SMALL)).to_dict()
    assert result.stdout == render_json(expected) + "\n"
    d = json.loads(result.stdout)
    assert d == expected
    assert list(d)[:4] == ["n_items", "n_annotators", "n_annotations", "skipped"]
    assert (d["n_items"], d["n_annotators"], d["n_annotations"]) == (7, 3, 18)
    assert set(d["metrics"]) == {
        "percent_agreement", "cohen_kappa", "scott_pi", "fleiss_kappa", "conger_kappa",
        "krippendorff_alpha", "gwet_ac1", "gwet_ac2", "brennan_prediger",
    }  # fmt: skip
    assert d["metrics"]["cohen_kappa"]["value"] is None
    assert "two annotators" in d["metrics"]["cohen_kappa"]["reason"]


def test_small_input_alpha_matches_the_krippendorff_package() -> None:
    import krippendorff

    d = json.loads(run(SMALL, "--json").stdout)
    rows = [line.split(",") for line in SMALL.read_text().splitlines()[1:]]
    items = sorted({r[0] for r in rows}, key=int)
    annotators = sorted({r[1] for r in rows})
    code = {"neg": 0, "neu": 1, "pos": 2}
    data = np.full((len(annotators), len(items)), np.nan)
    for item, annotator, label in rows:
        data[annotators.index(annotator), items.index(item)] = code[label]
    expected = krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")
    assert math.isclose(d["metrics"]["krippendorff_alpha"]["value"], expected, abs_tol=1e-12)
    alpha_line = next(
        line for line in run(SMALL).stdout.splitlines() if "Krippendorff's alpha" in line
    )
    assert f"{expected:.3f}" in alpha_line and "discard" in alpha_line


def test_html_written_atomically_and_reported_on_stderr(tmp_path: Path) -> None:
    out = tmp_path / "sub" / "report.html"
    result = run(SMALL, "--json", "--html", out)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n_items"] == 7  # stdout stays pure JSON
    assert result.stderr == f"Wrote HTML report to {out}\n"
    html = out.read_text(encoding="utf-8")
    expected = agreement_report(read_annotations(SMALL)).to_dict()
    assert html == render_html(expected)
    check_golden("cli_small.html", html)
    assert [p.name for p in out.parent.iterdir()] == ["report.html"]  # no temp file left
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_html_write_failure_is_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run(SMALL, "--html", blocker / "report.html")
    assert_one_line_error(result, 1, "Cannot write the HTML report", "--html")


def test_options_reach_the_report() -> None:
    result = run(
        SMALL, "--json", "--level", "ordinal", "--weights", "quadratic",
        "--categories", "neg,neu,pos,mixed", "--ci", "30", "--seed", "3",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    assert (d["level"], d["weights"]) == ("ordinal", "quadratic")
    assert d["categories"] == ["neg", "neu", "pos", "mixed"]
    ci = d["metrics"]["krippendorff_alpha"]["ci95"]
    assert ci is not None and ci[0] <= d["metrics"]["krippendorff_alpha"]["value"] <= ci[1]
    again = run(
        SMALL, "--json", "--level", "ordinal", "--weights", "quadratic",
        "--categories", "neg,neu,pos,mixed", "--ci", "30", "--seed", "3",
    )  # fmt: skip
    assert again.stdout == result.stdout
    assert "95% CI" in run(SMALL, "--ci", "30").stdout


# ------------------------------------------------------------------------------ bad input


def write(tmp_path: Path, name: str, data: str | bytes) -> Path:
    p = tmp_path / name
    if isinstance(data, bytes):
        p.write_bytes(data)
    else:
        p.write_text(data, encoding="utf-8")
    return p


def test_empty_file(tmp_path: Path) -> None:
    assert_one_line_error(run(write(tmp_path, "empty.csv", "")), 1, "empty.csv", "empty")


def test_wrong_columns(tmp_path: Path) -> None:
    p = write(tmp_path, "cols.csv", "id,who,answer\n1,a,x\n1,b,y\n")
    line = assert_one_line_error(run(p), 1, "item", "--item-col")
    assert "id" in line  # shows the columns the file does have
    ok = run(p, "--item-col", "id", "--annotator-col", "who", "--label-col", "answer", "--json")
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["n_annotations"] == 2


def test_malformed_json_line_names_the_line(tmp_path: Path) -> None:
    lines = [
        json.dumps({"item": "1", "annotator": "a", "label": "x"}),
        json.dumps({"item": "1", "annotator": "b", "label": "x"}),
        '{"item": "2", "annotator": "a", "label": ',
        json.dumps({"item": "2", "annotator": "b", "label": "y"}),
    ]
    p = write(tmp_path, "bad.jsonl", "\n".join(lines) + "\n")
    assert_one_line_error(run(p), 1, "line 3")


def test_unknown_from_is_a_usage_error(tmp_path: Path) -> None:
    line = assert_one_line_error(run(SMALL, "--from", "xml"), 2, "--from", "xml", "--help")
    for fmt in ("table", "prodigy", "labelstudio", "labelstudio-min", "labelstudio-csv"):
        assert fmt in line


def test_non_numeric_labels_with_interval_level() -> None:
    assert_one_line_error(run(SMALL, "--level", "interval"), 1, "interval", "neg")


def test_binary_junk(tmp_path: Path) -> None:
    junk = bytes(range(256)) * 64
    assert_one_line_error(run(write(tmp_path, "junk.csv", junk)), 1, "junk.csv")


def test_missing_file(tmp_path: Path) -> None:
    assert_one_line_error(run(tmp_path / "nope.json"), 1, "nope.json")


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (["--json", "--md"], ["--json", "--md"]),
        (["--level", "nominalish"], ["--level", "nominalish"]),
        (["--weights", "cubic"], ["--weights", "quadratic"]),
        (["--categories", "a,,b"], ["--categories", "empty"]),
        (["--categories", "a,b,a"], ["--categories", "'a'"]),
        (["--ci", "-1"], ["--ci"]),
        (["--no-such-flag"], ["--no-such-flag"]),
        (["--control", "sentiment"], ["sentiment", "--control"]),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: list[str], needles: list[str]) -> None:
    assert_one_line_error(run(SMALL, *args), 2, *needles)


def test_missing_input_argument() -> None:
    assert_one_line_error(run(), 2, "INPUT")


# ------------------------------------------------------------------------------ degenerate data


@pytest.mark.parametrize(
    ("name", "rows"),
    [
        ("one_annotator", [("1", "a", "x"), ("2", "a", "y"), ("3", "a", "x")]),
        ("one_item", [("1", "a", "x"), ("1", "b", "y"), ("1", "c", "x")]),
        ("one_category", [("1", "a", "x"), ("1", "b", "x"), ("2", "a", "x"), ("2", "b", "x")]),
    ],
)
def test_degenerate_data_gives_null_with_reasons(tmp_path: Path, name: str, rows) -> None:
    p = write(
        tmp_path,
        f"{name}.csv",
        "item,annotator,label\n" + "".join(",".join(r) + "\n" for r in rows),
    )
    result = run(p, "--json")
    assert result.exit_code == 0, result.output
    d = json.loads(result.stdout)
    metrics = d["metrics"]
    assert len(metrics) == 9
    assert metrics["krippendorff_alpha"]["value"] is None
    for m in metrics.values():
        if m["value"] is None:
            assert m["reason"], (name, metrics)
    text = run(p)
    assert text.exit_code == 0
    alpha_line = next(line for line in text.stdout.splitlines() if "Krippendorff's alpha" in line)
    assert "n/a" in alpha_line and metrics["krippendorff_alpha"]["reason"] in alpha_line


# ------------------------------------------------------------------------------ progress


def _big_jsonl(tmp_path: Path) -> Path:
    rows = [
        json.dumps({"item": str(i), "annotator": a, "label": "xy"[(i * 7 + j) % 3 == 0]})
        for i in range(9000)
        for j, a in enumerate(("alice", "bob", "carol"))
    ]
    p = tmp_path / "big.jsonl"
    p.write_text("\n".join(rows) + "\n", encoding="utf-8")
    assert p.stat().st_size > 1 << 20
    return p


def test_no_progress_bar_when_piped(tmp_path: Path) -> None:
    result = run(_big_jsonl(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert json.loads(result.stdout)["n_annotations"] == 27000


def test_progress_bar_on_a_terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import aqt.cli.agreement as mod

    monkeypatch.setattr(mod, "_stderr_is_terminal", lambda: True)
    result = run(_big_jsonl(tmp_path), "--json")
    assert result.exit_code == 0, result.output
    assert "Reading big.jsonl" in result.stderr  # click hides the bar itself off a real terminal
    assert json.loads(result.stdout)["n_annotations"] == 27000


def test_progress_bar_draws_on_a_tty() -> None:
    import io

    from aqt.cli.agreement import _Progress

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    progress = _Progress("Reading x.jsonl", file=out)
    for done in (0, 1 << 20, 2 << 20, 3 << 20):
        progress(done, 3 << 20)
    progress.close()
    text = out.getvalue()
    assert "Reading x.jsonl" in text
    assert "100%" in text and "33%" in text

    small = Tty()
    progress = _Progress("Reading y.jsonl", file=small)
    progress(1000, 1000)
    progress.close()
    assert small.getvalue() == ""  # short reads show no bar
