"""Payloads shaped exactly as Label Studio 1.23.2 sends them to an ML backend, for the backend
tests (reference: /work/shared/reference/labelstudio.md sections 2.2 and 3). Also a small
in-memory stand-in for the backend's Label Studio API client."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CONFIG = (ROOT / "configs" / "labelstudio" / "text_classification.xml").read_text()
T0 = datetime(2026, 11, 1, 12, 0, 0, tzinfo=timezone.utc)


def iso(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def project_obj(pid: int = 1, model_version: str = "aqt-backend", config: str = CONFIG) -> dict:
    """ProjectWebhookSerializer output (abbreviated to the keys that matter, plus a few others)."""
    return {
        "id": pid,
        "title": "Sentiment",
        "description": "",
        "label_config": config,
        "expert_instruction": "",
        "show_instruction": False,
        "show_skip_button": True,
        "enable_empty_annotation": True,
        "show_annotation_history": False,
        "organization": 1,
        "color": "#FFFFFF",
        "maximum_annotations": 3,
        "is_published": False,
        "model_version": model_version,
        "is_draft": False,
        "created_by": 1,
        "created_at": iso(0),
        "min_annotations_to_start_training": 0,
        "start_training_on_annotation_update": False,
        "show_collab_predictions": True,
        "num_tasks_with_annotations": None,
        "task_number": 20,
        "useful_annotation_number": None,
        "ground_truth_number": 0,
        "skipped_annotations_number": 0,
        "total_annotations_number": 0,
        "total_predictions_number": 0,
        "sampling": "Sequential sampling",
        "show_ground_truth_first": False,
        "show_overlap_first": False,
        "overlap_cohort_percentage": 100,
        "task_data_login": None,
        "task_data_password": None,
        "control_weights": {},
        "evaluate_predictions_automatically": False,
        "skip_queue": "REQUEUE_FOR_OTHERS",
        "reveal_preannotations_interactively": False,
        "pinned_at": None,
        "finished_task_number": 0,
        "queue_total": 0,
        "queue_done": 0,
        "token": "secret-invite",
    }


def task_obj(tid: int, text: str, pid: int = 1, **data: Any) -> dict:
    """TaskWebhookSerializer output."""
    return {
        "id": tid,
        "data": {"text": text, **data},
        "meta": {},
        "created_at": iso(0),
        "updated_at": iso(0),
        "is_labeled": False,
        "overlap": 3,
        "inner_id": tid,
        "total_annotations": 1,
        "cancelled_annotations": 0,
        "total_predictions": 0,
        "comment_count": 0,
        "unresolved_comment_count": 0,
        "last_comment_updated_at": None,
        "project": pid,
        "updated_by": None,
        "file_upload": None,
        "comment_authors": [],
        "allow_skip": True,
        "precomputed_agreement": None,
    }


def result(label: str | list[str], control: str = "sentiment") -> list[dict]:
    labels = [label] if isinstance(label, str) else label
    return [
        {
            "id": "r" + "".join(labels)[:6],
            "from_name": control,
            "to_name": "text",
            "type": "choices",
            "value": {"choices": labels},
            "origin": "manual",
        }
    ]


def annotation_obj(
    aid: int,
    tid: int,
    user: int,
    label: str | list[str],
    *,
    pid: int = 1,
    t: float = 10.0,
    ground_truth: bool = False,
    cancelled: bool = False,
) -> dict:
    """AnnotationWebhookSerializer output (fields '__all__': task, project, completed_by are ids)."""
    return {
        "id": aid,
        "result": [] if cancelled else result(label),
        "created_ago": "0 minutes",
        "completed_by": user,
        "unique_id": f"0000-{aid}",
        "was_cancelled": cancelled,
        "ground_truth": ground_truth,
        "created_at": iso(t),
        "updated_at": iso(t),
        "draft_created_at": None,
        "lead_time": 3.2,
        "import_id": None,
        "last_action": None,
        "bulk_created": False,
        "task": tid,
        "project": pid,
        "updated_by": user,
        "parent_prediction": None,
        "parent_annotation": None,
        "last_created_by": None,
        "prediction": {},
        "result_count": 1,
    }


def created(
    aid: int,
    tid: int,
    user: int,
    label: str | list[str],
    text: str = "",
    *,
    action: str = "ANNOTATION_CREATED",
    pid: int = 1,
    model_version: str = "aqt-backend",
    **kw: Any,
) -> dict:
    return {
        "action": action,
        "annotation": annotation_obj(aid, tid, user, label, pid=pid, **kw),
        "task": task_obj(tid, text or f"text of task {tid}", pid),
        "project": project_obj(pid, model_version),
    }


def updated(aid: int, tid: int, user: int, label: str, text: str = "", **kw: Any) -> dict:
    return created(aid, tid, user, label, text, action="ANNOTATION_UPDATED", **kw)


def deleted(ids: list[int], pid: int = 1) -> dict:
    return {
        "action": "ANNOTATIONS_DELETED",
        "annotations": [{"id": i} for i in ids],
        "project": project_obj(pid),
    }


def setup_body(pid: int = 1) -> dict:
    return {
        "project": f"{pid}.1795919020",
        "schema": CONFIG,
        "hostname": "http://127.0.0.1:8080",
        "access_token": "legacy-token-of-the-creator",
        "extra_params": None,
    }


def predict_body(tasks: list[tuple[int, str]], pid: int = 1) -> dict:
    return {
        "tasks": [
            {
                "id": tid,
                "data": {"text": text},
                "meta": {},
                "annotations": [],
                "predictions": [],
                "project": pid,
                "inner_id": tid,
                "is_labeled": False,
                "overlap": 3,
                "total_annotations": 0,
                "cancelled_annotations": 0,
                "total_predictions": 0,
                "file_upload": None,
                "updated_by": None,
                "created_at": iso(0),
                "updated_at": iso(0),
                "comment_count": 0,
                "unresolved_comment_count": 0,
                "last_comment_updated_at": None,
                "comment_authors": [],
            }
            for tid, text in tasks
        ],
        "project": f"{pid}.1795919020",
        "label_config": CONFIG,
        "params": {"login": None, "password": None, "context": None},
    }


def export_of(events: list[dict]) -> list[dict]:
    """The Label Studio JSON export the same events would leave (latest state per annotation)."""
    tasks: dict[int, dict] = {}
    anns: dict[int, dict] = {}
    for ev in events:
        if ev["action"] == "ANNOTATIONS_DELETED":
            for a in ev["annotations"]:
                anns.pop(a["id"], None)
            continue
        ann = ev["annotation"]
        tasks.setdefault(ann["task"], {"id": ann["task"], "data": ev["task"]["data"]})
        anns[ann["id"]] = ann
    out = []
    for tid in sorted(tasks):
        task = copy.deepcopy(tasks[tid])
        task["annotations"] = [
            copy.deepcopy(a) for _, a in sorted(anns.items()) if a["task"] == tid
        ]
        out.append(task)
    return out


class FakeLabelStudio:
    """In-memory stand-in for :class:`aqt_labelstudio.lsapi.LabelStudioAPI` (same methods)."""

    def __init__(self, project: dict | None = None) -> None:
        self.project_doc = project or project_obj()
        self.tasks: dict[int, dict] = {}
        self.preds: dict[int, dict] = {}
        self.calls: list[tuple] = []

    def add_task(self, tid: int, text: str, annotations: list[dict] | None = None) -> None:
        self.tasks[tid] = {"id": tid, "data": {"text": text}, "annotations": annotations or []}

    def close(self) -> None:
        self.calls.append(("close",))

    def project(self, project: int) -> dict:
        self.calls.append(("project", project))
        return copy.deepcopy(self.project_doc)

    def iter_tasks(self, project: int):
        self.calls.append(("iter_tasks", project))
        return iter(copy.deepcopy([self.tasks[t] for t in sorted(self.tasks)]))

    def request(self, method: str, path: str, **kw: Any) -> Any:
        self.calls.append((method, path))
        tid = int(path.strip("/").split("/")[-1])
        return copy.deepcopy(self.tasks[tid])

    def set_task_data(self, task: int, data: dict) -> dict:
        self.calls.append(("set_task_data", task, copy.deepcopy(data)))
        self.tasks[task]["data"] = copy.deepcopy(data)
        return self.tasks[task]

    def predictions(self, project: int) -> list[dict]:
        return copy.deepcopy(list(self.preds.values()))

    def create_prediction(self, task: int, prediction: dict) -> dict:
        pid = len(self.preds) + 1
        self.preds[pid] = {"id": pid, "task": task, **copy.deepcopy(prediction)}
        self.calls.append(("create_prediction", task))
        return self.preds[pid]

    def update_prediction(self, pid: int, prediction: dict) -> dict:
        self.preds[pid].update(copy.deepcopy(prediction))
        self.calls.append(("update_prediction", pid))
        return self.preds[pid]
