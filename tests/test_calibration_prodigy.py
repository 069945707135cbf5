"""``aqt.calibrate``, ``aqt.annotate`` and ``aqt.status`` on the Prodigy stand-in, driven by
simulated annotators through the Controller as the web app does."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from prodigy_standin.harness import SimulatedAnnotator, fresh_home, load_prodigy, python_path

prodigy = load_prodigy()
from aqt.calibration import read_manifest
from aqt.guidelines import read_guidelines
from aqt_prodigy._compat import ALLOWED_SESSIONS_ENV, exclusion_router
from aqt_prodigy.annotate import annotate
from aqt_prodigy.calibrate import calibrate
from aqt_prodigy.status import status
from prodigy.components.db import connect
from prodigy.core import Controller

ROOT = Path(__file__).resolve().parent.parent
GUIDE = ROOT / "configs" / "guidelines.example.md"
CATALOGUE = ROOT / "configs" / "edge_cases.example.toml"
LABELS = ["Positive", "Negative", "Neutral"]
TEAM = ["alice", "bob", "carol"]


@pytest.fixture
def home(tmp_path, monkeypatch):
    h = fresh_home(tmp_path, monkeypatch)
    # the recipes set PRODIGY_ALLOWED_SESSIONS; monkeypatch removes it again after the test
    monkeypatch.setenv(ALLOWED_SESSIONS_ENV, "")
    with open(tmp_path / "reviews.jsonl", "w", encoding="utf-8") as fh:
        for i in range(1200):
            text = "Oh great, it broke again." if i == 3 else f"Review number {i} of the product."
            fh.write(json.dumps({"id": f"r{i}", "text": text, "meta": {"truth": LABELS[i % 3]}}))
            fh.write("\n")
    (tmp_path / "guidelines.md").write_text(GUIDE.read_text(encoding="utf-8"), encoding="utf-8")
    return h


def words(text: str) -> str:
    return " ".join(text.split())


def responder(seed: int, noise: float = 0.12, confuse: float = 0.0, random_after=None):
    rng = np.random.default_rng(seed)
    count = [0]
    gold = {}

    def respond(task: dict):
        count[0] += 1
        true = task["meta"].get("truth") or gold[task["text"]]
        if random_after is not None and count[0] > random_after:
            v = LABELS[int(rng.integers(3))]
        elif true in ("Positive", "Neutral") and rng.random() < confuse:
            v = ["Positive", "Neutral"][int(rng.integers(2))]
        elif rng.random() < noise:
            v = LABELS[int(rng.integers(3))]
        else:
            v = true
        return {"answer": "accept", "accept": [v]}

    respond.gold = gold  # type: ignore[attr-defined]
    respond.count = count  # type: ignore[attr-defined]
    return respond


def start_calibration(**kw):
    comps = calibrate(
        "calib", "reviews.jsonl", label=",".join(LABELS), annotators=",".join(TEAM), size=60,
        guidelines="guidelines.md", edge_cases=str(CATALOGUE), **kw,
    )  # fmt: skip
    return comps, Controller.from_components("aqt.calibrate", comps)


def test_calibration_passes_with_clear_guidelines(home, capsys):
    comps, ctrl = start_calibration()
    assert comps["config"]["feed_overlap"] is True
    assert os.environ[ALLOWED_SESSIONS_ENV] == "alice,bob,carol"
    assert sorted(ctrl.session_ids) == [f"calib-{n}" for n in TEAM]  # pre-registered
    anns = [SimulatedAnnotator(n, responder(k)) for k, n in enumerate(TEAM)]
    for a in anns:
        a.annotate(ctrl)
    assert [len(a.answered) for a in anns] == [60, 60, 60]  # full overlap
    assert [a.answered[0]["text"] for a in anns] == [anns[0].answered[0]["text"]] * 3
    ctrl.close()
    out = capsys.readouterr().out
    assert "Result                PASS" in out
    gate = json.loads(Path("calib.gate.json").read_text())
    assert gate["status"] == "PASS" and gate["annotators"] == TEAM
    assert 0.7 < gate["overall"]["value"] < 0.97
    version = read_guidelines("guidelines.md").version
    stored = connect().get_dataset_examples("calib")
    assert len(stored) == 180
    assert {eg["meta"]["guideline_version"] for eg in stored} == {version.id}
    assert {eg["meta"]["guideline_hash"] for eg in stored} == {version.hash}
    assert gate["guideline_version"] == version.id
    assert Path("calib.gold.jsonl").read_text().count("\n") == len(gate["gold"]) > 20
    assert Path("calib.sheet.md").read_text().startswith("# Calibration meeting")
    manifest = read_manifest("calib.manifest.json")
    assert "sarcasm" in manifest.edge_cases  # the catalogued case is in the batch


def test_calibration_fails_on_confused_labels_and_names_them(home, capsys):
    _, ctrl = start_calibration()
    for k, n in enumerate(TEAM):
        SimulatedAnnotator(n, responder(k, noise=0.02, confuse=0.6)).annotate(ctrl)
    ctrl.close()
    out = capsys.readouterr().out
    assert "Result                FAIL" in out and "Calibration gate FAIL" in out
    gate = json.loads(Path("calib.gate.json").read_text())
    assert gate["confused_pairs"][0]["labels"] == ["Neutral", "Positive"]
    assert gate["confused_pairs"][0]["items"]
    assert "Do not start full-scale annotation" in gate["next_step"]
    assert not Path("calib.gold.jsonl").exists()


def test_progress_per_annotator_and_unfinished_named(home, capsys):
    comps, ctrl = start_calibration()
    alice = SimulatedAnnotator("alice", responder(0))
    alice.annotate(ctrl, max_answers=20)
    progress = comps["progress"]
    session = type("S", (), {"id": "calib-alice"})()
    assert progress(ctrl, session, []) == pytest.approx(20 / 60)
    session.id = "calib-bob"
    assert progress(ctrl, session, []) == 0.0
    SimulatedAnnotator("bob", responder(1)).annotate(ctrl)
    SimulatedAnnotator("carol", responder(2)).annotate(ctrl)
    ctrl.close()
    gate = json.loads(Path("calib.gate.json").read_text())
    assert [(u["annotator"], u["done"]) for u in gate["unfinished"]] == [("alice", 20)]
    assert gate["status"] == "FAIL" and "Wait for alice" in gate["next_step"]


def test_unknown_session_gets_a_clear_message(home):
    comps, ctrl = start_calibration()
    with pytest.raises(Exception, match="not in PRODIGY_ALLOWED_SESSIONS"):
        ctrl.get_questions(session_id="calib-mallory")
    task = ctrl.get_questions(session_id="calib-alice")[0]
    with pytest.raises(ValueError, match=r"Session 'mallory' is not one of this calibration"):
        comps["validate_answer"](dict(task, answer="accept", accept=["Positive"],
                                      _session_id="calib-mallory"))  # fmt: skip
    with pytest.raises(ValueError, match="exactly one label"):
        comps["validate_answer"](dict(task, answer="accept", accept=[], _session_id="calib-bob"))


def test_restart_serves_the_same_batch(home):
    _, ctrl = start_calibration()
    first = [t["text"] for t in ctrl.get_questions(session_id="calib-alice")]
    _, ctrl2 = start_calibration(seed=99)  # the manifest on disk wins over a new seed
    assert [t["text"] for t in ctrl2.get_questions(session_id="calib-alice")] == first


def test_allowed_sessions_must_be_the_named_annotators(home, monkeypatch, capsys):
    monkeypatch.setenv(ALLOWED_SESSIONS_ENV, "alice,bob")
    with pytest.raises(SystemExit):
        start_calibration()
    assert "not the named annotators" in words(capsys.readouterr().out)


def test_usage_errors_are_shown_the_prodigy_way(home, capsys):
    with pytest.raises(SystemExit):
        calibrate("c", "reviews.jsonl", label="A,B", annotators="alice,bob", view="binary",
                  guidelines="guidelines.md")  # fmt: skip
    assert "one yes/no question" in words(capsys.readouterr().out)
    with pytest.raises(SystemExit):
        calibrate("c", "reviews.jsonl", label="A,B", annotators="alice,bob")
    assert "--guidelines is required" in words(capsys.readouterr().out)


# ------------------------------------------------------------------------------- full scale


def full_scale(tmp: Path, random_after=None, rounds=200, **kw):
    gold = [{"id": f"g{i}", "text": f"Gold review {i}.", "label": LABELS[i % 3]} for i in range(20)]
    (tmp / "gold.jsonl").write_text("".join(json.dumps(g) + "\n" for g in gold))
    comps = annotate(
        "main", "reviews.jsonl", label=",".join(LABELS), annotators=",".join(TEAM),
        overlap=0.1, gold="gold.jsonl", gold_share=0.2, guidelines="guidelines.md",
        batch_size=5, **kw,
    )  # fmt: skip
    ctrl = Controller.from_components("aqt.annotate", comps)
    team = []
    for k, n in enumerate(TEAM):
        r = responder(k, noise=0.1, random_after=random_after if n == "carol" else None)
        r.gold.update({g["text"]: g["label"] for g in gold})
        team.append(SimulatedAnnotator(n, r))
    flagged_at = None
    for _ in range(rounds):
        for a in team:
            a.annotate(ctrl, max_answers=5)
        s = json.loads(Path("main.status.json").read_text())
        if flagged_at is None and s["flagged"]:
            flagged_at = (s["flagged"], team[2].respond.count[0])
    return comps, ctrl, team, flagged_at


def test_random_annotator_is_flagged_within_the_bound(home):
    """carol answers at random from her 201st answer; with gold at 20% of tasks she is flagged
    within 100 of her answers (measured: her 265th answer, 65 after the switch)."""
    _, _, _, flagged_at = full_scale(home.parent, random_after=200)
    assert flagged_at is not None
    names, at = flagged_at
    assert names == ["carol"] and 200 < at <= 300
    s = json.loads(Path("main.status.json").read_text())
    assert s["annotators"]["carol"]["flag"]["at_answer"] <= 300
    assert not s["annotators"]["alice"]["flagged"] and not s["annotators"]["bob"]["flagged"]


def test_overlap_gold_versions_and_queue(home):
    _, _, _, flagged_at = full_scale(home.parent, rounds=120)
    assert flagged_at is None
    stored = connect().get_dataset_examples("main")
    version = read_guidelines("guidelines.md").version.id
    assert all(eg["meta"]["guideline_version"] == version for eg in stored)
    items = [eg["aqt"]["item"] for eg in stored if not eg["aqt"].get("gold")]
    gold = [eg for eg in stored if eg["aqt"].get("gold")]
    n_gold_share = len(gold) / len(stored)
    assert 0.15 < n_gold_share < 0.25
    by_item: dict[str, set] = {}
    for eg in stored:
        if not eg["aqt"].get("gold"):
            by_item.setdefault(eg["aqt"]["item"], set()).add(eg["_session_id"])
    doubled = [i for i, who in by_item.items() if len(who) >= 2]
    assert 0.06 < len(doubled) / len(by_item) < 0.2  # about --overlap 0.1 (plus re-annotation)
    assert len(items) > len(by_item)
    s = json.loads(Path("main.status.json").read_text())
    assert s["left_queue"] >= len(doubled) - len(s["queue"])  # answered requests left the queue
    queued_now = {q["item"] for q in s["queue"]}
    for q in s["queue"]:  # what waits has fewer annotators than allowed and names who is out
        assert len(by_item.get(q["item"], ())) < 3 and q["exclude"]
    assert all(len(by_item[i]) >= 2 for i in by_item if i not in queued_now and i in doubled)


def test_reannotation_requests_go_to_someone_else_and_leave_the_queue(home):
    """Every request served is a copy answered by an annotator not already on the item (or
    offered again when the same person drew it)."""
    full_scale(home.parent, rounds=60)
    stored = connect().get_dataset_examples("main")
    copies = [eg for eg in stored if eg["aqt"].get("copy", 1) > 1 and not eg["aqt"].get("gold")]
    assert copies
    firsts = {eg["aqt"]["item"]: eg["_session_id"] for eg in stored if eg["aqt"].get("copy") == 1}
    other = [eg for eg in copies if eg["_session_id"] != firsts.get(eg["aqt"]["item"])]
    assert len(other) >= 0.6 * len(copies)
    s = json.loads(Path("main.status.json").read_text())
    answered = {eg["aqt"]["item"] for eg in copies}
    assert not answered & {q["item"] for q in s["queue"] if q["reason"] == "overlap"}


def test_restart_replays_the_dataset(home):
    full_scale(home.parent, rounds=30)
    before = json.loads(Path("main.status.json").read_text())
    comps = annotate("main", "reviews.jsonl", label=",".join(LABELS), annotators=",".join(TEAM),
                     gold="gold.jsonl", gold_share=0.2, guidelines="guidelines.md")  # fmt: skip
    after = json.loads(Path("main.status.json").read_text())
    for key in ("items", "double_annotated", "resolved"):
        assert after[key] == before[key], key
    assert [a["answers"] for a in after["annotators"].values()] == [
        a["answers"] for a in before["annotators"].values()
    ]
    answered = {eg["aqt"]["item"] for eg in connect().get_dataset_examples("main")}
    task = next(iter(comps["stream"]))
    assert task["aqt"]["item"] not in answered or task["aqt"]["copy"] > 1


def test_status_recipe_prints_the_table(home, capsys):
    full_scale(home.parent, random_after=50, rounds=80)
    capsys.readouterr()
    status("main")
    out = capsys.readouterr().out
    assert out.startswith("Dataset main:")
    assert "FLAGGED at answer" in out and "carol" in out
    assert "Re-annotation queue:" in out
    status("main", json_out=True)
    assert json.loads(capsys.readouterr().out)["flagged"] == ["carol"]
    with pytest.raises(SystemExit):
        status("nope")
    assert "No status file" in words(capsys.readouterr().out)


def test_exclusion_router_sends_copies_past_excluded_annotators():
    class Ctrl:
        def get_session_name(self, name):
            return f"main-{name}"

    router = exclusion_router(TEAM, lambda t: t.get("aqt", {}).get("exclude", []))
    task = {"aqt": {"exclude": ["alice"]}}
    assert router(Ctrl(), "main-bob", task) == ["main-bob"]
    assert router(Ctrl(), "main-alice", task) == ["main-bob"]
    assert router(Ctrl(), "main-alice", {"aqt": {"exclude": TEAM}}) == ["main-alice"]


@pytest.mark.parametrize("name", ["aqt.calibrate", "aqt.annotate", "aqt.status"])
def test_help_through_dash_f(name):
    env = dict(os.environ)
    extra = python_path()
    if extra:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (extra, env.get("PYTHONPATH")) if p)
    path = ROOT / "recipes" / "aqt_prodigy" / (name.split(".")[1] + ".py")
    res = subprocess.run(
        [sys.executable, "-m", "prodigy", name, "--help", "-F", str(path)],
        capture_output=True, text=True, env=env, check=False, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-2000:]
    out = " ".join(res.stdout.split())
    assert f"Example: prodigy {name}" in out
    module = __import__(f"aqt_prodigy.{name.split('.')[1]}", fromlist=["ARGS"])
    for arg in module.ARGS.values():
        assert " ".join(arg.help.split()) in out


@pytest.mark.parametrize("view", ["binary", "spans"])
def test_binary_and_span_views(home, view, capsys):
    labels = "Positive" if view == "binary" else "PER,LOC"
    comps = calibrate("calib", "reviews.jsonl", label=labels, annotators="alice,bob",
                      size=50, guidelines="guidelines.md", view=view)  # fmt: skip
    assert comps["view_id"] == {"binary": "classification", "spans": "spans_manual"}[view]
    ctrl = Controller.from_components("aqt.calibrate", comps)

    def respond(task):
        if view == "binary":
            return "accept" if task["meta"]["truth"] == "Positive" else "reject"
        first = task["tokens"][0]
        return {"answer": "accept", "spans": [{"start": first["start"], "end": first["end"],
                "token_start": 0, "token_end": 0, "label": "PER"}]}  # fmt: skip

    for n in ("alice", "bob"):
        SimulatedAnnotator(n, respond).annotate(ctrl)
    ctrl.close()
    gate = json.loads(Path("calib.gate.json").read_text())
    assert gate["status"] == "PASS" and gate["overall"]["value"] == 1.0
    assert gate["metric"] == ("token_alpha" if view == "spans" else "krippendorff_alpha")
    assert all(eg["meta"]["guideline_version"] for eg in connect().get_dataset_examples("calib"))


def test_cli_gate_on_the_db_out_export_equals_the_recipe_gate(home, capsys):
    from aqt.cli import cli
    from click.testing import CliRunner
    from prodigy_standin.harness import db_out

    _, ctrl = start_calibration()
    for k, n in enumerate(TEAM):
        SimulatedAnnotator(n, responder(k)).annotate(ctrl)
    ctrl.close()
    export = db_out("calib", Path("calib.jsonl"))
    res = CliRunner().invoke(
        cli,
        ["calibrate", "gate", str(export), "--manifest", "calib.manifest.json",
         "--annotators", ",".join(TEAM), "--guidelines", "guidelines.md",
         "--edge-cases", str(CATALOGUE), "--json"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    recipe_gate = json.loads(Path("calib.gate.json").read_text())
    cli_gate = json.loads(res.stdout)
    for key in ("status", "overall", "per_label", "confused_pairs", "batch", "gold"):
        assert cli_gate[key] == recipe_gate[key], key


def test_annotate_requires_guidelines(home, capsys):
    with pytest.raises(SystemExit):
        annotate("main", "reviews.jsonl", label="A,B", annotators="alice,bob")
    assert "--guidelines is required" in words(capsys.readouterr().out)


def test_gold_file_problems_are_listed(home, capsys):
    Path("gold.jsonl").write_text('{"text": "a", "label": "Positive"}\nnope\n{"text": "b"}\n')
    with pytest.raises(SystemExit):
        annotate("main", "reviews.jsonl", label=",".join(LABELS), annotators="alice,bob",
                 gold="gold.jsonl", guidelines="guidelines.md")  # fmt: skip
    out = words(capsys.readouterr().out)
    assert "line 2: not JSON" in out and "line 3: needs text and label" in out
    Path("gold.jsonl").write_text('{"text": "a", "label": "Mixed"}\n')
    with pytest.raises(SystemExit):
        annotate("main", "reviews.jsonl", label=",".join(LABELS), annotators="alice,bob",
                 gold="gold.jsonl", guidelines="guidelines.md")  # fmt: skip
    assert "Gold labels ['Mixed'] are not in --label" in words(capsys.readouterr().out)


def test_without_gold_or_overlap_every_item_is_served_once(home):
    comps = annotate("main", "reviews.jsonl", label=",".join(LABELS), annotators="alice,bob",
                     overlap=0.0, guidelines="guidelines.md")  # fmt: skip
    ctrl = Controller.from_components("aqt.annotate", comps)
    a = SimulatedAnnotator("alice", responder(0))
    b = SimulatedAnnotator("bob", responder(1))
    for _ in range(300):
        a.annotate(ctrl, max_answers=10)
        b.annotate(ctrl, max_answers=10)
    items = [eg["aqt"]["item"] for eg in a.answered + b.answered]
    assert len(items) == len(set(items)) == 1200
    assert all(eg["aqt"]["copy"] == 1 for eg in a.answered + b.answered)


def test_missing_and_repeated_names(home, capsys):
    with pytest.raises(SystemExit):
        calibrate("c", "reviews.jsonl", annotators="alice,bob", guidelines="guidelines.md")
    assert "--label is required" in words(capsys.readouterr().out)
    with pytest.raises(SystemExit):
        calibrate("c", "reviews.jsonl", label="A,B", annotators="alice,alice",
                  guidelines="guidelines.md")  # fmt: skip
    assert "--annotators 'alice,alice' is empty or repeats a name" in words(capsys.readouterr().out)
