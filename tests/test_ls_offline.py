"""``aqt ls`` before it reaches the network: help, options, one-line usage errors (no server)."""

from __future__ import annotations

import pytest
from aqt.cli import cli
from aqt_labelstudio.client import LabelStudioClient, _detail, connect
from aqt_labelstudio.project_setup import VIEWS, connect_project
from click.testing import CliRunner

UNSET = {"LABEL_STUDIO_URL": None, "LABEL_STUDIO_API_KEY": None, "AQT_WEBHOOK_SECRET": None}


def run(*args: str, env: dict | None = None):
    return CliRunner().invoke(cli, ["ls", *args], env={**UNSET, **(env or {})})


def one_line(result, code: int, *needles: str) -> str:
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def test_help_lists_the_three_commands_and_the_connection_options() -> None:
    result = run("--help")
    assert result.exit_code == 0
    for word in (
        "agreement",
        "export",
        "connect",
        "--url",
        "--api-key",
        "LABEL_STUDIO_URL",
        "LABEL_STUDIO_API_KEY",
    ):
        assert word in result.stdout, word


@pytest.mark.parametrize("command", ["agreement", "export", "connect"])
def test_command_help_has_an_example_and_needs_no_server(command: str) -> None:
    result = run(command, "--help")
    assert result.exit_code == 0, result.output
    assert f"Example: aqt ls {command}" in " ".join(result.stdout.split())
    assert "--project" in result.stdout


def test_missing_key_is_a_usage_error_naming_the_variable() -> None:
    one_line(run("agreement", "--project", "1"), 2, "API key", "LABEL_STUDIO_API_KEY")


def test_url_without_scheme_is_a_usage_error() -> None:
    one_line(
        run("--url", "localhost:8080", "--api-key", "k", "agreement", "--project", "1"),
        2,
        "http://",
    )


def test_missing_project_and_bad_counts_are_usage_errors() -> None:
    env = {"LABEL_STUDIO_API_KEY": "k"}
    one_line(run("agreement", env=env), 2, "--project")
    one_line(
        run(
            "connect",
            "--project",
            "1",
            "--backend-url",
            "http://x",
            "--annotations-per-task",
            "0",
            env=env,
        ),
        2,
        "--annotations-per-task",
    )
    one_line(run("agreement", "--project", "1", "--json", "--md", env=env), 2, "--json")


def test_export_extension_is_checked_before_connecting(tmp_path) -> None:
    # the URL is unreachable, so reaching the network would give a different error
    env = {"LABEL_STUDIO_API_KEY": "k", "LABEL_STUDIO_URL": "http://127.0.0.1:9"}
    one_line(
        run("export", "--project", "1", "--out", str(tmp_path / "a.xlsx"), env=env),
        2,
        "'a.xlsx'",
        ".parquet",
    )


def test_connect_function_rejects_empty_key_and_url() -> None:
    with pytest.raises(Exception, match="API key"):
        connect("http://127.0.0.1:9", "")
    with pytest.raises(Exception, match="URL"):
        LabelStudioClient("  ", "key")


def test_connect_project_validates_its_arguments_first() -> None:
    client = LabelStudioClient("http://127.0.0.1:9", "key")  # never called
    with pytest.raises(Exception, match="http://"):
        connect_project(client, 1, "localhost:9090")
    with pytest.raises(Exception, match="at least 1"):
        connect_project(client, 1, "http://localhost:9090", annotations_per_task=0)


def test_error_details_are_short() -> None:
    assert _detail({"detail": "Invalid token."}) == "Invalid token"
    assert _detail("<!DOCTYPE html><html>...</html>") == "an HTML page"
    assert len(_detail("x" * 1000)) == 200


def test_views_filter_on_the_backend_status_field() -> None:
    needs = VIEWS["aqt: needs adjudication"]["filters"]["items"]
    assert needs == [
        {
            "filter": "filter:tasks:data.aqt_status",
            "operator": "equal",
            "type": "String",
            "value": "needs_adjudication",
        }
    ]
    assert VIEWS["aqt: selection review"]["ordering"] == ["tasks:predictions_score"]
