"""Durable backend state: one SQLite file (WAL) in ``AQT_DATA_DIR``, shared by every worker process.

Tables
------
``annotations``   annotation id -> project, task, annotator, ground truth, cancelled, updated_at;
                  ``judgements`` holds its value per control, so ``ANNOTATIONS_DELETED`` (ids only)
                  can be applied
``tombstones``    deleted annotation ids, so a late ``ANNOTATION_CREATED`` cannot resurrect one
``effective``     the value that counts per (project, control, task, annotator): the annotator's most
                  recently updated, non-cancelled, non-ground-truth annotation
``changes``       an append-only sequence of changes to ``effective``; each process keeps its own
                  :class:`aqt.agreement.AgreementState` and replays the changes after its watermark
``compaction``    per project: ``compacted_through``, the highest ``seq`` compaction may have
                  deleted; a reader whose watermark is below it rebuilds from ``effective``
                  (:mod:`aqt_labelstudio.compaction`, :func:`compacted_through`, :func:`head_seq`)
``first_changes`` the first ``seq`` of each (project, control, task, annotator) whose changes were
                  compacted (the quality monitors' replay order); ``compaction_marks`` (time, head)
``flags``         per task: ``needs_adjudication`` / ``adjudicated`` / ``ok``, and what Label Studio
                  was last told (``synced``)
``adjudications`` the append-only adjudication log (SQLite triggers refuse UPDATE and DELETE)
``reviews``       per task: the selection-review reason the last review wants in ``data.aqt_review``
                  (NULL: none); a task without a row has no wish recorded
``projects``, ``tasks``, ``models``  label config and model_version, task data, trained models

Every write runs in one ``BEGIN IMMEDIATE`` transaction, so a process killed mid-event leaves
either all of the event or none of it. Events are idempotent: the same annotation state applied
twice changes nothing; an update older than the stored one is ignored.

Writers of a task's data in Label Studio hold :meth:`Store.task_lock` (per task, across threads and
processes) around one task's read-PATCH-store; see :mod:`aqt_labelstudio.taskdata`.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from aqt_labelstudio.transaction import AnnotationRow, Tx

__all__ = [
    "DB_NAME",
    "TASK_LOCK_STRIPES",
    "AnnotationRow",
    "Store",
    "Tx",
    "compacted_through",
    "head_seq",
]

DB_NAME = "aqt-backend.sqlite3"
#: lock files under ``task-locks/`` that :meth:`Store.task_lock` spreads task ids over
TASK_LOCK_STRIPES = 256

SCHEMA = """
CREATE TABLE IF NOT EXISTS projects(
  project INTEGER PRIMARY KEY, label_config TEXT, model_version TEXT, title TEXT,
  label_seq INTEGER NOT NULL DEFAULT 0, label_changed_at REAL, pending_since REAL,
  reconciled_at REAL,
  lease_owner TEXT, lease_until REAL);
CREATE TABLE IF NOT EXISTS tasks(
  task INTEGER PRIMARY KEY, project INTEGER NOT NULL, data TEXT NOT NULL, seen_at REAL);
CREATE INDEX IF NOT EXISTS tasks_project ON tasks(project);
CREATE TABLE IF NOT EXISTS annotations(
  annotation INTEGER PRIMARY KEY, project INTEGER NOT NULL, task INTEGER NOT NULL,
  annotator TEXT NOT NULL, ground_truth INTEGER NOT NULL, cancelled INTEGER NOT NULL,
  updated_at REAL, received_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS annotations_task ON annotations(task, annotator);
CREATE INDEX IF NOT EXISTS annotations_project ON annotations(project);
CREATE TABLE IF NOT EXISTS judgements(
  annotation INTEGER NOT NULL, control TEXT NOT NULL, kind TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY(annotation, control));
CREATE TABLE IF NOT EXISTS tombstones(annotation INTEGER PRIMARY KEY, deleted_at REAL);
CREATE TABLE IF NOT EXISTS effective(
  project INTEGER NOT NULL, control TEXT NOT NULL, task INTEGER NOT NULL, annotator TEXT NOT NULL,
  kind TEXT NOT NULL, value TEXT NOT NULL, annotation INTEGER NOT NULL,
  PRIMARY KEY(project, control, task, annotator));
CREATE INDEX IF NOT EXISTS effective_task ON effective(task);
CREATE TABLE IF NOT EXISTS changes(
  seq INTEGER PRIMARY KEY AUTOINCREMENT, project INTEGER NOT NULL, control TEXT NOT NULL,
  task INTEGER NOT NULL, annotator TEXT NOT NULL, kind TEXT, value TEXT);
CREATE INDEX IF NOT EXISTS changes_project ON changes(project, control, seq);
CREATE TABLE IF NOT EXISTS flags(
  task INTEGER PRIMARY KEY, project INTEGER NOT NULL, status TEXT NOT NULL, control TEXT,
  item_agreement REAL, updated_at REAL, synced TEXT, sync_owner TEXT, sync_until REAL,
  ever_flagged INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS flags_project ON flags(project, status);
CREATE TABLE IF NOT EXISTS adjudications(
  id INTEGER PRIMARY KEY AUTOINCREMENT, project INTEGER NOT NULL, task INTEGER NOT NULL,
  annotation INTEGER NOT NULL, adjudicator TEXT NOT NULL, decision TEXT NOT NULL,
  seen TEXT NOT NULL, guideline_version TEXT, decided_at REAL, logged_at REAL NOT NULL,
  UNIQUE(annotation, decided_at));
CREATE TRIGGER IF NOT EXISTS adjudications_no_update BEFORE UPDATE ON adjudications
  BEGIN SELECT RAISE(ABORT, 'the adjudication log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS adjudications_no_delete BEFORE DELETE ON adjudications
  BEGIN SELECT RAISE(ABORT, 'the adjudication log is append-only'); END;
CREATE TABLE IF NOT EXISTS models(
  project INTEGER NOT NULL, control TEXT NOT NULL, revision INTEGER NOT NULL, path TEXT,
  label_seq INTEGER NOT NULL, n_train INTEGER NOT NULL, labels TEXT NOT NULL, trained_at REAL,
  PRIMARY KEY(project, control, revision));
CREATE TABLE IF NOT EXISTS reviews(
  task INTEGER PRIMARY KEY, project INTEGER NOT NULL, reason TEXT, reviewed_at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS reviews_project ON reviews(project, reviewed_at);
CREATE TABLE IF NOT EXISTS compaction(
  project INTEGER PRIMARY KEY, compacted_through INTEGER NOT NULL, compacted_at REAL);
CREATE TABLE IF NOT EXISTS compaction_marks(at REAL NOT NULL, seq INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS first_changes(
  project INTEGER NOT NULL, control TEXT NOT NULL, task INTEGER NOT NULL, annotator TEXT NOT NULL,
  seq INTEGER NOT NULL, PRIMARY KEY(project, control, task, annotator));
"""


def head_seq(conn: sqlite3.Connection) -> int:
    """The highest ``changes.seq`` ever issued (deleted rows included), in ``conn``'s snapshot."""
    row = conn.execute(
        "SELECT MAX(COALESCE((SELECT MAX(seq) FROM changes), 0), "
        "COALESCE((SELECT seq FROM sqlite_sequence WHERE name='changes'), 0))"
    ).fetchone()
    return int(row[0])


def compacted_through(conn: sqlite3.Connection, project: int) -> int:
    """The highest ``seq`` of ``project`` compaction may have deleted (0: none), in ``conn``'s
    snapshot; a state whose watermark is below it must be rebuilt from ``effective``."""
    row = conn.execute(
        "SELECT compacted_through FROM compaction WHERE project=?", (project,)
    ).fetchone()
    return int(row[0]) if row else 0


class Store:
    """The backend's SQLite database; one connection per thread, WAL, ``BEGIN IMMEDIATE`` writes."""

    def __init__(self, data_dir: str | os.PathLike) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.data_dir / DB_NAME
        self._local = threading.local()
        # Writers queue on an OS file lock (woken at once on release) instead of SQLite's busy
        # handler, which sleeps in growing steps when several processes contend.
        self._thread_lock = threading.Lock()
        self._lock_path = self.data_dir / (DB_NAME + ".lock")
        self._task_lock_dir = self.data_dir / "task-locks"
        with self.write():
            pass  # creates the schema

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30.0, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=30000")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.executescript(SCHEMA)
            self._local.conn = conn
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    @contextlib.contextmanager
    def write(self) -> Iterator[Tx]:
        """One write transaction; committed on success, rolled back on any exception."""
        conn = self._conn()
        with self._thread_lock, open(self._lock_path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            conn.execute("BEGIN IMMEDIATE")
            tx = Tx(conn)
            try:
                yield tx
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextlib.contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        """A consistent snapshot for several SELECTs."""
        conn = self._conn()
        conn.execute("BEGIN")
        try:
            yield conn
        finally:
            conn.execute("COMMIT")

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        return self._conn().execute(sql, params).fetchall()

    @contextlib.contextmanager
    def task_lock(self, task: int) -> Iterator[None]:
        """Hold the write lock of one task's data, across threads and processes.

        An exclusive ``flock`` on one of :data:`TASK_LOCK_STRIPES` files under ``task-locks/``.
        Every call opens the file anew, so threads of one process exclude each other as processes
        do; tasks that share a file wait for each other, which costs time only. The lock is
        released on exit and when the process dies. Hold one task lock at a time, and never take
        it inside :meth:`write` (a holder takes :meth:`write` inside it), so no two writers can
        wait for each other.
        """
        self._task_lock_dir.mkdir(exist_ok=True)
        path = self._task_lock_dir / f"{int(task) % TASK_LOCK_STRIPES:03d}.lock"
        with open(path, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            yield  # closing the file releases the lock

    # ------------------------------------------------------------------ convenience reads
    def project(self, project: int) -> dict[str, Any] | None:
        rows = self.query(
            "SELECT project, label_config, model_version, title, label_seq, "
            "label_changed_at, pending_since, reconciled_at FROM projects WHERE project=?",
            (project,),
        )
        if not rows:
            return None
        keys = (
            "project",
            "label_config",
            "model_version",
            "title",
            "label_seq",
            "label_changed_at",
            "pending_since",
            "reconciled_at",
        )
        return dict(zip(keys, rows[0]))

    def projects(self) -> list[int]:
        return [r[0] for r in self.query("SELECT project FROM projects ORDER BY project")]

    def controls(self, project: int) -> list[tuple[str, str]]:
        """(control, kind) pairs that have effective values in ``project``."""
        return self.query(
            "SELECT DISTINCT control, kind FROM effective WHERE project=? ORDER BY control",
            (project,),
        )

    def flags(self, project: int, status: str | None = None) -> list[dict[str, Any]]:
        sql = (
            "SELECT task, status, control, item_agreement, synced FROM flags WHERE project=?"
            + (" AND status=?" if status else "")
            + " ORDER BY task"
        )
        rows = self.query(sql, (project, status) if status else (project,))
        return [
            dict(zip(("task", "status", "control", "item_agreement", "synced"), r)) for r in rows
        ]

    def adjudications(self, project: int) -> list[dict[str, Any]]:
        rows = self.query(
            "SELECT id, project, task, annotation, adjudicator, decision, seen, guideline_version, "
            "decided_at, logged_at FROM adjudications WHERE project=? ORDER BY id",
            (project,),
        )
        keys = (
            "id",
            "project",
            "task",
            "annotation",
            "adjudicator",
            "decision",
            "seen",
            "guideline_version",
            "decided_at",
            "logged_at",
        )
        out = []
        for r in rows:
            d = dict(zip(keys, r))
            d["decision"] = json.loads(d["decision"])
            d["seen"] = json.loads(d["seen"])
            out.append(d)
        return out

    def task_data(self, task: int) -> dict[str, Any] | None:
        rows = self.query("SELECT data FROM tasks WHERE task=?", (task,))
        return json.loads(rows[0][0]) if rows else None

    def set_reviews(self, project: int, reasons: Mapping[int, str | None]) -> None:
        """Record the review reason each task of ``project`` should carry (None: no reason);
        rows of the project's tasks not in ``reasons`` are dropped. Short transactions."""
        now = time.time()
        items = sorted(reasons.items())
        for i in range(0, max(len(items), 1), 500):
            with self.write() as tx:
                tx.c.executemany(
                    "INSERT INTO reviews(task, project, reason, reviewed_at) VALUES (?,?,?,?) "
                    "ON CONFLICT(task) DO UPDATE SET project=excluded.project, "
                    "reason=excluded.reason, reviewed_at=excluded.reviewed_at",
                    [(int(t), project, r, now) for t, r in items[i : i + 500]],
                )
        with self.write() as tx:
            tx.c.execute("DELETE FROM reviews WHERE project=? AND reviewed_at<?", (project, now))

    def annotation_ids(self, project: int) -> set[int]:
        return {
            r[0]
            for r in self.query("SELECT annotation FROM annotations WHERE project=?", (project,))
        }

    def acquire_lease(self, project: int, owner: str, seconds: float) -> bool:
        """Training lease: at most one process trains a project at a time."""
        now = time.time()
        with self.write() as tx:
            cur = tx.c.execute(
                "UPDATE projects SET lease_owner=?, lease_until=? WHERE project=? AND "
                "(lease_until IS NULL OR lease_until<? OR lease_owner=?)",
                (owner, now + seconds, project, now, owner),
            )
            return cur.rowcount == 1

    def release_lease(self, project: int, owner: str) -> None:
        with self.write() as tx:
            tx.c.execute(
                "UPDATE projects SET lease_owner=NULL, lease_until=NULL WHERE project=? "
                "AND lease_owner=?",
                (project, owner),
            )

    def claim_flag_syncs(self, owner: str, limit: int = 50, seconds: float = 60.0) -> list[dict]:
        """Flags whose status Label Studio does not know yet, claimed for ``seconds``."""
        now = time.time()
        with self.write() as tx:
            rows = tx.c.execute(
                "SELECT task, project, status FROM flags WHERE status IS NOT COALESCE(synced, 'ok') "
                "AND (sync_until IS NULL OR sync_until<?) ORDER BY task LIMIT ?",
                (now, limit),
            ).fetchall()
            tx.c.executemany(
                "UPDATE flags SET sync_owner=?, sync_until=? WHERE task=?",
                [(owner, now + seconds, r[0]) for r in rows],
            )
        return [{"task": r[0], "project": r[1], "status": r[2]} for r in rows]

    def mark_synced(self, task: int, status: str) -> None:
        with self.write() as tx:
            tx.c.execute(
                "UPDATE flags SET synced=?, sync_owner=NULL, sync_until=NULL WHERE task=?",
                (status, task),
            )
