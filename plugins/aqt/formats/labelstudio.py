"""Label Studio JSON exports: a list of tasks, each with ``data`` and ``annotations``.

One record per (annotation, control tag): the control is the result's ``from_name``. Result types:

==============  ==============  ===========================================================
type            kind            value
==============  ==============  ===========================================================
``choices``     ``choice``      the one choice; ``multichoice`` (a set) when the config says
                                ``choice="multiple"`` or any result of that control has several
``labels``      ``spans``       every region of that control in the annotation, as
                                ``Span(start, end, label)`` (an annotation with none: ``()``)
``rating``      ``rating``      ``value.rating`` as a float
``number``      ``number``      ``value.number`` as a float
``pairwise``    ``pairwise``    ``value.selected`` (``"left"`` / ``"right"``)
``textarea``    ``text``        the lines of ``value.text`` joined by newlines
==============  ==============  ===========================================================

Other result types (rectangles, ranker, taxonomy...) are not read. Cancelled (skipped) annotations
are left out and counted in ``skipped["cancelled"]``. The annotator is the email when known
(``completed_by`` as an object, or the ``users`` map), else the user id.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from aqt.errors import FormatError, InputError, collect_problems, truncate
from aqt.formats._common import (
    annotation_from_base,
    check_file,
    gc_paused,
    load_json_document,
    parse_timestamp,
)
from aqt.records import Annotation, AnnotationTable, Span

__all__ = [
    "RESULT_KINDS",
    "parse_label_config",
    "read_labelstudio_json",
    "read_labelstudio_tasks",
]

#: result ``type`` -> record kind
RESULT_KINDS = {
    "choices": "choice",
    "labels": "spans",
    "rating": "rating",
    "number": "number",
    "pairwise": "pairwise",
    "textarea": "text",
}
_FIX = "Export the project again as JSON (Export > JSON) or pass --from to pick another format."


def read_labelstudio_json(
    path: str | Path,
    *,
    label_config: str | None = None,
    users: Mapping[int, str] | None = None,
) -> AnnotationTable:
    """Read a Label Studio JSON export file (also the API's ``{"tasks": [...]}`` shape)."""
    p = check_file(path)
    doc = load_json_document(p)
    if isinstance(doc, Mapping) and isinstance(doc.get("tasks"), list):
        doc = doc["tasks"]
    elif isinstance(doc, Mapping) and "annotations" in doc:
        doc = [doc]
    if not isinstance(doc, list):
        raise FormatError(
            f"{p.name} is a JSON {type(doc).__name__}, not a list of Label Studio tasks.", fix=_FIX
        )
    return read_labelstudio_tasks(doc, label_config=label_config, users=users, name=p.name)


@gc_paused
def read_labelstudio_tasks(
    tasks: list[dict],
    *,
    label_config: str | None = None,
    users: Mapping[int, str] | None = None,
    name: str = "tasks",
) -> AnnotationTable:
    """Turn Label Studio tasks (export or API shape) into an :class:`AnnotationTable`.

    Parameters
    ----------
    tasks
        Task dicts with ``id``, ``data`` and ``annotations`` (each with ``result``,
        ``completed_by`` as an int or an object with ``email``, ``was_cancelled``).
    label_config
        The project's labeling config XML; tells single from multiple Choices and which Labels
        controls exist, so an annotation with no regions counts as "no spans".
    users
        User id -> email, used when ``completed_by`` is an int.

    Returns
    -------
    AnnotationTable
        One record per non-cancelled annotation per control, in task order.
    """
    controls = parse_label_config(label_config) if label_config else {}
    users = {int(k): v for k, v in (users or {}).items()}
    problems: list[str] = []
    cancelled = 0
    # (item, annotator, control, type, values, timestamp, annotation_id, text)
    raw: list[tuple] = []
    span_controls = {n for n, (t, _) in controls.items() if t == "labels"}
    annotations_seen: list[tuple] = []
    unsupported: set[str] = set()
    for ti, task in enumerate(tasks):
        if not isinstance(task, Mapping) or "annotations" not in task:
            problems.append(f"task {ti}: not a task with 'annotations'")
            continue
        tid = task.get("id", ti)
        data = task.get("data") if isinstance(task.get("data"), Mapping) else {}
        text = data.get("text") if isinstance(data.get("text"), str) else None
        for ai, ann in enumerate(task.get("annotations") or []):
            if not isinstance(ann, Mapping):
                problems.append(f"task {tid} annotation {ai}: not an object")
                continue
            if ann.get("was_cancelled"):
                cancelled += 1
                continue
            annotator = annotator_name(ann.get("completed_by"), users)
            if annotator is None:
                problems.append(f"task {tid} annotation {ai}: no completed_by")
                continue
            try:
                ts = parse_timestamp(ann.get("created_at"))
            except (TypeError, ValueError):
                ts = None
            aid = ann.get("id")
            base = (str(tid), annotator, ts, None if aid is None else str(aid), text)
            annotations_seen.append(base)
            by_control: dict[str, tuple[str, list]] = {}
            for ri, res in enumerate(ann.get("result") or []):
                rtype = str(res.get("type", "")).lower() if isinstance(res, Mapping) else ""
                if rtype not in RESULT_KINDS or not isinstance(res.get("value"), Mapping):
                    if rtype:
                        unsupported.add(rtype)
                    continue
                fname = str(res.get("from_name", rtype))
                slot = by_control.setdefault(fname, (rtype, []))
                slot[1].append(res["value"])
            for fname, (rtype, values) in by_control.items():
                if rtype == "labels":
                    span_controls.add(fname)
                raw.append((base, fname, rtype, values, f"task {tid} annotation {ai}"))
    collect_problems(problems, f"{name} is not a valid Label Studio JSON export", fix=_FIX)
    if not raw and not annotations_seen and not cancelled:
        raise InputError(
            f"{name} holds no annotations ({len(tasks)} task(s)).",
            fix="Annotate some tasks, or export with annotations included.",
        )
    multiple = {n for n, (t, style) in controls.items() if t == "choices" and style == "multiple"}
    for _, fname, rtype, values, _ in raw:
        if rtype == "choices" and sum(len(v.get("choices") or []) for v in values) > 1:
            multiple.add(fname)
    records: list[Annotation] = []
    have_spans: set[tuple] = set()
    for base, fname, rtype, values, where in raw:
        try:
            kind, value = result_value(rtype, values, fname in multiple)
        except (KeyError, TypeError, ValueError) as exc:
            problems.append(f"{where} {fname}: unreadable {rtype} result ({exc})")
            continue
        if value is None:
            continue
        if kind == "spans":
            have_spans.add((base, fname))
        records.append(annotation_from_base(base, value, kind, fname))
    for base in annotations_seen:
        for fname in sorted(span_controls):
            if (base, fname) not in have_spans:
                records.append(annotation_from_base(base, (), "spans", fname))
    collect_problems(problems, f"{name} has unreadable results", fix=_FIX)
    if not records and unsupported:
        raise InputError(
            f"{name} has only results of type {truncate(sorted(unsupported))}, which aqt does not "
            f"read; it reads {', '.join(RESULT_KINDS)}.",
            fix="Compute agreement on a project with one of those control tags.",
        )
    return AnnotationTable.from_records(records, {"cancelled": cancelled, "ignored": 0})


def annotator_name(completed_by: Any, users: Mapping[int, str]) -> str | None:
    """Email when known, else the user id as a string."""
    if isinstance(completed_by, Mapping):
        email = completed_by.get("email")
        if email:
            return str(email)
        completed_by = completed_by.get("id")
    if completed_by is None or completed_by == "":
        return None
    try:
        return users.get(int(completed_by), str(completed_by))
    except (TypeError, ValueError):
        return str(completed_by)


def result_value(rtype: str, values: list[Mapping], multiple: bool) -> tuple[str, Any]:
    """``(kind, value)`` for the result values one annotation gave one control.

    ``value`` is ``None`` when the results hold no judgement (an empty choice list).
    """
    kind = RESULT_KINDS[rtype]
    if rtype == "choices":
        chosen = [str(c) for v in values for c in (v.get("choices") or [])]
        if multiple:
            return "multichoice", frozenset(chosen)
        return "choice", chosen[0] if chosen else None
    if rtype == "labels":
        spans = []
        for v in values:
            labels = v.get("labels") or []
            for label in labels:
                spans.append(Span(int(v["start"]), int(v["end"]), str(label)))
        return kind, tuple(sorted(spans))
    if rtype in ("rating", "number"):
        return kind, float(values[0][rtype])
    if rtype == "pairwise":
        return kind, str(values[0]["selected"])
    texts = values[0].get("text")
    return kind, "\n".join(texts) if isinstance(texts, list) else str(texts)


def parse_label_config(xml: str) -> dict[str, tuple[str, str]]:
    """Control tags of a labeling config: ``name -> (result type, choice style)``.

    >>> parse_label_config('<View><Choices name="s" toName="t" choice="multiple"/></View>')
    {'s': ('choices', 'multiple')}
    """
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise FormatError(
            f"The labeling config is not valid XML: {exc}.",
            fix="Copy it from the project's Settings > Labeling Interface > Code.",
        ) from None
    out: dict[str, tuple[str, str]] = {}
    for el in root.iter():
        rtype = el.tag.lower()
        name = el.get("name")
        if name and rtype in RESULT_KINDS:
            out[name] = (rtype, el.get("choice", "single"))
    return out
