"""The quality monitor of full-scale work: an annotator who starts answering at random is flagged
within a bounded number of answers (measured over seeds), good annotators are not flagged, and the
re-annotation queue empties as items are re-annotated."""

from __future__ import annotations

import numpy as np
import pytest
from aqt.agreement import AgreementState
from aqt.config import Thresholds
from aqt.monitoring import QualityMonitor

LABELS = ["Positive", "Negative", "Neutral"]
#: the drift bound stated in the Calibration section of README.md: with gold at 20% of tasks and the default
#: window of 15 gold answers, a random annotator is flagged within 100 of their own answers
FLAG_BOUND = 100
SWITCH = 200


def run_team(seed: int, *, switch: int | None = SWITCH, gold_every: int = 5, limit: int = 1500):
    """Three annotators take turns; every ``gold_every``-th task of an annotator is gold; carol
    answers at random after ``switch`` answers. Returns (monitor, carol's answers at the flag,
    wrong flags)."""
    rng = np.random.default_rng(seed)
    gold = {f"g{i}": LABELS[i % 3] for i in range(20)}
    m = QualityMonitor(["alice", "bob", "carol"], gold=gold, categories=LABELS, seed=seed)
    n = {"alice": 0, "bob": 0, "carol": 0}
    item, g = 0, 0

    def answer(who: str, true: str) -> str:
        if switch is not None and who == "carol" and n["carol"] > switch:
            return LABELS[int(rng.integers(3))]
        return true if rng.random() < 0.9 else LABELS[int(rng.integers(3))]

    flagged_at, wrong = None, []
    while item < limit and flagged_at is None:
        for who in ("alice", "bob", "carol"):
            n[who] += 1
            if n[who] % gold_every == 0:
                gid = f"g{g % 20}"
                g += 1
                events = m.observe(gid, who, answer(who, gold[gid]), gold=True)
            else:
                true = LABELS[(item * 7) % 3]
                events = m.observe(f"i{item}", who, answer(who, true))
                item += 1
                req = m.next_request()
                if req is not None:
                    other = next(x for x in ("alice", "bob", "carol") if x not in req["exclude"])
                    n[other] += 1
                    true2 = LABELS[(int(req["item"][1:]) * 7) % 3]
                    events += m.observe(req["item"], other, answer(other, true2))
            for e in events:
                if e.startswith("flagged:"):
                    name = e.split(":", 1)[1]
                    if name == "carol" and switch is not None and n["carol"] > switch:
                        flagged_at = n["carol"]
                    else:
                        wrong.append(name)
    return m, flagged_at, wrong


@pytest.mark.parametrize("seed", range(12))
def test_random_annotator_is_flagged_within_the_bound(seed):
    m, flagged_at, wrong = run_team(seed)
    assert wrong == []
    assert flagged_at is not None, m.status()["annotators"]["carol"]
    assert flagged_at - SWITCH <= FLAG_BOUND, flagged_at
    assert m.status()["flagged"] == ["carol"]
    assert "carol" in m.flags and m.flags["carol"]["at_answer"] == flagged_at


@pytest.mark.parametrize("seed", range(4))
def test_reliable_team_is_never_flagged(seed):
    m, flagged_at, wrong = run_team(seed, switch=None, limit=1200)
    assert flagged_at is None and wrong == [] and m.flags == {}
    s = m.status()
    assert s["double_annotated"] > 80
    assert all(a["gold"]["kappa"] > 0.7 for a in s["annotators"].values())


def test_overlap_share_is_seeded_and_about_right():
    m = QualityMonitor(thresholds=Thresholds(overlap_share=0.1), seed=0)
    chosen = [m.needs_overlap(f"i{i}") for i in range(5000)]
    assert 0.085 < sum(chosen) / 5000 < 0.115
    assert chosen == [QualityMonitor(seed=0).needs_overlap(f"i{i}") for i in range(5000)]
    assert chosen != [QualityMonitor(seed=1).needs_overlap(f"i{i}") for i in range(5000)]


def test_reannotated_items_leave_the_queue():
    m = QualityMonitor(thresholds=Thresholds(overlap_share=1.0), categories=LABELS)
    assert m.observe("x", "alice", "Positive") == ["queued:x"]
    assert m.status()["queue"] == [
        {"item": "x", "reason": "overlap", "exclude": ["alice"], "agreement": None}
    ]
    req = m.next_request()
    assert req["item"] == "x" and m.next_request() is None  # out with an annotator
    # the copy went to alice again: it goes back in line, still for someone else
    assert m.observe("x", "alice", "Positive") == ["repeat:x"]
    assert m.next_request()["item"] == "x"
    events = m.observe("x", "bob", "Neutral")  # disagreement: needs a third annotator
    assert events[:2] == ["left_queue:x", "queued:x"]
    assert m.status()["queue"][0]["reason"] == "low_agreement"
    assert m.status()["queue"][0]["exclude"] == ["alice", "bob"]
    m.next_request()
    assert m.observe("x", "carol", "Neutral")[:2] == ["left_queue:x", "resolved:x"]
    s = m.status()
    assert s["queue"] == [] and s["left_queue"] == 2 and m.resolved == {"x": "Neutral"}
    # a three-way split goes to adjudication
    m.observe("y", "alice", "Positive")
    m.next_request()
    m.observe("y", "bob", "Negative")
    m.next_request()
    assert m.observe("y", "carol", "Neutral")[:2] == ["left_queue:y", "adjudicate:y"]
    assert m.status()["adjudication"][0]["item"] == "y"
    assert m.status()["queue"] == []


def test_release_puts_a_request_back():
    m = QualityMonitor(thresholds=Thresholds(overlap_share=1.0))
    m.observe("x", "a", "P")
    assert m.next_request()["item"] == "x" and m.next_request() is None
    m.release("x")
    assert m.next_request()["item"] == "x"


def test_peer_agreement_equals_agreement_state_on_the_same_answers():
    m = QualityMonitor(thresholds=Thresholds(overlap_share=1.0))
    s = AgreementState()
    rng = np.random.default_rng(0)
    for i in range(60):
        for who in ("a", "b"):
            v = LABELS[int(rng.integers(3))]
            m.observe(f"i{i}", who, v)
            s.add(f"i{i}", who, v)
    assert m.status()["annotators"]["a"]["peers"] == s.annotator_agreement()["a"]
    assert m.status()["alpha"] == s.metrics()["krippendorff_alpha"]["value"]
