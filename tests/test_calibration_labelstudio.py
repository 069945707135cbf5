"""``aqt ls calibrate`` against a real Label Studio: the batch becomes a project each named
annotator labels in full; the gate passes on reliable annotators, fails with the confused pair on
confused ones, and names who has not finished and who else annotated."""

from __future__ import annotations

import json
import re

import lsserver
import numpy as np
import pytest
from aqt.calibration import read_manifest
from aqt.cli import cli
from click.testing import CliRunner

pytestmark = pytest.mark.labelstudio

LABELS = lsserver.SENTIMENT_LABELS


def ls_cli(server, *args):
    env = {"LABEL_STUDIO_URL": server.url, "LABEL_STUDIO_API_KEY": server.admin.pat}
    return CliRunner().invoke(cli, ["ls", *map(str, args)], env=env)


@pytest.fixture(scope="module")
def source_project(ls_server):
    from label_studio_sdk.client import LabelStudio

    admin = LabelStudio(base_url=ls_server.url, api_key=ls_server.admin.pat)
    p = admin.projects.create(
        title="aqt calibration source", label_config=lsserver.SENTIMENT_CONFIG
    )
    admin.projects.import_tasks(
        p.id,
        request=[
            {"text": f"calibration review {i}", "truth": LABELS[i % 3], "channel": "web"}
            for i in range(90)
        ],
    )
    return p.id


def emails(server):
    return [u.email for u in server.annotators]


def create(ls_server, source_project, tmp_path, seed):
    manifest = tmp_path / f"m{seed}.json"
    res = ls_cli(ls_server, "calibrate", "--project", source_project, "--size", 50, "--seed", seed,
                 "--annotators", ",".join(emails(ls_server)), "--manifest", manifest)  # fmt: skip
    assert res.exit_code == 0, (res.output, res.exception)
    new_id = int(re.search(r"Created calibration project (\d+)", res.stdout).group(1))
    return new_id, manifest


def annotate(ls_server, project, who, answer, limit=None):
    from label_studio_sdk.client import LabelStudio

    tasks = list(
        LabelStudio(base_url=ls_server.url, api_key=ls_server.admin.pat).tasks.list(
            project=project, fields="all"
        )
    )
    for k, user in enumerate(who):
        client = LabelStudio(base_url=ls_server.url, api_key=user.pat)
        for n, t in enumerate(sorted(tasks, key=lambda t: t.id)):
            if limit is not None and k == len(who) - 1 and n >= limit:
                break
            client.annotations.create(
                id=t.id,
                result=[
                    {
                        "from_name": "sentiment",
                        "to_name": "text",
                        "type": "choices",
                        "value": {"choices": [answer(k, t.data)]},
                    }
                ],
            )


def test_batch_project_and_passing_gate(ls_server, source_project, tmp_path):
    new_id, manifest = create(ls_server, source_project, tmp_path, 0)
    from aqt_labelstudio.client import connect

    client = connect(ls_server.url, ls_server.admin.pat)
    proj = client.project(new_id)
    assert proj["maximum_annotations"] == 3
    assert proj["label_config"] == lsserver.SENTIMENT_CONFIG
    tasks = client.tasks(new_id)
    m = read_manifest(manifest)
    assert sorted(t["data"]["aqt_item"] for t in tasks) == sorted(m.ids())
    assert {t["data"]["aqt_batch"] for t in tasks} == {m.batch_id}
    rng = np.random.default_rng(0)

    def answer(k, data):
        return data["truth"] if rng.random() > 0.05 else LABELS[int(rng.integers(3))]

    annotate(ls_server, new_id, ls_server.annotators, answer)
    res = ls_cli(ls_server, "calibrate", "--project", new_id, "--report", "--manifest", manifest,
                 "--annotators", ",".join(emails(ls_server)), "--json", "--ci", 100)  # fmt: skip
    assert res.exit_code == 0, (res.output, res.exception)
    d = json.loads(res.stdout)
    assert d["status"] == "PASS" and d["overall"]["n_items"] == 50
    assert d["annotators"] == emails(ls_server) and d["unfinished"] == []


def test_confused_pair_fails_and_unfinished_and_others_are_named(ls_server, source_project,
                                                                 tmp_path):  # fmt: skip
    new_id, manifest = create(ls_server, source_project, tmp_path, 1)
    rng = np.random.default_rng(1)

    def answer(k, data):
        t = data["truth"]
        if t != LABELS[1] and rng.random() < 0.6:  # the two labels they confuse
            return [LABELS[0], LABELS[2]][int(rng.integers(2))]
        return t

    annotate(ls_server, new_id, ls_server.annotators, answer, limit=45)
    annotate(ls_server, new_id, [ls_server.admin], lambda k, d: d["truth"], limit=3)
    res = ls_cli(ls_server, "calibrate", "--project", new_id, "--report", "--manifest", manifest,
                 "--annotators", ",".join(emails(ls_server)), "--ci", 0, "--json")  # fmt: skip
    assert res.exit_code == 3, (res.output, res.exception)
    d = json.loads(res.stdout)
    assert d["status"] == "FAIL"
    assert sorted(d["confused_pairs"][0]["labels"]) == sorted([LABELS[0], LABELS[2]])
    assert d["confused_pairs"][0]["items"]
    assert d["other_annotators"] == [ls_server.admin.email]
    assert [(u["annotator"], u["done"]) for u in d["unfinished"]] == [(emails(ls_server)[2], 45)]
    assert "Gate FAIL. Next step:" in res.stderr


def test_unknown_annotator_is_a_usage_error(ls_server, source_project, tmp_path):
    res = ls_cli(ls_server, "calibrate", "--project", source_project, "--annotators",
                 "nobody@example.com,ann1@example.com", "--manifest", tmp_path / "m.json")  # fmt: skip
    assert res.exit_code == 2
    assert "Not members of the organisation: 'nobody@example.com'" in res.stderr
