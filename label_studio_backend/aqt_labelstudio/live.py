"""Live agreement per (project, control): an :class:`aqt.agreement.AgreementState` per process,
kept current from the store's change log.

Design (measured in ``benchmarks/backend.py``): the database holds the *values* (table
``effective``) and an append-only log of their changes (``changes``, a global sequence). Each worker
process builds its state once from ``effective`` and afterwards replays only the changes after its
watermark, so a request costs one indexed SELECT of the new changes plus ``add``/``remove`` calls,
whichever worker ingested the events. The alternative, keeping the sufficient statistics themselves
in the database, would make every event rewrite count tables shared by all workers (a hot row per
project) and tie the schema to the engine's internals; the change log keeps the engine the single
owner of the statistics and makes the state rebuildable from the values at any time.

The log is compacted (:mod:`aqt_labelstudio.compaction`): a state whose watermark is below the
project's ``compacted_through`` is rebuilt from ``effective`` instead of replayed.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from dataclasses import dataclass, field
from typing import Any

from aqt.agreement import AgreementState
from aqt.records import SCALAR_KINDS, value_from_json

from aqt_labelstudio.store import Store, compacted_through, head_seq

__all__ = ["LEVEL_BY_KIND", "LiveAgreement", "decode", "item_agreements"]

#: the measurement level used for each kind of control
LEVEL_BY_KIND = {
    "choice": "nominal",
    "binary": "nominal",
    "pairwise": "nominal",
    "rating": "ordinal",
    "number": "interval",
}


def decode(kind: str, value_json: str) -> Any:
    return value_from_json(kind, json.loads(value_json))


def item_agreements(rows: list[tuple[str, str, str, str]], task: int) -> dict[str, float]:
    """Per control: the item agreement of one task from its (control, annotator, kind, value) rows.

    Controls of non-scalar kinds and controls with fewer than two annotators are left out.
    """
    by_control: dict[str, list[tuple[str, str, str]]] = {}
    for control, annotator, kind, value in rows:
        if kind in SCALAR_KINDS:
            by_control.setdefault(control, []).append((annotator, kind, value))
    out = {}
    for control, items in sorted(by_control.items()):
        if len(items) < 2:
            continue
        state = AgreementState(level=LEVEL_BY_KIND.get(items[0][1], "nominal"))
        for annotator, kind, value in items:
            state.add(str(task), annotator, decode(kind, value))
        score = state.item_agreement(str(task))
        if score is not None:
            out[control] = float(score)
    return out


@dataclass
class LiveEntry:
    """One control's state, its kind, and the current value JSON per (item, annotator)."""

    state: Any
    kind: str
    watermark: int
    values: dict[tuple[str, str], str] = field(default_factory=dict)

    @property
    def n_items(self) -> int:
        return len({item for item, _ in self.values})


class LiveAgreement:
    """Thread-safe cache of agreement states for one process."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._entries: dict[tuple[int, str], LiveEntry] = {}
        self._lock = threading.Lock()
        #: states rebuilt from ``effective`` because compaction passed their watermark
        self.rebuilds = 0

    def state(self, project: int, control: str) -> LiveEntry | None:
        """The control's entry, current as of now, or None for a control with no values."""
        key = (project, control)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._load(project, control)
                if entry is None:
                    return None
                self._entries[key] = entry
            else:
                entry = self._catch_up(project, control, entry)
                if entry is None:
                    del self._entries[key]
                    return None
                self._entries[key] = entry
            return entry

    def forget(self, project: int | None = None) -> None:
        with self._lock:
            for key in [k for k in self._entries if project is None or k[0] == project]:
                del self._entries[key]

    def _load(self, project: int, control: str) -> LiveEntry | None:
        with self.store.read() as c:
            return self._build(c, project, control)

    @classmethod
    def _build(cls, c: sqlite3.Connection, project: int, control: str) -> LiveEntry | None:
        """The entry from ``effective``, watermarked with the head of the log, in one snapshot."""
        watermark = head_seq(c)
        rows = c.execute(
            "SELECT task, annotator, kind, value FROM effective WHERE project=? "
            "AND control=? ORDER BY task, annotator",
            (project, control),
        ).fetchall()
        if not rows:
            return None
        kind = rows[0][2]
        entry = LiveEntry(AgreementState(level=LEVEL_BY_KIND.get(kind, "nominal")), kind, watermark)
        for task, annotator, k, value in rows:
            cls._set(entry, str(task), annotator, k, value)
        return entry

    def _catch_up(self, project: int, control: str, entry: LiveEntry) -> LiveEntry | None:
        """Replay the changes after the watermark; or, when compaction may have deleted some of
        them (watermark below the project's ``compacted_through``), rebuild from ``effective``.
        Either way in one read snapshot, so no change is missed or applied twice."""
        with self.store.read() as c:
            if entry.watermark < compacted_through(c, project):
                self.rebuilds += 1
                return self._build(c, project, control)
            head = head_seq(c)
            rows = c.execute(
                "SELECT seq, task, annotator, kind, value FROM changes WHERE project=? "
                "AND control=? AND seq>? ORDER BY seq",
                (project, control, entry.watermark),
            ).fetchall()
        for _, task, annotator, kind, value in rows:
            self._set(entry, str(task), annotator, kind, value)
        entry.watermark = head
        return entry

    @staticmethod
    def _set(
        entry: LiveEntry, item: str, annotator: str, kind: str | None, value: str | None
    ) -> None:
        key = (item, annotator)
        old = entry.values.get(key)
        if old == value:
            return
        if old is not None:
            entry.state.remove(item, annotator)
            del entry.values[key]
        if value is not None:
            entry.state.add(item, annotator, decode(kind or entry.kind, value))
            entry.values[key] = value
