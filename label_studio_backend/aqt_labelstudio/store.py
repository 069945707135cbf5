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
``flags``         per task: ``needs_adjudication`` / ``adjudicated`` / ``ok``, and what Label Studio
                  was last told (``synced``)
``adjudications`` the append-only adjudication log (SQLite triggers refuse UPDATE and DELETE)
``projects``, ``tasks``, ``models``  label config and model_version, task data, trained models

Every write runs in one ``BEGIN IMMEDIATE`` transaction, so a process killed mid-event leaves
either all of the event or none of it. Events are idempotent: the same annotation state applied
twice changes nothing; an update older than the stored one is ignored.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["DB_NAME", "AnnotationRow", "Store", "Tx"]

DB_NAME = "aqt-backend.sqlite3"

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
"""


@dataclass(frozen=True)
class AnnotationRow:
    """One annotation as the backend stores it; ``judgements`` = ((control, kind, value JSON), ...)."""

    annotation: int
    project: int
    task: int
    annotator: str
    ground_truth: bool
    cancelled: bool
    updated_at: float | None
    judgements: tuple[tuple[str, str, str], ...]


class Tx:
    """The operations of one write transaction (see :meth:`Store.write`)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.c = conn
        self.touched: set[tuple[int, int]] = set()  # (project, task) whose effective values changed

    # ------------------------------------------------------------------ projects and tasks
    def upsert_project(
        self,
        project: int,
        *,
        label_config: str | None = None,
        model_version: str | None = None,
        title: str | None = None,
    ) -> None:
        row = self.c.execute(
            "SELECT label_config, model_version, title FROM projects WHERE project=?", (project,)
        ).fetchone()
        if row is None:
            self.c.execute("INSERT INTO projects(project) VALUES (?)", (project,))
            row = (None, None, None)
        for column, value, old in (
            ("label_config", label_config, row[0]),
            ("model_version", model_version, row[1]),
            ("title", title, row[2]),
        ):
            if value is not None and value != old:
                self.c.execute(f"UPDATE projects SET {column}=? WHERE project=?", (value, project))

    def upsert_task(self, project: int, task: int, data: dict[str, Any]) -> None:
        self.c.execute(
            "INSERT INTO tasks(task, project, data, seen_at) VALUES (?,?,?,?) ON CONFLICT(task) DO "
            "UPDATE SET project=excluded.project, data=excluded.data, seen_at=excluded.seen_at",
            (task, project, json.dumps(data, sort_keys=True), time.time()),
        )

    # ------------------------------------------------------------------ annotations
    def upsert_annotation(self, row: AnnotationRow, *, authoritative: bool = False) -> bool:
        """Store ``row``; True if anything changed. Stale updates and deleted ids are ignored
        unless ``authoritative`` (reconciliation with Label Studio, the source of truth)."""
        c = self.c
        if authoritative:
            c.execute("DELETE FROM tombstones WHERE annotation=?", (row.annotation,))
        elif c.execute("SELECT 1 FROM tombstones WHERE annotation=?", (row.annotation,)).fetchone():
            return False
        old = c.execute(
            "SELECT project, task, annotator, ground_truth, cancelled, updated_at FROM annotations "
            "WHERE annotation=?",
            (row.annotation,),
        ).fetchone()
        old_j = tuple(
            c.execute(
                "SELECT control, kind, value FROM judgements WHERE annotation=? ORDER BY control",
                (row.annotation,),
            ).fetchall()
        )
        new_j = tuple(sorted(row.judgements))
        new_head = (row.project, row.task, row.annotator, int(row.ground_truth), int(row.cancelled))
        if old is not None:
            if (
                not authoritative
                and old[5] is not None
                and row.updated_at is not None
                and row.updated_at < old[5]
            ):
                return False  # an older state arriving late
            if tuple(old[:5]) == new_head and old_j == new_j:
                if row.updated_at is not None and row.updated_at != old[5]:
                    c.execute(
                        "UPDATE annotations SET updated_at=? WHERE annotation=?",
                        (row.updated_at, row.annotation),
                    )
                return False
        c.execute(
            "INSERT OR REPLACE INTO annotations(annotation, project, task, annotator, ground_truth, "
            "cancelled, updated_at, received_at) VALUES (?,?,?,?,?,?,?,?)",
            (row.annotation, *new_head, row.updated_at, time.time()),
        )
        c.execute("DELETE FROM judgements WHERE annotation=?", (row.annotation,))
        c.executemany(
            "INSERT INTO judgements(annotation, control, kind, value) VALUES (?,?,?,?)",
            [(row.annotation, *j) for j in new_j],
        )
        keys = {(row.project, ctl, row.task, row.annotator) for ctl, _, _ in new_j}
        if old is not None:
            keys |= {(old[0], ctl, old[1], old[2]) for ctl, _, _ in old_j}
        self._refresh(keys)
        return True

    def delete_annotations(self, ids: Iterable[int]) -> list[int]:
        """Delete by id (unknown ids are remembered as tombstones); returns the ids that existed."""
        c = self.c
        removed = []
        for aid in ids:
            c.execute(
                "INSERT OR IGNORE INTO tombstones(annotation, deleted_at) VALUES (?,?)",
                (aid, time.time()),
            )
            old = c.execute(
                "SELECT project, task, annotator FROM annotations WHERE annotation=?", (aid,)
            ).fetchone()
            if old is None:
                continue
            controls = [
                r[0] for r in c.execute("SELECT control FROM judgements WHERE annotation=?", (aid,))
            ]
            c.execute("DELETE FROM judgements WHERE annotation=?", (aid,))
            c.execute("DELETE FROM annotations WHERE annotation=?", (aid,))
            self._refresh({(old[0], ctl, old[1], old[2]) for ctl in controls})
            removed.append(aid)
        return removed

    def _refresh(self, keys: Iterable[tuple[int, str, int, str]]) -> None:
        """Recompute ``effective`` for (project, control, task, annotator) keys; log changes."""
        c = self.c
        for project, control, task, annotator in sorted(keys):
            best = c.execute(
                "SELECT j.kind, j.value, a.annotation FROM judgements j JOIN annotations a "
                "ON a.annotation=j.annotation WHERE a.project=? AND a.task=? AND a.annotator=? "
                "AND j.control=? AND a.ground_truth=0 AND a.cancelled=0 "
                "ORDER BY COALESCE(a.updated_at, 0) DESC, a.annotation DESC LIMIT 1",
                (project, task, annotator, control),
            ).fetchone()
            cur = c.execute(
                "SELECT kind, value, annotation FROM effective WHERE project=? AND control=? AND "
                "task=? AND annotator=?",
                (project, control, task, annotator),
            ).fetchone()
            if (best and cur and best[:2] == cur[:2]) or (best is None and cur is None):
                if best and cur and best[2] != cur[2]:
                    c.execute(
                        "UPDATE effective SET annotation=? WHERE project=? AND control=? AND "
                        "task=? AND annotator=?",
                        (best[2], project, control, task, annotator),
                    )
                continue
            if best is None:
                c.execute(
                    "DELETE FROM effective WHERE project=? AND control=? AND task=? AND "
                    "annotator=?",
                    (project, control, task, annotator),
                )
            else:
                c.execute(
                    "INSERT OR REPLACE INTO effective VALUES (?,?,?,?,?,?,?)",
                    (project, control, task, annotator, best[0], best[1], best[2]),
                )
            cur = c.execute(
                "INSERT INTO changes(project, control, task, annotator, kind, value) "
                "VALUES (?,?,?,?,?,?)",
                (
                    project,
                    control,
                    task,
                    annotator,
                    best[0] if best else None,
                    best[1] if best else None,
                ),
            )
            now = time.time()
            c.execute(
                "UPDATE projects SET label_seq=?, label_changed_at=?, "
                "pending_since=COALESCE(pending_since, ?) WHERE project=?",
                (cur.lastrowid, now, now, project),
            )
            self.touched.add((project, task))

    # ------------------------------------------------------------------ reads inside the tx
    def task_effective(self, task: int) -> list[tuple[str, str, str, str]]:
        """(control, annotator, kind, value JSON) of one task, sorted."""
        return self.c.execute(
            "SELECT control, annotator, kind, value FROM effective WHERE task=? "
            "ORDER BY control, annotator",
            (task,),
        ).fetchall()

    def flag(self, task: int) -> tuple[str, str | None, bool] | None:
        """(status, status Label Studio was last told, whether it was ever flagged) or None."""
        row = self.c.execute(
            "SELECT status, synced, ever_flagged FROM flags WHERE task=?", (task,)
        ).fetchone()
        return (row[0], row[1], bool(row[2])) if row else None

    def set_flag(
        self,
        project: int,
        task: int,
        status: str,
        *,
        control: str | None = None,
        item_agreement: float | None = None,
        synced: str | None = None,
    ) -> None:
        self.c.execute(
            "INSERT INTO flags(task, project, status, control, item_agreement, updated_at) "
            "VALUES (?,?,?,?,?,?) ON CONFLICT(task) DO UPDATE SET status=excluded.status, "
            "control=excluded.control, item_agreement=excluded.item_agreement, "
            "updated_at=excluded.updated_at",
            (task, project, status, control, item_agreement, time.time()),
        )
        if synced is not None:
            self.c.execute("UPDATE flags SET synced=? WHERE task=?", (synced, task))
        if status == "needs_adjudication":
            self.c.execute("UPDATE flags SET ever_flagged=1 WHERE task=?", (task,))

    def log_adjudication(self, record: dict[str, Any]) -> bool:
        cur = self.c.execute(
            "INSERT OR IGNORE INTO adjudications(project, task, annotation, adjudicator, decision, "
            "seen, guideline_version, decided_at, logged_at) VALUES (?,?,?,?,?,?,?,?,?)",
            (
                record["project"],
                record["task"],
                record["annotation"],
                record["adjudicator"],
                json.dumps(record["decision"], sort_keys=True),
                json.dumps(record["seen"], sort_keys=True),
                record.get("guideline_version"),
                record.get("decided_at"),
                time.time(),
            ),
        )
        return cur.rowcount == 1


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
