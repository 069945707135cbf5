"""Per-annotator drift from webhook events: an :class:`aqt.monitoring.QualityMonitor` per
(project, control), rebuilt from the store.

The monitor is order-dependent (sliding windows of the last answers), so it is replayed from the
store in the order the judgements first arrived (the first ``changes`` sequence number of each
(task, annotator)), with each judgement's current value. A task that has a ground-truth annotation
(an adjudicator's decision, or a gold task marked in Label Studio) is a gold item: the annotators'
judgements on it are compared with the ground truth instead of with each other. The replay is cached
per process and redone only when the control's change log or its ground truth moved, so a read of
``/agreement/{project}`` between events costs two indexed SELECTs. Compaction of the log
(:mod:`aqt_labelstudio.compaction`) keeps each key's first sequence number in ``first_changes``.

Only nominal controls (choice, binary, pairwise) are monitored: the monitor's windows use
Brennan-Prediger kappa over the label set, which is a nominal statistic.

Tasks whose only judgements came from flagged annotators (:func:`needs_reannotation`) carry
``flags.status = "needs_reannotation"`` (:data:`NEEDS_REANNOTATION`), set and cleared by
:func:`set_reannotation_flags`, which the backend's sync thread runs once a project's events have
settled (:func:`aqt_labelstudio.worker.refresh_reannotation`); the flag sync then writes it into the
task's ``data.aqt_status`` like the adjudication flag. A task that needs adjudication keeps that
status: adjudication wins.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from aqt.config import Thresholds
from aqt.monitoring import QualityMonitor
from aqt.records import natural_key

from aqt_labelstudio.live import LEVEL_BY_KIND, decode
from aqt_labelstudio.model import choices_controls
from aqt_labelstudio.store import Store, compacted_through

__all__ = [
    "NEEDS_REANNOTATION",
    "LiveQuality",
    "annotator_report",
    "needs_reannotation",
    "set_reannotation_flags",
]

#: ``flags.status`` (and ``data.aqt_status``) of a task only flagged annotators answered
NEEDS_REANNOTATION = "needs_reannotation"
_OK = "ok"


def _label(value: Any) -> str:
    if isinstance(value, list | tuple):
        return "|".join(str(v) for v in value)
    return str(value)


class LiveQuality:
    """Thread-safe cache of one :class:`QualityMonitor` per (project, control) for one process."""

    def __init__(self, store: Store, thresholds: Thresholds) -> None:
        self.store = store
        self.thresholds = thresholds
        self._cache: dict[tuple[int, str], tuple[tuple, QualityMonitor]] = {}
        self._lock = threading.Lock()

    def monitor(self, project: int, control: str, kind: str) -> QualityMonitor | None:
        """The control's monitor, current as of now; None for a non-nominal control."""
        if LEVEL_BY_KIND.get(kind, "nominal") != "nominal":
            return None
        key = (project, control)
        with self._lock, self.store.read() as c:
            seq = c.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM changes WHERE project=? AND control=?",
                (project, control),
            ).fetchone()[0]
            # compaction may delete the control's newest changes; its point then moves instead
            seq = (seq, compacted_through(c, project))
            gold_rows = c.execute(
                "SELECT a.task, j.kind, j.value FROM annotations a JOIN judgements j "
                "ON j.annotation=a.annotation WHERE a.project=? AND j.control=? "
                "AND a.ground_truth=1 AND a.cancelled=0 "
                "ORDER BY a.task, COALESCE(a.updated_at, 0), a.annotation",
                (project, control),
            ).fetchall()
            config = c.execute(
                "SELECT label_config FROM projects WHERE project=?", (project,)
            ).fetchone()
            signature = (seq, tuple(gold_rows), config[0] if config else None)
            hit = self._cache.get(key)
            if hit is not None and hit[0] == signature:
                return hit[1]
            # first arrival: the first change of the key, kept in first_changes once compacted
            rows = c.execute(
                "SELECT e.task, e.annotator, e.kind, e.value, MIN(c.seq) AS first FROM effective e "
                "JOIN (SELECT task, annotator, seq FROM changes WHERE project=? AND control=? "
                "UNION ALL SELECT task, annotator, seq FROM first_changes WHERE project=? "
                "AND control=?) c ON c.task=e.task AND c.annotator=e.annotator "
                "WHERE e.project=? AND e.control=? "
                "GROUP BY e.task, e.annotator ORDER BY first, e.task, e.annotator",
                (project, control, project, control, project, control),
            ).fetchall()
        gold = {str(t): _label(decode(k, v)) for t, k, v in gold_rows}  # latest per task wins
        categories = None
        for ctl in choices_controls(config[0] if config else None):
            if ctl.name == control:
                categories = sorted(set(ctl.choices) | set(gold.values()))
        if categories is not None:
            seen = {_label(decode(k, v)) for _, _, k, v, _ in rows}
            categories = sorted(set(categories) | seen)
        mon = QualityMonitor(thresholds=self.thresholds, gold=gold, categories=categories)
        for task, annotator, k, v, _ in rows:
            mon.observe(str(task), annotator, _label(decode(k, v)), gold=str(task) in gold)
        with self._lock:
            self._cache[key] = (signature, mon)
        return mon

    def flagged(self, project: int) -> list[str]:
        """Annotators of ``project`` that any nominal control flags, in natural order."""
        names: set[str] = set()
        for control, kind in self.store.controls(project):
            mon = self.monitor(project, control, kind)
            if mon is not None:
                names |= set(mon.flags)
        return sorted(names, key=natural_key)

    def forget(self, project: int | None = None) -> None:
        with self._lock:
            for key in [k for k in self._cache if project is None or k[0] == project]:
                del self._cache[key]


def annotator_report(monitors: dict[str, QualityMonitor]) -> dict[str, Any]:
    """Per annotator, per control: agreement with peers and gold, window figures, flag reason.

    ``flagged`` is None for an annotator no control flags, else ``"CONTROL: reason"`` for the first
    flagging control (by name); ``flagged_at_answer`` is that annotator's answer count then.
    """
    out: dict[str, dict[str, Any]] = {}
    for control in sorted(monitors):
        status = monitors[control].status()
        windows = {}
        for p in status["pairs"]:
            windows.setdefault(p["a"], {})[p["b"]] = p
            windows.setdefault(p["b"], {})[p["a"]] = p
        for name, a in status["annotators"].items():
            entry = out.setdefault(
                name, {"controls": {}, "flagged": None, "flagged_at_answer": None}
            )
            entry["controls"][control] = {
                "answers": a["answers"],
                "peers": a["peers"],
                "gold": a["gold"],
                "peer_windows": [
                    {
                        "peer": peer,
                        "window_n": p["window_n"],
                        "window_bp_kappa": p["window_bp_kappa"],
                    }
                    for peer, p in sorted(
                        windows.get(name, {}).items(), key=lambda kv: natural_key(kv[0])
                    )
                ],
                "window": status["window"],
                "flag": a["flag"],
            }
            if a["flag"] and entry["flagged"] is None:
                entry["flagged"] = f"{control}: {a['flag']['reason']}"
                entry["flagged_at_answer"] = a["flag"]["at_answer"]
    return {k: out[k] for k in sorted(out, key=natural_key)}


def needs_reannotation(store: Store, project: int, flagged: list[str]) -> list[int]:
    """Tasks of ``project`` whose only judgements came from flagged annotators, sorted.

    A task with a ground-truth annotation is decided and left out; a task leaves the list as soon
    as an annotator who is not flagged answers it.
    """
    if not flagged:
        return []
    marks = ",".join("?" * len(flagged))
    rows = store.query(
        "SELECT e.task FROM effective e WHERE e.project=? GROUP BY e.task "
        f"HAVING SUM(e.annotator NOT IN ({marks}))=0 AND NOT EXISTS ("
        "SELECT 1 FROM annotations a WHERE a.task=e.task AND a.ground_truth=1 "
        "AND a.cancelled=0) ORDER BY e.task",
        (project, *flagged),
    )
    return [int(r[0]) for r in rows]


def set_reannotation_flags(store: Store, project: int, flagged: list[str]) -> dict[str, Any]:
    """Make ``flags.status`` of ``project`` say ``needs_reannotation`` exactly where it should.

    In one write transaction: every task of :func:`needs_reannotation` whose flag is ``ok`` (or
    that has no flag row) gets :data:`NEEDS_REANNOTATION`; a task that needs adjudication or was
    adjudicated keeps its status. Every task flagged for re-annotation that is no longer in the
    list (someone else answered it, its annotators are no longer flagged, it got a ground truth,
    its annotations were deleted) goes back to ``ok``. Rows that change become unsynced, so the
    flag sync writes ``data.aqt_status`` into Label Studio.

    Returns
    -------
    dict
        ``{"project", "flagged", "needs_reannotation", "set", "cleared"}``: the flagged
        annotators, the tasks in the list (sorted), and the task ids whose status was set to and
        cleared from :data:`NEEDS_REANNOTATION` by this call.
    """
    now = time.time()
    with store.write() as tx:  # the list is read inside the transaction, so it matches the flags
        wanted = needs_reannotation(store, project, flagged)
        status = dict(
            tx.c.execute("SELECT task, status FROM flags WHERE project=?", (project,)).fetchall()
        )
        to_set = [t for t in wanted if status.get(t, _OK) == _OK]
        keep = set(wanted)
        to_clear = sorted(t for t, s in status.items() if s == NEEDS_REANNOTATION and t not in keep)
        tx.c.executemany(
            "INSERT INTO flags(task, project, status, updated_at) VALUES (?,?,?,?) "
            "ON CONFLICT(task) DO UPDATE SET status=excluded.status, updated_at=excluded.updated_at",
            [(t, project, NEEDS_REANNOTATION, now) for t in to_set],
        )
        tx.c.executemany(
            "UPDATE flags SET status=?, updated_at=? WHERE task=? AND status=?",
            [(_OK, now, t, NEEDS_REANNOTATION) for t in to_clear],
        )
    return {
        "project": project,
        "flagged": list(flagged),
        "needs_reannotation": wanted,
        "set": to_set,
        "cleared": to_clear,
    }
