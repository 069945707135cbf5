"""The one module that touches Prodigy's API.

Everything aqt's recipes import from Prodigy comes through here, so a change in Prodigy is fixed in
one place. Verified in public code for Prodigy 1.12-1.17 (see the Prodigy section of README.md): ``prodigy.recipe``,
``prodigy.core.Arg``, ``prodigy.components.db.connect`` with ``get_dataset_examples``,
``add_dataset`` and ``add_examples(examples, datasets=[...])``, ``prodigy.util.msg`` (a wasabi
printer) and ``prodigy.util.set_hashes``; the components ``dataset``, ``stream``, ``view_id``,
``config``, ``validate_answer``, ``before_db``, ``on_exit``; session ids ``"{dataset}-{name}"``.

Not verified, and therefore isolated below: whether the ``review`` interface may be used as a block
next to ``text_input`` blocks (:func:`review_view`, layout ``"blocks"``); the plain ``review``
layout avoids it at the price of the reason and guideline-note fields. For the calibration and
quality-control recipes: that ``PRODIGY_ALLOWED_SESSIONS`` set by a recipe before it returns is
read when the server starts (:func:`allow_sessions`); that a task carrying both hashes keeps them
(:func:`copy_task`, so a second copy of an item is a new question); that a stream object may raise
``StopIteration`` and later yield again (the re-annotation queue refills it); and how a
``task_router`` (signature verified: ``router(ctrl, session_id, item) -> [session ids]``) interacts
with ``feed_overlap: false`` (:func:`exclusion_router`).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from aqt.errors import AqtError
from prodigy.components.db import connect
from prodigy.core import Arg, recipe
from prodigy.util import msg, set_hashes

__all__ = [
    "ALLOWED_SESSIONS_ENV",
    "NOTE_FIELD",
    "REASON_FIELD",
    "REVIEW_LAYOUTS",
    "Arg",
    "allow_sessions",
    "connect",
    "copy_task",
    "exclusion_router",
    "fail",
    "msg",
    "recipe",
    "review_view",
    "session_name",
    "set_hashes",
]

#: ``blocks``: the review block plus two text fields; ``review``: the bare review interface
REVIEW_LAYOUTS = ("blocks", "review")
REASON_FIELD = "aqt_reason"
NOTE_FIELD = "aqt_guideline_note"


def fail(exc: AqtError) -> NoReturn:
    """Show an aqt error the way Prodigy recipes do (``msg.fail``, exit code 1), no traceback."""
    msg.fail(exc.message, exc.fix or "", exits=1)
    raise SystemExit(1)  # msg.fail exits; this line keeps type checkers and stubs honest


def session_name(session_id: str | None, dataset: str) -> str:
    """The annotator name in a Prodigy session id ``"{dataset}-{name}"`` (else the id itself)."""
    if not session_id:
        return "unknown"
    prefix = f"{dataset}-"
    return session_id.removeprefix(prefix)


def review_view(layout: str, labels: list[str]) -> tuple[str, dict[str, Any]]:
    """The ``view_id`` and ``config`` of the adjudication screen.

    Every task carries ``versions`` (each with ``sessions``) and its own ``view_id`` (``choice``,
    ``ner_manual`` or ``spans_manual``), which is what Prodigy's ``review`` interface renders.
    """
    config: dict[str, Any] = {"labels": labels} if labels else {}
    if layout == "review":
        return "review", config
    config["blocks"] = [
        {"view_id": "review"},
        {
            "view_id": "text_input",
            "field_id": REASON_FIELD,
            "field_rows": 2,
            "field_label": "Reason (required when rejecting the item)",
        },
        {
            "view_id": "text_input",
            "field_id": NOTE_FIELD,
            "field_rows": 2,
            "field_label": "Guideline note (optional: a rule the guidelines should state)",
        },
    ]
    return "blocks", config


ALLOWED_SESSIONS_ENV = "PRODIGY_ALLOWED_SESSIONS"


def allow_sessions(names: Sequence[str]) -> list[str]:
    """Pre-register exactly ``names`` as sessions (``PRODIGY_ALLOWED_SESSIONS``) unless the
    variable is already set; returns the names it holds, for the caller to compare."""
    current = os.environ.get(ALLOWED_SESSIONS_ENV)
    if current is None or not current.strip():
        os.environ[ALLOWED_SESSIONS_ENV] = ",".join(names)
        return list(names)
    return [s.strip() for s in current.split(",") if s.strip()]


def copy_task(task: dict[str, Any], tag: str) -> dict[str, Any]:
    """A copy of a hashed task that Prodigy treats as a new question: same ``_input_hash`` (so
    answers group by item), a ``_task_hash`` derived from the input hash and ``tag``."""
    out = dict(task)
    digest = hashlib.sha256(f"{task['_input_hash']}:{tag}".encode()).digest()
    number = int.from_bytes(digest[:4], "little")
    out["_task_hash"] = number - 2**32 if number >= 2**31 else number
    return out


def exclusion_router(
    annotators: Sequence[str], excluded: Callable[[dict[str, Any]], Sequence[str]]
) -> Callable[[Any, str, dict[str, Any]], list[str]]:
    """A ``task_router``: the asking session gets the task unless its annotator is in
    ``excluded(task)``; then the first named annotator not excluded gets it (none: the asker)."""

    def router(ctrl: Any, session_id: str, item: dict[str, Any]) -> list[str]:
        banned = set(excluded(item))
        prefix = ctrl.get_session_name("")
        name = session_id.removeprefix(prefix)
        if name not in banned:
            return [session_id]
        for other in annotators:
            if other not in banned:
                return [ctrl.get_session_name(other)]
        return [session_id]

    return router
