"""Selection review against a real Label Studio 1.23.2: after annotations the backend retrains,
predictions carry scores, and the "aqt: selection review" view lists exactly the planted junk
tasks, each with its reason in ``data.aqt_review``, least confident first."""

from __future__ import annotations

import json

import lsserver
import pytest
from aqt.cli import cli
from backendproc import BackendProcess, wait_until
from click.testing import CliRunner
from test_active_helpers import foreign, garbled, language_samples, reviews

pytestmark = pytest.mark.labelstudio

SECRET = "review-secret-7310"
LABEL = {"fresh": "Positive", "rotten": "Negative"}
N_REVIEWS = 300
N_LABELLED = 24


@pytest.fixture(scope="module")
def backend(ls_server, tmp_path_factory):
    folder = tmp_path_factory.mktemp("aqt-review-backend")
    samples = folder / "languages.jsonl"
    rows = [{"text": t, "lang": lang} for lang, texts in language_samples().items() for t in texts]
    samples.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    proc = BackendProcess(
        folder / "data",
        ls_server.url,
        ls_server.admin.pat,
        secret=SECRET,
        workers=1,
        extra_env={"AQT_LANGUAGE_SAMPLES": str(samples)},
    )
    yield proc
    proc.stop()


def planted() -> tuple[list[dict], dict[int, str]]:
    """Task data in import order and position -> expected reason for the planted junk."""
    rev = reviews(400, seed=3)
    rev = rev[~rev["text"].str.contains("[áéíóúñãçõ¿¡]", regex=True)].iloc[:N_REVIEWS]
    data = [{"text": t, "truth": LABEL[lab]} for t, lab in zip(rev["text"], rev["label"])]
    expected: dict[int, str] = {}

    def plant(text: str, reason: str) -> None:
        expected[len(data)] = reason
        data.append({"text": text, "truth": ""})

    plant("...", "empty text")
    plant(" ", "empty text")
    for k, text in enumerate(garbled(8, seed=5)):
        if k % 4 == 0:
            plant(text, "garbled text")
    fr = foreign(6, seed=4)
    for lang in ("de", "es", "nl"):
        plant(max(fr[lang], key=len), f"language: {lang}")
    plant(data[N_LABELLED + 10]["text"], f"duplicate of task @{N_LABELLED + 10}")
    return data, expected


def test_review_view_lists_exactly_the_planted_junk(ls_server, backend):
    from aqt_labelstudio.client import connect
    from label_studio_sdk.client import LabelStudio

    admin = connect(ls_server.url, ls_server.admin.token)
    project = admin.request(
        "POST",
        "api/projects/",
        json_body={"title": "aqt selection review", "label_config": lsserver.SENTIMENT_CONFIG},
    )["id"]
    data, expected_at = planted()
    ids = sorted(
        admin.request(
            "POST",
            f"api/projects/{project}/import",
            params={"return_task_ids": "true"},
            json_body=data,
        )["task_ids"]
    )
    expected = {
        ids[pos]: reason.replace(reason.split()[-1], str(ids[int(reason.split("@")[1])]))
        if "@" in reason
        else reason
        for pos, reason in expected_at.items()
    }
    env = {"LABEL_STUDIO_URL": ls_server.url, "LABEL_STUDIO_API_KEY": ls_server.admin.pat}
    result = CliRunner().invoke(
        cli,
        ["ls", "connect", "--project", str(project), "--backend-url", backend.url,
         "--webhook-secret", SECRET],
        env=env,
    )  # fmt: skip
    assert result.exit_code == 0, (result.output, result.exception)
    annotator = LabelStudio(base_url=ls_server.url, api_key=ls_server.annotators[0].pat)
    for pos in range(N_LABELLED):
        annotator.annotations.create(
            id=ids[pos],
            result=[{"from_name": "sentiment", "to_name": "text", "type": "choices",
                     "value": {"choices": [data[pos]["truth"]]}}],
            lead_time=1.0,
        )  # fmt: skip
    view = {v["data"]["title"]: v["id"] for v in admin.views(project)}["aqt: selection review"]

    def listed():
        shown = admin.request(
            "GET", "api/tasks/", params={"project": project, "view": view, "page_size": 100}
        )["tasks"]
        return sorted(t["id"] for t in shown) == sorted(expected) and shown

    shown = wait_until(listed, 180, "the selection review view to list the planted junk")
    assert {t["id"]: t["data"]["aqt_review"] for t in shown} == expected
    scores = [t.get("predictions_score") for t in shown]
    assert all(s is not None for s in scores) and scores == sorted(scores)
    # every task has a scored prediction from the retrained model
    preds = admin.request("GET", "api/predictions/", params={"project": project})
    mine = {p["task"]: p for p in preds if p["model_version"] == "aqt"}
    assert set(mine) == set(ids) and all(0 < mine[t]["score"] <= 1 for t in ids)
    assert all(mine[t]["result"] for t in ids)
