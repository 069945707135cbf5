"""``aqt.iaa``: three simulated annotators label through a recipe; the report equals ``aqt agreement``
on the db-out export."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from prodigy_standin.harness import db_out, fresh_home, load_prodigy

prodigy = load_prodigy()
from aqt.cli import cli
from aqt_prodigy.iaa import iaa
from prodigy.components.db import connect
from prodigy_standin.scenarios import N_ITEMS, label_dataset


@pytest.fixture
def prodigy_home(tmp_path, monkeypatch):
    return fresh_home(tmp_path, monkeypatch)


def run_iaa(capsys, *args, **kwargs) -> str:
    capsys.readouterr()
    result = iaa(*args, **kwargs)
    assert result is None  # a command recipe: prints, starts no server
    return capsys.readouterr().out


def test_three_annotators_label_through_the_recipe(prodigy_home):
    label_dataset()
    saved = connect().get_dataset_examples("sentiment")
    sessions = sorted({eg["_session_id"] for eg in saved})
    assert sessions == ["sentiment-alice", "sentiment-bob", "sentiment-carol"]
    assert len(saved) == 3 * N_ITEMS
    assert sum(eg["answer"] == "ignore" for eg in saved) == 3


def test_iaa_equals_aqt_agreement_on_the_db_out_export(prodigy_home, tmp_path, capsys):
    label_dataset()
    export = db_out("sentiment", tmp_path / "sentiment.jsonl")
    recipe_report = json.loads(run_iaa(capsys, "sentiment", json_out=True))
    cli_result = CliRunner().invoke(cli, ["agreement", str(export), "--json"])
    assert cli_result.exit_code == 0, cli_result.output
    cli_report = json.loads(cli_result.stdout)
    assert recipe_report == cli_report
    assert recipe_report["n_annotators"] == 3 and recipe_report["n_items"] == N_ITEMS
    assert recipe_report["skipped"]["ignored"] == 3
    assert 0 < recipe_report["metrics"]["krippendorff_alpha"]["value"] < 1


def test_iaa_options_match_the_cli(prodigy_home, tmp_path, capsys):
    label_dataset()
    export = db_out("sentiment", tmp_path / "sentiment.jsonl")
    html = tmp_path / "report.html"
    md = run_iaa(
        capsys,
        "sentiment",
        level="ordinal",
        weights="linear",
        categories="NEG,NEU,POS",
        md_out=True,
        html=str(html),
    )
    cli_result = CliRunner().invoke(
        cli,
        [
            "agreement",
            str(export),
            "--level",
            "ordinal",
            "--weights",
            "linear",
            "--categories",
            "NEG,NEU,POS",
            "--md",
        ],
    )
    assert cli_result.exit_code == 0, cli_result.output
    assert md == cli_result.stdout
    assert html.read_text(encoding="utf-8").lstrip().lower().startswith("<!doctype html")
    text = run_iaa(capsys, "sentiment")
    assert "Krippendorff" in text


def test_iaa_names_the_annotators_like_metric_iaa(prodigy_home, capsys):
    label_dataset()
    capsys.readouterr()
    iaa("sentiment")
    assert "Using 3 annotator IDs: alice, bob, carol" in capsys.readouterr().err


def test_mixed_interfaces_get_a_message_naming_them(prodigy_home, capsys):
    label_dataset()
    db = connect()
    db.add_examples(
        [
            {
                "text": "review number 1",
                "label": "POS",
                "answer": "accept",
                "_view_id": "classification",
                "_session_id": "sentiment-dave",
                "_annotator_id": "sentiment-dave",
            }
        ],
        datasets=["sentiment"],
    )
    with pytest.raises(SystemExit) as exc:
        iaa("sentiment")
    assert exc.value.code == 1
    out = " ".join(capsys.readouterr().out.split())  # wasabi wraps long lines
    assert "mixes 2 interfaces" in out
    assert "choice (90 answers)" in out and "classification (1 answers)" in out
    assert "--label" in out
    report = json.loads(run_iaa(capsys, "sentiment", label="choice", json_out=True))
    assert report["n_annotators"] == 3


def test_missing_dataset_lists_the_datasets(prodigy_home, capsys):
    label_dataset()
    with pytest.raises(SystemExit) as exc:
        iaa("sentimnet")
    assert exc.value.code == 1
    out = capsys.readouterr().out
    assert "'sentimnet'" in out and "'sentiment'" in out


def test_bad_level_is_a_usage_message_not_a_traceback(prodigy_home, capsys):
    label_dataset()
    with pytest.raises(SystemExit) as exc:
        iaa("sentiment", level="nominall")
    assert exc.value.code == 1
    assert "nominall" in capsys.readouterr().out


def test_dataset_source_syntax_of_metric_iaa_is_accepted(prodigy_home, capsys):
    label_dataset()
    plain = json.loads(run_iaa(capsys, "sentiment", json_out=True))
    prefixed = json.loads(run_iaa(capsys, "dataset:sentiment", json_out=True))
    assert plain == prefixed
