"""The one module that touches Prodigy's API.

Everything aqt's recipes import from Prodigy comes through here, so a change in Prodigy is fixed in
one place. Verified in public code for Prodigy 1.12-1.17 (see docs/prodigy.md): ``prodigy.recipe``,
``prodigy.core.Arg``, ``prodigy.components.db.connect`` with ``get_dataset_examples``,
``add_dataset`` and ``add_examples(examples, datasets=[...])``, ``prodigy.util.msg`` (a wasabi
printer) and ``prodigy.util.set_hashes``; the components ``dataset``, ``stream``, ``view_id``,
``config``, ``validate_answer``, ``before_db``, ``on_exit``; session ids ``"{dataset}-{name}"``.

Not verified, and therefore isolated below: whether the ``review`` interface may be used as a block
next to ``text_input`` blocks (:func:`review_view`, layout ``"blocks"``); the plain ``review``
layout avoids it at the price of the reason and guideline-note fields.
"""

from __future__ import annotations

from typing import Any, NoReturn

from aqt.errors import AqtError
from prodigy.components.db import connect
from prodigy.core import Arg, recipe
from prodigy.util import msg, set_hashes

__all__ = [
    "NOTE_FIELD",
    "REASON_FIELD",
    "REVIEW_LAYOUTS",
    "Arg",
    "connect",
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
