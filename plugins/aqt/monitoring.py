"""Continuous quality control during full-scale annotation.

A :class:`QualityMonitor` sees every answer as it arrives (a Prodigy ``update`` callback, a Label
Studio webhook) and keeps, with :class:`aqt.agreement.AgreementState`:

* agreement on the double-annotated share of items (``overlap_share``, chosen per item by a seeded
  hash, :meth:`QualityMonitor.needs_overlap`) and each annotator's kappa with their peers;
* each annotator's agreement with gold items (items of a passed calibration batch with a
  unanimous answer): cumulative, and over a sliding window of the last ``window`` gold answers
  (default ``Thresholds.min_shared_items``), so drift shows within a bounded number of answers;
* a queue: an overlap item waiting for its second annotator, and an item whose pairwise agreement
  is under ``Thresholds.item_agreement`` goes back for one more annotator (anyone who has not
  answered it) until ``max_annotators`` answered; then a strict majority settles it, else it waits
  for adjudication. An entry leaves the queue when an annotator not yet on it answers.

An annotator is flagged when the windowed kappa with gold is under ``Thresholds.annotator_kappa``
on a full window, or when the windowed kappa with each of at least two peers is under it (each
pair window full) and a full gold window does not vouch for them: a lone low pair does not say
who drifted, and gold, when there is enough of it, outranks peers. Windows use Brennan and Prediger's
kappa (1981; chance agreement ``1/q`` over the label set, so pass ``categories``): a short window
often holds mostly one label, where Cohen's kappa collapses towards 0 even for a reliable
annotator (Feinstein and Cicchetti 1990); cumulative figures are Cohen's kappa. Pair
windows hold only the first two answers of each item (the random overlap sample); third answers
come from re-annotation of disagreements and would bias them down.

Examples
--------
>>> m = QualityMonitor(gold={"g1": "POS"})
>>> m.observe("g1", "ann", "NEG", gold=True)
[]
>>> m.status()["annotators"]["ann"]["gold"]["n"]
1
"""

from __future__ import annotations

import hashlib
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from typing import Any

from aqt.agreement import AgreementState
from aqt.config import Thresholds
from aqt.records import natural_key

__all__ = ["QualityMonitor"]

_SEP = "\x1f"


class _Window:
    """The last ``size`` comparisons ``(key, own, reference)`` as an AgreementState of two raters."""

    def __init__(self, size: int, categories: Any) -> None:
        self.size = size
        self.state = AgreementState(categories=categories)
        self.keys: deque[str] = deque()

    def add(self, key: str, own: str, ref: str) -> None:
        if key in self.keys:
            self.keys.remove(key)
        self.keys.append(key)
        self.state.add(key, "own", own)
        self.state.add(key, "ref", ref)
        while len(self.keys) > self.size:
            old = self.keys.popleft()
            self.state.remove(old, "own")
            self.state.remove(old, "ref")

    @property
    def full(self) -> bool:
        return len(self.keys) >= self.size

    def kappa(self) -> float | None:
        """Brennan and Prediger's kappa (chance agreement 1/q over the label set)."""
        if not self.keys:
            return None
        return self.state.metrics()["brennan_prediger"]["value"]

    def agreement(self) -> float | None:
        if not self.keys:
            return None
        return self.state.annotator_agreement().get("own", {}).get("percent_agreement")


class QualityMonitor:
    """Per-annotator agreement with peers and gold, and the re-annotation queue.

    Parameters
    ----------
    annotators : the team (others are accepted and reported too)
    thresholds : ``overlap_share``, ``item_agreement``, ``annotator_kappa``, ``min_shared_items``
    gold : item id -> gold label
    categories : the label set, fixed up front (recommended: unused labels then count)
    max_annotators : answers an item may collect before it goes to adjudication
    seed : seed of the overlap choice
    window : gold and pair window length (default ``thresholds.min_shared_items``)
    """

    def __init__(
        self,
        annotators: Iterable[str] = (),
        thresholds: Thresholds | None = None,
        gold: Mapping[str, str] | None = None,
        categories: Any = None,
        max_annotators: int = 3,
        seed: int = 0,
        window: int | None = None,
    ) -> None:
        self.thresholds = th = thresholds or Thresholds()
        self.annotators = [str(a) for a in annotators]
        self.gold = {str(k): str(v) for k, v in (gold or {}).items()}
        self.categories = categories
        self.max_annotators = int(max_annotators)
        self.seed = int(seed)
        self.window = int(window or th.min_shared_items)
        self.state = AgreementState(categories=categories)
        self.gold_state = AgreementState(categories=categories)
        self._gold_win: dict[str, _Window] = {}
        self._pair_win: dict[tuple[str, str], _Window] = {}
        self._answers: dict[str, dict[str, str]] = {}
        self.n_answers: Counter[str] = Counter()
        self.repeats: Counter[str] = Counter()
        self.queue: dict[str, dict[str, Any]] = {}
        self.adjudication: dict[str, dict[str, Any]] = {}
        self.resolved: dict[str, str] = {}
        self.flags: dict[str, dict[str, Any]] = {}
        self.left_queue = 0

    # -- routing ---------------------------------------------------------------------------------
    def needs_overlap(self, item: str) -> bool:
        """Whether ``item`` is in the double-annotated share (a seeded hash, stable across runs)."""
        h = hashlib.sha256(f"{self.seed}{_SEP}{item}".encode()).digest()
        return int.from_bytes(h[:8], "big") / 2**64 < self.thresholds.overlap_share

    def next_request(self) -> dict[str, Any] | None:
        """The oldest queue entry not already out with an annotator (marked as out), or None."""
        for item, entry in self.queue.items():
            if not entry["out"]:
                entry["out"] = True
                return {"item": item, **{k: v for k, v in entry.items() if k != "out"}}
        return None

    def release(self, item: str) -> None:
        """Put an entry that went out unanswered back in line (a restart, a skipped task)."""
        if item in self.queue:
            self.queue[item]["out"] = False

    # -- answers -----------------------------------------------------------------------------------
    def observe(self, item: str, annotator: str, value: Any, *, gold: bool = False) -> list[str]:
        """Take one answer; returns events (``"flagged:NAME"``, ``"queued:ITEM"``,
        ``"left_queue:ITEM"``, ``"adjudicate:ITEM"``, ``"resolved:ITEM"``, ``"repeat:ITEM"``)."""
        item, ann, value = str(item), str(annotator), str(value)
        self.n_answers[ann] += 1
        events: list[str] = []
        if gold:
            ref = self.gold.get(item)
            if ref is None:
                return events
            key = f"{item}{_SEP}{ann}"
            self.gold_state.add(key, ann, value)
            self.gold_state.add(key, "gold", ref)
            self._gold_win.setdefault(ann, _Window(self.window, self.categories)).add(
                f"{item}{_SEP}{self.n_answers[ann]}", value, ref
            )
            return events + self._check_flag(ann)
        judg = self._answers.setdefault(item, {})
        entry = self.queue.get(item)
        if ann in judg:
            self.repeats[ann] += 1
            events.append(f"repeat:{item}")
            if entry is not None and ann in entry["exclude"]:
                entry["out"] = False  # went to someone who already answered: offer it again
        judg[ann] = value
        self.state.add(item, ann, value)
        # pair windows see only the first two answers of an item: the overlap sample is random,
        # while third answers come from re-annotation, i.e. from items chosen for disagreeing
        for other, v in judg.items() if len(judg) == 2 else ():
            if other != ann:
                pair = tuple(sorted((ann, other), key=natural_key))
                win = self._pair_win.setdefault(pair, _Window(self.window, self.categories))
                own, ref = (value, v) if pair[0] == ann else (v, value)
                win.add(item, own, ref)
        if entry is not None and ann not in entry["exclude"]:
            del self.queue[item]
            self.left_queue += 1
            events.append(f"left_queue:{item}")
        events += self._settle(item, ann)
        for name in sorted({ann, *judg}, key=natural_key):
            events += self._check_flag(name)
        return events

    def _settle(self, item: str, ann: str) -> list[str]:
        judg = self._answers[item]
        n = len(judg)
        if n == 1:
            if self.needs_overlap(item) and item not in self.queue:
                self.queue[item] = {"reason": "overlap", "exclude": [ann], "agreement": None}
                self.queue[item]["out"] = False
                return [f"queued:{item}"]
            return []
        if item in self.queue:
            return []
        pa = self.state.item_agreement(item)
        if pa is not None and pa >= self.thresholds.item_agreement:
            self.resolved[item] = Counter(judg.values()).most_common(1)[0][0]
            self.adjudication.pop(item, None)
            return [f"resolved:{item}"]
        votes = Counter(judg.values()).most_common()
        if n >= 3 and votes[0][1] * 2 > n:
            self.resolved[item] = votes[0][0]
            self.adjudication.pop(item, None)
            return [f"resolved:{item}"]
        if n < self.max_annotators:
            exclude = sorted(judg, key=natural_key)
            self.queue[item] = {
                "reason": "low_agreement",
                "exclude": exclude,
                "agreement": pa,
                "out": False,
            }
            return [f"queued:{item}"]
        self.adjudication[item] = {"values": dict(sorted(judg.items())), "agreement": pa}
        return [f"adjudicate:{item}"]

    def _check_flag(self, ann: str) -> list[str]:
        if ann in self.flags:
            return []
        thr = self.thresholds.annotator_kappa
        win = self._gold_win.get(ann)
        reason = None
        gold_ok = False
        if win is not None and win.full:
            k = win.kappa()
            if k is not None and k < thr - 1e-9:  # exactly at the threshold is not under it
                reason = f"kappa (BP) with gold {k:.3f} over the last {win.size} gold answers"
            gold_ok = k is not None and reason is None
        if reason is None and not gold_ok:  # gold, when there is enough, outranks peers
            low = []
            for (a, b), w in self._pair_win.items():
                if ann in (a, b) and w.full:
                    k = w.kappa()
                    low.append(k is not None and k < thr - 1e-9)
            if len(low) >= 2 and all(low):
                reason = (
                    f"kappa (BP) under {thr} with each of {len(low)} peers (last {self.window})"
                )
        if reason is None:
            return []
        self.flags[ann] = {"at_answer": self.n_answers[ann], "reason": reason}
        return [f"flagged:{ann}"]

    # -- reads ---------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """Everything a status file or ``prodigy aqt.status`` shows; plain JSON, sorted."""
        peers = self.state.annotator_agreement() if self._answers else {}
        gold_all = self.gold_state.annotator_agreement() if self._gold_win else {}
        names = sorted(set(self.annotators) | set(self.n_answers) - {"gold"}, key=natural_key)
        anns = {}
        for a in names:
            gw = self._gold_win.get(a)
            g = gold_all.get(a, {})
            anns[a] = {
                "answers": self.n_answers.get(a, 0),
                "repeats": self.repeats.get(a, 0),
                "peers": peers.get(
                    a, {"percent_agreement": None, "cohen_kappa": None, "n_items": 0}
                ),
                "gold": {
                    "n": g.get("n_items", 0),
                    "agreement": g.get("percent_agreement"),
                    "kappa": g.get("cohen_kappa"),
                    "window_bp_kappa": gw.kappa() if gw else None,
                    "window_n": len(gw.keys) if gw else 0,
                },
                "flagged": a in self.flags,
                "flag": self.flags.get(a),
            }
        pairs = [
            {"a": a, "b": b, "window_n": len(w.keys), "window_bp_kappa": w.kappa()}
            for (a, b), w in sorted(self._pair_win.items())
        ]
        multi = [i for i, j in self._answers.items() if len(j) >= 2]
        return {
            "thresholds": self.thresholds.to_dict(),
            "window": self.window,
            "items": len(self._answers),
            "double_annotated": len(multi),
            "alpha": self.state.metrics()["krippendorff_alpha"]["value"] if multi else None,
            "annotators": anns,
            "pairs": pairs,
            "queue": [
                {"item": i, **{k: v for k, v in e.items() if k != "out"}}
                for i, e in sorted(self.queue.items(), key=lambda kv: natural_key(kv[0]))
            ],
            "left_queue": self.left_queue,
            "adjudication": [
                {"item": i, **e}
                for i, e in sorted(self.adjudication.items(), key=lambda kv: natural_key(kv[0]))
            ],
            "resolved": len(self.resolved),
            "flagged": sorted(self.flags, key=natural_key),
        }
