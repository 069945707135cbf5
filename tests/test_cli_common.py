"""The shared agreement options and output (``aqt.cli.common``) used by every front end."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from aqt.cli.common import AqtCommand, agreement_options, emit_agreement, parse_categories
from aqt.errors import AqtError, UsageError
from aqt.report import render_html, render_markdown, render_text
from click.testing import CliRunner

FIXTURES = Path(__file__).parent / "fixtures" / "report"


def report() -> dict:
    return json.loads((FIXTURES / "report_full.json").read_text(encoding="utf-8"))


@click.group()
def group() -> None:
    """Test group that turns AqtError into one line, as the aqt group does."""


@group.command(cls=AqtCommand)
@agreement_options
def show(**kwargs) -> None:
    """Echo the parsed options as JSON."""
    kwargs["html"] = None if kwargs["html"] is None else str(kwargs["html"])
    click.echo(json.dumps(kwargs))


def invoke(*args: str):
    runner = CliRunner()
    return runner.invoke(group, ["show", *args])


def test_defaults() -> None:
    result = invoke()
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "level": "nominal", "weights": "identity", "categories": None, "json_out": False,
        "md_out": False, "html": None, "ci": 0, "seed": 0,
    }  # fmt: skip


def test_every_option_parses() -> None:
    result = invoke(
        "--level", "ordinal", "--weights", "linear", "--categories", " low, mid ,high",
        "--json", "--html", "r.html", "--ci", "100", "--seed", "7",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "level": "ordinal", "weights": "linear", "categories": ["low", "mid", "high"],
        "json_out": True, "md_out": False, "html": "r.html", "ci": 100, "seed": 7,
    }  # fmt: skip


def test_json_with_md_is_a_usage_error() -> None:
    result = invoke("--json", "--md")
    assert isinstance(result.exception, UsageError)
    assert result.exception.exit_code == 2
    assert "--json and --md" in str(result.exception)


def test_click_usage_errors_become_one_line_aqt_errors() -> None:
    result = invoke("--level", "bogus")
    assert isinstance(result.exception, UsageError)
    message = result.exception.one_line()
    assert "\n" not in message
    assert "'bogus' is not one of" in message and "--help" in message


@pytest.mark.parametrize(("value", "expected"), [("a", ["a"]), ("b, a ,c", ["b", "a", "c"])])
def test_parse_categories(value: str, expected: list[str]) -> None:
    assert parse_categories(None, None, value) == expected
    assert parse_categories(None, None, None) is None


@pytest.mark.parametrize("value", ["", " ", "a,", "a,,b", "a,b,a"])
def test_parse_categories_rejects(value: str) -> None:
    with pytest.raises(click.BadParameter):
        parse_categories(None, None, value)


@pytest.mark.parametrize(
    ("kwargs", "render"),
    [({}, render_text), ({"md_out": True}, render_markdown)],
)
def test_emit_prints_the_chosen_format(capsys, kwargs, render) -> None:
    emit_agreement(report(), json_out=False, html=None, **{"md_out": False, **kwargs})
    out, err = capsys.readouterr()
    assert out == render(report())
    assert err == ""


def test_emit_json_and_html(capsys, tmp_path: Path) -> None:
    path = tmp_path / "r.html"
    emit_agreement(report(), json_out=True, md_out=False, html=path)
    out, err = capsys.readouterr()
    assert json.loads(out) == report()
    assert err == f"Wrote HTML report to {path}\n"
    assert path.read_text(encoding="utf-8") == render_html(report())


def test_emit_refuses_two_formats() -> None:
    with pytest.raises(UsageError):
        emit_agreement(report(), json_out=True, md_out=True, html=None)


def test_emit_html_into_a_file_path_fails_cleanly(tmp_path: Path) -> None:
    blocker = tmp_path / "f"
    blocker.write_text("x")
    with pytest.raises(AqtError, match="Cannot write the HTML report"):
        emit_agreement(report(), json_out=False, md_out=False, html=blocker / "r.html")
