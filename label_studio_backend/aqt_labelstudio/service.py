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
from aqt_labelstudio.model import (
    ChoicesControl,
    TextModel,
    choices_controls,
    majority_labels,
    task_text,
)
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


class Backend:
    """The backend's state and operations for one process (see module docstring)."""

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

    # ================================================================== predictions
    def project_info(self, project: int | None) -> dict[str, Any]:
        """The stored project row, cached for a second (other workers' changes show up then)."""
        if project is None:
            return {}
        now = time.monotonic()
        hit = self._projects.get(project)
        if hit is None or now - hit[0] > 1.0:
            hit = (now, self.store.project(project) or {})
            self._projects[project] = hit
        return hit[1]

    def forget_project(self, project: int | None) -> None:
        self._projects.pop(project, None)

    def model_version(self, project: int | None) -> str:
        return self.project_info(project).get("model_version") or self.settings.model_version

    def label_config(self, project: int | None, given: str | None) -> str | None:
        return given or self.project_info(project).get("label_config")

    def ensure_project(self, project: int | None) -> None:
        """Learn the project's model_version from Label Studio once, if we never saw it."""
        if project is None or self.api is None:
            return
        if self.project_info(project).get("model_version"):
            return
        now = time.monotonic()
        if now - self._asked.get(project, -3600.0) < 60.0:
            return  # asked recently; the project may simply have no model_version yet
        self._asked[project] = now
        try:
            p = self.api.project(project)
        except (AqtError, OSError, ValueError) as exc:
            log.warning("could not read project %s from Label Studio: %s", project, exc)
            return
        with self.store.write() as tx:
            tx.upsert_project(
                project,
                label_config=p.get("label_config"),
                model_version=p.get("model_version") or None,
                title=p.get("title"),
            )
        self.forget_project(project)

    def model(self, project: int, control: ChoicesControl) -> TextModel:
        key = (project, control.name)
        now = time.monotonic()
        cached = self.models.get(key)
        if cached is None or now - self._model_check.get(key, 0.0) > 1.0:
            self._model_check[key] = now
            row = self.store.query(
                "SELECT revision, path FROM models WHERE project=? AND control=? "
                "ORDER BY revision DESC LIMIT 1",
                (project, control.name),
            )
            if row and (cached is None or cached.revision != row[0][0]):
                try:
                    cached = TextModel.load(row[0][1])
                    cached.revision = row[0][0]
                except (OSError, EOFError, ValueError) as exc:
                    log.warning("model file %s unreadable: %s", row[0][1], exc)
            if cached is None or cached.control != control:
                cached = TextModel(control, (), _empty())
            self.models[key] = cached
        return cached

    def predict(
        self, project: int | None, label_config: str | None, tasks: list[dict]
    ) -> list[dict[str, Any]]:
        config = self.label_config(project, label_config)
        version = self.model_version(project)
        controls = choices_controls(config)
        if not controls:
            return [{"model_version": version, "score": None, "result": []} for _ in tasks]
        control = controls[0]
        model = self.model(project if project is not None else -1, control)
        texts = [task_text(t.get("data") or {}, control.text_key) for t in tasks]
        return model.predictions(texts, version)

    def training_data(self, project: int, control: ChoicesControl) -> tuple[list, list, int]:
        """(texts, labels, label_seq) for one control: gold labels first, else the majority."""

        with self.store.read() as c:
            seq = c.execute("SELECT label_seq FROM projects WHERE project=?", (project,)).fetchone()
            votes: dict[int, list[str]] = defaultdict(list)
            for task, value in c.execute(
                "SELECT task, value FROM effective WHERE project=? AND control=? AND kind='choice'",
                (project, control.name),
            ):
                votes[task].append(json.loads(value))
            gold = {}
            for task, value in c.execute(
                "SELECT a.task, j.value FROM judgements j JOIN annotations a ON "
                "a.annotation=j.annotation WHERE a.project=? AND j.control=? AND "
                "a.ground_truth=1 AND a.cancelled=0 AND j.kind='choice' "
                "ORDER BY a.updated_at",
                (project, control.name),
            ):
                gold[task] = json.loads(value)
            targets = majority_labels(votes, gold)
            data = dict(c.execute("SELECT task, data FROM tasks WHERE project=?", (project,)))
        items = sorted(t for t in targets if t in data)
        texts = [task_text(json.loads(data[t]), control.text_key) for t in items]
        return texts, [targets[t] for t in items], (seq[0] if seq else 0)


_LIVE_KINDS = ("choice", "binary", "pairwise", "rating", "number")


def current_project(tx: Tx, task: int) -> int:
    r = tx.c.execute("SELECT project FROM flags WHERE task=?", (task,)).fetchone()
    if r:
        return r[0]
    r = tx.c.execute("SELECT project FROM tasks WHERE task=?", (task,)).fetchone()
    return r[0] if r else -1


def _empty():
    import numpy as np

    return np.zeros(0)


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
