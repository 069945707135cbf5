"""Review tasks and saved examples for ``aqt.adjudicate`` (pure dict building on Prodigy task shapes).

A review task is the item's input (``text``, ``tokens``, ``options``...) with the majority version
pre-filled at the top level, its interface in ``view_id``, and ``versions``: one full copy of the task
per distinct answer, each with the ``sessions`` that gave it and ``default: true`` on the majority,
as Prodigy's ``review`` interface expects. ``aqt.item`` carries aqt's item id (the ``_input_hash``).
"""

from __future__ import annotations

import copy
from typing import Any

from aqt.adjudication import Decision, ReviewItem
from aqt.formats.prodigy import strip_dataset_prefix
from aqt.records import normalize_value, value_to_json

from aqt_prodigy._compat import NOTE_FIELD, REASON_FIELD

__all__ = ["decision_from_answer", "example_from_decision", "review_task"]

INPUT_KEYS = ("text", "tokens", "options", "html", "image", "meta")


def _by_annotator(egs: list[dict], dataset: str) -> dict[str, dict]:
    ids = [str(eg.get("_annotator_id") or eg.get("_session_id")) for eg in egs]
    names = strip_dataset_prefix(ids, dataset)
    out: dict[str, dict] = {}
    for sid, eg in zip(ids, egs):
        if eg.get("answer") == "accept":
            out[names[sid]] = eg
    return out


def _content(kind: str, value: Any, source: dict | None) -> dict[str, Any]:
    """The answer fields of a value: ``accept`` for choices, ``spans`` for spans."""
    if kind == "choice":
        return {"accept": [value], "config": {"choice_style": "single"}}
    if kind == "multichoice":
        return {"accept": value_to_json(value), "config": {"choice_style": "multiple"}}
    if kind == "spans":
        if source is not None:
            spans = copy.deepcopy(source.get("spans") or [])
            if normalize_value("spans", spans) == tuple(value):
                return {"spans": spans}
        return {"spans": value_to_json(tuple(value))}
    return {"answer_value": value_to_json(value)}


def _base(egs: list[dict], view: str) -> dict[str, Any]:
    first = egs[0]
    task = {k: copy.deepcopy(first[k]) for k in INPUT_KEYS if k in first}
    task["_input_hash"] = first.get("_input_hash")
    task["_task_hash"] = first.get("_task_hash")
    task["view_id"] = view
    return task


def review_task(
    r: ReviewItem, egs: list[dict], dataset: str, view: str, guideline_version: str | None = None
) -> dict[str, Any]:
    """The review task of one item (``egs``: every saved example of the item)."""
    annotated = _by_annotator(egs, dataset)
    sessions = {
        name: str(eg.get("_annotator_id") or eg.get("_session_id"))
        for name, eg in annotated.items()
    }
    task = _base(egs, view)
    versions = []
    for i, version in enumerate(r.versions):
        source = annotated.get(version.annotators[0])
        v = {k: copy.deepcopy(task[k]) for k in INPUT_KEYS if k in task}
        v.update(_content(r.kind, version.value, source))
        v["answer"] = "accept"
        v["sessions"] = [sessions.get(a, f"{dataset}-{a}") for a in version.annotators]
        v["default"] = i == 0
        versions.append(v)
    task.update(
        {
            k: copy.deepcopy(val)
            for k, val in versions[0].items()
            if k in ("accept", "spans", "config")
        }
    )
    task["versions"] = versions
    meta = dict(task.get("meta") or {})
    meta["annotators"] = r.n_annotators
    meta["agreement"] = round(r.agreement, 3)
    if guideline_version:
        meta["guidelines"] = guideline_version
    task["meta"] = meta
    task["aqt"] = {"item": r.item, "agreement": r.agreement, "unanimous": r.unanimous}
    return task


def _value(kind: str, eg: dict) -> Any:
    if kind == "choice":
        accept = eg.get("accept") or []
        return str(accept[0]) if accept else None
    if kind == "multichoice":
        return normalize_value("multichoice", eg.get("accept") or [])
    if kind == "spans":
        return normalize_value("spans", eg.get("spans") or [])
    return eg.get("answer_value")


def _text(eg: dict, field: str) -> str | None:
    value = eg.get(field)
    return str(value).strip() or None if value is not None else None


def decision_from_answer(
    eg: dict, r: ReviewItem, adjudicator: str, time: int, guideline_version: str | None
) -> Decision:
    """The adjudicator's answer to a review task as a :class:`Decision`."""
    outcome = str(eg.get("answer"))
    value = _value(r.kind, eg) if outcome == "accept" else None
    edited = outcome == "accept" and all(v.value != value for v in r.versions)
    return Decision(
        item=r.item,
        kind=r.kind,
        decision=value,
        adjudicator=adjudicator,
        time=int(time),
        versions_seen=r.versions,
        outcome=outcome,
        reason=_text(eg, REASON_FIELD),
        guideline_version=guideline_version,
        guideline_note=_text(eg, NOTE_FIELD),
        extra={"edited": edited},
    )


def example_from_decision(
    d: Decision,
    egs: list[dict],
    in_dataset: str,
    out_dataset: str,
    view: str,
    session: str | None = None,
) -> dict[str, Any]:
    """A saved example for a decision taken outside the web app (auto-accept, or a repair)."""
    eg = _base(egs, view)
    if d.outcome == "accept":
        source = None
        if d.kind == "spans":
            source = next(
                (
                    e
                    for e in _by_annotator(egs, in_dataset).values()
                    if normalize_value("spans", e.get("spans") or []) == tuple(d.decision)
                ),
                None,
            )
        eg.update(_content(d.kind, d.decision, source))
    sid = f"{out_dataset}-{session or d.adjudicator}"
    eg.update(
        {
            "answer": d.outcome,
            "_view_id": view,
            "_session_id": sid,
            "_annotator_id": sid,
            "_timestamp": int(d.time),
            "aqt": {
                "item": d.item,
                "adjudicator": d.adjudicator,
                "reason": d.reason,
                "guideline_note": d.guideline_note,
                "guideline_version": d.guideline_version,
            },
        }
    )
    return eg
