"""Test harness for aqt's Prodigy recipes: the real ``prodigy`` when importable, else the stand-in.

``load_prodigy()`` puts ``tests/prodigy_standin`` on ``sys.path`` only when ``import prodigy``
fails, so the same tests run against a licensed Prodigy where one is installed.
:class:`SimulatedAnnotator` drives a Controller through its public methods (``get_session_name``,
``get_questions``, ``receive_answers``), the way the web app does.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

STANDIN_DIR = Path(__file__).resolve().parent

__all__ = [
    "STANDIN_DIR",
    "SimulatedAnnotator",
    "db_out",
    "fresh_home",
    "load_prodigy",
    "python_path",
    "uses_standin",
]


def fresh_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh Prodigy home (and database) for one test, used by each test module's fixture;
    the working directory becomes the test's tmp dir."""
    home = tmp_path / "prodigy-home"
    monkeypatch.setenv("PRODIGY_HOME", str(home))
    monkeypatch.delenv("PRODIGY_ALLOWED_SESSIONS", raising=False)
    monkeypatch.delenv("PRODIGY_CONFIG_OVERRIDES", raising=False)
    monkeypatch.chdir(tmp_path)
    return home


def load_prodigy() -> ModuleType:
    """``import prodigy``; on ImportError put the stand-in on ``sys.path`` and import that."""
    try:
        return importlib.import_module("prodigy")
    except ImportError:
        sys.path.insert(0, str(STANDIN_DIR))
        return importlib.import_module("prodigy")


def uses_standin() -> bool:
    return bool(getattr(load_prodigy(), "IS_STANDIN", False))


def python_path() -> str:
    """A PYTHONPATH for subprocesses that finds the same ``prodigy`` as this process."""
    return str(STANDIN_DIR) if uses_standin() else ""


def db_out(dataset: str, path: Path) -> Path:
    """Write a dataset as ``prodigy db-out`` does: one JSON example per line."""
    from prodigy.components.db import connect

    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(
            json.dumps(eg, ensure_ascii=False) + "\n"
            for eg in connect().get_dataset_examples(dataset)
        )
    return path


class SimulatedAnnotator:
    """An annotator whose answers are a function of the task.

    ``respond(task)`` returns ``"accept"``/``"reject"``/``"ignore"`` or a dict merged into the task
    (it should hold ``answer``). ``max_answers`` stops after that many answers (a break, a crash).
    """

    def __init__(self, name: str, respond: Callable[[dict], str | dict[str, Any]]) -> None:
        self.name = name
        self.respond = respond
        self.answered: list[dict] = []
        self.seen: list[dict] = []
        self.errors: list[dict] = []

    def session_id(self, ctrl: Any) -> str:
        return ctrl.get_session_name(self.name)

    def annotate(
        self, ctrl: Any, max_answers: int | None = None, max_batches: int = 10_000
    ) -> list[dict]:
        """Ask for batches and answer them until the stream is empty (or ``max_answers``)."""
        sid = self.session_id(ctrl)
        sent: list[dict] = []
        for _ in range(max_batches):
            if max_answers is not None and len(sent) >= max_answers:
                break
            batch = ctrl.get_questions(session_id=sid)
            if not batch:
                break
            if max_answers is not None:
                batch = batch[: max_answers - len(sent)]
            self.seen.extend(batch)
            answers = []
            for task in batch:
                result = self.respond(dict(task))
                eg = dict(task)
                if isinstance(result, str):
                    eg["answer"] = result
                else:
                    eg.update(result)
                answers.append(eg)
            response = ctrl.receive_answers(answers, session_id=sid)
            errors = list(response.get("errors") or []) if isinstance(response, dict) else []
            self.errors.extend(errors)
            blocked = {e.get("task_hash") for e in errors}
            sent.extend(a for a in answers if a.get("_task_hash") not in blocked)
            if errors and len(errors) == len(answers):
                break  # every answer blocked: a person would stop and read the alert
        self.answered.extend(sent)
        return sent
