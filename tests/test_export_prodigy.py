"""``aqt.export``: three simulated annotators label through a recipe; the export equals
``aqt export`` on the db-out export, a failed check exits 3 and writes nothing."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from prodigy_standin.harness import db_out, fresh_home, load_prodigy

prodigy = load_prodigy()
from aqt.cli import cli
from aqt_prodigy.export import export
from prodigy_standin.scenarios import N_ITEMS, label_dataset


@pytest.fixture
def prodigy_home(tmp_path, monkeypatch):
    return fresh_home(tmp_path, monkeypatch)


def rows(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_export_equals_aqt_export_on_the_db_out_file(prodigy_home, tmp_path, capsys):
    label_dataset()
    reason = "thirty-item fixture"
    result = export(
        "sentiment", str(tmp_path / "recipe"), formats="jsonl", allow_failures=reason, seed=0
    )
    assert result is None
    out = capsys.readouterr().out
    assert "Exported" in out and "final_iaa" in out  # the failed check is shown
    dump = db_out("sentiment", tmp_path / "sentiment.jsonl")
    cli_result = CliRunner().invoke(
        cli,
        [
            "export",
            str(dump),
            "--out",
            str(tmp_path / "cli"),
            "--format",
            "jsonl",
            "--allow-failures",
            reason,
        ],
    )
    assert cli_result.exit_code == 0, cli_result.output
    keys = ("id", "text", "label", "split", "label_source", "confidence")
    recipe_rows = [{k: r[k] for k in keys} for r in rows(tmp_path / "recipe" / "dataset.jsonl")]
    cli_rows = [{k: r[k] for k in keys} for r in rows(tmp_path / "cli" / "dataset.jsonl")]
    assert recipe_rows == cli_rows
    assert 0 < len(recipe_rows) <= N_ITEMS
    recipe_meta = rows(tmp_path / "recipe" / "dataset.jsonl")[0]["meta"]
    assert "i" in recipe_meta  # the examples' meta travels with the item
    sheet = json.loads((tmp_path / "recipe" / "datasheet.json").read_text())
    assert sheet["allow_failures"] == reason and sheet["passed"] is False


def test_failed_checks_exit_3_and_write_nothing(prodigy_home, tmp_path, capsys):
    label_dataset()
    with pytest.raises(SystemExit) as exc:
        export("sentiment", str(tmp_path / "out"), formats="jsonl")
    assert exc.value.code == 3
    assert not (tmp_path / "out").exists()
    assert "--allow-failures" in capsys.readouterr().out


def test_bad_options_fail_like_prodigy_recipes(prodigy_home, tmp_path, capsys):
    label_dataset()
    with pytest.raises(SystemExit) as exc:
        export("sentiment", str(tmp_path / "out"), formats="jsonl,xml")
    assert exc.value.code == 1
    assert "xml" in capsys.readouterr().out
    with pytest.raises(SystemExit) as exc:
        export("nope", str(tmp_path / "out"))
    assert exc.value.code == 1
