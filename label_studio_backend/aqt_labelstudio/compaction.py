"""Compaction of the change log: delete old ``changes`` rows without ever giving a wrong agreement.

Each process keeps an :class:`aqt.agreement.AgreementState` per (project, control) and replays the
``changes`` after its watermark (:mod:`aqt_labelstudio.live`). Compaction deletes changes up to a
point and records, per project, the highest deleted sequence number in
``compaction.compacted_through``, in the same write transaction as the deletion. A reader compares
its watermark with that number in the read transaction in which it would replay: a watermark below
it means changes it needs may be gone, so it rebuilds its state from ``effective`` (the current
values) and takes the head of the log as its new watermark, in that same snapshot. A reader never
replays an incomplete log.

The quality monitors (:mod:`aqt_labelstudio.quality`) replay judgements in the order they first
arrived, the first change of each (project, control, task, annotator). Before deleting a key's
changes, compaction keeps that first sequence number in ``first_changes``, so the order survives.

The point: the head of the log at a mark taken at least ``keep_seconds`` ago (each run leaves a
mark in ``compaction_marks``), and at least ``keep_rows`` rows below the current head, so a process
that read a moment ago still catches up by replaying. Deletion runs in ranges of ``batch`` sequence
numbers, one short ``BEGIN IMMEDIATE`` transaction each, so webhooks wait at most one range.
:func:`maybe_compact` runs at most every ``interval`` seconds across all processes (the last mark's
time is in the database); the background sync thread calls it (:mod:`aqt_labelstudio.worker`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from aqt.errors import AqtError

from aqt_labelstudio.store import Store, head_seq

__all__ = [
    "BATCH",
    "INTERVAL",
    "KEEP_ROWS",
    "KEEP_SECONDS",
    "CompactionResult",
    "compact",
    "compaction_point",
    "maybe_compact",
]

#: seconds between two compaction runs (across all processes sharing the database)
INTERVAL = 300.0
#: changes younger than this many seconds are kept
KEEP_SECONDS = 600.0
#: the newest this many changes are kept
KEEP_ROWS = 10_000
#: sequence numbers per delete transaction
BATCH = 2_000


@dataclass(frozen=True)
class CompactionResult:
    """What one compaction run did.

    Attributes
    ----------
    through : int
        Changes with ``seq <= through`` are gone (0: nothing was due).
    deleted : int
        Rows deleted by this run.
    transactions : int
        Write transactions the deletion took.
    projects : tuple of int
        Projects whose ``compacted_through`` moved, sorted.
    """

    through: int
    deleted: int
    transactions: int
    projects: tuple[int, ...]

    def to_dict(self) -> dict:
        return {
            "through": self.through,
            "deleted": self.deleted,
            "transactions": self.transactions,
            "projects": list(self.projects),
        }


def compact(store: Store, through: int, batch: int = BATCH) -> CompactionResult:
    """Delete every change with ``seq <= through``, in transactions of ``batch`` sequence numbers.

    In each transaction, before its rows go: the first sequence number of every key they hold is
    kept in ``first_changes``, and ``compacted_through`` of every project they belong to is raised
    to the range's end. Running it again, or with a lower ``through``, changes nothing.
    """
    if isinstance(through, bool) or not isinstance(through, int) or through < 0:
        raise AqtError(f"compaction point {through!r} is not a sequence number; pass an int >= 0")
    if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
        raise AqtError(f"batch {batch!r} is not a positive int; pass e.g. batch={BATCH}")
    deleted = transactions = 0
    projects: set[int] = set()
    while True:
        with store.write() as tx:
            c = tx.c
            low = c.execute("SELECT MIN(seq) FROM changes").fetchone()[0]
            if low is None or low > through:
                break
            high = min(low + batch - 1, through)
            moved = [
                r[0]
                for r in c.execute(
                    "SELECT DISTINCT project FROM changes WHERE seq BETWEEN ? AND ?", (low, high)
                )
            ]
            c.executemany(
                "INSERT INTO compaction(project, compacted_through, compacted_at) VALUES (?,?,?) "
                "ON CONFLICT(project) DO UPDATE SET compacted_through="
                "MAX(compacted_through, excluded.compacted_through), "
                "compacted_at=excluded.compacted_at",
                [(p, high, time.time()) for p in moved],
            )
            c.execute(
                "INSERT INTO first_changes(project, control, task, annotator, seq) "
                "SELECT project, control, task, annotator, MIN(seq) FROM changes "
                "WHERE seq BETWEEN ? AND ? GROUP BY project, control, task, annotator "
                "ON CONFLICT(project, control, task, annotator) DO UPDATE SET "
                "seq=MIN(seq, excluded.seq)",
                (low, high),
            )
            deleted += c.execute(
                "DELETE FROM changes WHERE seq BETWEEN ? AND ?", (low, high)
            ).rowcount
            transactions += 1
            projects.update(moved)
    return CompactionResult(through, deleted, transactions, tuple(sorted(projects)))


def compaction_point(
    store: Store,
    now: float,
    keep_seconds: float = KEEP_SECONDS,
    keep_rows: int = KEEP_ROWS,
) -> int:
    """The highest ``seq`` that may go: the head at the newest mark at least ``keep_seconds`` old,
    and at least ``keep_rows`` below the current head (0: none)."""
    with store.read() as c:
        head = head_seq(c)
        row = c.execute(
            "SELECT MAX(seq) FROM compaction_marks WHERE at<=?", (now - keep_seconds,)
        ).fetchone()
    marked = row[0] or 0
    return max(0, min(marked, head - keep_rows))


def maybe_compact(
    store: Store,
    now: float | None = None,
    *,
    interval: float = INTERVAL,
    keep_seconds: float = KEEP_SECONDS,
    keep_rows: int = KEEP_ROWS,
    batch: int = BATCH,
) -> CompactionResult | None:
    """Compact if no process did in the last ``interval`` seconds; None when not due.

    Leaves a mark (now, head of the log) for a later run to compact through, and drops marks no
    later run needs.
    """
    now = time.time() if now is None else now
    if not _due(store.query("SELECT MAX(at) FROM compaction_marks")[0][0], now, interval):
        return None  # a read, so the loop that asks often never takes the write lock for it
    with store.write() as tx:  # the check again and the mark in one transaction: one process wins
        if not _due(
            tx.c.execute("SELECT MAX(at) FROM compaction_marks").fetchone()[0], now, interval
        ):
            return None
        tx.c.execute("INSERT INTO compaction_marks(at, seq) VALUES (?,?)", (now, head_seq(tx.c)))
    through = compaction_point(store, now, keep_seconds, keep_rows)
    with store.write() as tx:  # keep the newest mark old enough; older ones are never used again
        tx.c.execute(
            "DELETE FROM compaction_marks WHERE at<(SELECT MAX(at) FROM compaction_marks "
            "WHERE at<=?)",
            (now - keep_seconds,),
        )
    return compact(store, through, batch)


def _due(last: float | None, now: float, interval: float) -> bool:
    return last is None or now - last >= interval
