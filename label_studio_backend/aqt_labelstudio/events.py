"""Parse and check what Label Studio sends: webhook events, ``/setup`` and ``/predict`` bodies.

Shapes follow Label Studio 1.23.2 (``webhooks/models.py`` ``WebhookAction.ACTIONS``):

* ``ANNOTATION_CREATED`` / ``ANNOTATION_UPDATED``: ``{"action", "annotation": {...}, "task": {...},
  "project": {...}}`` with ``annotation.completed_by`` an int user id and ``annotation.task`` an int;
* ``ANNOTATIONS_CREATED``: the same with lists under ``annotation`` and ``task``;
* ``ANNOTATIONS_DELETED``: ``{"action", "annotations": [{"id": 12}, ...], "project": {...}}``;
* ``TASKS_DELETED``: ``{"action", "tasks": [{"id": 7}, ...], "project": {...}}``;
* ``PROJECT_UPDATED`` / ``START_TRAINING``: ``{"action", "project": {...}}``.

Result values are read by the core reader (:func:`aqt.formats.labelstudio.read_labelstudio_tasks`),
so the backend and ``aqt agreement`` on an export see the same values. Every problem raises an
:class:`aqt.errors.InputError` naming the field, which the app turns into a 400 JSON answer.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aqt.errors import AqtError, InputError, truncate
from aqt.formats.labelstudio import read_labelstudio_tasks
from aqt.records import value_to_json

from aqt_labelstudio.store import AnnotationRow

__all__ = [
    "KNOWN_ACTIONS",
    "WebhookEvent",
    "annotation_row",
    "as_int",
    "parse_predict",
    "parse_setup",
    "parse_webhook",
    "project_id",
]

KNOWN_ACTIONS = (
    "ANNOTATION_CREATED", "ANNOTATIONS_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED",
    "TASKS_CREATED", "TASKS_DELETED", "PROJECT_CREATED", "PROJECT_UPDATED", "PROJECT_DELETED",
    "START_TRAINING",
)  # fmt: skip
_FIX = "Send the payload Label Studio sends (see 'Connect in Label Studio' in README.md)."


def as_int(value: Any, where: str) -> int:
    """``value`` as an int (ints and digit strings), else an InputError naming ``where``."""
    if isinstance(value, bool):
        value = None
    if isinstance(value, str) and value.strip().isdigit() and len(value.strip()) < 19:
        value = int(value.strip())
    if isinstance(value, int) and 0 <= value < 2**63:
        return value
    raise InputError(f"{where} must be an integer id, got {str(value)[:60]!r}.", fix=_FIX)


def _obj(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InputError(f"{where} must be a JSON object, got {type(value).__name__}.", fix=_FIX)
    return value


def _timestamp(value: Any) -> float | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


def project_id(value: Any, where: str = "project") -> int:
    """Label Studio's project reference: an int, ``"1"``, ``"1.1795919020"`` (``/setup``), or an
    object with ``id``."""
    if isinstance(value, Mapping):
        return as_int(value.get("id"), f"{where}.id")
    if isinstance(value, str) and "." in value:
        value = value.split(".", 1)[0]
    return as_int(value, where)


@dataclass(frozen=True)
class WebhookEvent:
    """One parsed webhook: what to store, delete or refresh."""

    action: str
    project: int | None
    label_config: str | None = None
    model_version: str | None = None
    title: str | None = None
    rows: tuple[AnnotationRow, ...] = ()
    deleted: tuple[int, ...] = ()
    deleted_tasks: tuple[int, ...] = ()
    tasks: tuple[tuple[int, dict], ...] = ()  # (task id, data)
    task_meta: Mapping[int, dict] = field(default_factory=dict)


def annotation_row(
    ann: Mapping[str, Any],
    task: Mapping[str, Any] | None,
    project: int,
    label_config: str | None,
    where: str = "annotation",
) -> AnnotationRow:
    """One Label Studio annotation (webhook or API shape) as an :class:`AnnotationRow`."""
    ann = _obj(ann, where)
    aid = as_int(ann.get("id"), f"{where}.id")
    raw_task = ann.get("task", task.get("id") if isinstance(task, Mapping) else None)
    tid = as_int(raw_task.get("id") if isinstance(raw_task, Mapping) else raw_task, f"{where}.task")
    who = ann.get("completed_by")
    if isinstance(who, Mapping):
        who = who.get("id")
    annotator = str(as_int(who, f"{where}.completed_by"))
    result = ann.get("result")
    if result is None:
        result = []
    if not isinstance(result, list):
        raise InputError(f"{where}.result must be a list, got {type(result).__name__}.", fix=_FIX)
    cancelled = bool(ann.get("was_cancelled"))
    data = task.get("data") if isinstance(task, Mapping) else None
    one = {
        "id": tid,
        "data": data if isinstance(data, Mapping) else {},
        "annotations": [
            {
                "id": aid,
                "completed_by": int(annotator),
                "result": result,
                "was_cancelled": cancelled,
            }
        ],
    }
    try:
        table = read_labelstudio_tasks([one], label_config=label_config, name=where)
    except AqtError as exc:
        raise InputError(f"{where} {aid}: {exc.message}", fix=exc.fix or _FIX) from None
    judgements = tuple(
        sorted(
            (r.control, r.kind, json.dumps(value_to_json(r.value), sort_keys=True))
            for r in table.records
            if r.kind != "text"
        )
    )
    return AnnotationRow(
        annotation=aid,
        project=project,
        task=tid,
        annotator=annotator,
        ground_truth=bool(ann.get("ground_truth")),
        cancelled=cancelled,
        updated_at=_timestamp(ann.get("updated_at")),
        judgements=judgements,
    )


def parse_webhook(body: Any) -> WebhookEvent:
    """Check a webhook body and turn it into a :class:`WebhookEvent`."""
    try:
        return _parse_webhook(body)
    except AqtError:
        raise
    except (TypeError, ValueError, KeyError, AttributeError, IndexError, OverflowError) as exc:
        # a shape none of the checks above foresaw: still the sender's fault, never a 500
        raise InputError(
            f"The webhook body is malformed ({type(exc).__name__}: {str(exc)[:80]}).", fix=_FIX
        ) from None


def _parse_webhook(body: Any) -> WebhookEvent:
    body = _obj(body, "The webhook body")
    action = body.get("action")
    if not isinstance(action, str) or not action:
        raise InputError("The webhook body has no 'action'.", fix=_FIX)
    if action not in KNOWN_ACTIONS:
        return WebhookEvent(action=action, project=None)
    proj = body.get("project")
    pid = project_id(proj) if proj is not None else None
    label_config = model_version = title = None
    if isinstance(proj, Mapping):
        label_config = (
            proj.get("label_config") if isinstance(proj.get("label_config"), str) else None
        )
        model_version = (
            proj.get("model_version") if isinstance(proj.get("model_version"), str) else None
        )
        title = proj.get("title") if isinstance(proj.get("title"), str) else None
    if action in ("ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_CREATED"):
        anns = body.get("annotation")
        tasks = body.get("task")
        if not isinstance(anns, list):
            anns, tasks = [anns], [tasks]
        if not isinstance(tasks, list):
            tasks = [tasks] * len(anns)
        by_id = {
            t.get("id"): t for t in tasks if isinstance(t, Mapping) and isinstance(t.get("id"), int)
        }
        rows, task_data, meta = [], [], {}
        for i, ann in enumerate(anns):
            where = "annotation" if len(anns) == 1 else f"annotation[{i}]"
            ann = _obj(ann, where)
            if pid is None:
                pid = project_id(ann.get("project"), f"{where}.project")
            ref = ann.get("task")
            task = (by_id.get(ref) if isinstance(ref, int) else None) or (
                tasks[i] if i < len(tasks) else None
            )
            row = annotation_row(
                ann, task if isinstance(task, Mapping) else None, pid, label_config, where
            )
            rows.append(row)
            if isinstance(task, Mapping) and isinstance(task.get("data"), Mapping):
                task_data.append((row.task, dict(task["data"])))
                if isinstance(task.get("meta"), Mapping):
                    meta[row.task] = dict(task["meta"])
        return WebhookEvent(
            action,
            pid,
            label_config,
            model_version,
            title,
            rows=tuple(rows),
            tasks=tuple(task_data),
            task_meta=meta,
        )
    if action in ("ANNOTATIONS_DELETED", "TASKS_DELETED"):
        key = "annotations" if action == "ANNOTATIONS_DELETED" else "tasks"
        items = body.get(key)
        if not isinstance(items, list):
            raise InputError(
                f"{action} needs a list '{key}' of {{'id': ...}} objects, got "
                f"{type(items).__name__}.",
                fix=_FIX,
            )
        ids = tuple(
            as_int(_obj(x, f"{key}[{i}]").get("id"), f"{key}[{i}].id") for i, x in enumerate(items)
        )
        if action == "ANNOTATIONS_DELETED":
            return WebhookEvent(action, pid, label_config, model_version, title, deleted=ids)
        return WebhookEvent(action, pid, label_config, model_version, title, deleted_tasks=ids)
    return WebhookEvent(action, pid, label_config, model_version, title)


def parse_setup(body: Any) -> dict[str, Any]:
    """``/setup``: project id, schema, hostname; ``access_token`` is dropped (a secret we never use)."""
    body = _obj(body, "The /setup body")
    out: dict[str, Any] = {"project": None, "schema": None, "hostname": None}
    if body.get("project") not in (None, ""):
        out["project"] = project_id(body.get("project"))
    if isinstance(body.get("schema"), str):
        out["schema"] = body["schema"]
    if isinstance(body.get("hostname"), str):
        out["hostname"] = body["hostname"]
    return out


def parse_predict(body: Any) -> tuple[int | None, str | None, list[Mapping[str, Any]]]:
    """``/predict``: (project id, label config, tasks with ``id`` and ``data``)."""
    body = _obj(body, "The /predict body")
    tasks = body.get("tasks")
    if not isinstance(tasks, list) or not tasks:
        raise InputError("The /predict body needs a non-empty list 'tasks'.", fix=_FIX)
    bad = [
        i
        for i, t in enumerate(tasks)
        if not isinstance(t, Mapping) or not isinstance(t.get("data"), Mapping)
    ]
    if bad:
        raise InputError(f"tasks {truncate(bad)} are not objects with a 'data' object.", fix=_FIX)
    project = body.get("project")
    pid = None
    if project not in (None, ""):
        pid = project_id(project)
    elif tasks[0].get("project") is not None:
        pid = project_id(tasks[0].get("project"), "tasks[0].project")
    config = body.get("label_config")
    return pid, config if isinstance(config, str) else None, tasks
