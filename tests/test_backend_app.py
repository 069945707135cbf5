"""The ML backend through FastAPI's TestClient, with payloads shaped as Label Studio sends them."""

from __future__ import annotations

import base64
import json

import pytest
from aqt.agreement import agreement_report
from aqt.formats import read_labelstudio_tasks
from aqt_labelstudio.app import create_app
from aqt_labelstudio.settings import Settings
from aqt_labelstudio.worker import train_project
from fastapi.testclient import TestClient
from test_backend_payloads import (
    created,
    deleted,
    export_of,
    predict_body,
    setup_body,
    updated,
)


def make_settings(tmp_path, **kw) -> Settings:
    return Settings(data_dir=tmp_path / "data", background=False, **kw)


@pytest.fixture
def client(tmp_path):
    with TestClient(create_app(make_settings(tmp_path))) as c:
        yield c


# three annotators (user ids 2, 3, 4) on six tasks; tasks 3 and 5 disagree
EVENTS = [
    created(1, 1, 2, "Positive", "great stuff", t=1),
    created(2, 1, 3, "Positive", t=2),
    created(3, 1, 4, "Positive", t=3),
    created(4, 2, 2, "Negative", "awful thing", t=4),
    created(5, 2, 3, "Negative", t=5),
    created(6, 3, 2, "Positive", "meh ok", t=6),
    created(7, 3, 3, "Negative", t=7),
    created(8, 3, 4, "Neutral", t=8),
    created(9, 4, 3, "Neutral", "it is a thing", t=9),
    created(10, 4, 4, "Neutral", t=10),
    created(11, 5, 2, "Negative", "so so", t=11),
    created(12, 5, 4, "Positive", t=12),
    created(13, 6, 2, "Positive", "lovely", t=13),
]


def post_all(client, events, **kw):
    for ev in events:
        r = client.post("/webhook", json=ev, **kw)
        assert r.status_code == 200, r.text


def core_metrics(events):
    table = read_labelstudio_tasks(export_of(events)).select_control("sentiment")
    return agreement_report(table).to_dict()["metrics"]


def test_health_root_and_setup(client):
    assert client.get("/health").json()["status"] == "UP"
    assert client.get("/").json()["status"] == "UP"
    r = client.post("/setup", json=setup_body())
    assert r.status_code == 200 and r.json() == {"model_version": "aqt"}
    post_all(client, EVENTS[:1])  # the project's model_version arrives with the webhook
    assert client.post("/setup", json=setup_body()).json() == {"model_version": "aqt-backend"}
    # extra_params as an object or a string (UI) are both fine
    body = setup_body() | {"extra_params": {"a": 1}}
    assert client.post("/setup", json=body).status_code == 200
    assert client.post("/setup", json=setup_body() | {"extra_params": "x=1"}).status_code == 200


def test_agreement_equals_core_on_export(client):
    post_all(client, EVENTS)
    got = client.get("/agreement/1").json()
    control = got["controls"]["sentiment"]
    assert control["n_items"] == 6 and control["n_annotations"] == 13
    assert control["metrics"] == core_metrics(EVENTS)
    assert got["needs_adjudication"] == [3, 5]


def test_same_event_twice_counts_once(client):
    post_all(client, EVENTS)
    before = client.get("/agreement/1").json()
    post_all(client, EVENTS)
    r = client.post("/webhook", json=EVENTS[0])
    assert r.json()["changed"] == 0
    assert client.get("/agreement/1").json() == before


def test_update_replaces_and_stale_update_is_ignored(client):
    post_all(client, EVENTS)
    post_all(client, [updated(7, 3, 3, "Positive", t=20), updated(8, 3, 4, "Positive", t=21)])
    events = EVENTS + [updated(7, 3, 3, "Positive", t=20), updated(8, 3, 4, "Positive", t=21)]
    got = client.get("/agreement/1").json()
    assert got["controls"]["sentiment"]["metrics"] == core_metrics(events)
    assert 3 not in got["needs_adjudication"]  # agreement recovered: flag cleared
    stale = updated(7, 3, 3, "Neutral", t=15)  # older than the stored state
    assert client.post("/webhook", json=stale).json()["changed"] == 0
    assert client.get("/agreement/1").json() == got


def test_delete_by_ids(client):
    post_all(client, EVENTS)
    r = client.post("/webhook", json=deleted([12, 999]))
    assert r.status_code == 200 and r.json()["changed"] == 1
    events = EVENTS + [deleted([12])]
    got = client.get("/agreement/1").json()
    assert got["controls"]["sentiment"]["n_annotations"] == 12
    assert got["controls"]["sentiment"]["metrics"] == core_metrics(events)
    assert 5 not in got["needs_adjudication"]  # one annotator left on task 5
    # a late CREATED for a deleted annotation does not bring it back
    assert client.post("/webhook", json=EVENTS[11]).json()["changed"] == 0
    assert client.post("/webhook", json=deleted([12])).json()["changed"] == 0
    assert client.get("/agreement/1").json() == got


def test_second_annotation_by_same_user_latest_counts(client):
    post_all(client, EVENTS[:2])
    post_all(client, [created(50, 1, 3, "Negative", t=30)])  # user 3 annotates task 1 again
    d = client.get("/agreement/1").json()
    assert d["controls"]["sentiment"]["n_annotations"] == 2
    assert d["needs_adjudication"] == [1]
    post_all(client, [deleted([50])])
    assert client.get("/agreement/1").json()["needs_adjudication"] == []


def test_cancelled_annotations_are_not_judgements(client):
    post_all(client, EVENTS[:2] + [created(60, 1, 4, "", t=5, cancelled=True)])
    assert client.get("/agreement/1").json()["controls"]["sentiment"]["n_annotations"] == 2


def test_ground_truth_on_flagged_task_is_logged_once_and_clears_flag(client):
    post_all(client, EVENTS)
    gt = created(100, 3, 9, "Neutral", t=40, ground_truth=True)
    post_all(client, [gt, gt])
    got = client.get("/agreement/1").json()
    assert got["needs_adjudication"] == [5] and got["adjudicated"] == [3]
    # the adjudicator's annotation does not count as a rating
    assert got["controls"]["sentiment"]["metrics"] == core_metrics(EVENTS)
    log = client.get("/adjudications/1").json()["adjudications"]
    assert len(log) == 1
    entry = log[0]
    assert (entry["task"], entry["annotation"], entry["adjudicator"]) == (3, 100, "9")
    assert sorted((s["annotator"], s["value"]) for s in entry["seen"]) == [
        ("2", "Positive"),
        ("3", "Negative"),
        ("4", "Neutral"),
    ]
    decision = entry["decision"][0]
    assert decision["decision"] == "Neutral" and decision["item"] == "3"
    assert {v["value"] for v in decision["versions_seen"]} == {"Positive", "Negative", "Neutral"}
    lines = client.get("/adjudications/1?format=jsonl").text.splitlines()
    assert [json.loads(x)["decision"] for x in lines] == ["Neutral"]
    # ground truth on a task that was never flagged is not an adjudication
    post_all(client, [created(101, 1, 9, "Positive", t=41, ground_truth=True)])
    assert len(client.get("/adjudications/1").json()["adjudications"]) == 1


def test_html_report(client):
    post_all(client, EVENTS)
    r = client.get("/agreement/1.html")
    assert r.status_code == 200 and r.text.lstrip().lower().startswith("<!doctype html")
    assert client.get("/agreement/7.html").status_code == 400
    assert client.get("/agreement/abc").status_code == 400


def test_annotators_below_threshold(tmp_path):
    from aqt.config import Thresholds

    th = Thresholds(min_shared_items=3, annotator_kappa=0.4)
    events, aid = [], 0
    for tid in range(1, 13):
        label = ("Positive", "Negative", "Neutral")[tid % 3]
        odd = ("Negative", "Neutral", "Positive")[tid % 3] if tid % 4 else label
        for user, value in ((2, label), (3, label), (5, label), (4, odd)):
            aid += 1
            events.append(created(aid, tid, user, value, f"t{tid}", t=aid))
    with TestClient(create_app(make_settings(tmp_path, thresholds=th))) as c:
        post_all(c, events)
        control = c.get("/agreement/1").json()["controls"]["sentiment"]
        assert control["annotators_below_threshold"] == ["4"]
        assert all(control["annotators"][a]["cohen_kappa"] > 0.4 for a in ("2", "3", "5"))


def test_restart_gives_same_agreement(tmp_path):
    settings = make_settings(tmp_path)
    with TestClient(create_app(settings)) as c:
        post_all(c, EVENTS + [deleted([3])])
        first = c.get("/agreement/1").json()
    with TestClient(create_app(settings)) as c:
        assert c.get("/agreement/1").json() == first


def test_two_workers_share_state(tmp_path):
    settings = make_settings(tmp_path)
    with TestClient(create_app(settings)) as a, TestClient(create_app(settings)) as b:
        post_all(a, EVENTS[:6])
        assert b.get("/agreement/1").json() == a.get("/agreement/1").json()  # b loads
        post_all(b, EVENTS[6:])
        post_all(a, [deleted([1])])
        expect = core_metrics(EVENTS + [deleted([1])])
        assert a.get("/agreement/1").json()["controls"]["sentiment"]["metrics"] == expect
        assert b.get("/agreement/1").json()["controls"]["sentiment"]["metrics"] == expect


def test_predict_cold_start_then_trained(tmp_path):
    settings = make_settings(tmp_path)
    app = create_app(settings)
    with TestClient(app) as c:
        body = predict_body([(101, "wonderful great lovely"), (102, "awful terrible bad")])
        cold = c.post("/predict", json=body).json()["results"]
        assert [p["score"] for p in cold] == [pytest.approx(1 / 3)] * 2
        assert all(p["result"] == [] for p in cold)
        events, aid = [], 0
        texts = {
            "Positive": ["great lovely day", "wonderful great film", "lovely great food"],
            "Negative": ["awful bad day", "terrible awful film", "bad terrible food"],
        }
        tid = 0
        for label, items in texts.items():
            for text in items:
                tid += 1
                for user in (2, 3):
                    aid += 1
                    events.append(created(aid, tid, user, label, text, t=aid))
        post_all(c, events)
        assert train_project(app.state.backend, 1)[0]["n_train"] == 6
        res = c.post("/predict", json=body).json()["results"]
        assert len(res) == 2
        labels = [p["result"][0]["value"]["choices"][0] for p in res]
        assert labels == ["Positive", "Negative"]
        for p in res:
            assert p["model_version"] == "aqt-backend"
            assert (
                p["result"][0]["from_name"] == "sentiment" and p["result"][0]["to_name"] == "text"
            )
            assert 0.5 < p["score"] <= 1.0 and p["result"][0]["score"] == p["score"]
        unsure = c.post("/predict", json=predict_body([(103, "great awful")])).json()["results"][0]
        assert unsure["score"] < min(p["score"] for p in res)  # ascending sort = least sure first


def test_predict_non_choices_config(client):
    body = predict_body([(1, "x")]) | {
        "label_config": "<View><Text name='t' value='$text'/><TextArea name='a' toName='t'/></View>"
    }
    res = client.post("/predict", json=body).json()["results"]
    assert res == [{"model_version": "aqt", "score": None, "result": []}]


def test_versions(client):
    post_all(client, EVENTS[:1])
    assert "aqt-backend" in client.get("/versions").json()["versions"]


def test_unknown_action_is_accepted(client):
    r = client.post("/webhook", json={"action": "LABEL_LINK_CREATED", "label_link": {}})
    assert r.status_code == 200 and r.json()["status"] == "ignored"


def test_body_limit(tmp_path):
    with TestClient(create_app(make_settings(tmp_path, max_body_bytes=1000))) as c:
        r = c.post("/webhook", content=b"{" + b" " * 2000 + b"}")
        assert r.status_code == 413 and "limit" in r.json()["error"]


def auth(user: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def test_basic_auth(tmp_path):
    s = make_settings(
        tmp_path, basic_auth_user="ls", basic_auth_password="pw", webhook_secret="s3cr3t"
    )
    with TestClient(create_app(s)) as c:
        for method, path, body in (
            ("get", "/health", None),
            ("get", "/", None),
            ("post", "/setup", setup_body()),
            ("post", "/predict", predict_body([(1, "x")])),
            ("post", "/webhook", EVENTS[0]),
            ("get", "/versions", None),
            ("get", "/agreement/1", None),
        ):
            kw = {"json": body} if body else {}
            r = getattr(c, method)(path, **kw)
            assert r.status_code == 401, path
            assert r.headers["www-authenticate"].startswith("Basic")
            assert getattr(c, method)(path, headers=auth("ls", "wrong"), **kw).status_code == 401
            assert getattr(c, method)(path, headers=auth("ls", "pw"), **kw).status_code == 200
        # Label Studio's webhook carries the secret header but no basic auth
        r = c.post("/webhook", json=EVENTS[1], headers={"X-Aqt-Secret": "s3cr3t"})
        assert r.status_code == 200
        r = c.post("/webhook", json=EVENTS[1], headers={"X-Aqt-Secret": "nope"})
        assert r.status_code == 401
        assert c.get("/health", headers={"X-Aqt-Secret": "s3cr3t"}).status_code == 401


def test_webhook_secret(tmp_path):
    with TestClient(create_app(make_settings(tmp_path, webhook_secret="s3cr3t"))) as c:
        assert c.post("/webhook", json=EVENTS[0]).status_code == 401
        assert c.post("/webhook", json=EVENTS[0], headers={"X-Aqt-Secret": "x"}).status_code == 401
        r = c.post("/webhook", json=EVENTS[0], headers={"X-Aqt-Secret": "s3cr3t"})
        assert r.status_code == 200
        assert c.get("/health").status_code == 200  # the secret guards /webhook only


def test_bulk_created_and_tasks_deleted(client):
    bulk = {
        "action": "ANNOTATIONS_CREATED",
        "annotation": [EVENTS[i]["annotation"] for i in range(5)],
        "task": [EVENTS[i]["task"] for i in range(5)],
        "project": EVENTS[0]["project"],
    }
    r = client.post("/webhook", json=bulk)
    assert r.status_code == 200 and r.json()["changed"] == 5
    assert client.get("/agreement/1").json()["controls"]["sentiment"]["metrics"] == core_metrics(
        EVENTS[:5]
    )
    gone = {"action": "TASKS_DELETED", "tasks": [{"id": 1}], "project": EVENTS[0]["project"]}
    assert client.post("/webhook", json=gone).json()["changed"] == 3
    got = client.get("/agreement/1").json()["controls"]["sentiment"]
    assert got["n_items"] == 1 and got["n_annotations"] == 2


def test_adjudicator_submits_then_marks_ground_truth(client):
    # task 1: Positive, Positive, Negative -> 1/3, flagged
    post_all(client, [created(1, 1, 2, "Positive", t=1), created(2, 1, 3, "Positive", t=2)])
    post_all(client, [created(3, 1, 4, "Negative", t=3)])
    assert client.get("/agreement/1").json()["needs_adjudication"] == [1]
    # the adjudicator submits (a fourth rating lifts agreement to 0.5: no longer under it) ...
    post_all(client, [created(4, 1, 9, "Positive", t=4)])
    assert client.get("/agreement/1").json()["needs_adjudication"] == []
    # ... then stars it as ground truth: still an adjudication of the flagged task
    post_all(client, [updated(4, 1, 9, "Positive", t=5, ground_truth=True)])
    log = client.get("/adjudications/1").json()["adjudications"]
    assert [(e["task"], e["adjudicator"]) for e in log] == [(1, "9")]
    assert client.get("/agreement/1").json()["adjudicated"] == [1]
