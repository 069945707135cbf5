"""Background work of one process: sync flags to Label Studio, reconcile, train, refresh scores,
flag tasks for re-annotation, and compact the change log (:mod:`aqt_labelstudio.compaction`).

Each job is a plain function of the :class:`~aqt_labelstudio.service.Backend`, so tests and
benchmarks call them directly; :class:`Worker` runs them in two daemon threads (one for Label
Studio calls, one for training, so a long fit never delays a flag). Jobs shared by several worker
processes are claimed in the database first (flag rows and a per-project training lease), so each
piece of work is done by one process. The training jobs live in :mod:`aqt_labelstudio.training`
and are re-exported here.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from aqt_labelstudio.compaction import maybe_compact
from aqt_labelstudio.live import item_agreements
from aqt_labelstudio.lsapi import STATUS_FIELD, LabelStudioError
from aqt_labelstudio.quality import NEEDS_REANNOTATION, set_reannotation_flags
from aqt_labelstudio.service import ADJUDICATED, NEEDS, OK, Backend, reconcile_rows
from aqt_labelstudio.taskdata import write_task_fields
from aqt_labelstudio.training import (  # re-exported: the training jobs live there
    _ERRORS,
    MAX_WAIT,
    refresh_predictions,
    shutdown_pool,
    train_due,
    train_project,
)

__all__ = [
    "MAX_WAIT",
    "Worker",
    "reannotation_due",
    "reconcile",
    "refresh_predictions",
    "refresh_reannotation",
    "sync_flags",
    "train_due",
    "train_project",
]

log = logging.getLogger("aqt.backend")


def sync_flags(backend: Backend, limit: int = 50) -> int:
    """Write ``aqt_status`` of changed flags into the tasks' data in Label Studio; returns count.

    Each task goes through :func:`~aqt_labelstudio.taskdata.write_task_fields`, which carries the
    task's wanted ``aqt_review`` too, under the task's lock, so a selection review writing the same
    task at the same time is never undone.
    """
    if backend.api is None:
        return 0
    done = 0
    for job in backend.store.claim_flag_syncs(backend.owner, limit):
        task, status = job["task"], job["status"]
        try:
            write_task_fields(backend.store, backend.api, job["project"], task)
            done += 1
        except LabelStudioError as exc:
            if exc.status == 404:  # the task is gone from Label Studio: nothing to flag
                backend.store.mark_synced(task, status)
                continue
            _retry_later(backend, task, exc)
        except _ERRORS as exc:
            _retry_later(backend, task, exc)
    return done


def _retry_later(backend: Backend, task: int, exc: Exception) -> None:
    log.warning("flag sync for task %s failed: %s", task, exc)
    with backend.store.write() as tx:  # retry in 5 s
        tx.c.execute("UPDATE flags SET sync_until=? WHERE task=?", (time.time() + 5, task))


def reconcile(backend: Backend, project: int) -> dict[str, Any]:
    """Make the stored annotations equal Label Studio's (the source of truth) for ``project``.

    Annotations received after the listing started are kept (they may be newer than the listing);
    flags are recomputed for every task and compared with the ``aqt_status`` Label Studio holds.
    """
    if backend.api is None:
        return {"project": project, "skipped": "no LABEL_STUDIO_URL / LABEL_STUDIO_API_KEY"}
    started = time.time()
    info = backend.api.project(project)
    config = info.get("label_config")
    tasks = list(backend.api.iter_tasks(project))
    rows, problems = reconcile_rows(project, config, tasks)
    live_ids = {r.annotation for r in rows}
    # cancelled annotations are listed too; reconcile_rows keeps them with cancelled=True.
    # Short transactions (CHUNK rows each), so webhooks and /setup never wait long for the lock.
    with backend.store.write() as tx:
        tx.upsert_project(
            project,
            label_config=config,
            title=info.get("title"),
            model_version=info.get("model_version") or None,
        )
    for chunk in _chunks(tasks):
        with backend.store.write() as tx:
            for t in chunk:
                tx.upsert_task(project, int(t["id"]), dict(t.get("data") or {}))
    changed = 0
    for chunk in _chunks(rows):
        with backend.store.write() as tx:
            for row in chunk:
                stone = tx.c.execute(
                    "SELECT deleted_at FROM tombstones WHERE annotation=?", (row.annotation,)
                ).fetchone()
                if stone and stone[0] >= started:
                    continue  # deleted after the listing began
                tx.c.execute("DELETE FROM tombstones WHERE annotation=?", (row.annotation,))
                changed += tx.upsert_annotation(row)
    with backend.store.write() as tx:
        gone = [
            r[0]
            for r in tx.c.execute(
                "SELECT annotation FROM annotations WHERE project=? AND received_at<?",
                (project, started),
            )
            if r[0] not in live_ids
        ]
        removed = tx.delete_annotations(gone)
    in_ls = {int(t["id"]): (t.get("data") or {}).get(STATUS_FIELD) for t in tasks}
    threshold = backend.settings.thresholds.item_agreement
    for chunk in _chunks(sorted(in_ls.items())):
        with backend.store.write() as tx:
            for task, ls_status in chunk:
                current = tx.flag(task)
                scores = item_agreements(tx.task_effective(task), task)
                if ls_status == ADJUDICATED or (current and current[0] == ADJUDICATED):
                    status = ADJUDICATED
                else:
                    status = NEEDS if scores and min(scores.values()) < threshold else OK
                if status == OK and NEEDS_REANNOTATION in (ls_status, current and current[0]):
                    status = NEEDS_REANNOTATION  # refresh_reannotation decides, right after
                worst = (
                    min(scores.items(), key=lambda kv: (kv[1], kv[0])) if scores else (None, None)
                )
                tx.set_flag(
                    project,
                    task,
                    status,
                    control=worst[0],
                    item_agreement=worst[1],
                    synced=ls_status or OK,
                )
    with backend.store.write() as tx:
        tx.c.execute("UPDATE projects SET reconciled_at=? WHERE project=?", (time.time(), project))
    backend.forget_project(project)
    backend.reannotation_seen.pop(project, None)  # recompute the re-annotation flags next
    return {
        "project": project,
        "tasks": len(tasks),
        "annotations": len(rows),
        "changed": changed,
        "removed": len(removed),
        "problems": problems[:10],
    }


CHUNK = 200

#: seconds without a new event before a project's re-annotation flags are recomputed
REANNOTATION_QUIET = 1.0
#: seconds events may wait for that while they never pause
REANNOTATION_MAX_WAIT = 10.0


def _reannotation_signature(backend: Backend, project: int) -> tuple:
    """What the flagged annotators and the re-annotation list depend on, in two indexed reads:
    effective values (``label_seq``), annotations stored or deleted (ground truth included, which
    ``label_seq`` does not count) and the label config."""
    with backend.store.read() as c:
        head = c.execute(
            "SELECT label_seq, label_config FROM projects WHERE project=?", (project,)
        ).fetchone()
        anns = c.execute(
            "SELECT COUNT(*), MAX(received_at) FROM annotations WHERE project=?", (project,)
        ).fetchone()
    return (tuple(head) if head else None, tuple(anns))


def reannotation_due(backend: Backend, now: float | None = None) -> list[int]:
    """Projects whose annotations changed since this process last set their re-annotation flags,
    once ``REANNOTATION_QUIET`` seconds passed without a further change (or the first change has
    waited ``REANNOTATION_MAX_WAIT`` seconds). Each process keeps its own state in
    ``backend.reannotation_seen``; a project it never handled is due at once."""
    now = time.time() if now is None else now
    due = []
    for project in backend.store.projects():
        seen = backend.reannotation_seen.get(project)
        if seen is None or seen.get("done") is None:
            due.append(project)  # first look after a start or a reconciliation
            continue
        sig = _reannotation_signature(backend, project)
        if sig == seen["done"]:
            continue
        if sig != seen["pending"]:
            seen["pending"], seen["changed_at"] = sig, now
            if seen["since"] is None:
                seen["since"] = now
        if (
            now - seen["changed_at"] >= REANNOTATION_QUIET
            or now - seen["since"] >= REANNOTATION_MAX_WAIT
        ):
            due.append(project)
    return due


def refresh_reannotation(backend: Backend, project: int) -> dict[str, Any]:
    """Set and clear ``needs_reannotation`` flags of ``project`` from the annotators flagged now
    (:func:`aqt_labelstudio.quality.set_reannotation_flags`); :func:`sync_flags` then writes them
    into Label Studio. Records what it saw in ``backend.reannotation_seen``."""
    sig = _reannotation_signature(backend, project)
    out = set_reannotation_flags(backend.store, project, backend.quality.flagged(project))
    seen = backend.reannotation_seen.setdefault(project, {})
    seen.update(done=sig, pending=None, changed_at=0.0, since=None)
    return out


def _chunks(items: list) -> list[list]:
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]


def due_reconciles(backend: Backend) -> list[int]:
    """Projects asked for by ``/setup`` or never reconciled, not reconciled in the last interval."""
    if backend.api is None:
        backend.reconcile_requests.clear()
        return []
    now = time.time()
    wanted = set(backend.reconcile_requests)
    backend.reconcile_requests.clear()
    out = []
    for project in sorted(wanted | set(backend.store.projects())):
        info = backend.store.project(project) or {}
        last = max(info.get("reconciled_at") or 0.0, backend.reconcile_attempts.get(project, 0.0))
        if last == 0.0 or (project in wanted and now - last >= backend.settings.reconcile_interval):
            backend.reconcile_attempts[project] = now
            out.append(project)
    return out


class Worker:
    """Two daemon threads: Label Studio calls (flags, reconciliation) and training."""

    def __init__(self, backend: Backend, interval: float = 0.5) -> None:
        self.backend = backend
        self.interval = interval
        self.stop_event = threading.Event()
        self.wake = threading.Event()
        self.threads: list[threading.Thread] = []

    def start(self) -> None:
        for name, fn in (("aqt-sync", self._sync_loop), ("aqt-train", self._train_loop)):
            t = threading.Thread(target=fn, name=name, daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self, timeout: float = 5.0) -> None:
        self.stop_event.set()
        self.wake.set()
        for t in self.threads:
            t.join(timeout)
        shutdown_pool()

    def _sync_loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                for project in due_reconciles(self.backend):
                    reconcile(self.backend, project)
                for project in reannotation_due(self.backend):
                    try:
                        refresh_reannotation(self.backend, project)
                    except _ERRORS as exc:  # the others' flags and the sync still go on
                        log.warning("re-annotation flags of project %s failed: %s", project, exc)
                sync_flags(self.backend)
                maybe_compact(self.backend.store)  # at most every compaction.INTERVAL seconds
            except _ERRORS as exc:
                log.warning("background sync failed: %s", exc)
            except Exception:
                log.exception("background sync crashed; retrying")
            self.wake.wait(self.interval)
            self.wake.clear()

    def _train_loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                for project in train_due(self.backend):
                    train_project(self.backend, project)
            except _ERRORS as exc:
                log.warning("background training failed: %s", exc)
            except Exception:
                log.exception("background training crashed; retrying")
            self.stop_event.wait(max(self.interval, 0.5))
