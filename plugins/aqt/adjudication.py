"""Adjudication: review items built from the annotation table, decisions, and their log.

A senior annotator (the adjudicator) sees each item with every annotator's answer and gives the
final one. This module is the front-end-free part of that workflow:

* :func:`build_review_items` groups the table by item into :class:`ReviewItem` records (every
  annotator's value, the distinct versions with who gave them, the item's observed agreement and
  whether it is unanimous), in natural item order;
* :class:`Decision` is one adjudication: item, versions seen, decision, reason, adjudicator, time,
  guideline version and guideline note;
* :class:`AdjudicationLog` is the append-only JSON Lines log (one flushed line per decision);
* :func:`pending_items` and :func:`final_decisions` make a restarted session neither repeat nor skip
  items: an item is pending until a decision for it is logged, and the last decision wins;
* :func:`auto_decisions` turns unanimous items into decisions by the adjudicator ``"auto"``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aqt.errors import InputError, UsageError, truncate
from aqt.fileio import append_jsonl
from aqt.records import AnnotationTable, natural_key, value_from_json, value_to_json

__all__ = [
    "AUTO_ADJUDICATOR",
    "OUTCOMES",
    "AdjudicationLog",
    "Decision",
    "ReviewItem",
    "Version",
    "auto_decisions",
    "build_review_items",
    "final_decisions",
    "guideline_version_of",
    "pending_items",
]

#: adjudicator name of decisions taken without a person (unanimous items with auto-accept)
AUTO_ADJUDICATOR = "auto"
#: ``accept``: the decision holds the final value; ``reject``: the item is dropped as unusable
OUTCOMES = ("accept", "reject")


def _key(value: Any) -> str:
    """A canonical, hashable form of a value (sets and spans compare by content)."""
    return json.dumps(value_to_json(value), sort_keys=True, ensure_ascii=False)


@dataclass(frozen=True)
class Version:
    """One distinct answer to an item and the annotators who gave it (sorted)."""

    value: Any
    annotators: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"value": value_to_json(self.value), "annotators": list(self.annotators)}


@dataclass(frozen=True)
class ReviewItem:
    """Everything an adjudicator sees about one item.

    ``versions`` are ordered most annotators first, ties by the value's canonical JSON, so the
    first version is the majority answer (the one pre-selected for the adjudicator).
    ``agreement`` is the share of annotator pairs that gave the same value (exact match, so
    sets and span lists must be equal), in [0, 1]; it is 1.0 for one annotator.
    """

    item: str
    kind: str
    control: str
    values: Mapping[str, Any]
    versions: tuple[Version, ...]
    agreement: float
    unanimous: bool
    text: str | None = None
    guideline_versions: tuple[str, ...] = ()

    @property
    def n_annotators(self) -> int:
        return len(self.values)

    @property
    def majority(self) -> Any:
        return self.versions[0].value

    def to_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "kind": self.kind,
            "control": self.control,
            "values": {a: value_to_json(v) for a, v in self.values.items()},
            "versions": [v.to_dict() for v in self.versions],
            "agreement": self.agreement,
            "unanimous": self.unanimous,
            "n_annotators": self.n_annotators,
            "text": self.text,
            "guideline_versions": list(self.guideline_versions),
        }


def build_review_items(
    table: AnnotationTable,
    *,
    min_annotators: int = 1,
    only_disagreements: bool = False,
) -> list[ReviewItem]:
    """Group a one-control table into review items, in natural item order.

    Parameters
    ----------
    table
        Annotations of one control (use :meth:`AnnotationTable.select_control` first). When an
        annotator judged an item more than once, the latest (by timestamp, then table order) counts.
    min_annotators
        Leave out items with fewer distinct annotators (items still waiting for answers).
    only_disagreements
        Leave out unanimous items.

    Returns
    -------
    list of ReviewItem

    Examples
    --------
    >>> from aqt.records import Annotation
    >>> t = AnnotationTable.from_records([Annotation("1", "a", "POS"), Annotation("1", "b", "NEG"),
    ...                                   Annotation("1", "c", "POS")])
    >>> r = build_review_items(t)[0]
    >>> (r.majority, r.versions[0].annotators, round(r.agreement, 3), r.unanimous)
    ('POS', ('a', 'c'), 0.333, False)
    """
    if min_annotators < 1:
        raise UsageError(
            f"--min-annotators must be at least 1, got {min_annotators}.",
            fix="Pass a positive number, e.g. --min-annotators 2.",
        )
    controls = table.controls()
    if len(controls) > 1:
        raise UsageError(
            f"The annotations hold {len(controls)} controls: {truncate(controls)}.",
            fix="Adjudicate one control (interface or label) at a time.",
        )
    by_item: dict[str, dict[str, Any]] = {}
    order: dict[str, dict[str, tuple]] = {}
    for n, rec in enumerate(table.records):
        rank = (rec.timestamp if rec.timestamp is not None else float("-inf"), n)
        seen = order.setdefault(rec.item, {})
        if rec.annotator in seen and seen[rec.annotator] > rank:
            continue
        seen[rec.annotator] = rank
        by_item.setdefault(rec.item, {})[rec.annotator] = rec
    items = []
    for item in sorted(by_item, key=natural_key):
        recs = by_item[item]
        if len(recs) < min_annotators:
            continue
        groups: dict[str, list[str]] = {}
        values: dict[str, Any] = {}
        for annotator in sorted(recs, key=natural_key):
            rec = recs[annotator]
            values[annotator] = rec.value
            groups.setdefault(_key(rec.value), []).append(annotator)
        versions = tuple(
            Version(recs[names[0]].value, tuple(names))
            for k, names in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))
        )
        n = len(values)
        pairs = n * (n - 1)
        agree = sum(len(v.annotators) * (len(v.annotators) - 1) for v in versions)
        unanimous = len(versions) == 1
        if only_disagreements and unanimous:
            continue
        first = next(iter(recs.values()))
        items.append(
            ReviewItem(
                item=item,
                kind=first.kind,
                control=first.control,
                values=values,
                versions=versions,
                agreement=agree / pairs if pairs else 1.0,
                unanimous=unanimous,
                text=next((r.text for r in recs.values() if r.text), None),
                guideline_versions=tuple(
                    sorted(
                        {r.guideline_version for r in recs.values() if r.guideline_version},
                        key=natural_key,
                    )
                ),
            )
        )
    return items


@dataclass(frozen=True)
class Decision:
    """One adjudication, as stored in the log (one JSON object per line).

    ``decision`` is the final value (``None`` when ``outcome`` is ``"reject"``: the item was judged
    unusable); ``versions_seen`` are the versions shown to the adjudicator; ``time`` is Unix
    seconds (int, like Prodigy's ``_timestamp``).
    """

    item: str
    kind: str
    decision: Any
    adjudicator: str
    time: int
    versions_seen: tuple[Version, ...] = ()
    outcome: str = "accept"
    reason: str | None = None
    guideline_version: str | None = None
    guideline_note: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.outcome not in OUTCOMES:
            raise InputError(
                f"Decision outcome {self.outcome!r} for item {self.item!r} is unknown.",
                fix=f"Use one of {', '.join(OUTCOMES)}.",
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "item": self.item,
            "kind": self.kind,
            "outcome": self.outcome,
            "decision": None if self.decision is None else value_to_json(self.decision),
            "versions_seen": [v.to_dict() for v in self.versions_seen],
            "reason": self.reason,
            "adjudicator": self.adjudicator,
            "time": self.time,
            "guideline_version": self.guideline_version,
            "guideline_note": self.guideline_note,
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Decision:
        kind = str(d["kind"])
        value = d.get("decision")
        return cls(
            item=str(d["item"]),
            kind=kind,
            decision=None if value is None else value_from_json(kind, value),
            adjudicator=str(d["adjudicator"]),
            time=int(d["time"]),
            versions_seen=tuple(
                Version(value_from_json(kind, v["value"]), tuple(v["annotators"]))
                for v in d.get("versions_seen") or ()
            ),
            outcome=str(d.get("outcome", "accept")),
            reason=d.get("reason"),
            guideline_version=d.get("guideline_version"),
            guideline_note=d.get("guideline_note"),
            extra=dict(d.get("extra") or {}),
        )


class AdjudicationLog:
    """The append-only JSON Lines log of decisions at ``path``.

    Every :meth:`append` writes one line and flushes it to disk before returning. :meth:`read`
    reports every malformed line with its number; a torn last line (a crash mid-write) is left out,
    so the decision it held is simply taken again.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def append(self, decision: Decision) -> None:
        append_jsonl(self.path, decision.to_dict())

    def read(self) -> list[Decision]:
        if not self.path.exists():
            return []
        text = self.path.read_text(encoding="utf-8")
        lines = text.split("\n")
        decisions, problems = [], []
        last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
        for i, line in enumerate(lines):
            if not line.strip():
                continue
            try:
                decisions.append(Decision.from_dict(json.loads(line)))
            except (ValueError, KeyError, TypeError) as exc:
                if i == last and not text.endswith("\n"):
                    continue  # torn final write
                problems.append(f"line {i + 1}: {type(exc).__name__}: {str(exc)[:80]}")
        if problems:
            raise InputError(
                f"The adjudication log {self.path} has {len(problems)} bad line(s): "
                f"{'; '.join(problems[:10])}.",
                fix="Restore the log from a backup or remove the bad lines; the rest is kept.",
            )
        return decisions

    def decided_items(self) -> set[str]:
        return {d.item for d in self.read()}


def pending_items(items: Sequence[ReviewItem], decided: Iterable[str]) -> list[ReviewItem]:
    """The items without a decision, in their original order (so a restart resumes in place)."""
    done = set(decided)
    return [r for r in items if r.item not in done]


def final_decisions(decisions: Iterable[Decision]) -> dict[str, Decision]:
    """The last decision per item (the log is append-only; a later decision overrides)."""
    final: dict[str, Decision] = {}
    for d in decisions:
        final[d.item] = d
    return {k: final[k] for k in sorted(final, key=natural_key)}


def auto_decisions(
    items: Iterable[ReviewItem],
    *,
    time: int,
    guideline_version: str | None = None,
    min_annotators: int = 2,
) -> list[Decision]:
    """Decisions by :data:`AUTO_ADJUDICATOR` for unanimous items with enough annotators."""
    return [
        Decision(
            item=r.item,
            kind=r.kind,
            decision=r.majority,
            adjudicator=AUTO_ADJUDICATOR,
            time=int(time),
            versions_seen=r.versions,
            reason=f"unanimous ({r.n_annotators} annotators)",
            guideline_version=guideline_version,
        )
        for r in items
        if r.unanimous and r.n_annotators >= min_annotators
    ]


_VERSION_RE = re.compile(
    r"""^\s*(?:#+\s*)?version\s*[:=]\s*["']?([^"'\s]+)""", re.IGNORECASE | re.MULTILINE
)


def guideline_version_of(path: str | Path) -> str:
    """The guideline version of a guidelines file.

    A ``version: X`` (or ``version = "X"``) line among the first 20 lines names it; otherwise the
    version is ``sha256:`` plus the first 12 hex digits of the file's content.
    """
    p = Path(path)
    if not p.is_file():
        raise InputError(
            f"No guidelines file at {str(p)!r}.",
            fix="Pass the guidelines file with --guidelines PATH, or leave it out.",
        )
    data = p.read_bytes()
    head = "\n".join(data.decode("utf-8", errors="replace").splitlines()[:20])
    match = _VERSION_RE.search(head)
    if match:
        return match.group(1)
    return "sha256:" + hashlib.sha256(data).hexdigest()[:12]
