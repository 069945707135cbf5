"""Selection review of a Label Studio project's unlabelled tasks, after each background retrain.

The tasks nobody has labelled yet run through aqt's selection review (:mod:`aqt.active`): empty or
garbled text, another language, duplicates (of a labelled task, or of an earlier unlabelled one),
length outliers and off-task items once enough tasks are labelled, and tasks like the ones
annotators skipped. A flagged task gets the reason in its data field ``aqt_review`` (for example
``"duplicate of task 12"``, ``"language: de"``, ``"empty text"``); the field is removed when the
task is no longer flagged (labelled since, or the reason went away). The Data Manager view
"aqt: selection review" lists the tasks whose ``aqt_review`` is set, least confident first.

Other-language samples for the language check come from the JSONL file named by the environment
variable ``AQT_LANGUAGE_SAMPLES`` (one ``{"text": ..., "lang": ...}`` per line); without it,
text far from the project's own character statistics is reported as ``"language: other"``.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aqt import sources
from aqt.errors import InputError

from aqt_labelstudio.lsapi import LabelStudioError
from aqt_labelstudio.model import choices_controls, task_text
from aqt_labelstudio.taskdata import REVIEW_FIELD, write_task_fields

__all__ = [
    "LANGUAGE_SAMPLES_ENV",
    "MIN_REFERENCE",
    "REVIEW_FIELD",
    "language_samples",
    "review_project",
    "review_reasons",
    "short_reason",
]

log = logging.getLogger("aqt.backend")

LANGUAGE_SAMPLES_ENV = "AQT_LANGUAGE_SAMPLES"
#: labelled tasks needed before they set the length limit and the off-task reference
MIN_REFERENCE = 300


def language_samples(path: str | os.PathLike | None = None) -> dict[str, list[str]] | None:
    """``{lang: [texts]}`` from a JSONL file (default: ``$AQT_LANGUAGE_SAMPLES``), else None."""
    path = path or os.environ.get(LANGUAGE_SAMPLES_ENV)
    if not path:
        return None
    p = Path(path)
    if not p.is_file():
        raise InputError(
            f"{LANGUAGE_SAMPLES_ENV} names {str(p)!r}, which is not a file.",
            fix=f"Point {LANGUAGE_SAMPLES_ENV} at a JSONL file of {{text, lang}} lines, or unset it.",
        )
    return sources.read_language_samples(p) or None


_PATTERNS = (
    (re.compile(r"^empty_text\b.*"), lambda m: "empty text"),
    (re.compile(r"^garbled_text\b.*"), lambda m: "garbled text"),
    (
        re.compile(r"^language_mismatch: looks like (?:np\.str_\()?'([^']*)'"),
        lambda m: f"language: {m[1]}",
    ),
    (re.compile(r"^length_outlier: (\d+) characters.*"), lambda m: f"length outlier: {m[1]} chars"),
    (re.compile(r"^off_task: vocabulary coverage ([\d.]+).*"), lambda m: f"off-task ({m[1]})"),
    (
        re.compile(r"^off_task: like the length outliers \(p=([\d.]+)\)"),
        lambda m: f"like the length outliers (p={m[1]})",
    ),
    (re.compile(r"^skip_model: .*\(p=([\d.]+)\)"), lambda m: f"like skipped tasks (p={m[1]})"),
    (re.compile(r"^exact_duplicate: of item (\S+).*"), lambda m: f"duplicate of task {m[1]}"),
    (re.compile(r"^near_duplicate: of item (\S+).*"), lambda m: f"near duplicate of task {m[1]}"),
)


def short_reason(reason: str) -> str:
    """A core review reason in the words the Data Manager shows (``"language: de"``)."""
    for pattern, fmt in _PATTERNS:
        m = pattern.match(reason)
        if m:
            return fmt(m)
    return reason


def review_reasons(
    task_ids: Sequence[int],
    texts: Sequence[str],
    labelled: Sequence[bool],
    skipped: Sequence[bool] = (),
    other_languages: Mapping[str, Sequence[str]] | None = None,
) -> dict[int, str]:
    """Task id -> reason for every flagged unlabelled task (pure; the tasks in id order).

    ``labelled`` tasks are the reference and the "already sent" set for duplicates; ``skipped``
    tasks (annotations all cancelled) and labelled ones teach the skip model.
    """
    from aqt.active import SelectionReview, SkipModel, make_model
    from aqt.active.dedup import DuplicateIndex

    order = sorted(range(len(task_ids)), key=lambda k: task_ids[k])
    ids = [int(task_ids[k]) for k in order]
    txt = [texts[k] for k in order]
    lab = [bool(labelled[k]) for k in order]
    skp = [bool(skipped[k]) for k in order] if len(skipped) else [False] * len(ids)
    if not ids:
        return {}
    vectors = make_model("sklearn-hashing").vectorize(txt)
    review = SelectionReview(txt, other_languages=other_languages, vectors=vectors)
    done = [k for k in range(len(ids)) if lab[k] and not skp[k]]
    if len(done) >= MIN_REFERENCE:
        review.update_reference(done)
    sent = DuplicateIndex(threshold=review.config.near_duplicate)
    for k in done:
        sent.add([str(ids[k])], [txt[k]], review.signatures[k][None, :], [review.keys[k]])
    answered = [k for k in range(len(ids)) if lab[k] or skp[k]]
    skip_model = SkipModel()
    if answered:
        skip_model.fit_features(review.skip_features[answered], [skp[k] for k in answered])
    todo = [k for k in range(len(ids)) if not lab[k] and not skp[k]]
    outcome = review.review(todo, sent=sent, skip_model=skip_model)

    def named(reason: str) -> str:  # within-batch duplicates name positions: show task ids
        return re.sub(
            r"of item (\d+) \(earlier in this batch\)",
            lambda m: f"of item {ids[int(m[1])]} (earlier)",
            reason,
        )

    return {
        ids[k]: "; ".join(dict.fromkeys(short_reason(named(r)) for r in reasons))
        for k, reasons in sorted(outcome.flagged.items())
    }


def review_project(backend: Any, project: int) -> dict[str, int]:
    """Review the unlabelled tasks of ``project`` and write, or clear, ``aqt_review`` in Label
    Studio and in the store; returns counts of ``flagged``, ``set`` and ``cleared`` tasks.

    The wanted reasons are recorded in the store (:meth:`Store.set_reviews`) before any task is
    written, and each changed task goes through
    :func:`~aqt_labelstudio.taskdata.write_task_fields`, which carries the task's current
    agreement flag, so this and the flag sync never undo each other."""
    info = backend.store.project(project) or {}
    controls = choices_controls(info.get("label_config"))
    key = controls[0].text_key if controls else None
    rows = backend.store.query(
        "SELECT t.task, t.data, "
        "(SELECT COUNT(*) FROM annotations a WHERE a.task=t.task AND a.cancelled=0), "
        "(SELECT COUNT(*) FROM annotations a WHERE a.task=t.task AND a.cancelled=1) "
        "FROM tasks t WHERE t.project=? ORDER BY t.task",
        (project,),
    )
    if not rows:
        return {"flagged": 0, "set": 0, "cleared": 0}
    datas = {int(t): json.loads(d) for t, d, _, _ in rows}
    reasons = review_reasons(
        [int(r[0]) for r in rows],
        [task_text(datas[int(r[0])], key) for r in rows],
        [r[2] > 0 for r in rows],
        [r[2] == 0 and r[3] > 0 for r in rows],
        other_languages=language_samples(),
    )
    changed = {"flagged": len(reasons), "set": 0, "cleared": 0}
    # record every task's wanted reason first: a flag sync writing a task meanwhile carries it
    wanted = {task: reasons.get(task) for task in datas}
    backend.store.set_reviews(project, wanted)
    for task, data in datas.items():
        want = wanted[task]
        if want == data.get(REVIEW_FIELD):
            continue
        # the whole data object is written, under the task's lock, with the current flag too
        try:
            write_task_fields(backend.store, backend.api, project, task)
        except LabelStudioError as exc:
            if exc.status == 404:  # the task is gone from Label Studio
                continue
            raise
        changed["cleared" if want is None else "set"] += 1
    return changed
