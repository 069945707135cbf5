"""``prodigy.core`` of the stand-in: the ``recipe`` decorator, ``Arg`` and the ``Controller``.

The Controller serves a recipe the way Prodigy's server does: each session asks for batches of
``batch_size`` questions pulled from one shared stream and routed by ``feed_overlap`` /
``annotations_per_task``; answers come back stamped with ``_session_id`` / ``_annotator_id``
(``"{dataset}-{name}"``), ``_timestamp`` (int seconds) and ``_view_id``; ``validate_answer``
blocks an answer (the task is served again); ``update(answers)`` runs, then ``before_db(answers)``,
then the returned answers are saved to the dataset and the session dataset. Hashes already answered
are excluded (``exclude_by`` task or input; per session with ``feed_overlap``).

Simplifications, on purpose: ``annotations_per_task`` is honoured for every session that asks (real
Prodigy guarantees it only for sessions named in ``PRODIGY_ALLOWED_SESSIONS``); tasks a session
received but never answered stay with it until the controller is rebuilt (a server restart);
``task_router``, ``event_hooks`` and ``parse_as`` are refused rather than ignored.
"""

from __future__ import annotations

import inspect
import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .components.db import Database, connect
from .errors import ConfigValidationError, SessionError
from .util import (
    ANNOTATOR_ID_ATTR,
    INPUT_HASH_ATTR,
    SESSION_ID_ATTR,
    TASK_HASH_ATTR,
    get_timestamp_session_id,
    set_hashes,
)

RECIPES: dict[str, Callable] = {}

DEFAULT_CONFIG: dict[str, Any] = {
    "batch_size": 10,
    "feed_overlap": False,
    "annotations_per_task": None,
    "exclude_by": "task",
    "auto_exclude_current": True,
    "allow_work_stealing": True,
    "instant_submit": False,
}


class Arg:
    """A typed recipe argument, as radicli's ``Arg(option=None, short=None, *, help=None, ...)``.

    ``Arg(help=...)`` is positional; ``Arg("--label", "-l", help=...)`` an option; a ``bool``
    annotation makes it a flag.
    """

    def __init__(
        self,
        option: str | None = None,
        short: str | None = None,
        *,
        help: str | None = None,
        count: bool = False,
        converter: Callable | None = None,
    ) -> None:
        self.option = option
        self.short = short
        self.help = help
        self.count = count
        self.converter = converter

    @property
    def flags(self) -> tuple[str, ...]:
        return tuple(f for f in (self.option, self.short) if f)

    def __repr__(self) -> str:
        return f"Arg(option={self.option!r}, short={self.short!r}, help={self.help!r})"


@dataclass
class ArgSpec:
    """One parsed argument of a registered recipe (stand-in internal)."""

    name: str
    help: str
    kind: str  # positional, option, flag
    flags: tuple[str, ...]
    converter: Callable | None
    default: Any = field(default=None)


def _specs(func: Callable, annotations: dict[str, Any]) -> list[ArgSpec]:
    sig = inspect.signature(func)
    hints = getattr(func, "__annotations__", {})
    specs = []
    for name, ann in annotations.items():
        if name not in sig.parameters:
            raise TypeError(f"recipe argument {name!r} is not a parameter of {func.__name__}")
        param = sig.parameters[name]
        default = None if param.default is inspect.Parameter.empty else param.default
        opt = "--" + name.replace("_", "-")
        if isinstance(ann, tuple):  # plac: (help, kind, shortcut, converter)
            help_text, kind, short, conv = (list(ann) + [None] * 4)[:4]
            kind = kind or "positional"
            flags = () if kind == "positional" else (opt,) + ((f"-{short}",) if short else ())
            specs.append(ArgSpec(name, help_text or "", kind, flags, conv, default))
        elif isinstance(ann, Arg):
            hint = hints.get(name)
            if isinstance(hint, str):
                hint_text = hint
            else:
                hint_text = getattr(hint, "__name__", str(hint))
            if not ann.flags:
                kind = "positional"
            elif hint is bool or hint_text == "bool":
                kind = "flag"
            else:
                kind = "option"
            conv = (
                ann.converter
                or {"int": int, "float": float}.get(hint_text)
                or (hint if hint in (int, float) else None)
            )
            specs.append(ArgSpec(name, ann.help or "", kind, ann.flags, conv, default))
        else:
            raise TypeError(f"recipe argument {name!r}: use a plac tuple or Arg, got {ann!r}")
    return specs


def recipe(name: str, **arg_annotations: Any) -> Callable[[Callable], Callable]:
    """Register a recipe under ``name``; the function stays a plain, callable function."""

    def decorator(func: Callable) -> Callable:
        func.recipe_name = name  # type: ignore[attr-defined]
        func.recipe_args = _specs(func, arg_annotations)  # type: ignore[attr-defined]
        RECIPES[name] = func
        return func

    return decorator


def get_recipe(name: str) -> Callable | None:
    """A registered recipe, loading the ``prodigy_recipes`` entry points on first miss."""
    if name not in RECIPES:
        from importlib.metadata import entry_points

        for ep in entry_points(group="prodigy_recipes"):
            if ep.name == name:
                ep.load()
    return RECIPES.get(name)


@dataclass
class _Session:
    id: str
    cursor: int = 0
    pending: list[dict] = field(default_factory=list)  # blocked by validate_answer
    total_annotated: int = 0


class Controller:
    """Drives a recipe's components like Prodigy's server (see the module docstring)."""

    def __init__(self, name: str, components: dict[str, Any], db: Database | None = None) -> None:
        unknown = set(components) - {
            "dataset",
            "stream",
            "view_id",
            "update",
            "before_db",
            "validate_answer",
            "on_load",
            "on_exit",
            "exclude",
            "progress",
            "config",
            "task_router",
            "event_hooks",
            "get_session_id",
            "parse_as",
        }
        if unknown:
            raise ConfigValidationError(f"Unknown component(s): {sorted(unknown)}")
        unsupported = {"task_router", "event_hooks", "parse_as"} & set(components)
        if unsupported:
            raise NotImplementedError(
                f"The stand-in does not implement {sorted(unsupported)}; test against Prodigy"
            )
        self.recipe_name = name
        self.components = components
        self.dataset = components.get("dataset")
        self.view_id = components.get("view_id")
        self.db = db or connect()
        config = dict(DEFAULT_CONFIG)
        config.update(components.get("config") or {})
        config.update(json.loads(os.environ.get("PRODIGY_CONFIG_OVERRIDES") or "{}"))
        if config["feed_overlap"] and config["annotations_per_task"]:
            raise ConfigValidationError(
                "annotations_per_task cannot be combined with feed_overlap: true"
            )
        if config["exclude_by"] not in ("task", "input"):
            raise ConfigValidationError(f"exclude_by must be task or input: {config['exclude_by']}")
        self.config = config
        self.exclude_by = config["exclude_by"]
        self._hash_attr = TASK_HASH_ATTR if self.exclude_by == "task" else INPUT_HASH_ATTR
        stream = components.get("stream")
        self._stream: Iterator[dict] = iter(stream if stream is not None else [])
        self._buffer: list[dict] = []
        self._assigned: list[set[str]] = []
        self._buffered_hashes: set[int] = set()
        self._sessions: dict[str, _Session] = {}
        self._exhausted = False
        self.total_annotated = 0
        if self.dataset:
            self.db.add_dataset(self.dataset)
        self._excluded: set[int] = set()
        for name_ in components.get("exclude") or []:
            self._excluded |= self._dataset_hashes(name_)
        self._answered_by: dict[int, set[str]] = {}
        if self.dataset and config["auto_exclude_current"]:
            for eg in self.db.get_dataset_examples(self.dataset):
                sid = eg.get(SESSION_ID_ATTR) or ""
                self._answered_by.setdefault(eg[self._hash_attr], set()).add(sid)
        allowed = os.environ.get("PRODIGY_ALLOWED_SESSIONS")
        self.allowed_sessions = (
            [s.strip() for s in allowed.split(",") if s.strip()] if allowed else None
        )
        for sname in self.allowed_sessions or []:
            self._session(self.get_session_name(sname))
        if components.get("on_load"):
            components["on_load"](self)

    @classmethod
    def from_components(cls, name: str, components: dict[str, Any], **kwargs: Any) -> Controller:
        return cls(name, components, **kwargs)

    # -- sessions -------------------------------------------------------------------------
    def get_session_name(self, name: str) -> str:
        return f"{self.dataset}-{name}"

    @property
    def session_ids(self) -> list[str]:
        return list(self._sessions)

    def _session(self, session_id: str | None) -> _Session:
        if session_id is None:
            session_id = get_timestamp_session_id()
        if session_id not in self._sessions:
            if self.allowed_sessions is not None:
                allowed = {self.get_session_name(s) for s in self.allowed_sessions}
                if session_id not in allowed:
                    raise SessionError(
                        f"Session {session_id!r} is not in PRODIGY_ALLOWED_SESSIONS "
                        f"({', '.join(self.allowed_sessions)})"
                    )
            self._sessions[session_id] = _Session(session_id)
        return self._sessions[session_id]

    # -- routing --------------------------------------------------------------------------
    def _dataset_hashes(self, name: str) -> set[int]:
        return {eg[self._hash_attr] for eg in self.db.get_dataset_examples(name)}

    def _capacity(self) -> float:
        if self.config["feed_overlap"]:
            return float("inf")
        return float(self.config["annotations_per_task"] or 1)

    def _pull(self) -> bool:
        for task in self._stream:
            task = set_hashes(dict(task))
            key = task[self._hash_attr]
            if key in self._buffered_hashes or key in self._excluded:
                continue
            self._buffered_hashes.add(key)
            self._buffer.append(task)
            self._assigned.append(set(self._answered_by.get(key, ())))
            return True
        self._exhausted = True
        return False

    def get_questions(self, session_id: str | None = None, excludes: Any = None) -> list[dict]:
        """The next batch for a session: tasks blocked by validation first, then new ones."""
        session = self._session(session_id)
        batch = [dict(t) for t in session.pending[: self.config["batch_size"]]]
        session.pending = session.pending[len(batch) :]
        capacity = self._capacity()
        while len(batch) < self.config["batch_size"]:
            if session.cursor >= len(self._buffer) and not self._pull():
                break
            i = session.cursor
            session.cursor += 1
            assigned = self._assigned[i]
            if session.id in assigned or len(assigned) >= capacity:
                continue
            assigned.add(session.id)
            batch.append(dict(self._buffer[i]))
        return batch

    # -- answers --------------------------------------------------------------------------
    def receive_answers(self, answers: list[dict], session_id: str | None = None) -> dict:
        """Validate, stamp, ``update``, ``before_db`` and save a batch of answers."""
        session = self._session(session_id)
        validate = self.components.get("validate_answer")
        accepted, errors = [], []
        for eg in answers:
            eg = dict(eg)
            eg.setdefault("_view_id", self.view_id)
            eg[SESSION_ID_ATTR] = session.id
            eg[ANNOTATOR_ID_ATTR] = session.id
            eg.setdefault("_timestamp", int(time.time()))
            if validate is not None:
                try:
                    validate(eg)
                except Exception as exc:  # noqa: BLE001 - Prodigy shows any exception as an alert
                    errors.append({"task_hash": eg.get(TASK_HASH_ATTR), "message": str(exc)})
                    task = {
                        k: v
                        for k, v in eg.items()
                        if k not in ("answer", SESSION_ID_ATTR, ANNOTATOR_ID_ATTR, "_timestamp")
                    }
                    session.pending.append(task)
                    continue
            accepted.append(eg)
        progress = None
        if accepted and self.components.get("update"):
            progress = self.components["update"](accepted)
        if accepted and self.components.get("before_db"):
            accepted = self.components["before_db"](accepted)
            if accepted is None:
                raise TypeError("before_db must return the list of answers")
        if accepted and self.dataset:
            session_dataset = session.id
            self.db.add_dataset(session_dataset, session=True)
            self.db.add_examples(accepted, datasets=[self.dataset, session_dataset])
        for eg in accepted:
            self._answered_by.setdefault(eg.get(self._hash_attr), set()).add(session.id)
        session.total_annotated += len(accepted)
        self.total_annotated += len(accepted)
        if self.components.get("progress"):
            progress = self.components["progress"](self, session, accepted, progress)
        return {"saved": len(accepted), "errors": errors, "progress": progress}

    def close(self) -> None:
        """Stop serving: call the recipe's ``on_exit(ctrl)`` (stand-in name for server exit)."""
        if self.components.get("on_exit"):
            self.components["on_exit"](self)
