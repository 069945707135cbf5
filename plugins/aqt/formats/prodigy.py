"""Prodigy datasets: ``prodigy db-out`` JSON Lines, or the example dicts a recipe gets from the DB.

How a saved example becomes a record
------------------------------------
``choice`` (any example with ``options``)
    value = the ``accept`` ids; kind ``multichoice`` when the task config says
    ``choice_style: "multiple"`` or any answer of that view has more than one id, else ``choice``.
    Item = ``_input_hash``.
``ner_manual``, ``spans_manual``, ``pos_manual``
    kind ``spans``: the ``spans`` as character offsets (``end`` exclusive); item = ``_input_hash``.
``classification``, ``ner``, ``pos``, ``dep`` (binary interfaces)
    kind ``binary``, value ``"accept"`` / ``"reject"``; item = ``_task_hash`` because one text can
    carry several label questions. Control = the task's ``label`` (so each question can be picked
    with ``select_control``), else the view id.
``text_input``
    kind ``text``: the typed text (``user_input``, or the task's ``field_id``).
any other interface
    kind ``binary`` on the answer, item = ``_input_hash``.

Examples without ``_view_id`` (older datasets) that carry a ``label`` are read as
``classification``.

Everywhere else the control is the view id, so a file mixing interfaces keeps them apart.

Answers left out: ``ignore`` (counted in ``skipped["ignored"]``) and ``reject`` on a manual
interface (choice or spans), counted in ``skipped["rejected"]``. This matches Prodigy's own
``review`` recipe, which drops manual rejects: a reject there means "bad example", not a label.

The annotator is ``_annotator_id`` (else ``_session_id``) with the ``DATASET-`` prefix removed: the
``dataset`` given, or else inferred as the common prefix up to the last ``-`` when every id has one
(unnamed sessions, which are timestamps, are left alone).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from aqt.errors import InputError, collect_problems
from aqt.formats._common import Progress, check_file, fast_annotation, gc_paused, iter_jsonl
from aqt.records import AnnotationTable, Span

__all__ = ["read_prodigy_examples", "read_prodigy_jsonl", "strip_dataset_prefix"]

BINARY_TASK_VIEWS = frozenset({"classification", "ner", "pos", "dep"})
SPAN_VIEWS = frozenset({"ner_manual", "spans_manual", "pos_manual"})
_UNNAMED_SESSION = re.compile(r"^\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}$")
_FIX = "Export the dataset again with `prodigy db-out DATASET > file.jsonl`."


@gc_paused
def read_prodigy_jsonl(
    path: str | Path, dataset: str | None = None, *, progress: Progress | None = None
) -> AnnotationTable:
    """Read a ``prodigy db-out`` JSON Lines file; see :func:`read_prodigy_examples`.

    Malformed lines are all reported at once, with their line numbers.
    """
    p = check_file(path)
    return _read(iter_jsonl(p, progress, what="Prodigy JSONL"), dataset, p.name)


@gc_paused
def read_prodigy_examples(examples: Iterable[dict], dataset: str | None = None) -> AnnotationTable:
    """Turn Prodigy saved examples (``db.get_dataset_examples`` or db-out lines) into a table.

    Parameters
    ----------
    examples
        Saved example dicts with ``answer``, ``_input_hash``, ``_task_hash`` and ``_view_id``.
    dataset
        The dataset name; ``DATASET-`` is removed from session ids. Inferred when omitted.

    Returns
    -------
    AnnotationTable
        One record per accepted/rejected judgement, ``skipped["ignored"]`` counting ``ignore``
        answers and ``skipped["rejected"]`` manual rejects (present only when non-zero).

    Examples
    --------
    >>> eg = {"text": "ok", "options": [{"id": "POS"}], "accept": ["POS"], "answer": "accept",
    ...       "_input_hash": 1, "_task_hash": 2, "_view_id": "choice", "_session_id": "d-ann"}
    >>> t = read_prodigy_examples([eg], dataset="d")
    >>> (t.records[0].item, t.records[0].annotator, t.records[0].value)
    ('1', 'ann', 'POS')
    """
    return _read(
        ((i, eg) for i, eg in enumerate(examples, 1)), dataset, "examples", where="example"
    )


def _read(
    numbered: Iterable[tuple[int, dict]], dataset: str | None, name: str, where: str = "line"
) -> AnnotationTable:
    problems: list[str] = []
    raw: list[tuple] = []
    multiple_views: set[str] = set()
    ignored = rejected = 0
    for lineno, eg in numbered:
        if type(eg) is not dict and not isinstance(eg, Mapping):
            problems.append(f"{where} {lineno}: expected a dict, got {type(eg).__name__}")
            continue
        answer = eg.get("answer")
        if answer == "ignore":
            ignored += 1
            continue
        if answer not in ("accept", "reject"):
            problems.append(f"{where} {lineno}: answer is {answer!r}, not accept/reject/ignore")
            continue
        view = eg.get("_view_id") or ("classification" if "label" in eg else "")
        is_choice = view == "choice" or "options" in eg
        if answer == "reject" and (is_choice or view in SPAN_VIEWS):
            rejected += 1
            continue
        annotator = eg.get("_annotator_id") or eg.get("_session_id")
        if is_choice:
            key = "_input_hash"
            accept = eg.get("accept") or []
            if type(accept) is not list:
                problems.append(f"{where} {lineno}: accept is {accept!r}, not a list of option ids")
                continue
            config = eg.get("config")
            if len(accept) > 1 or (
                type(config) is dict and config.get("choice_style") == "multiple"
            ):
                multiple_views.add(view)
            value: Any = tuple(a if a.__class__ is str else str(a) for a in accept)
            kind = "choice"
            control = view or "choice"
        elif view in SPAN_VIEWS:
            key = "_input_hash"
            try:
                value = tuple(
                    sorted(
                        Span(int(s["start"]), int(s["end"]), str(s["label"]))
                        for s in eg.get("spans") or []
                    )
                )
            except (KeyError, TypeError, ValueError):
                problems.append(f"{where} {lineno}: spans need integer start, end and a label")
                continue
            kind, control = "spans", view
        elif view == "text_input":
            key, kind, control = "_input_hash", "text", view
            value = eg.get(eg.get("field_id") or "user_input")
            if not isinstance(value, str):
                continue  # nothing typed
        else:
            key = "_task_hash" if view in BINARY_TASK_VIEWS else "_input_hash"
            value, kind = answer, "binary"
            label = eg.get("label")
            control = str(label) if view == "classification" and label else (view or "binary")
        item = eg.get(key)
        if item is None:
            problems.append(f"{where} {lineno}: no {key}")
            continue
        meta = eg.get("meta")
        if type(meta) is not dict:
            meta = {}
        raw.append(
            (
                str(item),
                None if annotator is None else str(annotator),
                value,
                kind,
                control,
                eg.get("_timestamp"),
                meta.get("guideline_version"),
                meta.get("source"),
                eg.get("text"),
                view,
            )
        )
    collect_problems(problems, f"{name} is not a valid Prodigy dataset", fix=_FIX)
    if not raw and not ignored and not rejected:
        raise InputError(f"{name} holds no Prodigy examples.", fix=_FIX)
    names = strip_dataset_prefix([r[1] for r in raw if r[1] is not None], dataset)
    records = []
    make = fast_annotation()
    for item, ann, value, kind, control, ts, gv, source, text, view in raw:
        if kind == "choice":
            if view in multiple_views:
                kind, value = "multichoice", frozenset(value)
            elif not value:
                continue  # single choice accepted with nothing selected: no label given
            else:
                value = value[0]
        records.append(
            make(
                item,
                names.get(ann, "unknown") if ann is not None else "unknown",
                value,
                kind,
                control,
                float(ts) if ts.__class__ in (int, float) else None,
                None if gv is None else str(gv),
                None if source is None else str(source),
                None,
                text if text.__class__ is str else None,
            )
        )
    skipped = {"cancelled": 0, "ignored": ignored}
    if rejected:
        skipped["rejected"] = rejected
    return AnnotationTable.from_records(records, skipped)


def strip_dataset_prefix(ids: Iterable[str], dataset: str | None = None) -> dict[str, str]:
    """Map each session id to its display name, without the ``DATASET-`` prefix.

    >>> strip_dataset_prefix(["ner_v2-annotator1", "ner_v2-annotator2"])
    {'ner_v2-annotator1': 'annotator1', 'ner_v2-annotator2': 'annotator2'}
    >>> strip_dataset_prefix(["2023-10-27_16-50-06"])
    {'2023-10-27_16-50-06': '2023-10-27_16-50-06'}
    """
    unique = sorted(set(ids))
    if dataset is None:
        dataset = _infer_dataset(unique)
    if not dataset:
        return {i: i for i in unique}
    prefix = dataset + "-"
    return {
        i: i[len(prefix) :] if i.startswith(prefix) and len(i) > len(prefix) else i for i in unique
    }


def _infer_dataset(ids: list[str]) -> str | None:
    if not ids or any("-" not in i or _UNNAMED_SESSION.match(i) for i in ids):
        return None
    common = ids[0]
    for i in ids[1:]:
        n = 0
        for a, b in zip(common, i):
            if a != b:
                break
            n += 1
        common = common[:n]
    cut = common.rfind("-")
    return common[:cut] if cut > 0 else None
