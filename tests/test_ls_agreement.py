"""``aqt ls agreement`` and ``aqt ls export`` against a real Label Studio.

Three annotators (each with their own key: one legacy token, two personal access tokens) label 20
tasks with overlap, one annotation is skipped. The live report must equal ``aqt agreement`` on Label
Studio's own JSON, JSON_MIN and CSV exports of the same project.

Set ``AQT_LS_SAVE_FIXTURES=1`` to also copy the three exports to ``tests/fixtures/labelstudio_real/``.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import lsserver
import pytest
from aqt.cli import cli
from aqt.formats import read_annotations
from click.testing import CliRunner

pytestmark = pytest.mark.labelstudio

FIXTURES = Path(__file__).parent / "fixtures" / "labelstudio_real"
EXPORTS = {"JSON": "export.json", "JSON_MIN": "export_min.json", "CSV": "export.csv"}


@pytest.fixture(scope="module")
def project(ls_server: lsserver.SeededServer) -> lsserver.SentimentProject:
    return lsserver.create_sentiment_project(ls_server, title="aqt agreement test")


@pytest.fixture(scope="module")
def client(ls_server):
    from aqt_labelstudio.client import connect

    return connect(ls_server.url, ls_server.admin.pat)


@pytest.fixture(scope="module")
def exports(project, client, tmp_path_factory) -> dict[str, Path]:
    """Label Studio's own exports of every task, as a user downloads them."""
    out = tmp_path_factory.mktemp("ls_exports")
    paths = {}
    for fmt, name in EXPORTS.items():
        path = out / name
        path.write_bytes(client.export(project.id, fmt, download_all_tasks=True))
        paths[fmt] = path
    if os.environ.get("AQT_LS_SAVE_FIXTURES"):
        FIXTURES.mkdir(parents=True, exist_ok=True)
        for path in paths.values():
            shutil.copyfile(path, FIXTURES / path.name)
        (FIXTURES / "label_config.xml").write_text(project.label_config + "\n", encoding="utf-8")
    return paths


def ls_cli(server, *args: str, key: str | None = None, **kwargs):
    env = {"LABEL_STUDIO_URL": server.url, "LABEL_STUDIO_API_KEY": key or server.admin.pat}
    return CliRunner().invoke(cli, ["ls", *map(str, args)], env=env, **kwargs)


def file_report(path: Path) -> dict:
    result = CliRunner().invoke(cli, ["agreement", str(path), "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    return json.loads(result.stdout)


def rename_annotators(report: dict, names: dict[str, str]) -> dict:
    """The exports name annotators by user id; the live report by email."""
    out = json.loads(json.dumps(report))
    for pair in out["pairwise"]:
        pair["a"], pair["b"] = names[pair["a"]], names[pair["b"]]
    for row in out["disagreements"]:
        row["values"] = {names[k]: v for k, v in row["values"].items()}
    return out


def live_report(server, project_id: int, *extra: str, key: str | None = None) -> dict:
    result = ls_cli(server, "agreement", "--project", project_id, "--json", *extra, key=key)
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.stderr == ""
    return json.loads(result.stdout)


# ------------------------------------------------------------------------------ the live table


def test_live_table_matches_what_was_annotated(project, client) -> None:
    table = client.table(project.id)
    expected = {
        (str(project.task_ids[i]), project.users[2 + k], label)
        for (i, k), label in project.labels.items()
    }
    assert {(r.item, r.annotator, r.value) for r in table} == expected
    assert table.skipped["cancelled"] == len(project.cancelled) == 1
    assert {r.control for r in table} == {"sentiment"}
    assert {r.kind for r in table} == {"choice"}
    # overlap: 14 tasks with three annotators, 4 with two, 1 with one, the last with none
    per_item: dict[str, int] = {}
    for r in table:
        per_item[r.item] = per_item.get(r.item, 0) + 1
    assert sorted(per_item.values()) == [1] + [2] * 4 + [3] * 14


# ------------------------------------------------------------------------------ report equality


def test_ls_agreement_equals_agreement_on_json_export(ls_server, project, exports) -> None:
    live = live_report(ls_server, project.id)
    names = {str(uid): email for uid, email in project.users.items()}
    from_file = rename_annotators(file_report(exports["JSON"]), names)
    assert live == from_file
    assert live["skipped"] == {"cancelled": 1, "ignored": 0}
    assert live["n_items"] == 19 and live["n_annotators"] == 3 and live["n_annotations"] == 51
    assert {p["a"] for p in live["pairwise"]} <= set(project.users.values())


@pytest.mark.parametrize("fmt", ["JSON_MIN", "CSV"])
def test_ls_agreement_equals_agreement_on_flat_exports(ls_server, project, exports, fmt) -> None:
    live = live_report(ls_server, project.id)
    names = {str(uid): email for uid, email in project.users.items()}
    from_file = rename_annotators(file_report(exports[fmt]), names)
    # JSON_MIN and CSV drop skipped annotations without a trace, so they cannot count them
    assert from_file.pop("skipped") == {"cancelled": 0, "ignored": 0}
    assert live.pop("skipped") == {"cancelled": 1, "ignored": 0}
    assert live == from_file


def test_ls_agreement_same_with_legacy_token_pat_and_options(ls_server, project) -> None:
    by_pat = live_report(ls_server, project.id, key=ls_server.admin.pat)
    by_token = live_report(ls_server, project.id, key=ls_server.admin.token)
    assert by_pat == by_token
    with_options = live_report(
        ls_server,
        project.id,
        "--control",
        "sentiment",
        "--categories",
        "Positive,Negative,Neutral",
        "--level",
        "nominal",
    )
    assert with_options["categories"] == ["Positive", "Negative", "Neutral"]
    assert with_options["metrics"]["krippendorff_alpha"] == by_pat["metrics"]["krippendorff_alpha"]


def test_ls_agreement_text_markdown_and_html(ls_server, project, tmp_path) -> None:
    html = tmp_path / "report.html"
    text = ls_cli(ls_server, "agreement", "--project", project.id, "--html", html)
    assert text.exit_code == 0, text.output
    assert "Krippendorff" in text.stdout and "ann1@example.com" in text.stdout
    assert html.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    md = ls_cli(ls_server, "agreement", "--project", project.id, "--md")
    assert md.exit_code == 0 and md.stdout.startswith("#")


def test_ls_agreement_unknown_control_is_a_usage_error(ls_server, project) -> None:
    result = ls_cli(ls_server, "agreement", "--project", project.id, "--control", "nope")
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and "sentiment" in result.stderr


# ------------------------------------------------------------------------------ export


@pytest.mark.parametrize("suffix", [".parquet", ".csv", ".jsonl"])
def test_ls_export_table_round_trips(ls_server, project, client, tmp_path, suffix) -> None:
    out = tmp_path / f"labels{suffix}"
    result = ls_cli(ls_server, "export", "--project", project.id, "--out", out)
    assert result.exit_code == 0, (result.output, result.exception)
    assert result.stdout == ""
    back = read_annotations(out)
    live = client.table(project.id)
    assert [r.to_dict() for r in back] == [r.to_dict() for r in live]
    assert len(back) == 51


def test_ls_export_labelstudio_is_the_raw_json_export(ls_server, project, client, tmp_path) -> None:
    out = tmp_path / "raw.json"
    result = ls_cli(
        ls_server, "export", "--project", project.id, "--out", out, "--format", "labelstudio"
    )
    assert result.exit_code == 0, (result.output, result.exception)
    tasks = json.loads(out.read_text(encoding="utf-8"))
    assert [t["id"] for t in tasks] == list(project.task_ids)  # every task, unlabelled ones too
    assert tasks == json.loads(client.export(project.id, "JSON", download_all_tasks=True))
    names = {int(k): v for k, v in project.users.items()}
    from aqt.formats import read_labelstudio_tasks

    again = read_labelstudio_tasks(tasks, label_config=project.label_config, users=names)
    assert [r.to_dict() for r in again] == [r.to_dict() for r in client.table(project.id)]
    assert again.skipped["cancelled"] == 1


def test_ls_export_bad_extension_and_unwritable_path(ls_server, project, tmp_path) -> None:
    bad = ls_cli(ls_server, "export", "--project", project.id, "--out", tmp_path / "x.xlsx")
    assert bad.exit_code == 2 and ".csv" in bad.stderr and bad.stderr.count("\n") == 1
    blocked = tmp_path / "file"
    blocked.write_text("")
    nowhere = ls_cli(
        ls_server, "export", "--project", project.id, "--out", blocked / "sub" / "x.csv"
    )
    assert nowhere.exit_code == 1 and nowhere.stderr.startswith("Error: ")
    assert nowhere.stderr.count("\n") == 1
