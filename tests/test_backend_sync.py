"""Background jobs against an in-memory Label Studio: reconciliation after lost webhooks, flag
sync into task data, debounced training and prediction refresh."""

from __future__ import annotations

from aqt.agreement import agreement_report
from aqt.formats import read_labelstudio_tasks
from aqt_labelstudio.app import create_app
from aqt_labelstudio.service import Backend
from aqt_labelstudio.settings import Settings
from aqt_labelstudio.worker import (
    due_reconciles,
    reconcile,
    refresh_predictions,
    sync_flags,
    train_due,
    train_project,
)
from fastapi.testclient import TestClient
from test_backend_payloads import (
    FakeLabelStudio,
    annotation_obj,
    created,
    deleted,
    export_of,
)


def backend_with(tmp_path, fake, **kw) -> Backend:
    return Backend(Settings(data_dir=tmp_path / "d", background=False, **kw), api=fake)


def ls_with_annotations(fake: FakeLabelStudio, spec: dict[int, list[tuple[int, int, str]]]) -> None:
    for tid, anns in spec.items():
        fake.add_task(
            tid,
            f"text {tid}",
            [annotation_obj(aid, tid, user, label, t=aid) for aid, user, label in anns],
        )


SPEC = {
    1: [(1, 2, "Positive"), (2, 3, "Positive")],
    2: [(3, 2, "Negative"), (4, 3, "Positive")],
    3: [(5, 2, "Neutral"), (6, 3, "Neutral"), (7, 4, "Neutral")],
    4: [],
}


def test_reconcile_recovers_lost_and_deleted_annotations(tmp_path):
    fake = FakeLabelStudio()
    ls_with_annotations(fake, SPEC)
    backend = backend_with(tmp_path, fake)
    with TestClient(create_app(backend.settings, backend)) as c:
        # the backend saw only one event, and one annotation LS no longer has
        c.post("/webhook", json=created(1, 1, 2, "Positive", "text 1"))
        c.post("/webhook", json=created(99, 4, 2, "Negative", "text 4"))
        report = reconcile(backend, 1)
        assert report["removed"] == 1 and report["tasks"] == 4
        got = c.get("/agreement/1").json()
    table = read_labelstudio_tasks(list(fake.tasks.values())).select_control("sentiment")
    assert got["controls"]["sentiment"]["metrics"] == agreement_report(table).to_dict()["metrics"]
    assert got["needs_adjudication"] == [2]


def test_reconcile_keeps_events_newer_than_the_listing(tmp_path):
    fake = FakeLabelStudio()
    ls_with_annotations(fake, SPEC)
    backend = backend_with(tmp_path, fake)
    original = fake.iter_tasks

    def listing_then_event(project):
        tasks = list(original(project))  # the listing is taken ...
        # ... then a new annotation and a deletion arrive by webhook before the write
        backend.handle_event(_parse(created(50, 4, 3, "Neutral", "text 4", t=99)))
        backend.handle_event(_parse(deleted([5])))
        return iter(tasks)

    fake.iter_tasks = listing_then_event
    reconcile(backend, 1)
    ids = backend.store.annotation_ids(1)
    assert 50 in ids and 5 not in ids


def _parse(body):
    from aqt_labelstudio.events import parse_webhook

    return parse_webhook(body)


def test_flags_are_written_into_task_data_and_cleared(tmp_path):
    fake = FakeLabelStudio()
    ls_with_annotations(fake, {1: [], 2: []})
    backend = backend_with(tmp_path, fake)
    for ev in (
        created(1, 1, 2, "Positive", "text 1"),
        created(2, 1, 3, "Negative", "text 1"),
        created(3, 2, 2, "Positive", "text 2"),
        created(4, 2, 3, "Positive", "text 2"),
    ):
        backend.handle_event(_parse(ev))
    assert sync_flags(backend) == 1
    assert fake.tasks[1]["data"] == {"text": "text 1", "aqt_status": "needs_adjudication"}
    assert "aqt_status" not in fake.tasks[2]["data"]
    assert sync_flags(backend) == 0  # nothing new
    gt = created(5, 1, 9, "Positive", "text 1", t=50, ground_truth=True)
    backend.handle_event(_parse(gt))
    assert sync_flags(backend) == 1
    assert fake.tasks[1]["data"]["aqt_status"] == "adjudicated"
    # reconciliation reads the status back from Label Studio and finds nothing to change
    fake.tasks[1]["annotations"] = [
        annotation_obj(i, 1, u, v, t=i) for i, u, v in ((1, 2, "Positive"), (2, 3, "Negative"))
    ]
    fake.tasks[1]["annotations"].append(
        annotation_obj(5, 1, 9, "Positive", t=50, ground_truth=True)
    )
    fake.tasks[2]["annotations"] = [
        annotation_obj(i, 2, u, "Positive", t=i) for i, u in ((3, 2), (4, 3))
    ]
    reconcile(backend, 1)
    assert sync_flags(backend) == 0
    assert [f["status"] for f in backend.store.flags(1)] == ["adjudicated", "ok"]


def test_flag_sync_failure_is_retried(tmp_path):
    fake = FakeLabelStudio()
    ls_with_annotations(fake, {1: []})
    backend = backend_with(tmp_path, fake)
    for ev in (created(1, 1, 2, "Positive"), created(2, 1, 3, "Negative")):
        backend.handle_event(_parse(ev))
    calls = []

    def broken(task, data):
        calls.append(task)
        raise OSError("connection refused")

    fake.set_task_data = broken
    assert sync_flags(backend) == 0 and calls == [1]
    backend.store.query("UPDATE flags SET sync_until=0")  # fast-forward the retry delay
    with backend.store.write() as tx:
        tx.c.execute("UPDATE flags SET sync_until=0")
    del fake.set_task_data
    assert sync_flags(backend) == 1
    assert fake.tasks[1]["data"]["aqt_status"] == "needs_adjudication"


def test_training_is_debounced_and_refreshes_scores(tmp_path):
    fake = FakeLabelStudio()
    backend = backend_with(tmp_path, fake, train_debounce=5.0)
    texts = ["good great", "great fine", "bad awful", "awful poor"]
    labels = ["Positive", "Positive", "Negative", "Negative"]
    aid = 0
    for tid, (text, label) in enumerate(zip(texts, labels), start=1):
        fake.add_task(tid, text)
        for user in (2, 3):
            aid += 1
            backend.handle_event(_parse(created(aid, tid, user, label, text, t=aid)))
    fake.add_task(5, "good bad")
    with backend.store.write() as tx:
        tx.upsert_task(1, 5, {"text": "good bad"})
    changed = backend.store.project(1)["label_changed_at"]
    assert train_due(backend, now=changed + 1) == []  # still within the quiet period
    assert train_due(backend, now=changed + 6) == [1]
    assert train_project(backend, 1)[0]["revision"] == 1
    assert train_due(backend, now=changed + 60) == []  # nothing new since
    preds = {p["task"]: p for p in fake.preds.values()}
    assert sorted(preds) == [1, 2, 3, 4, 5]
    assert all(p["model_version"] == "aqt-backend" for p in preds.values())
    assert preds[5]["score"] < min(preds[t]["score"] for t in (1, 2, 3, 4))
    assert preds[1]["result"][0]["value"]["choices"] == ["Positive"]
    # a new label: retrain, and scores that moved are updated in place, not duplicated
    backend.handle_event(_parse(created(50, 5, 2, "Positive", "good bad", t=60)))
    backend.handle_event(_parse(created(51, 5, 3, "Positive", "good bad", t=61)))
    assert train_project(backend, 1)[0]["revision"] == 2
    assert len(fake.preds) == 5
    assert any(c[0] == "update_prediction" for c in fake.calls)
    assert refresh_predictions(backend, 1) == {"created": 0, "updated": 0}


def test_setup_asks_for_reconciliation_once_per_interval(tmp_path):
    from test_backend_payloads import setup_body

    fake = FakeLabelStudio()
    backend = backend_with(tmp_path, fake, reconcile_interval=3600)
    with TestClient(create_app(backend.settings, backend)) as c:
        assert c.post("/setup", json=setup_body()).status_code == 200
        assert due_reconciles(backend) == [1]
        reconcile(backend, 1)
        c.post("/setup", json=setup_body())
        assert due_reconciles(backend) == []  # reconciled moments ago


def test_start_training_event_retrains_now(tmp_path):
    fake = FakeLabelStudio()
    backend = backend_with(tmp_path, fake, train_debounce=3600)
    backend.handle_event(_parse(created(1, 1, 2, "Positive", "good")))
    train_project(backend, 1)
    backend.handle_event(_parse(created(2, 1, 3, "Positive", "good", t=20)))
    assert train_due(backend) == []  # debounce of an hour
    from test_backend_payloads import project_obj

    backend.handle_event(_parse({"action": "START_TRAINING", "project": project_obj()}))
    assert train_due(backend) == [1]
    train_project(backend, 1)
    assert train_due(backend) == []


def test_export_helper_matches_events():
    events = [created(1, 1, 2, "Positive"), created(2, 1, 3, "Negative"), deleted([1])]
    assert [a["id"] for a in export_of(events)[0]["annotations"]] == [2]


def test_continuous_labelling_still_retrains_after_max_wait(tmp_path):
    from aqt_labelstudio.worker import MAX_WAIT

    backend = backend_with(tmp_path, FakeLabelStudio(), train_debounce=5.0)
    backend.handle_event(_parse(created(1, 1, 2, "Positive", "good", t=1)))
    start = backend.store.project(1)["pending_since"]
    assert start is not None
    with backend.store.write() as tx:  # labels keep arriving: never 5 s of quiet
        tx.c.execute("UPDATE projects SET label_changed_at=?", (start + MAX_WAIT,))
    assert train_due(backend, now=start + 3) == []
    assert train_due(backend, now=start + MAX_WAIT + 1) == [1]
    train_project(backend, 1)
    assert backend.store.project(1)["pending_since"] is None
    assert train_due(backend, now=start + MAX_WAIT + 2) == []


def test_flag_for_a_task_deleted_in_label_studio_is_dropped(tmp_path):
    from aqt_labelstudio.lsapi import LabelStudioError

    fake = FakeLabelStudio()
    ls_with_annotations(fake, {1: []})
    backend = backend_with(tmp_path, fake)
    for ev in (created(1, 1, 2, "Positive"), created(2, 1, 3, "Negative")):
        backend.handle_event(_parse(ev))

    def gone(task, data):
        err = LabelStudioError("Label Studio answered PATCH /api/tasks/1/ with HTTP 404")
        err.status = 404
        raise err

    fake.set_task_data = gone
    assert sync_flags(backend) == 0
    assert backend.store.claim_flag_syncs("x") == []  # not retried forever


def test_label_studio_api_auth_legacy_and_pat(monkeypatch):
    import httpx
    import pytest
    from aqt_labelstudio.lsapi import LabelStudioAPI, LabelStudioError

    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append((request.method, request.url.path, request.headers.get("authorization")))
        if request.url.path == "/api/token/refresh":
            return httpx.Response(200, json={"access": f"access-{len(seen)}"})
        if request.url.path == "/api/projects/1/":
            return httpx.Response(200, json={"id": 1})
        return httpx.Response(403, json={"detail": "no"})

    legacy = LabelStudioAPI("http://ls", "legacy-token-123")
    legacy._http = httpx.Client(base_url="http://ls", transport=httpx.MockTransport(handler))
    assert legacy.project(1) == {"id": 1}
    assert seen[-1][2] == "Token legacy-token-123"
    pat = "eyJhbGciOiJIUzI1NiJ9.eyJ0b2tlbl90eXBlIjoicmVmcmVzaCJ9.c2lnbmF0dXJl"
    api = LabelStudioAPI("http://ls", pat)
    api._http = httpx.Client(base_url="http://ls", transport=httpx.MockTransport(handler))
    seen.clear()
    api.project(1)
    assert [s[1] for s in seen] == ["/api/token/refresh", "/api/projects/1/"]
    assert seen[1][2].startswith("Bearer access-")
    with pytest.raises(LabelStudioError) as err:
        api.request("GET", "/api/tasks/")
    assert err.value.status == 403 and pat not in str(err.value)
    assert pat not in repr(api) and "legacy-token-123" not in repr(legacy)
