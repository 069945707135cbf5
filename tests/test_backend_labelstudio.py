"""The aqt backend against a real Label Studio 1.23.2: connect, label, agree, predict, adjudicate.

The backend runs as its console script (``aqt-backend``, two worker processes) on 127.0.0.1 and
talks to Label Studio with the admin's personal access token; Label Studio reaches it through the
ML backend and the webhook that ``aqt ls connect`` registers with the ``X-Aqt-Secret`` header.
"""

from __future__ import annotations

import json

import lsserver
import pytest
from aqt.adjudication import build_review_items
from aqt.agreement import agreement_report
from aqt.cli import cli
from aqt.formats import read_labelstudio_tasks
from backendproc import BackendProcess, wait_until
from click.testing import CliRunner

pytestmark = pytest.mark.labelstudio

SECRET = "integration-secret-4821"
LABELS = ("Positive", "Negative", "Neutral")
WORDS = {
    "Positive": "wonderful great lovely film",
    "Negative": "awful terrible boring film",
    "Neutral": "plain average ordinary film",
}
#: task index -> annotator indexes; tasks 0-13 get three annotators, 14-17 two, 18 one, 19 none
WHO = {
    **{i: (0, 1, 2) for i in range(14)},
    14: (0, 1),
    15: (1, 2),
    16: (0, 2),
    17: (0, 1),
    18: (0,),
    19: (),
}
#: (task index, annotator index) -> a label other than the task's truth
ODD = {(2, 2): 1, (5, 1): 2, (9, 1): 1, (9, 2): 2, (15, 2): 1}


def truth(i: int) -> str:
    return LABELS[i % 3]


def label_of(i: int, k: int) -> str:
    return LABELS[(i + ODD.get((i, k), 0)) % 3]


@pytest.fixture(scope="module")
def admin(ls_server):
    from aqt_labelstudio.client import connect

    return connect(ls_server.url, ls_server.admin.token)


@pytest.fixture(scope="module")
def backend(ls_server, tmp_path_factory):
    proc = BackendProcess(
        tmp_path_factory.mktemp("aqt-backend"), ls_server.url, ls_server.admin.pat, secret=SECRET
    )
    yield proc
    proc.stop()


def connect_project(ls_server, project: int, backend: BackendProcess) -> None:
    env = {"LABEL_STUDIO_URL": ls_server.url, "LABEL_STUDIO_API_KEY": ls_server.admin.pat}
    result = CliRunner().invoke(
        cli,
        [
            "ls",
            "connect",
            "--project",
            str(project),
            "--backend-url",
            backend.url,
            "--annotations-per-task",
            "3",
            "--webhook-secret",
            SECRET,
        ],
        env=env,
    )
    assert result.exit_code == 0, (result.output, result.exception)


def export_tasks(admin, project: int) -> list[dict]:
    return json.loads(admin.export(project, "JSON"))


def core_metrics(tasks: list[dict]) -> dict:
    table = read_labelstudio_tasks(tasks).select_control("sentiment")
    return agreement_report(table).to_dict()["metrics"]


def low_agreement(tasks: list[dict], threshold: float = 0.5) -> list[int]:
    table = read_labelstudio_tasks(tasks).select_control("sentiment")
    return sorted(
        int(r.item)
        for r in build_review_items(table)
        if r.n_annotators >= 2 and r.agreement < threshold
    )


def annotate(client, task_id: int, label: str, **kw):
    return client.annotations.create(
        id=task_id,
        result=[
            {
                "from_name": "sentiment",
                "to_name": "text",
                "type": "choices",
                "value": {"choices": [label]},
            }
        ],
        lead_time=1.0,
        **kw,
    )


@pytest.fixture(scope="module")
def labelled(ls_server, admin, backend):
    """A project connected to the backend first, then labelled by the three annotators."""
    from label_studio_sdk.client import LabelStudio

    project = admin.request(
        "POST",
        "api/projects/",
        json_body={"title": "aqt backend integration", "label_config": lsserver.SENTIMENT_CONFIG},
    )["id"]
    created = admin.request(
        "POST",
        f"api/projects/{project}/import",
        params={"return_task_ids": "true"},
        json_body=[{"text": f"{WORDS[truth(i)]} number {i}"} for i in range(20)],
    )
    task_ids = sorted(created["task_ids"])
    connect_project(ls_server, project, backend)
    clients = [
        LabelStudio(base_url=ls_server.url, api_key=u.token if k == 0 else u.pat)
        for k, u in enumerate(ls_server.annotators)
    ]
    made = 0
    for i, tid in enumerate(task_ids):
        for k in WHO[i]:
            annotate(clients[k], tid, label_of(i, k))
            made += 1
    return {"project": project, "task_ids": task_ids, "n_annotations": made, "clients": clients}


def test_agreement_equals_core_on_the_export(admin, backend, labelled):
    project = labelled["project"]
    control = wait_until(
        lambda: (
            (c := backend.get(f"/agreement/{project}")["controls"].get("sentiment"))
            and c["n_annotations"] == labelled["n_annotations"]
            and c
        ),
        30,
        "every annotation to reach the backend",
    )
    tasks = export_tasks(admin, project)
    assert control["metrics"] == core_metrics(tasks)
    # one webhook, carrying the secret (the backend refuses events without it)
    hooks = admin.webhooks(project)
    assert [h["headers"] for h in hooks] == [{"X-Aqt-Secret": SECRET}]


def test_low_agreement_view_lists_exactly_the_flagged_tasks(admin, backend, labelled):
    project, ids = labelled["project"], labelled["task_ids"]
    expected = low_agreement(export_tasks(admin, project))
    assert expected == sorted(ids[i] for i in (2, 5, 9, 15))
    assert backend.get(f"/agreement/{project}")["needs_adjudication"] == expected
    view = {v["data"]["title"]: v["id"] for v in admin.views(project)}["aqt: needs adjudication"]
    wait_until(
        lambda: sorted(admin.view_task_ids(project, view)) == expected,
        60,
        "the Data Manager view to list the flagged tasks",
    )


def test_opening_a_task_stores_a_scored_prediction_and_score_sort_works(admin, backend, labelled):
    project, ids = labelled["project"], labelled["task_ids"]
    version = admin.project(project)["model_version"]
    assert version == "aqt"

    def labelled_predictions():
        preds = admin.request("GET", "api/predictions/", params={"project": project})
        mine = {p["task"]: p for p in preds if p["model_version"] == version}
        return len(mine) == 20 and all(mine[t]["result"] for t in ids) and mine

    preds = wait_until(labelled_predictions, 90, "predictions from a model trained on the labels")
    assert all(preds[t]["score"] is not None for t in ids)
    # a new task has no prediction: opening it makes Label Studio call /predict and store one
    new = admin.request(
        "POST",
        f"api/projects/{project}/import",
        params={"return_task_ids": "true"},
        json_body=[{"text": "wonderful lovely great film indeed"}],
    )["task_ids"][0]
    admin.request("GET", f"api/tasks/{new}/")
    stored = admin.request("GET", "api/predictions/", params={"task": new})
    stored = [p for p in stored if p["task"] == new]
    assert len(stored) == 1 and stored[0]["model_version"] == version
    assert 0 < stored[0]["score"] <= 1
    assert stored[0]["result"][0]["value"]["choices"] == ["Positive"]
    # Data Manager sorts by those scores (the "aqt: selection review" view, ascending)
    view = {v["data"]["title"]: v["id"] for v in admin.views(project)}["aqt: selection review"]
    shown = admin.request(
        "GET", "api/tasks/", params={"project": project, "view": view, "page_size": 100}
    )["tasks"]
    scores = [t.get("predictions_score") for t in shown]
    assert scores and all(s is not None for s in scores), shown[:2]
    assert scores == sorted(scores)


def test_adjudication_clears_the_task_and_is_logged(ls_server, admin, backend, labelled):
    project, ids = labelled["project"], labelled["task_ids"]
    task = ids[9]
    wait_until(
        lambda: task in backend.get(f"/agreement/{project}")["needs_adjudication"],
        30,
        "task to be flagged",
    )
    annotate(admin.sdk, task, "Positive", ground_truth=True)
    view = {v["data"]["title"]: v["id"] for v in admin.views(project)}["aqt: needs adjudication"]
    wait_until(
        lambda: task not in admin.view_task_ids(project, view),
        60,
        "the adjudicated task to leave the view",
    )
    assert admin.request("GET", f"api/tasks/{task}/")["data"]["aqt_status"] == "adjudicated"
    log = backend.get(f"/adjudications/{project}")["adjudications"]
    assert [(e["task"], e["adjudicator"]) for e in log] == [(task, str(ls_server.admin.id))]
    assert sorted(s["value"] for s in log[0]["seen"]) == ["Negative", "Neutral", "Positive"]
    assert log[0]["decision"][0]["decision"] == "Positive"


def test_deleting_an_annotation_updates_agreement(admin, backend, labelled):
    project, ids = labelled["project"], labelled["task_ids"]
    anns = admin.request("GET", f"api/tasks/{ids[5]}/annotations/")
    odd = [
        a
        for a in anns
        if a["result"][0]["value"]["choices"] != [truth(5)] and not a["ground_truth"]
    ]
    admin.request("DELETE", f"api/annotations/{odd[0]['id']}/")
    tasks = export_tasks(admin, project)
    tasks = [
        dict(t, annotations=[a for a in t["annotations"] if not a["ground_truth"]]) for t in tasks
    ]
    control = wait_until(
        lambda: (
            (c := backend.get(f"/agreement/{project}")["controls"]["sentiment"])
            and c["metrics"] == core_metrics(tasks)
            and c
        ),
        30,
        "the deletion to reach the backend",
    )
    assert control["n_annotations"] == labelled["n_annotations"] - 1
    assert ids[5] not in backend.get(f"/agreement/{project}")["needs_adjudication"]


def test_reconciliation_picks_up_labels_made_before_connecting(ls_server, admin, backend):
    made = lsserver.create_sentiment_project(ls_server, title="aqt labelled before connect")
    connect_project(ls_server, made.id, backend)  # Label Studio calls /setup: reconciliation
    tasks = export_tasks(admin, made.id)
    expected = core_metrics(tasks)
    control = wait_until(
        lambda: (
            (c := backend.get(f"/agreement/{made.id}")["controls"].get("sentiment"))
            and c["metrics"] == expected
            and c
        ),
        60,
        "reconciliation with Label Studio",
    )
    assert control["n_annotations"] == len(made.labels)
