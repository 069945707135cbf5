"""Tasks only drifting annotators answered get ``aqt_status = "needs_reannotation"`` in Label
Studio (an in-memory stand-in here), set by the sync thread once events settle, cleared when
someone else answers or the annotator is no longer flagged; adjudication wins over it."""

from __future__ import annotations

import pytest
from aqt.config import Thresholds
from aqt_labelstudio.events import parse_webhook
from aqt_labelstudio.quality import NEEDS_REANNOTATION, needs_reannotation
from aqt_labelstudio.service import NEEDS, OK, Backend
from aqt_labelstudio.settings import Settings
from aqt_labelstudio.worker import (
    REANNOTATION_MAX_WAIT,
    REANNOTATION_QUIET,
    Worker,
    reannotation_due,
    reconcile,
    refresh_reannotation,
    sync_flags,
)
from backendproc import wait_until
from test_backend_payloads import FakeLabelStudio, created, updated

GOLD = (101, 102, 103)  # ground truth "Positive" by user 1
RELIABLE, DRIFT_A, DRIFT_B, LATE = 2, 3, 4, 5
#: regular task -> (annotator, label) answers; tasks 1-4 and 8 only flagged annotators answered,
#: 7 too but they disagree (needs adjudication), 6 has a reliable answer, 5 only a reliable one
ANSWERS = {
    1: [(DRIFT_A, "Positive")],
    2: [(DRIFT_A, "Negative")],
    3: [(DRIFT_A, "Neutral")],
    4: [(DRIFT_B, "Positive")],
    5: [(RELIABLE, "Positive")],
    6: [(DRIFT_A, "Neutral"), (RELIABLE, "Neutral")],
    7: [(DRIFT_A, "Positive"), (DRIFT_B, "Negative")],
    8: [(DRIFT_A, "Negative"), (DRIFT_B, "Negative")],
}
SOLO = [1, 2, 3, 4, 7, 8]
#: the gold tasks' three answers disagree, so they need adjudication too (not re-annotation)
ADJUDICATE = {t: "needs_adjudication" for t in (7, *GOLD)}


class Scenario:
    """A backend with a window of 3 gold answers: DRIFT_A and DRIFT_B answer every gold task
    wrongly, so both are flagged; RELIABLE answers them right."""

    def __init__(self, tmp_path, name: str = "d") -> None:
        self.fake = FakeLabelStudio()
        for tid in (*GOLD, *ANSWERS):
            self.fake.add_task(tid, f"text of task {tid}")
        self.settings = Settings(
            data_dir=tmp_path / name,
            background=False,
            thresholds=Thresholds(min_shared_items=3),
        )
        self.backend = Backend(self.settings, api=self.fake)
        self.aid = 0
        self.gold_answers: dict[int, int] = {}
        for tid in GOLD:
            self.post(tid, 1, "Positive", ground_truth=True)
        for tid in GOLD:
            self.post(tid, RELIABLE, "Positive")
            self.gold_answers[tid] = self.post(tid, DRIFT_A, "Negative")
            self.post(tid, DRIFT_B, "Neutral")
        for tid, answers in ANSWERS.items():
            for user, label in answers:
                self.post(tid, user, label)

    def post(self, tid: int, user: int, label: str, **kw) -> int:
        self.aid += 1
        self.send(created(self.aid, tid, user, label, t=self.aid, **kw))
        return self.aid

    def send(self, event: dict) -> None:
        self.backend.handle_event(parse_webhook(event))
        # Label Studio holds the same annotations (for reconciliation)
        ann = event["annotation"]
        task = self.fake.tasks[ann["task"]]
        task["annotations"] = [a for a in task["annotations"] if a["id"] != ann["id"]] + [ann]

    def status(self) -> dict[int, str]:
        return {f["task"]: f["status"] for f in self.backend.store.flags(1)}

    def in_label_studio(self) -> dict[int, str]:
        return {
            tid: t["data"]["aqt_status"]
            for tid, t in self.fake.tasks.items()
            if "aqt_status" in t["data"]
        }

    def patches(self) -> int:
        return sum(1 for c in self.fake.calls if c[0] == "set_task_data")


@pytest.fixture
def scenario(tmp_path) -> Scenario:
    return Scenario(tmp_path)


def reannotate(status: dict[int, str]) -> list[int]:
    return sorted(t for t, s in status.items() if s == NEEDS_REANNOTATION)


def test_tasks_only_flagged_annotators_answered_get_the_status_in_label_studio(scenario):
    backend = scenario.backend
    assert backend.quality.flagged(1) == [str(DRIFT_A), str(DRIFT_B)]
    assert needs_reannotation(backend.store, 1, backend.quality.flagged(1)) == SOLO
    # ingestion alone never sets it (a submit does not replay the monitors)
    assert reannotate(scenario.status()) == []

    out = refresh_reannotation(backend, 1)
    assert out["needs_reannotation"] == SOLO
    assert out["set"] == [1, 2, 3, 4, 8] and out["cleared"] == []
    status = scenario.status()
    assert reannotate(status) == [1, 2, 3, 4, 8]
    assert status[7] == NEEDS  # adjudication wins
    assert status[6] == OK and 5 not in status  # a reliable answer: nothing to do

    assert sync_flags(backend) == 5 + len(ADJUDICATE)
    expected = {t: NEEDS_REANNOTATION for t in (1, 2, 3, 4, 8)} | ADJUDICATE
    assert scenario.in_label_studio() == expected
    assert backend.store.task_data(1)["aqt_status"] == NEEDS_REANNOTATION
    # the same again changes nothing and sends nothing
    n = scenario.patches()
    assert refresh_reannotation(backend, 1)["set"] == [] and sync_flags(backend) == 0
    assert scenario.patches() == n
    # /agreement lists the same tasks
    got = backend.agreement(1)
    assert got["needs_reannotation"] == SOLO
    assert got["flagged_annotators"] == [str(DRIFT_A), str(DRIFT_B)]


def test_another_annotator_answering_clears_it_but_disagreement_needs_adjudication(scenario):
    backend = scenario.backend
    refresh_reannotation(backend, 1)
    sync_flags(backend)
    scenario.post(1, RELIABLE, "Positive")  # agrees with the drifter
    scenario.post(2, LATE, "Positive")  # disagrees: adjudication wins at once
    status = scenario.status()
    assert status[1] == NEEDS_REANNOTATION  # until the sync thread looks again
    assert status[2] == NEEDS
    out = refresh_reannotation(backend, 1)
    assert out["cleared"] == [1] and out["set"] == []
    assert out["needs_reannotation"] == [3, 4, 7, 8]
    assert sync_flags(backend) == 2
    data = scenario.fake.tasks
    assert "aqt_status" not in data[1]["data"] and data[1]["data"]["text"] == "text of task 1"
    assert data[2]["data"]["aqt_status"] == NEEDS
    assert reannotate(scenario.status()) == [3, 4, 8]


def test_an_annotator_no_longer_flagged_releases_their_tasks(scenario):
    backend = scenario.backend
    refresh_reannotation(backend, 1)
    sync_flags(backend)
    # DRIFT_A's gold answers are corrected: DRIFT_A is not flagged any more, DRIFT_B still is
    for tid, aid in scenario.gold_answers.items():
        scenario.send(updated(aid, tid, DRIFT_A, "Positive", t=1000 + aid))
    assert backend.quality.flagged(1) == [str(DRIFT_B)]
    out = refresh_reannotation(backend, 1)
    assert out["cleared"] == [1, 2, 3, 8] and out["needs_reannotation"] == [4]
    assert sync_flags(backend) == 4
    assert scenario.in_label_studio() == {4: NEEDS_REANNOTATION} | ADJUDICATE


def test_a_ground_truth_decides_the_task(scenario):
    backend = scenario.backend
    refresh_reannotation(backend, 1)
    scenario.post(4, 1, "Positive", ground_truth=True)
    assert refresh_reannotation(backend, 1)["cleared"] == [4]
    assert scenario.status()[4] == OK


def test_refresh_is_debounced_until_events_pause(scenario):
    backend = scenario.backend
    assert reannotation_due(backend, now=0.0) == [1]  # never looked at in this process
    refresh_reannotation(backend, 1)
    assert reannotation_due(backend, now=1.0) == []
    scenario.post(1, RELIABLE, "Positive")
    t0 = 100.0
    assert reannotation_due(backend, now=t0) == []  # the event just arrived
    assert reannotation_due(backend, now=t0 + REANNOTATION_QUIET / 2) == []
    assert reannotation_due(backend, now=t0 + REANNOTATION_QUIET) == [1]
    refresh_reannotation(backend, 1)
    # events that never pause wait at most REANNOTATION_MAX_WAIT
    start, step = 200.0, REANNOTATION_QUIET / 2
    now, due = start, []
    while not due:
        scenario.post(5, DRIFT_A, "Positive")
        due = reannotation_due(backend, now=now)
        now += step
    assert start + REANNOTATION_MAX_WAIT <= now - step < start + REANNOTATION_MAX_WAIT + step
    # a ground truth alone (no effective value changes) also makes the project due
    refresh_reannotation(backend, 1)
    scenario.post(3, 1, "Neutral", ground_truth=True)
    assert reannotation_due(backend, now=1000.0) == []
    assert reannotation_due(backend, now=1000.0 + REANNOTATION_QUIET) == [1]


def test_submits_never_replay_the_monitors(scenario, monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("ingestion replayed the quality monitors")

    monkeypatch.setattr(scenario.backend.quality, "flagged", refuse)
    monkeypatch.setattr(scenario.backend.quality, "monitor", refuse)
    scenario.post(1, RELIABLE, "Positive")
    scenario.post(6, LATE, "Positive")  # Neutral, Neutral, Positive: under item_agreement
    status = scenario.status()
    assert status[6] == NEEDS and status[1] == OK  # item agreement is still decided at once


def test_reconciliation_keeps_the_status_without_a_second_write(scenario, tmp_path):
    backend = scenario.backend
    refresh_reannotation(backend, 1)
    assert sync_flags(backend) == 5 + len(ADJUDICATE)
    n = scenario.patches()
    reconcile(backend, 1)
    assert reannotate(scenario.status()) == [1, 2, 3, 4, 8]
    assert reannotation_due(backend, now=0.0) == [1]  # recomputed after a reconciliation
    refresh_reannotation(backend, 1)
    assert sync_flags(backend) == 0 and scenario.patches() == n

    # a new store (restart with another data dir) learns it from Label Studio, no PATCH either
    fresh = Backend(
        Settings(
            data_dir=tmp_path / "fresh",
            background=False,
            thresholds=Thresholds(min_shared_items=3),
        ),
        api=scenario.fake,
    )
    reconcile(fresh, 1)
    assert reannotate({f["task"]: f["status"] for f in fresh.store.flags(1)}) == [1, 2, 3, 4, 8]
    assert refresh_reannotation(fresh, 1)["set"] == []
    assert sync_flags(fresh) == 0 and scenario.patches() == n


def test_the_worker_thread_sets_and_clears_it(scenario, monkeypatch):
    from aqt_labelstudio import worker as worker_module

    monkeypatch.setattr(worker_module, "train_due", lambda backend: [])  # no training here
    backend = scenario.backend
    worker = Worker(backend, interval=0.05)
    worker.start()
    try:
        wait_until(
            lambda: (
                scenario.in_label_studio()
                == {t: NEEDS_REANNOTATION for t in (1, 2, 3, 4, 8)} | ADJUDICATE
            ),
            30,
            "the worker to write the re-annotation status",
        )
        scenario.post(3, RELIABLE, "Neutral")
        wait_until(
            lambda: 3 not in scenario.in_label_studio(),
            30,
            "the worker to clear task 3 after a reliable answer",
        )
    finally:
        worker.stop()
    assert reannotate(scenario.status()) == [1, 2, 4, 8]


def test_the_connect_view_filters_on_the_status_the_backend_writes():
    from aqt_labelstudio.project_setup import NEEDS_REANNOTATION_VIEW, STATUS_FIELD, VIEWS

    view = VIEWS[NEEDS_REANNOTATION_VIEW]
    assert view["title"] == "aqt: needs re-annotation"
    assert view["filters"] == {
        "conjunction": "and",
        "items": [
            {
                "filter": f"filter:tasks:data.{STATUS_FIELD}",
                "operator": "equal",
                "type": "String",
                "value": NEEDS_REANNOTATION,
            }
        ],
    }
    assert STATUS_FIELD == "aqt_status"
