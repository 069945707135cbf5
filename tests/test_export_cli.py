"""``aqt export`` on the command line: files, datasheet, exit codes, adjudication, atomicity."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
from aqt.adjudication import AdjudicationLog, Decision
from aqt.cli import cli
from aqt.errors import MissingExtraError
from aqt.formats import write_table
from click.testing import CliRunner
from test_export_data import review_sample, simulate_annotations

N = 600


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    d = tmp_path_factory.mktemp("inputs")
    df = review_sample(N, seed=3)
    write_table(simulate_annotations(df), d / "annotations.jsonl")
    flagged = set(df["id"][:20])
    with open(d / "meta.jsonl", "w", encoding="utf-8") as fh:
        for r in df.itertuples():
            row = {"id": r.id, "text": r.text, "movie": r.movie}
            if r.id in flagged:
                row["adversarial"] = True
            fh.write(json.dumps(row) + "\n")
    with open(d / "meta_plain.jsonl", "w", encoding="utf-8") as fh:
        for r in df.itertuples():
            fh.write(json.dumps({"id": r.id, "text": r.text, "movie": r.movie}) + "\n")
    return d, df


def run(*args):
    return CliRunner().invoke(cli, ["export", *map(str, args)])


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def clean_export(inputs, tmp_path_factory):
    d, _ = inputs
    out = tmp_path_factory.mktemp("exports") / "v1"
    result = run(
        d / "annotations.jsonl",
        "--out",
        out,
        "--meta",
        d / "meta.jsonl",
        "--group-col",
        "movie",
        "--ci",
        20,
    )
    return out, result


def test_clean_export_writes_every_file_with_hashes_in_the_datasheet(clean_export):
    out, result = clean_export
    assert result.exit_code == 0, result.output
    assert f"Wrote {out}: " in result.output
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(
        [
            "dataset.jsonl",
            "dataset.csv",
            "dataset.parquet",
            "train.spacy",
            "dev.spacy",
            "test.spacy",
            "datasheet.json",
            "datasheet.md",
            "report.html",
        ]
    )
    sheet = json.loads((out / "datasheet.json").read_text())
    assert sheet["passed"] is True and sheet["allow_failures"] is None
    for name, entry in sheet["files"].items():
        assert entry["sha256"] == sha(out / name)
        assert entry["bytes"] == (out / name).stat().st_size
    assert sheet["provenance"]["input"]["sha256"] == sha(Path(sheet["provenance"]["input"]["path"]))
    assert sheet["counts"]["final"] + sheet["counts"]["unresolved"] == N
    alpha = sheet["iaa"]["metrics"]["krippendorff_alpha"]
    assert 0.667 < alpha["value"] < 1 and alpha["ci95"][0] < alpha["value"] < alpha["ci95"][1]
    checks = {c["check"] for c in sheet["checks"]}
    assert {
        "final_iaa",
        "class_balance",
        "adversarial_coverage",
        "label_errors",
        "leakage",
    } <= checks


def test_table_files_agree_with_each_other(clean_export):
    out, _ = clean_export
    rows = [json.loads(x) for x in (out / "dataset.jsonl").read_text().splitlines()]
    csv = pd.read_csv(out / "dataset.csv", keep_default_na=False)
    parquet = pd.read_parquet(out / "dataset.parquet")
    for frame in (csv, parquet):
        assert list(frame["id"]) == [r["id"] for r in rows]
        assert list(frame["label"]) == [r["label"] for r in rows]
        assert list(frame["split"]) == [r["split"] for r in rows]
        assert list(frame["text"]) == [r["text"] for r in rows]
    assert {r["label_source"] for r in rows} <= {"unanimous", "dawid_skene"}
    assert all(r["meta"]["movie"] for r in rows)


def test_datasheet_markdown_and_html_report(clean_export):
    out, _ = clean_export
    md = (out / "datasheet.md").read_text()
    for heading in (
        "# Datasheet: v1",
        "## Counts",
        "## Label distribution",
        "## Inter-annotator agreement",
        "## Provenance",
        "## Checks",
        "## Files",
    ):
        assert heading in md
    assert "All checks passed" in md
    html = (out / "report.html").read_text()
    assert "<h1>Export: v1</h1>" in html and "<h1>Agreement report</h1>" in html
    assert "adversarial_coverage" in html
    assert 'src="http' not in html and "<link" not in html  # self-contained


def test_same_input_gives_identical_files(inputs, clean_export, tmp_path):
    d, _ = inputs
    out, _ = clean_export
    again = tmp_path / "v1"
    result = run(
        d / "annotations.jsonl",
        "--out",
        again,
        "--meta",
        d / "meta.jsonl",
        "--group-col",
        "movie",
        "--ci",
        20,
    )
    assert result.exit_code == 0, result.output
    for name in ("dataset.jsonl", "dataset.csv", "datasheet.md", "report.html"):
        assert (again / name).read_bytes() == (out / name).read_bytes(), name


def test_failed_check_exits_3_and_writes_nothing(inputs, tmp_path):
    d, _ = inputs
    out = tmp_path / "v2"
    result = run(d / "annotations.jsonl", "--out", out, "--meta", d / "meta_plain.jsonl", "--ci", 0)
    assert result.exit_code == 3, result.output
    assert "ERROR   adversarial_coverage: Only" in result.output
    assert "--allow-failures" in result.output
    assert list(tmp_path.iterdir()) == []


def test_allow_failures_records_the_reason(inputs, tmp_path):
    d, _ = inputs
    out = tmp_path / "v3"
    reason = "pilot set; hard cases come in batch 2"
    result = run(
        d / "annotations.jsonl",
        "--out",
        out,
        "--meta",
        d / "meta_plain.jsonl",
        "--ci",
        0,
        "--format",
        "jsonl",
        "--allow-failures",
        reason,
    )
    assert result.exit_code == 0, result.output
    sheet = json.loads((out / "datasheet.json").read_text())
    assert sheet["passed"] is False and sheet["allow_failures"] == reason
    assert list(sheet["files"]) == ["dataset.jsonl"]
    assert reason in (out / "datasheet.md").read_text()


@pytest.mark.parametrize(
    "extra, code, text",
    [
        (["--split", "0.5,0.2"], 2, "--split"),
        (["--format", "jsonl,xml"], 2, "xml"),
        (["--target-balance", "fresh"], 2, "label=share"),
        (["--min-confidence", "1.5"], 2, "min-confidence"),
    ],
)
def test_usage_errors_exit_2(inputs, tmp_path, extra, code, text):
    d, _ = inputs
    result = run(d / "annotations.jsonl", "--out", tmp_path / "o", *extra)
    assert result.exit_code == code, result.output
    assert text in result.output and result.output.startswith("Error: ")
    assert not (tmp_path / "o").exists()


def test_missing_input_exits_1_and_existing_out_needs_force(inputs, tmp_path, clean_export):
    d, _ = inputs
    result = run(tmp_path / "nope.jsonl", "--out", tmp_path / "o")
    assert result.exit_code == 1 and result.output.startswith("Error: ")
    out, _ = clean_export
    result = run(d / "annotations.jsonl", "--out", out, "--meta", d / "meta.jsonl")
    assert result.exit_code == 2 and "--force" in result.output


def test_adjudicated_decisions_come_first_and_the_log_is_referenced(inputs, tmp_path):
    d, df = inputs
    log = AdjudicationLog(tmp_path / "adjudication.jsonl")
    first, second = df["id"][0], df["id"][1]
    truth = dict(zip(df["id"], df["label"]))
    other = {"fresh": "rotten", "rotten": "fresh"}
    log.append(Decision(first, "choice", other[truth[first]], "sam", 1, reason="sarcasm"))
    log.append(Decision(second, "choice", None, "sam", 2, outcome="reject", reason="not a review"))
    out = tmp_path / "v4"
    result = run(
        d / "annotations.jsonl",
        "--out",
        out,
        "--meta",
        d / "meta.jsonl",
        "--ci",
        0,
        "--format",
        "jsonl",
        "--adjudication-log",
        log.path,
    )
    assert result.exit_code == 0, result.output
    rows = {r["id"]: r for r in map(json.loads, (out / "dataset.jsonl").read_text().splitlines())}
    assert (
        rows[first]["label"] == other[truth[first]] and rows[first]["label_source"] == "adjudicated"
    )
    assert second not in rows
    sheet = json.loads((out / "datasheet.json").read_text())
    assert sheet["provenance"]["adjudication_log"]["sha256"] == sha(log.path)
    assert sheet["provenance"]["adjudication_log"]["n_decisions"] == 2
    assert {"item": second, "reason": "rejected"}.items() <= sheet["unresolved"][0].items()


def _plan(inputs):
    from aqt.export import ExportOptions, plan_export
    from aqt.formats import read_annotations
    from aqt.validate.inputs import load_meta

    d, _ = inputs
    return plan_export(
        read_annotations(d / "annotations.jsonl"),
        meta=load_meta(d / "meta.jsonl"),
        options=ExportOptions(ci=0),
    )


@pytest.mark.parametrize("failing", ["parquet", "spacy"])
def test_a_failure_mid_export_leaves_no_files(inputs, tmp_path, monkeypatch, failing):
    from aqt.export import write as export

    plan = _plan(inputs)
    assert not plan.failed

    def broken(plan, path):
        Path(path).write_bytes(b"half a file")
        raise OSError("disk full")

    if failing == "parquet":
        monkeypatch.setitem(export._WRITERS, "parquet", broken)
    else:
        monkeypatch.setattr(export, "_spacy_writer", lambda split: broken)
    with pytest.raises(OSError, match="disk full"):
        export.write_export(plan, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []
    # replacing an existing export: a failure keeps the old one untouched
    export.write_export(plan, tmp_path / "keep", formats=["jsonl"])
    before = {p.name: p.read_bytes() for p in (tmp_path / "keep").iterdir()}
    with pytest.raises(OSError):
        export.write_export(plan, tmp_path / "keep", force=True)
    assert {p.name: p.read_bytes() for p in (tmp_path / "keep").iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep"]


def test_missing_spacy_names_the_extra(inputs, tmp_path, monkeypatch):
    import sys

    from aqt.export import write as export

    plan = _plan(inputs)
    monkeypatch.setitem(sys.modules, "spacy", None)
    with pytest.raises(MissingExtraError, match=r"aqt\[spacy\]"):
        export.write_export(plan, tmp_path / "out", formats=["jsonl", "spacy"])
    assert list(tmp_path.iterdir()) == []


def test_production_target_and_predictions_files(inputs, tmp_path):
    d, df = inputs
    prod = tmp_path / "production.jsonl"
    prod.write_text(
        "".join(
            json.dumps({"id": f"p{n}", "text": "x", "label": "rotten" if n % 5 else "fresh"}) + "\n"
            for n in range(100)
        )
    )
    result = run(
        d / "annotations.jsonl",
        "--out",
        tmp_path / "a",
        "--meta",
        d / "meta.jsonl",
        "--ci",
        0,
        "--format",
        "jsonl",
        "--production",
        prod,
    )
    assert result.exit_code == 3, result.output
    assert "ERROR   class_balance: Label 'fresh' is over-represented" in result.output
    assert "the production sample" in result.output
    share = float((df["label"] == "fresh").mean())
    target = f"fresh={share:.2f},rotten={1 - share:.2f}"
    preds = tmp_path / "predictions.csv"
    pd.DataFrame({"item": df["id"], "prediction": ["fresh"] * len(df)}).to_csv(preds, index=False)
    result = run(
        d / "annotations.jsonl",
        "--out",
        tmp_path / "b",
        "--meta",
        d / "meta_plain.jsonl",
        "--ci",
        0,
        "--format",
        "jsonl",
        "--target-balance",
        target,
        "--predictions",
        preds,
    )
    assert result.exit_code == 0, result.output
    assert (
        "Earlier model's confusions present in the export (label -> predicted): rotten -> fresh"
        in result.output
    )
    sheet = json.loads((tmp_path / "b" / "datasheet.json").read_text())
    assert sheet["provenance"]["predictions"]["sha256"] == sha(preds)
    unlabelled = tmp_path / "unlabelled.jsonl"
    unlabelled.write_text(json.dumps({"id": "p", "text": "x"}) + "\n")
    result = run(d / "annotations.jsonl", "--out", tmp_path / "c", "--production", unlabelled)
    assert result.exit_code == 2 and "no 'label' field" in result.output
