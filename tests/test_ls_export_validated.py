"""``aqt ls export --validated`` against a real Label Studio.

Two projects, each labelled by the three seeded annotators with their own keys (every task by all
three): in the first they agree on every task but one, where the admin then submits the answer
marked as ground truth; in the second they answer at random, so agreement is poor.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import lsserver
import pytest
from aqt.adjudication import AdjudicationLog, Decision
from aqt.cli import cli
from click.testing import CliRunner

pytestmark = pytest.mark.labelstudio

LABELS = lsserver.SENTIMENT_LABELS  # Positive, Negative, Neutral
TEXTS = {
    "Positive": [
        "The pasta tasted wonderful and the staff were friendly.",
        "Loved every minute of this concert, brilliant band.",
        "Great battery life, I am delighted with this laptop.",
        "Our hotel room was spotless with a stunning sea view.",
        "Fantastic novel, I could not put it down.",
        "The bicycle rides smoothly; excellent value for money.",
        "Superb coffee and cosy armchairs, highly recommended.",
        "This museum tour was fascinating and well organised.",
        "Perfect fit, the jacket keeps me warm in winter storms.",
        "Kind nurses and quick service at the clinic, thank you!",
    ],
    "Negative": [
        "The printer jammed twice and then stopped working.",
        "Terrible flight, delayed six hours with no explanation.",
        "My phone screen cracked after one week, poor quality.",
        "Rude waiter, cold soup, never going back there.",
        "The sofa smells of chemicals and the seams split.",
        "Awful podcast episode, the audio kept cutting out.",
        "Refund still missing after a month of emails.",
        "The kettle leaks and trips the fuse every morning.",
        "Noisy neighbours kept us awake all night at the campsite.",
        "Buggy app that crashes whenever I open settings.",
    ],
    "Neutral": [
        "The train departs from platform four at noon.",
        "This tablet comes in grey or silver.",
        "The library opens at nine on weekdays.",
        "Package contains two cables and a manual.",
        "The ferry crossing takes roughly forty minutes.",
        "Our meeting moved to Thursday afternoon.",
        "The stadium seats about thirty thousand people.",
        "Tickets are sold at the entrance booth.",
        "The album has eleven tracks in total.",
        "Bakery hours change during public holidays.",
    ],
}
N_TASKS = 30
DISAGREED = 4  # task index; its text is Negative
DISAGREED_ANSWERS = ("Negative", "Neutral", "Neutral")  # annotators 1-3: the majority is wrong
TRUTH = "Negative"  # the admin's ground-truth answer
FLAGGED = (2, 7)  # tasks whose data says adversarial: true


def _result(label: str) -> list[dict]:
    return [
        {
            "from_name": "sentiment",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": [label]},
        }
    ]


def _truth(i: int) -> str:
    return LABELS[i % 3]


def make_project(seeded, *, title: str, poor: bool, seed: int = 11) -> dict:
    """Create and label a project; returns its id, task ids and the labels given."""
    from label_studio_sdk.client import LabelStudio

    admin = LabelStudio(base_url=seeded.url, api_key=seeded.admin.pat)
    project = admin.projects.create(
        title=title, label_config=lsserver.SENTIMENT_CONFIG, maximum_annotations=3
    )
    data = []
    for i in range(N_TASKS):
        row = {"text": TEXTS[_truth(i)][i // 3], "source": f"shop{i % 5}"}
        if i in FLAGGED:
            row["adversarial"] = True
        data.append(row)
    imported = admin.projects.import_tasks(project.id, request=data, return_task_ids=True)
    task_ids = tuple(sorted(imported.task_ids))
    clients = [
        LabelStudio(base_url=seeded.url, api_key=user.token if k == 0 else user.pat)
        for k, user in enumerate(seeded.annotators)
    ]
    rng = random.Random(seed)
    labels: dict[tuple[int, int], str] = {}
    for i, task_id in enumerate(task_ids):
        for k, client in enumerate(clients):
            if poor:
                label = rng.choice(LABELS)
            elif i == DISAGREED:
                label = DISAGREED_ANSWERS[k]
            else:
                label = _truth(i)
            client.annotations.create(id=task_id, result=_result(label), lead_time=1.0)
            labels[(i, k)] = label
    gt = None
    if not poor:
        gt = admin.annotations.create(
            id=task_ids[DISAGREED], result=_result(TRUTH), ground_truth=True
        )
        if not gt.ground_truth:  # older servers ignore the flag on create
            gt = admin.annotations.update(gt.id, ground_truth=True)
    return {"id": project.id, "task_ids": task_ids, "labels": labels, "gt": gt, "data": data}


@pytest.fixture(scope="module")
def good(ls_server):
    return make_project(ls_server, title="aqt validated export", poor=False)


@pytest.fixture(scope="module")
def poor(ls_server):
    return make_project(ls_server, title="aqt poor agreement", poor=True)


def ls_cli(server, *args):
    env = {"LABEL_STUDIO_URL": server.url, "LABEL_STUDIO_API_KEY": server.admin.pat}
    return CliRunner().invoke(cli, ["ls", *map(str, args)], env=env)


def rows(out: Path) -> dict[str, dict]:
    lines = (out / "dataset.jsonl").read_text(encoding="utf-8").splitlines()
    return {r["id"]: r for r in map(json.loads, lines)}


@pytest.fixture(scope="module")
def good_export(ls_server, good, tmp_path_factory):
    out = tmp_path_factory.mktemp("validated") / "v1"
    result = ls_cli(ls_server, "export", "--project", good["id"], "--out", out, "--validated",
                    "--ci", 20)  # fmt: skip
    return out, result


def test_ground_truth_is_the_adjudicated_label(ls_server, good, good_export):
    out, result = good_export
    assert result.exit_code == 0, result.output
    assert f"Wrote {out}: {N_TASKS} items" in result.output
    assert "1 ground-truth decision(s)" in result.stderr
    got = rows(out)
    disagreed = got[str(good["task_ids"][DISAGREED])]
    # the annotators' majority (Neutral) is overridden by the admin's ground truth
    assert disagreed["label"] == TRUTH
    assert disagreed["label_source"] == "adjudicated"
    assert disagreed["n_annotators"] == 3  # the ground-truth annotation is not a fourth rating
    others = [r for tid, r in got.items() if tid != str(good["task_ids"][DISAGREED])]
    assert {r["label_source"] for r in others} == {"unanimous"}
    for i, tid in enumerate(good["task_ids"]):
        row = got[str(tid)]
        assert row["text"] == good["data"][i]["text"]
        assert row["meta"]["source"] == good["data"][i]["source"]
        if i != DISAGREED:
            assert row["label"] == _truth(i)
    assert {
        i for i, tid in enumerate(good["task_ids"]) if got[str(tid)]["meta"].get("adversarial")
    } == set(FLAGGED)


def test_datasheet_names_the_adjudications_and_the_project(ls_server, good, good_export):
    out, result = good_export
    assert result.exit_code == 0, result.output
    sheet = json.loads((out / "datasheet.json").read_text(encoding="utf-8"))
    assert sheet["passed"] is True
    assert sheet["counts"]["by_source"]["adjudicated"] == 1
    assert sheet["counts"]["annotators"] == 3
    prov = sheet["provenance"]
    where = f"{ls_server.url}/projects/{good['id']}"
    assert prov["input"]["path"] == where
    assert prov["input"]["tasks"] == N_TASKS
    assert prov["label_studio"]["project"] == good["id"]
    assert prov["label_studio"]["title"] == "aqt validated export"
    assert prov["label_studio"]["control"] == "sentiment"
    assert prov["decisions"]["n_decisions"] == 1
    assert prov["decisions"]["adjudicators"] == {ls_server.admin.email: 1}
    assert prov["decisions"]["items"] == [str(good["task_ids"][DISAGREED])]
    assert prov["adjudication_log"] == prov["decisions"]
    md = (out / "datasheet.md").read_text(encoding="utf-8")
    assert f"| input | {where} (sha256 " in md
    assert f"| adjudication log | {where} (ground-truth annotations) (sha256 " in md
    assert "1 decisions)" in md
    assert "| final label from: adjudicated | 1 |" in md


def test_poor_agreement_exits_3_and_leaves_nothing(ls_server, poor, tmp_path):
    out = tmp_path / "v1"
    result = ls_cli(ls_server, "export", "--project", poor["id"], "--out", out, "--validated",
                    "--ci", 20)  # fmt: skip
    assert result.exit_code == 3, result.output
    assert "ERROR   final_iaa: Final agreement krippendorff_alpha = " in result.output
    assert "--allow-failures" in result.stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # no temporary directory left either


def test_allow_failures_exports_and_records_the_reason(ls_server, poor, tmp_path):
    out = tmp_path / "v1"
    result = ls_cli(ls_server, "export", "--project", poor["id"], "--out", out, "--validated",
                    "--ci", 20, "--allow-failures", "pilot")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "Checks failed; exported anyway: pilot" in result.stderr
    sheet = json.loads((out / "datasheet.json").read_text(encoding="utf-8"))
    assert sheet["passed"] is False
    assert sheet["allow_failures"] == "pilot"
    assert "final_iaa" in [c["check"] for c in sheet["checks"] if c["severity"] == "error"]
    assert sheet["provenance"]["decisions"]["n_decisions"] == 0
    md = (out / "datasheet.md").read_text(encoding="utf-8")
    assert "Exported with failing checks; reason given: 'pilot'." in md


def test_adjudication_log_wins_over_ground_truth_and_format_picks_files(ls_server, good, tmp_path):
    task = str(good["task_ids"][DISAGREED])
    log = tmp_path / "adj.jsonl"
    AdjudicationLog(log).append(Decision(task, "choice", "Positive", "lead", 1_800_000_000))
    out = tmp_path / "v2"
    result = ls_cli(ls_server, "export", "--project", good["id"], "--out", out, "--validated",
                    "--ci", 10, "--adjudication-log", log, "--format", "jsonl")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert rows(out)[task]["label"] == "Positive"
    assert rows(out)[task]["label_source"] == "adjudicated"
    assert sorted(p.name for p in out.iterdir()) == [
        "dataset.jsonl",
        "datasheet.json",
        "datasheet.md",
        "report.html",
    ]
    prov = json.loads((out / "datasheet.json").read_text(encoding="utf-8"))["provenance"]
    assert prov["adjudication_log"]["path"] == str(log)
    assert prov["adjudication_log"]["n_decisions"] == 1
    assert prov["decisions"]["n_decisions"] == 1


def test_existing_directory_is_refused_before_reading(ls_server, good, tmp_path):
    result = ls_cli(ls_server, "export", "--project", good["id"], "--out", tmp_path, "--validated")
    assert result.exit_code == 2, result.output
    assert "already exists" in result.stderr and "--force" in result.stderr
