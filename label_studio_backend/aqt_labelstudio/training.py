"""Training jobs of the background worker: which projects are due for a retraining, the
retraining itself under the per-project lease, the prediction refresh that follows it, and the
process pool a server fits in.

:mod:`aqt_labelstudio.worker` re-exports these names and runs them in its training thread.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

import httpx
from aqt.errors import AqtError

from aqt_labelstudio.model import TextModel, choices_controls, train_model
from aqt_labelstudio.selection import review_project
from aqt_labelstudio.service import Backend

__all__ = ["MAX_WAIT", "refresh_predictions", "shutdown_pool", "train_due", "train_project"]

log = logging.getLogger("aqt.backend")
#: errors a background job logs and survives (the worker's loops catch the same)
_ERRORS = (
    AqtError, httpx.HTTPError, OSError, ValueError, KeyError, TypeError, BrokenProcessPool,
    TimeoutError,
)  # fmt: skip


def train_due(backend: Backend, now: float | None = None) -> list[int]:
    """Projects with new labels and ``train_debounce`` seconds of quiet, or labels waiting for
    ``MAX_WAIT`` seconds (so continuous labelling still retrains), or a START_TRAINING event."""
    now = time.time() if now is None else now
    rows = backend.store.query(
        "SELECT p.project, p.label_seq, p.label_changed_at, p.pending_since, "
        "(SELECT COALESCE(MAX(m.label_seq), -1) FROM models m WHERE m.project=p.project) "
        "FROM projects p WHERE p.label_config IS NOT NULL"
    )
    due = []
    for project, seq, changed_at, pending_since, trained in rows:
        if changed_at == 0:  # START_TRAINING
            due.append(project)
            continue
        if seq <= trained:
            continue
        quiet = now - (changed_at or 0) >= backend.settings.train_debounce
        waited = pending_since is not None and now - pending_since >= MAX_WAIT
        if quiet or waited:
            due.append(project)
    return due


#: seconds new labels may wait for a retraining while labelling never pauses
MAX_WAIT = 30.0


def train_project(backend: Backend, project: int) -> list[dict[str, Any]]:
    """Retrain every single-choice control of ``project`` under the training lease."""
    if not backend.store.acquire_lease(project, backend.owner, 300.0):
        return []
    out = []
    try:
        info = backend.store.project(project) or {}
        trained_seq = info.get("label_seq", 0)
        for control in choices_controls(info.get("label_config")):
            texts, labels, seq = backend.training_data(project, control)
            trained_seq = min(trained_seq, seq)
            model = _fit(backend, control, texts, labels)
            model.label_seq = seq
            rev = backend.store.query(
                "SELECT COALESCE(MAX(revision), 0) + 1 FROM models WHERE project=? AND control=?",
                (project, control.name),
            )[0][0]
            model.revision = rev
            path = backend.store.data_dir / "models" / f"p{project}-{control.name}-r{rev}.pkl"
            model.save(path)
            with backend.store.write() as tx:
                tx.c.execute(
                    "INSERT INTO models VALUES (?,?,?,?,?,?,?,?)",
                    (
                        project,
                        control.name,
                        rev,
                        str(path),
                        seq,
                        len(labels),
                        json.dumps(list(model.labels)),
                        time.time(),
                    ),
                )
            backend.models[(project, control.name)] = model  # this process serves it at once
            backend._model_check[(project, control.name)] = time.monotonic()
            out.append({"control": control.name, "revision": rev, "n_train": len(labels)})
        with backend.store.write() as tx:
            if not out:  # no single-choice control: remember these labels were seen
                tx.c.execute(
                    "INSERT OR REPLACE INTO models VALUES (?,?,?,?,?,?,?,?)",
                    (project, "", 0, None, info.get("label_seq", 0), 0, "[]", time.time()),
                )
            tx.c.execute(
                "UPDATE projects SET label_changed_at=? WHERE project=? AND label_changed_at=0",
                (time.time(), project),
            )
            # labels that arrived during training wait again, from now
            tx.c.execute(
                "UPDATE projects SET pending_since=CASE WHEN label_seq<=? THEN NULL ELSE ? END "
                "WHERE project=?",
                (trained_seq, time.time(), project),
            )
    finally:
        backend.store.release_lease(project, backend.owner)
    if out and backend.api is not None:
        try:
            refresh_predictions(backend, project)
        except _ERRORS as exc:
            log.warning("refreshing predictions of project %s failed: %s", project, exc)
        try:
            review_project(backend, project)
        except _ERRORS as exc:
            log.warning("selection review of project %s failed: %s", project, exc)
    return out


def refresh_predictions(backend: Backend, project: int) -> dict[str, int]:
    """Re-score every known task of ``project`` with the current model and write the predictions
    (model_version = the project's) into Label Studio, so Data Manager scores stay fresh."""
    backend.ensure_project(project)
    version = backend.model_version(project)
    tasks = backend.store.query(
        "SELECT task, data FROM tasks WHERE project=? ORDER BY task", (project,)
    )
    if not tasks:
        return {"created": 0, "updated": 0}
    preds = backend.predict(project, None, [{"id": t, "data": json.loads(d)} for t, d in tasks])
    existing = {}
    for p in backend.api.predictions(project):
        if p.get("model_version") == version and p.get("task") is not None:
            existing[int(p["task"])] = p
    created = updated = 0
    for (task, _), pred in zip(tasks, preds):
        old = existing.get(task)
        if old is None:
            backend.api.create_prediction(task, pred)
            created += 1
        elif (
            old.get("score") is None
            or pred["score"] is None
            or abs(float(old["score"]) - pred["score"]) > 1e-6
            or old.get("result") != pred["result"]
        ):
            backend.api.update_prediction(
                int(old["id"]), {"score": pred["score"], "result": pred["result"]}
            )
            updated += 1
    return {"created": created, "updated": updated}


_POOL: ProcessPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _fit(backend: Backend, control, texts: list[str], labels: list[str]) -> TextModel:
    """Fit in a separate process when running as a server, so a long fit never holds this worker's
    GIL while it answers Label Studio; inline when the background threads are off (tests)."""
    global _POOL
    if not backend.settings.background:
        return train_model(control, texts, labels)
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        pool = _POOL
    try:
        return pool.submit(train_model, control, texts, labels).result(timeout=900)
    except BrokenProcessPool:
        with _POOL_LOCK:
            _POOL = None
        raise


def shutdown_pool() -> None:
    global _POOL
    with _POOL_LOCK:
        pool, _POOL = _POOL, None
    if pool is not None:
        pool.shutdown(wait=False, cancel_futures=True)
