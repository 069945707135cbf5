"""``aqt ls export --validated`` without a server: usage errors (exit 2, before any connection)
and the conversion of ground-truth annotations into adjudication decisions."""

from __future__ import annotations

import lsserver
import pytest
from aqt.adjudication import Version
from aqt.cli import cli
from aqt_labelstudio.validated import (
    fetch_validated,
    ground_truth_decisions,
    task_meta,
    without_ground_truth,
)
from click.testing import CliRunner

DEAD = "http://127.0.0.1:9"  # nothing listens: a command that connects fails with exit 1

USERS = {1: "admin@example.com", 2: "ann@example.com", 3: "bob@example.com", 4: "cy@example.com"}


def ann(aid, who, label, *, gt=False, cancelled=False, at="2026-11-29T03:00:00Z"):
    return {
        "id": aid,
        "completed_by": who,
        "result": [
            {
                "from_name": "sentiment",
                "to_name": "text",
                "type": "choices",
                "value": {"choices": [label]},
            }
        ]
        if label
        else [],
        "was_cancelled": cancelled,
        "ground_truth": gt,
        "updated_at": at,
    }


TASKS = [
    {
        "id": 7,
        "data": {"text": "meh", "source": "s1"},
        "annotations": [
            ann(1, 2, "Positive"),
            ann(2, 3, "Neutral"),
            ann(3, 4, "Neutral"),
            ann(4, 1, "Negative", gt=True, at="2026-11-29T04:00:00Z"),
            ann(5, 1, "Positive", gt=True, at="2026-11-29T05:00:00Z"),  # later: wins
            ann(6, 1, None, gt=True, cancelled=True),  # skipped: no decision
        ],
    },
    {"id": 8, "data": {"text": "fine", "adversarial": True}, "annotations": [ann(7, 2, "Neutral")]},
]


def run(*args):
    return CliRunner().invoke(
        cli, ["ls", *map(str, args)], env={"LABEL_STUDIO_URL": DEAD, "LABEL_STUDIO_API_KEY": "k"}
    )


@pytest.mark.parametrize("fmt", ["table", "labelstudio"])
def test_validated_with_a_single_file_format_is_a_usage_error(fmt, tmp_path):
    result = run("export", "--project", 1, "--out", tmp_path / "v", "--validated", "--format", fmt)
    assert result.exit_code == 2, result.output
    assert f"--format {fmt} writes one file; --validated writes a training-set directory" in (
        result.stderr
    )
    assert not (tmp_path / "v").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--allow-failures", "pilot"], "--allow-failures only work(s) with --validated"),
        (["--control", "sentiment"], "--control only work(s) with --validated"),
        (["--format", "jsonl,csv"], "--format only work(s) with --validated (--format jsonl,csv)"),
    ],
)
def test_export_options_without_validated_are_usage_errors(args, message, tmp_path):
    result = run("export", "--project", 1, "--out", tmp_path / "a.csv", *args)
    assert result.exit_code == 2, result.output
    assert message in result.stderr


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--format", "xml"], 2, "'xml': use table or labelstudio, or with --validated some of"),
        (["--split", "0.5,0.2"], 2, "--split"),
        (
            ["--set", "nonsense=1"],
            1,
            "Unknown threshold key(s) 'nonsense' in --set",
        ),  # as aqt export
    ],
)
def test_bad_export_options_fail_before_connecting(args, code, message, tmp_path):
    result = run("export", "--project", 1, "--out", tmp_path / "v", "--validated", *args)
    assert result.exit_code == code, result.output
    assert message in result.stderr
    assert "Cannot reach" not in result.stderr


def test_without_validated_the_table_export_still_connects(tmp_path):
    result = run("export", "--project", 1, "--out", tmp_path / "a.csv")
    assert result.exit_code == 1
    assert "Cannot reach Label Studio at http://127.0.0.1:9" in result.stderr


def test_ground_truth_annotations_become_decisions_latest_last():
    got = ground_truth_decisions(
        TASKS, label_config=lsserver.SENTIMENT_CONFIG, users=USERS, project=3
    )
    assert [(d.item, d.decision, d.adjudicator) for d in got] == [
        ("7", "Negative", "admin@example.com"),
        ("7", "Positive", "admin@example.com"),
    ]
    last = got[-1]
    assert last.time == 1795928400  # 2026-11-29T05:00:00Z
    assert last.kind == "choice"
    assert last.versions_seen == (
        Version("Neutral", ("bob@example.com", "cy@example.com")),
        Version("Positive", ("ann@example.com",)),
    )
    assert last.extra == {"project": 3, "task": 7, "annotation": 5, "control": "sentiment"}


def test_ground_truth_is_not_a_rating_and_task_data_is_meta():
    kept = without_ground_truth(TASKS)
    assert [a["id"] for a in kept[0]["annotations"]] == [1, 2, 3, 6]  # the skipped one stays
    assert task_meta(TASKS) == {
        "7": {"text": "meh", "source": "s1"},
        "8": {"text": "fine", "adversarial": True},
    }


class FakeClient:
    url = "http://ls.example"

    def project(self, project):
        return {"label_config": lsserver.SENTIMENT_CONFIG, "title": "Reviews"}

    def tasks(self, project):
        return TASKS

    def users(self):
        return USERS


@pytest.mark.parametrize("has_log", [False, True])
def test_fetch_validated_provenance(has_log):
    src = fetch_validated(FakeClient(), 3, has_log=has_log)
    assert sorted(r.annotator for r in src.table.records) == [
        "ann@example.com",
        "ann@example.com",
        "bob@example.com",
        "cy@example.com",
    ]
    assert src.table.skipped["cancelled"] == 1
    assert [d.decision for d in src.decisions] == ["Negative", "Positive"]
    prov = src.provenance
    assert prov["input"]["path"] == "http://ls.example/projects/3"
    assert len(prov["input"]["sha256"]) == 64
    assert prov["label_studio"]["title"] == "Reviews"
    assert prov["decisions"]["n_decisions"] == 2
    assert prov["decisions"]["adjudicators"] == {"admin@example.com": 2}
    assert ("adjudication_log" in prov) is not has_log
    assert src.to_dict()["annotations"] == 4
