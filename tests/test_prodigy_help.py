"""``prodigy RECIPE --help`` shows each recipe's docstring and every argument's help, through the
entry points and through ``-F path/to/file.py``."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest
from prodigy_standin.harness import load_prodigy, python_path

load_prodigy()
import aqt_prodigy.adjudicate
import aqt_prodigy.annotate
import aqt_prodigy.calibrate
import aqt_prodigy.export
import aqt_prodigy.iaa
import aqt_prodigy.review_selection
import aqt_prodigy.status
import aqt_prodigy.teach

RECIPE_DIR = Path(aqt_prodigy.iaa.__file__).parent
MODULES = {
    "aqt.iaa": aqt_prodigy.iaa,
    "aqt.adjudicate": aqt_prodigy.adjudicate,
    "aqt.calibrate": aqt_prodigy.calibrate,
    "aqt.annotate": aqt_prodigy.annotate,
    "aqt.status": aqt_prodigy.status,
    "aqt.teach": aqt_prodigy.teach,
    "aqt.review-selection": aqt_prodigy.review_selection,
    "aqt.export": aqt_prodigy.export,
}


def function_of(name: str):
    return getattr(MODULES[name], name.split(".", 1)[1].replace("-", "_"))


def words(text: str) -> str:
    return " ".join(text.split())


def glued(text: str) -> str:
    """The text without any white space: argparse wraps help lines, also inside a hyphenated
    word such as ``--edge-case-min``, so comparisons ignore where the lines break."""
    return "".join(text.split())


def prodigy_help(*args: str) -> str:
    env = dict(os.environ)
    extra = python_path()
    if extra:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (extra, env.get("PYTHONPATH")) if p)
    result = subprocess.run(
        [sys.executable, "-m", "prodigy", *args, "--help"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def test_entry_point_names_equal_decorator_names():
    eps = {
        ep.name: ep for ep in entry_points(group="prodigy_recipes") if ep.name.startswith("aqt.")
    }
    assert sorted(eps) == sorted(MODULES)
    for name, ep in eps.items():
        func = ep.load()
        module = MODULES[name]
        assert func.__module__ == module.__name__
        assert ep.value == f"{module.__name__}:{func.__name__}"
        if hasattr(func, "recipe_name"):  # the stand-in records the decorator name
            assert func.recipe_name == name


@pytest.mark.parametrize("name", sorted(MODULES))
def test_help_shows_docstring_and_every_argument(name):
    module = MODULES[name]
    func = function_of(name)
    out = words(prodigy_help(name))
    assert words(inspect.cleandoc(func.__doc__)) in out
    assert "Example: prodigy " + name in out
    params = list(inspect.signature(func).parameters)
    assert sorted(module.ARGS) == sorted(params)  # every parameter is declared
    for arg_name, arg in module.ARGS.items():
        assert arg.help and glued(arg.help) in glued(out), arg_name
        option = getattr(arg, "option", None)
        if option:
            assert option in out


@pytest.mark.parametrize("name", sorted(MODULES))
def test_recipe_file_loads_with_dash_f(name):
    path = Path(MODULES[name].__file__)
    assert path.parent == RECIPE_DIR
    out = words(prodigy_help(name, "-F", str(path)))
    assert f"prodigy {name}" in out


def test_typed_arguments():
    for name, module in MODULES.items():
        func = function_of(name)
        hints = {k: v for k, v in func.__annotations__.items() if k != "return"}
        assert sorted(hints) == sorted(module.ARGS), name
    assert aqt_prodigy.adjudicate.adjudicate.__annotations__["min_annotators"] is int
    assert aqt_prodigy.adjudicate.adjudicate.__annotations__["auto_accept"] is bool
