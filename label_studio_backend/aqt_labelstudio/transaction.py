"""One write transaction on the backend's database: the operations ingestion and reconciliation use.

:class:`Tx` keeps ``effective`` (the value that counts per project, control, task and annotator)
and its change log in step with every annotation stored or deleted, and records which tasks
changed so their flags can be recomputed in the same transaction. See :mod:`aqt_labelstudio.store`
for the tables.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

__all__ = ["AnnotationRow", "Tx"]


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
