"""Docs: every ``aqt`` command (and subcommand) and every Prodigy recipe has ``--help`` text and
appears in README.md."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from aqt.cli import cli
from click.testing import CliRunner

README = Path(__file__).resolve().parent.parent / "README.md"


def _commands_in_help(text: str) -> list[str]:
    """Command names listed under ``Commands:`` in click's help output."""
    names, inside = [], False
    for line in text.splitlines():
        if line.strip() == "Commands:":
            inside = True
            continue
        if inside:
            if line and not line.startswith(" "):
                break
            m = re.match(r"^  (\S+)", line)
            if m:
                names.append(m.group(1))
    return names


def _help(path: list[str]):
    return CliRunner().invoke(cli, [*path, "--help"])


def _all_commands() -> list[tuple[str, ...]]:
    """Every command path reachable from ``aqt --help``, groups included (``("ls", "agreement")``)."""
    found: list[tuple[str, ...]] = []
    todo: list[tuple[str, ...]] = [()]
    while todo:
        path = todo.pop(0)
        result = _help(list(path))
        if path:
            found.append(path)
        if result.exit_code == 0:
            todo += [(*path, name) for name in _commands_in_help(result.output)]
    return found


COMMANDS = _all_commands()
RECIPES = sorted(
    ep.name for ep in entry_points(group="prodigy_recipes") if ep.name.startswith("aqt.")
)


def _readme() -> str:
    assert README.exists(), f"{README} is missing"
    return README.read_text(encoding="utf-8")


def test_the_commands_are_found() -> None:
    assert ("agreement",) in COMMANDS
    assert RECIPES, "no aqt.* recipes in the prodigy_recipes entry points"


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_command_has_help_text(path: tuple[str, ...]) -> None:
    name = "aqt " + " ".join(path)
    result = _help(list(path))
    assert result.exit_code == 0, (
        f"'{name} --help' failed (exit {result.exit_code}): {result.output}"
    )
    assert result.output.startswith("Usage: "), f"'{name} --help' prints no usage: {result.output}"
    description = result.output.split("\n\n", 2)[1].strip() if "\n\n" in result.output else ""
    assert description and not description.startswith("Options:"), (
        f"'{name} --help' has no description; give the command a docstring"
    )


@pytest.mark.parametrize("path", COMMANDS, ids=[" ".join(p) for p in COMMANDS])
def test_command_is_in_readme(path: tuple[str, ...]) -> None:
    name = "aqt " + " ".join(path)
    # the words in order on one line, options allowed between them: "aqt ls --url U agreement"
    pattern = r"(?<![\w-])aqt" + "".join(
        rf"\b[^\n]*?(?<![\w-]){re.escape(w)}(?![\w-])" for w in path
    )
    if not re.search(pattern, _readme()):
        pytest.fail(f"README.md does not mention the command '{name}'; document it there")


def _prodigy_env() -> dict[str, str]:
    from prodigy_standin.harness import python_path

    env = dict(os.environ)
    extra = python_path()
    if extra:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (extra, env.get("PYTHONPATH")) if p)
    return env


@pytest.mark.parametrize("recipe", RECIPES)
def test_recipe_has_help_text(recipe: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "prodigy", recipe, "--help"],
        capture_output=True,
        text=True,
        check=False,
        env=_prodigy_env(),
        timeout=120,
    )
    assert result.returncode == 0, (
        f"'prodigy {recipe} --help' failed (exit {result.returncode}): {result.stderr[-2000:]}"
    )
    out = result.stdout
    assert f"prodigy {recipe}" in out, f"'prodigy {recipe} --help' prints no usage: {out}"
    body = out.split("\n\n", 2)[1].strip() if "\n\n" in out else ""
    assert body and not body.startswith(("positional", "options")), (
        f"recipe '{recipe}' has no description; give the recipe function a docstring"
    )
    assert "-h, --help" in out


@pytest.mark.parametrize("recipe", RECIPES)
def test_recipe_arguments_have_help(recipe: str) -> None:
    from prodigy_standin.harness import load_prodigy

    load_prodigy()
    ep = next(ep for ep in entry_points(group="prodigy_recipes") if ep.name == recipe)
    try:
        func = ep.load()
    except ImportError as exc:
        pytest.fail(f"recipe '{recipe}' ({ep.value}) cannot be imported: {exc}")
    specs = getattr(func, "recipe_args", None)
    assert specs is not None, f"recipe '{recipe}' is not registered with @prodigy.recipe"
    missing = [spec.name for spec in specs if not (spec.help or "").strip()]
    assert not missing, f"recipe '{recipe}': arguments without help text: {missing}"


@pytest.mark.parametrize("recipe", RECIPES)
def test_recipe_is_in_readme(recipe: str) -> None:
    if not re.search(rf"(?<![\w.-]){re.escape(recipe)}(?![\w-])", _readme()):
        pytest.fail(f"README.md does not mention the Prodigy recipe '{recipe}'; document it there")
