"""Re-annotation against a real Label Studio 1.23.2: an annotator who answers every gold task
wrongly is flagged, the tasks only they answered appear in the Data Manager view
"aqt: needs re-annotation" (``data.aqt_status = "needs_reannotation"``), exactly as
``/agreement`` lists them, and leave it when another annotator answers; a disagreeing answer
moves a task to "aqt: needs adjudication" instead."""

from __future__ import annotations

import lsserver
import pytest
from backendproc import BackendProcess, wait_until
from test_backend_labelstudio import SECRET, annotate, connect_project

pytestmark = pytest.mark.labelstudio

N_GOLD = 3  # the gold window is shortened to 3 answers, so three wrong ones flag the drifter
#: regular task index -> (annotator role, label); tasks 0-3 only the drifter answers
ANSWERS = {
    0: [("drifter", "Positive")],
    1: [("drifter", "Negative")],
    2: [("drifter", "Neutral")],
    3: [("drifter", "Positive")],
    4: [("reliable", "Negative")],
    5: [("drifter", "Neutral"), ("reliable", "Neutral")],
}
SOLO = [0, 1, 2, 3]


@pytest.fixture(scope="module")
def admin(ls_server):
    from aqt_labelstudio.client import connect

    return connect(ls_server.url, ls_server.admin.token)


@pytest.fixture(scope="module")
def backend(ls_server, tmp_path_factory):
    proc = BackendProcess(
        tmp_path_factory.mktemp("aqt-reannotation-backend"),
        ls_server.url,
        ls_server.admin.pat,
        secret=SECRET,
        extra_env={"AQT_THRESHOLDS": f"min_shared_items={N_GOLD}"},
    )
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def drifted(ls_server, admin, backend):
    """A connected project: gold tasks (the admin's ground truth), answered right by one annotator
    and wrongly by another (the drifter), then regular tasks answered as in :data:`ANSWERS`."""
    from label_studio_sdk.client import LabelStudio

    project = admin.request(
        "POST",
        "api/projects/",
        json_body={"title": "aqt re-annotation", "label_config": lsserver.SENTIMENT_CONFIG},
    )["id"]
    texts = [f"gold film {g}" for g in range(N_GOLD)] + [f"film {i}" for i in range(len(ANSWERS))]
    ids = sorted(
        admin.request(
            "POST",
            f"api/projects/{project}/import",
            params={"return_task_ids": "true"},
            json_body=[{"text": t} for t in texts],
        )["task_ids"]
    )
    gold, regular = ids[:N_GOLD], ids[N_GOLD:]
    connect_project(ls_server, project, backend)
    reliable, late, drifter = (
        LabelStudio(base_url=ls_server.url, api_key=u.pat) for u in ls_server.annotators
    )
    users = {"reliable": reliable, "drifter": drifter}
    for tid in gold:
        annotate(admin.sdk, tid, "Positive", ground_truth=True)
    for tid in gold:
        annotate(reliable, tid, "Positive")
        annotate(drifter, tid, "Negative")
    for i, answers in ANSWERS.items():
        for role, label in answers:
            annotate(users[role], regular[i], label)
    views = {v["data"]["title"]: v["id"] for v in admin.views(project)}
    return {
        "project": project,
        "regular": regular,
        "late": late,
        "drifter": str(ls_server.annotators[2].id),
        "views": views,
    }


def listed(admin, project: int, view: int) -> list[int]:
    return sorted(admin.view_task_ids(project, view))


def test_view_lists_exactly_the_tasks_needing_reannotation_until_someone_else_answers(
    admin, backend, drifted
):
    project, regular, views = drifted["project"], drifted["regular"], drifted["views"]
    solo = [regular[i] for i in SOLO]
    got = wait_until(
        lambda: (a := backend.get(f"/agreement/{project}"))["needs_reannotation"] == solo and a,
        60,
        "the backend to flag the drifter and list the tasks only they answered",
    )
    assert got["flagged_annotators"] == [drifted["drifter"]]
    view = views["aqt: needs re-annotation"]
    wait_until(
        lambda: listed(admin, project, view) == got["needs_reannotation"],
        60,
        "the view to list the tasks needing re-annotation",
    )
    for tid in solo:
        assert admin.request("GET", f"api/tasks/{tid}/")["data"]["aqt_status"] == (
            "needs_reannotation"
        )
    assert not set(solo) & set(listed(admin, project, views["aqt: needs adjudication"]))

    # another annotator agrees on the first: it leaves the view and its data loses the status
    annotate(drifted["late"], solo[0], ANSWERS[SOLO[0]][0][1])
    wait_until(
        lambda: listed(admin, project, view) == solo[1:],
        60,
        "the answered task to leave the view",
    )
    assert "aqt_status" not in admin.request("GET", f"api/tasks/{solo[0]}/")["data"]
    assert backend.get(f"/agreement/{project}")["needs_reannotation"] == solo[1:]

    # another annotator disagrees on the second: it needs adjudication instead
    annotate(drifted["late"], solo[1], "Positive")
    wait_until(
        lambda: listed(admin, project, view) == solo[2:],
        60,
        "the disputed task to leave the re-annotation view",
    )
    wait_until(
        lambda: solo[1] in listed(admin, project, views["aqt: needs adjudication"]),
        60,
        "the disputed task to enter the adjudication view",
    )
    assert (
        listed(admin, project, view) == backend.get(f"/agreement/{project}")["needs_reannotation"]
    )
