"""What ``aqt ls export --validated`` reads from a live project: annotations, item metadata and the
ground-truth annotations as adjudication decisions.

Label Studio marks the answer a reviewer trusts with ``ground_truth: true`` (the star in the
annotation's menu). As in the backend (:mod:`aqt_labelstudio.service`), such an annotation is an
adjudication, not one more annotator's rating: it is left out of the annotation table (so it does
not raise the agreement) and becomes one :class:`aqt.adjudication.Decision` per control, with the
annotation's author (by email) as adjudicator and its ``updated_at`` as time. With several
ground-truth annotations on a task, the latest one wins.

Example
-------
>>> src = fetch_validated(client, 3, control="sentiment")          # doctest: +SKIP
>>> run_export(src.table, out, meta=src.meta, decisions=src.decisions,
...            provenance=src.provenance, **options)               # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aqt.adjudication import Decision, Version
from aqt.formats.labelstudio import annotator_name, read_labelstudio_tasks
from aqt.records import AnnotationTable, natural_key, value_to_json

__all__ = [
    "ValidatedSource",
    "fetch_validated",
    "ground_truth_decisions",
    "task_meta",
    "without_ground_truth",
]


@dataclass(frozen=True)
class ValidatedSource:
    """A project's annotations (ground truth left out), item metadata, decisions, provenance."""

    table: AnnotationTable
    meta: Mapping[str, Mapping[str, Any]]
    decisions: tuple[Decision, ...]
    provenance: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "annotations": len(self.table),
            "items": len(self.meta),
            "decisions": [d.to_dict() for d in self.decisions],
            "provenance": dict(self.provenance),
        }


def _seconds(ann: Mapping[str, Any]) -> int:
    for key in ("updated_at", "created_at"):
        value = ann.get(key)
        if isinstance(value, str) and value:
            try:
                return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
            except ValueError:
                continue
    return 0


def _is_truth(ann: Any) -> bool:
    return (
        isinstance(ann, Mapping) and bool(ann.get("ground_truth")) and not ann.get("was_cancelled")
    )


def without_ground_truth(tasks: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The tasks with their ground-truth annotations removed (the annotators' ratings only)."""
    return [
        {**t, "annotations": [a for a in t.get("annotations") or [] if not _is_truth(a)]}
        for t in tasks
    ]


def ground_truth_decisions(
    tasks: Sequence[Mapping[str, Any]],
    *,
    label_config: str | None = None,
    users: Mapping[int, str] | None = None,
    project: int | None = None,
) -> list[Decision]:
    """One :class:`Decision` per ground-truth annotation and control, oldest first.

    ``versions_seen`` are the other (non-ground-truth, non-cancelled) annotations' answers to the
    same control; ``extra`` holds the project, task, annotation and control. Results aqt does not
    read (and empty ones) give no decision.
    """
    out: list[tuple[int, int, str, Decision]] = []
    for task in tasks:
        truths = [a for a in task.get("annotations") or [] if _is_truth(a)]
        if not truths:
            continue
        tid = task.get("id")
        others = [a for a in task.get("annotations") or [] if not _is_truth(a)]
        seen = _records(task, others, label_config, users)
        for ann in truths:
            adjudicator = annotator_name(ann.get("completed_by"), users or {}) or "unknown"
            for rec in _records(task, [ann], label_config, users):
                versions: dict[str, tuple[Any, list[str]]] = {}
                for r in seen:
                    if r.control == rec.control:
                        key = json.dumps(value_to_json(r.value), sort_keys=True)
                        versions.setdefault(key, (r.value, []))[1].append(r.annotator)
                decision = Decision(
                    item=str(tid),
                    kind=rec.kind,
                    decision=rec.value,
                    adjudicator=adjudicator,
                    time=_seconds(ann),
                    versions_seen=tuple(
                        Version(value, tuple(sorted(names, key=natural_key)))
                        for _, (value, names) in sorted(versions.items())
                    ),
                    reason="Label Studio ground truth",
                    extra={
                        "project": project,
                        "task": tid,
                        "annotation": ann.get("id"),
                        "control": rec.control,
                    },
                )
                out.append((decision.time, int(ann.get("id") or 0), rec.control, decision))
    return [d for *_, d in sorted(out, key=lambda x: x[:3])]


def _records(task: Mapping[str, Any], anns: list, label_config: str | None, users: Any) -> list:
    if not anns:
        return []
    one = {"id": task.get("id"), "data": task.get("data") or {}, "annotations": anns}
    table = read_labelstudio_tasks(
        [one], label_config=label_config, users=users, name=f"task {task.get('id')}"
    )
    return [r for r in table.records if r.kind != "text"]


def task_meta(tasks: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """``{task id: data fields}``: each task's data (``text`` and every other field) as item
    metadata, so ``--group-col`` and ``adversarial`` can name a data field."""
    return {str(t.get("id")): dict(t["data"]) for t in tasks if isinstance(t.get("data"), Mapping)}


def _sha256(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def fetch_validated(
    client: Any, project: int, *, control: str | None = None, has_log: bool = False
) -> ValidatedSource:
    """Read a live project for a validated export (``client`` is a
    :class:`~aqt_labelstudio.client.LabelStudioClient`).

    The table holds the annotators' answers (by email, ground truth and skipped annotations left
    out) of ``control`` (required when the project has several); the decisions are those of the
    same control. ``provenance`` names the project (URL, id, title, task count, sha256 of the tasks
    read) and the ground-truth decisions; they fill the datasheet's ``adjudication_log`` entry
    unless ``has_log`` (an ``--adjudication-log`` file is given too).
    """
    info = client.project(project)
    label_config = info.get("label_config")
    tasks = client.tasks(project)
    users = client.users()
    where = f"{client.url}/projects/{project}"
    table = read_labelstudio_tasks(
        without_ground_truth(tasks),
        label_config=label_config,
        users=users,
        name=f"Project {project} at {client.url}",
    ).select_control(control)
    controls = set(table.controls())
    decisions = tuple(
        d
        for d in ground_truth_decisions(
            tasks, label_config=label_config, users=users, project=project
        )
        if d.extra.get("control") in controls
    )
    by_adjudicator: dict[str, int] = {}
    for d in decisions:
        by_adjudicator[d.adjudicator] = by_adjudicator.get(d.adjudicator, 0) + 1
    gt = {
        "path": f"{where} (ground-truth annotations)",
        "sha256": _sha256([d.to_dict() for d in decisions]),
        "n_decisions": len(decisions),
        "adjudicators": dict(sorted(by_adjudicator.items())),
        "items": sorted({d.item for d in decisions}, key=natural_key),
    }
    provenance: dict[str, Any] = {
        "input": {"path": where, "sha256": _sha256(tasks), "tasks": len(tasks)},
        "label_studio": {
            "url": client.url,
            "project": project,
            "title": info.get("title"),
            "control": min(controls) if len(controls) == 1 else None,
            "tasks": len(tasks),
            "skipped": dict(table.skipped),
        },
        "decisions": gt,
    }
    if not has_log:
        provenance["adjudication_log"] = gt
    return ValidatedSource(table, task_meta(tasks), decisions, provenance)
