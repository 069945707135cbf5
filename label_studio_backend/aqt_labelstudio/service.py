"""What the routes call: ingest events, flag and resolve tasks, predict, train, reconcile.

One :class:`Backend` per worker process. Webhook ingestion is synchronous and small (one SQLite
transaction: store the annotation, recompute the task's item agreement, update its flag, log an
adjudication); everything that talks to Label Studio or trains a model runs in two background
threads (:mod:`aqt_labelstudio.worker`), so a submit in Label Studio never waits for it.
"""

from __future__ import annotations

import json
import logging
import os
import time
import uuid
from collections import defaultdict
from typing import Any

from aqt.adjudication import Decision, Version
from aqt.errors import AqtError
from aqt.records import value_to_json

from aqt_labelstudio.events import WebhookEvent, annotation_row
from aqt_labelstudio.live import LiveAgreement, decode, item_agreements
from aqt_labelstudio.lsapi import STATUS_FIELD, LabelStudioAPI
from aqt_labelstudio.model import TextModel
from aqt_labelstudio.predictions import ModelServing
from aqt_labelstudio.quality import (
    NEEDS_REANNOTATION,
    LiveQuality,
    annotator_report,
    needs_reannotation,
)
from aqt_labelstudio.settings import Settings
from aqt_labelstudio.store import Store, Tx

__all__ = ["ADJUDICATED", "NEEDS", "NEEDS_REANNOTATION", "OK", "Backend"]

log = logging.getLogger("aqt.backend")

NEEDS, ADJUDICATED, OK = "needs_adjudication", "adjudicated", "ok"


class Backend(ModelServing):
    """The backend's state and operations for one process (see module docstring); models and
    predictions come from :class:`~aqt_labelstudio.predictions.ModelServing`."""

    def __init__(self, settings: Settings, api: LabelStudioAPI | None = None) -> None:
        self.settings = settings
        self.store = Store(settings.data_dir)
        self.live = LiveAgreement(self.store)
        self.quality = LiveQuality(self.store, settings.thresholds)
        self.api = api
        if api is None and settings.can_call_label_studio:
            self.api = LabelStudioAPI(settings.label_studio_url, settings.api_key)
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.models: dict[tuple[int, str], TextModel] = {}
        self._model_check: dict[tuple[int, str], float] = {}
        self.reconcile_requests: set[int] = set()
        self.reconcile_attempts: dict[int, float] = {}
        self._projects: dict[int, tuple[float, dict[str, Any]]] = {}
        self._asked: dict[int, float] = {}
        #: project -> debounce state of the re-annotation flags (see worker.reannotation_due)
        self.reannotation_seen: dict[int, dict[str, Any]] = {}
        self.started = time.time()

    # ================================================================== ingestion
    def handle_event(self, ev: WebhookEvent) -> dict[str, Any]:
        """Apply one webhook event in one transaction; returns counts for the answer."""
        try:
            return self._handle_event(ev)
        finally:
            self.forget_project(ev.project)

    def _handle_event(self, ev: WebhookEvent) -> dict[str, Any]:
        if ev.action == "START_TRAINING" and ev.project is not None:
            with self.store.write() as tx:
                tx.upsert_project(
                    ev.project,
                    label_config=ev.label_config,
                    title=ev.title,
                    model_version=ev.model_version,
                )
                tx.c.execute(
                    "UPDATE projects SET label_changed_at=0 WHERE project=?", (ev.project,)
                )
            return {"status": "ok", "action": ev.action, "changed": 0}
        if ev.project is None:
            return {"status": "ignored", "action": ev.action}
        self.forget_project(ev.project)
        changed = 0
        with self.store.write() as tx:
            tx.upsert_project(
                ev.project,
                label_config=ev.label_config,
                model_version=ev.model_version,
                title=ev.title,
            )
            for tid, data in ev.tasks:
                tx.upsert_task(ev.project, tid, data)
            gt_tasks = {r.task for r in ev.rows if r.ground_truth and not r.cancelled}
            before = {t: tx.flag(t) for t in gt_tasks}
            for row in ev.rows:
                changed += tx.upsert_annotation(row)
            deleted = list(ev.deleted)
            if ev.deleted_tasks:
                marks = ",".join("?" * len(ev.deleted_tasks))
                deleted += [
                    r[0]
                    for r in tx.c.execute(
                        f"SELECT annotation FROM annotations WHERE task IN ({marks})",
                        ev.deleted_tasks,
                    )
                ]
                tx.c.execute(f"DELETE FROM flags WHERE task IN ({marks})", ev.deleted_tasks)
            changed += len(tx.delete_annotations(deleted))
            self._update_flags(tx, {t for _, t in tx.touched})
            for row in ev.rows:
                if row.task in gt_tasks and row.ground_truth:
                    self._adjudicate(tx, row, before.get(row.task), ev.task_meta.get(row.task))
        return {"status": "ok", "action": ev.action, "changed": changed}

    def _update_flags(self, tx: Tx, tasks: set[int]) -> None:
        threshold = self.settings.thresholds.item_agreement
        for task in sorted(tasks):
            project = tx.c.execute(
                "SELECT project FROM annotations WHERE task=? LIMIT 1", (task,)
            ).fetchone()
            current = tx.flag(task)
            scores = item_agreements(tx.task_effective(task), task)
            if current and current[0] == ADJUDICATED:
                continue
            if not scores:
                if current and current[0] == NEEDS:
                    tx.set_flag(current_project(tx, task), task, OK)
                continue
            control, worst = min(scores.items(), key=lambda kv: (kv[1], kv[0]))
            status = NEEDS if worst < threshold else OK
            if status == OK and current and current[0] == NEEDS_REANNOTATION:
                # the sync thread decides, once events settle, whether the task still needs
                # re-annotation (it knows the flagged annotators); ingestion stays cheap
                status = NEEDS_REANNOTATION
            tx.set_flag(
                project[0] if project else current_project(tx, task),
                task,
                status,
                control=control,
                item_agreement=worst,
            )

    def _adjudicate(self, tx: Tx, row, before: tuple | None, meta: dict | None) -> None:
        now = tx.flag(row.task)
        # flagged now or before this event, or flagged once and recovered without adjudication
        # (e.g. the adjudicator's own submission, before it was marked as ground truth)
        pending = any(
            f and (f[0] == NEEDS or (f[2] and f[0] != ADJUDICATED)) for f in (before, now)
        )
        if not pending:
            return
        seen = tx.task_effective(row.task)
        data = self.store_task_data(tx, row.task) or {}
        guideline = (meta or {}).get("guideline_version") or data.get("guideline_version")
        decisions = []
        for control, kind, value in row.judgements:
            versions: dict[str, list[str]] = defaultdict(list)
            for c, annotator, _, v in seen:
                if c == control:
                    versions[v].append(annotator)
            decisions.append(
                Decision(
                    item=str(row.task),
                    kind=kind,
                    decision=decode(kind, value),
                    adjudicator=row.annotator,
                    time=int(row.updated_at or time.time()),
                    versions_seen=tuple(
                        Version(decode(kind, v), tuple(sorted(a)))
                        for v, a in sorted(versions.items())
                    ),
                    guideline_version=str(guideline) if guideline is not None else None,
                    extra={
                        "project": row.project,
                        "task": row.task,
                        "annotation": row.annotation,
                        "control": control,
                    },
                ).to_dict()
            )
        tx.log_adjudication(
            {
                "project": row.project,
                "task": row.task,
                "annotation": row.annotation,
                "adjudicator": row.annotator,
                "decision": decisions,
                "seen": [
                    {"control": c, "annotator": a, "value": value_to_json(decode(k, v))}
                    for c, a, k, v in seen
                ],
                "guideline_version": str(guideline) if guideline is not None else None,
                "decided_at": row.updated_at,
            }
        )
        flagged = tx.c.execute(
            "SELECT control, item_agreement FROM flags WHERE task=?", (row.task,)
        ).fetchone()
        tx.set_flag(
            row.project,
            row.task,
            ADJUDICATED,
            control=flagged[0] if flagged else None,
            item_agreement=flagged[1] if flagged else None,
        )

    @staticmethod
    def store_task_data(tx: Tx, task: int) -> dict | None:
        r = tx.c.execute("SELECT data FROM tasks WHERE task=?", (task,)).fetchone()
        return json.loads(r[0]) if r else None

    # ================================================================== agreement
    def agreement(self, project: int) -> dict[str, Any]:
        """Live agreement of every control of ``project`` plus flags and annotators below threshold."""
        th = self.settings.thresholds
        controls = {}
        monitors = {}
        for control, kind in self.store.controls(project):
            monitor = self.quality.monitor(project, control, kind)
            if monitor is not None:
                monitors[control] = monitor
            entry = self.live.state(project, control) if kind in _LIVE_KINDS else None
            if entry is None:
                controls[control] = {
                    "kind": kind,
                    "live": False,
                    "metrics": None,
                    "reason": f"{kind} controls are reported in the HTML report",
                }
                continue
            state = entry.state
            _, labels, annotators = state.stats()
            per_annotator = state.annotator_agreement()
            below = sorted(
                (
                    a
                    for a, d in per_annotator.items()
                    if d["n_items"] >= th.min_shared_items
                    and d["cohen_kappa"] is not None
                    and d["cohen_kappa"] < th.annotator_kappa
                ),
                key=lambda a: (per_annotator[a]["cohen_kappa"], a),
            )
            controls[control] = {
                "kind": entry.kind,
                "live": True,
                "level": state.level,
                "n_items": entry.n_items,
                "n_annotators": len(annotators),
                "n_annotations": len(entry.values),
                "categories": labels,
                "metrics": state.metrics(),
                "annotators": per_annotator,
                "annotators_below_threshold": below,
            }
        flags = self.store.flags(project)
        people = annotator_report(monitors)
        flagged = [a for a, d in people.items() if d["flagged"]]
        return {
            "project": project,
            "thresholds": {
                "item_agreement": th.item_agreement,
                "annotator_kappa": th.annotator_kappa,
                "min_shared_items": th.min_shared_items,
            },
            "controls": controls,
            "annotators": people,
            "flagged_annotators": flagged,
            "needs_reannotation": needs_reannotation(self.store, project, flagged),
            "needs_adjudication": [f["task"] for f in flags if f["status"] == NEEDS],
            "adjudicated": [f["task"] for f in flags if f["status"] == ADJUDICATED],
            "tasks": flags,
        }

    def table(self, project: int):
        """The project's effective judgements as an :class:`aqt.records.AnnotationTable`."""
        from aqt.records import Annotation, AnnotationTable

        rows = self.store.query(
            "SELECT e.task, e.annotator, e.kind, e.value, e.control, e.annotation, t.data "
            "FROM effective e LEFT JOIN tasks t ON t.task=e.task WHERE e.project=? "
            "ORDER BY e.task, e.control, e.annotator",
            (project,),
        )
        records = []
        for task, annotator, kind, value, control, aid, data in rows:
            text = json.loads(data).get("text") if data else None
            records.append(
                Annotation(
                    str(task),
                    annotator,
                    decode(kind, value),
                    kind,
                    control,
                    source="labelstudio",
                    annotation_id=str(aid),
                    text=text if isinstance(text, str) else None,
                )
            )
        return AnnotationTable.from_records(records)


_LIVE_KINDS = ("choice", "binary", "pairwise", "rating", "number")


def current_project(tx: Tx, task: int) -> int:
    r = tx.c.execute("SELECT project FROM flags WHERE task=?", (task,)).fetchone()
    if r:
        return r[0]
    r = tx.c.execute("SELECT project FROM tasks WHERE task=?", (task,)).fetchone()
    return r[0] if r else -1


def reconcile_rows(
    project: int, label_config: str | None, tasks: list[dict]
) -> tuple[list, list[str]]:
    """Annotation rows of a Label Studio task listing; problems are collected, not raised."""
    rows, problems = [], []
    for task in tasks:
        for i, ann in enumerate(task.get("annotations") or []):
            try:
                rows.append(
                    annotation_row(
                        ann, task, project, label_config, f"task {task.get('id')} annotation {i}"
                    )
                )
            except AqtError as exc:
                problems.append(exc.message)
    return rows, problems


__all__ += ["STATUS_FIELD", "reconcile_rows"]
