"""``aqt calibrate select|gate`` and ``aqt guidelines check|record`` through click's runner: exit
codes 0 (pass), 1 (bad input), 2 (usage), 3 (gate FAIL), outputs and written files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from aqt.cli import cli
from aqt.guidelines import read_guidelines
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "configs" / "guidelines.example.md"
CATALOGUE = ROOT / "configs" / "edge_cases.example.toml"
LABELS = ["Positive", "Negative", "Neutral"]


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.fixture
def work(tmp_path):
    src = tmp_path / "reviews.jsonl"
    with open(src, "w", encoding="utf-8") as fh:
        for i in range(300):
            text = "Oh great, it broke again." if i == 4 else f"A review of the product, no. {i}."
            fh.write(json.dumps({"id": f"r{i}", "text": text, "meta": {"source": "web"}}) + "\n")
    return tmp_path


def select(work, *extra):
    return run(
        "calibrate", "select", work / "reviews.jsonl", "--size", 80, "--seed", 0,
        "--edge-cases", CATALOGUE, "--guidelines", GUIDE, "--out", work / "m.json",
        "--tasks", work / "batch.jsonl", *extra,
    )  # fmt: skip


def answers(work, confuse: float, name="answers.csv", team=("alice", "bob", "carol")):
    rng = np.random.default_rng(0)
    rows = ["item,annotator,label"]
    for line in (work / "batch.jsonl").read_text().splitlines():
        t = json.loads(line)
        truth = LABELS[int(t["id"][1:]) % 3]
        for a in team:
            v = truth
            if truth != "Negative" and rng.random() < confuse:
                v = ["Positive", "Neutral"][int(rng.integers(2))]
            elif rng.random() < 0.08:
                v = LABELS[int(rng.integers(3))]
            rows.append(f"{t['id']},{a},{v}")
    path = work / name
    path.write_text("\n".join(rows) + "\n")
    return path


def gate(work, table, *extra):
    return run(
        "calibrate", "gate", table, "--manifest", work / "m.json", "--annotators",
        "alice,bob,carol", "--source", work / "reviews.jsonl", "--guidelines", GUIDE,
        "--edge-cases", CATALOGUE, "--ci", 200, *extra,
    )  # fmt: skip


def test_select_writes_manifest_and_tasks(work):
    res = select(work)
    assert res.exit_code == 0, res.output
    m = json.loads((work / "m.json").read_text())
    assert res.stdout.startswith(f"Batch {m['batch_id']}: 80 items from 300, seed 0")
    assert "sarcasm (1)" in res.stdout
    assert m["guideline_version"] == read_guidelines(GUIDE).version.id
    tasks = [json.loads(x) for x in (work / "batch.jsonl").read_text().splitlines()]
    assert [t["id"] for t in tasks] == [i["id"] for i in m["items"]]
    first = (work / "m.json").read_bytes()
    assert select(work).exit_code == 0 and (work / "m.json").read_bytes() == first


def test_select_warns_on_size_and_rejects_bad_input(work):
    res = run("calibrate", "select", work / "reviews.jsonl", "--size", 20, "--out", work / "x.json")
    assert res.exit_code == 0 and "outside 50-100" in res.stderr
    res = run("calibrate", "select", work / "nope.jsonl", "--out", work / "x.json")
    assert res.exit_code == 1 and res.stderr.startswith("Error: No data source")
    res = run("calibrate", "select", work / "reviews.jsonl")
    assert res.exit_code == 2 and "--out" in res.stderr


def test_gate_pass_exit_0_with_files(work):
    select(work)
    res = gate(work, answers(work, 0.0), "--json", "--sheet", work / "sheet.md",
               "--html", work / "g.html", "--gold", work / "gold.jsonl")  # fmt: skip
    assert res.exit_code == 0, res.output
    d = json.loads(res.stdout)
    assert d["status"] == "PASS" and d["check"] == "calibration_gate"
    assert (work / "sheet.md").read_text().startswith("# Calibration meeting")
    assert (work / "g.html").read_text().startswith("<!DOCTYPE html>")
    gold = [json.loads(x) for x in (work / "gold.jsonl").read_text().splitlines()]
    assert gold and all(g["text"] and g["label"] in LABELS for g in gold)
    assert "Wrote gold items" in res.stderr


def test_gate_fail_exits_3_with_the_next_step(work):
    select(work)
    res = gate(work, answers(work, 0.6), "--md", "--gold", work / "gold.jsonl")
    assert res.exit_code == 3, res.output
    assert res.stdout.startswith("# Calibration gate: FAIL")
    assert "| Neutral / Positive |" in res.stdout
    assert "Gate FAIL. Next step: Do not start full-scale annotation" in res.stderr
    assert not (work / "gold.jsonl").exists()  # no gold from a failed batch


def test_gate_usage_and_input_errors(work):
    select(work)
    table = answers(work, 0.0)
    res = gate(work, table, "--json", "--md")
    assert res.exit_code == 2 and res.stderr.startswith("Error: --json and --md")
    res = run("calibrate", "gate", table, "--manifest", work / "missing.json",
              "--annotators", "a,b")  # fmt: skip
    assert res.exit_code == 1 and "No manifest" in res.stderr
    res = run("calibrate", "gate", table, "--manifest", work / "m.json", "--annotators", "a,,b")
    assert res.exit_code == 2 and "empty category" in res.stderr
    res = run("calibrate", "gate", table, "--manifest", work / "m.json", "--annotators", "x,y")
    assert res.exit_code == 1 and "No answers by 'x', 'y'" in res.stderr


def test_guidelines_check_and_record(work):
    res = run("guidelines", "check", "--catalogue", CATALOGUE, "--source", work / "reviews.jsonl",
              "--guidelines", GUIDE)  # fmt: skip
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[0].endswith("with candidates among 300 items of " + str(
        work / "reviews.jsonl"))  # fmt: skip
    assert "  sarcasm" in res.stdout and "info: Edge case 'mixed-verdict'" in res.stdout
    js = run("guidelines", "check", "--catalogue", CATALOGUE, "--json")
    assert js.exit_code == 0 and json.loads(js.stdout)["n_cases"] >= 6
    bad = work / "bad.toml"
    bad.write_text('[[case]]\nid = "x"\nexpected = "Mixed"\n')
    res = run("guidelines", "check", "--catalogue", bad, "--labels", "Positive,Negative")
    assert res.exit_code == 1
    assert "case[0] (id 'x').expected: 'Mixed' is not a label (Positive, Negative)" in res.stderr
    assert "case[0] (id 'x').rule is missing" not in res.stderr  # located as case[0] (id 'x'):
    assert "case[0] (id 'x'): rule is missing" in res.stderr

    select(work)
    res = gate(work, answers(work, 0.0), "--json")
    (work / "gate.json").write_text(res.stdout)
    guide = work / "g.md"
    guide.write_text(GUIDE.read_text())
    res = run("guidelines", "record", guide, "--report", work / "gate.json",
              "--decision", "Sarcasm is Negative", "--date", "2026-11-29")  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "### 2026-11-29 · batch cal-" in guide.read_text()
    assert read_guidelines(guide).version == read_guidelines(GUIDE).version
    res = run("guidelines", "record", guide, "--report", work / "m.json")
    assert res.exit_code == 1 and "not a calibration gate report" in res.stderr
