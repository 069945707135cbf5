"""Continuous quality control in the backend: per-annotator drift from webhook events."""

from __future__ import annotations

import numpy as np
import pytest
from aqt_labelstudio.app import create_app
from aqt_labelstudio.settings import Settings
from fastapi.testclient import TestClient
from test_backend_payloads import created

LABELS = ("Positive", "Negative", "Neutral")
TEAM = (2, 3, 4)
DRIFTER = 4
SWITCH = 60  # the drifter answers at random from its 61st event on
EVENTS_EACH = 120
GOLD_EVERY = 3  # every third event of an annotator is a gold task
N_GOLD = EVENTS_EACH // GOLD_EVERY
#: the bound: flagged within 45 of the drifter's events after the switch, i.e. 15 gold answers,
#: one full gold window (``min_shared_items``) of random answers
BOUND = 45


def simulate(seed: int) -> list[dict]:
    """Gold tasks (ground truth by user 1) first, then the team: accuracy 0.9, 30% overlap."""
    rng = np.random.default_rng(seed)
    events = []
    aid = 0
    gold_truth = {}
    for g in range(N_GOLD):
        aid += 1
        gold_truth[10_000 + g] = LABELS[rng.integers(3)]
        events.append(created(aid, 10_000 + g, 1, gold_truth[10_000 + g], ground_truth=True, t=aid))
    count = dict.fromkeys(TEAM, 0)

    def answer(user: int, truth: str) -> str:
        count[user] += 1
        if user == DRIFTER and count[user] > SWITCH:
            return LABELS[rng.integers(3)]
        if rng.random() < 0.9:
            return truth
        return rng.choice([x for x in LABELS if x != truth])

    task = 0
    for step in range(EVENTS_EACH):
        for i, user in enumerate(TEAM):
            if count[user] >= EVENTS_EACH:
                continue
            if step % GOLD_EVERY == GOLD_EVERY - 1:
                tid = 10_000 + step // GOLD_EVERY
                aid += 1
                events.append(created(aid, tid, user, answer(user, gold_truth[tid]), t=aid))
                continue
            task += 1
            truth = LABELS[rng.integers(3)]
            aid += 1
            events.append(created(aid, task, user, answer(user, truth), t=aid))
            if rng.random() < 0.3:
                other = TEAM[(i + 1) % len(TEAM)]
                aid += 1
                events.append(created(aid, task, other, answer(other, truth), t=aid))
    return events


def post_all(client, events):
    for ev in events:
        r = client.post("/webhook", json=ev)
        assert r.status_code == 200, r.text


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_annotator_flagged_within_bound_reliable_ones_not(tmp_path, seed):
    settings = Settings(data_dir=tmp_path / "data", background=False)
    events = simulate(seed)
    with TestClient(create_app(settings)) as client:
        post_all(client, events)
        got = client.get("/agreement/1").json()
    people = got["annotators"]
    assert set(people) == {"2", "3", "4"}  # the ground truth's author is not an annotator here
    assert got["flagged_annotators"] == [str(DRIFTER)]
    drifter = people[str(DRIFTER)]
    assert drifter["flagged"].startswith("sentiment: kappa (BP) with gold")
    assert SWITCH < drifter["flagged_at_answer"] <= SWITCH + BOUND
    for user in TEAM:
        c = people[str(user)]["controls"]["sentiment"]
        on_gold = [
            e
            for e in events
            if e["annotation"]["completed_by"] == user and e["task"]["id"] >= 10_000
        ]
        assert c["gold"]["n"] == len(on_gold) >= N_GOLD // 2
        assert c["peers"]["n_items"] > 0 and c["peer_windows"]
        if user != DRIFTER:
            assert people[str(user)]["flagged"] is None
            assert c["gold"]["kappa"] > 0.7
            assert c["gold"]["window_bp_kappa"] > 0.4  # the flag threshold
    assert people[str(DRIFTER)]["controls"]["sentiment"]["gold"]["window_bp_kappa"] < 0.4

    # a restarted backend rebuilds the same report from the store
    with TestClient(create_app(settings)) as client:
        again = client.get("/agreement/1").json()
    assert again["annotators"] == people


def test_gold_arriving_later_reclassifies_the_task(tmp_path):
    settings = Settings(data_dir=tmp_path / "data", background=False)
    with TestClient(create_app(settings)) as client:
        post_all(client, [created(1, 1, 2, "Positive", t=1), created(2, 1, 3, "Negative", t=2)])
        before = client.get("/agreement/1").json()["annotators"]
        assert before["2"]["controls"]["sentiment"]["peers"]["n_items"] == 1
        assert before["2"]["controls"]["sentiment"]["gold"]["n"] == 0
        # an adjudicator's ground truth makes task 1 a gold item for both annotators
        post_all(client, [created(3, 1, 1, "Positive", ground_truth=True, t=3)])
        after = client.get("/agreement/1").json()["annotators"]
    assert after["2"]["controls"]["sentiment"]["gold"]["n"] == 1
    assert after["2"]["controls"]["sentiment"]["gold"]["agreement"] == 1.0
    assert after["3"]["controls"]["sentiment"]["gold"]["agreement"] == 0.0
    assert after["2"]["flagged"] is None and after["3"]["flagged"] is None


def test_tasks_only_a_flagged_annotator_answered_need_reannotation_until_someone_else_does(
    tmp_path,
):
    settings = Settings(data_dir=tmp_path / "data", background=False)
    events = simulate(0)
    with TestClient(create_app(settings)) as client:
        post_all(client, events)
        got = client.get("/agreement/1").json()
        assert got["flagged_annotators"] == [str(DRIFTER)]
        users = {}
        for e in events:
            users.setdefault(e["task"]["id"], set()).add(e["annotation"]["completed_by"])
        solo = sorted(t for t, u in users.items() if u == {DRIFTER} and t < 10_000)
        assert solo and got["needs_reannotation"] == solo
        # a reliable annotator answers the first of them: it leaves the list
        post_all(client, [created(99_999, solo[0], 2, "Positive", t=99_999)])
        again = client.get("/agreement/1").json()
    assert again["needs_reannotation"] == solo[1:]
