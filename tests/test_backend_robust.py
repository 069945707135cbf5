"""Malformed input never gets a 5xx; settings come from the environment and hide secrets."""

from __future__ import annotations

import copy
import json
import logging
import random

import httpx
import pytest
from aqt.errors import ConfigError
from aqt_labelstudio.app import create_app
from aqt_labelstudio.settings import Settings
from fastapi.testclient import TestClient
from test_backend_payloads import created, deleted, predict_body, setup_body

JUNK = [
    None,
    True,
    -1,
    0,
    2**70,
    1.5,
    float("inf"),
    "",
    "x",
    "1.2.3",
    [],
    [1, "a"],
    {},
    {"id": "z"},
    {"id": None},
    "<View>",
    {"choices": 5},
    [[[]]],
    "\u0000",
    "é" * 50,
]


def mutate(rng: random.Random, doc):
    """Replace, drop or retype one value somewhere in ``doc`` (a copy)."""
    doc = copy.deepcopy(doc)
    if not isinstance(doc, (dict, list)) or not doc or rng.random() < 0.15:
        return rng.choice(JUNK)
    node = doc
    for _ in range(rng.randint(0, 4)):
        keys = list(node.keys()) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            break
        k = rng.choice(keys)
        if isinstance(node[k], (dict, list)) and node[k] and rng.random() < 0.7:
            node = node[k]
        else:
            break
    keys = list(node.keys()) if isinstance(node, dict) else list(range(len(node)))
    if not keys:
        return doc
    k = rng.choice(keys)
    if isinstance(node, dict) and rng.random() < 0.3:
        del node[k]
    else:
        node[k] = rng.choice(JUNK)
    return doc


def malformed_requests(n: int, seed: int = 0):
    rng = random.Random(seed)
    valid = {
        "/webhook": [
            created(1, 1, 2, "Positive", "a"),
            deleted([1]),
            created(2, 1, 3, ["Positive", "Negative"], "a"),
            {"action": "TASKS_DELETED", "tasks": [{"id": 1}]},
        ],
        "/predict": [predict_body([(1, "a"), (2, "b")])],
        "/setup": [setup_body()],
    }
    raw_bodies = [
        b"",
        b"{",
        b"null",
        b"[]",
        b"\xff\xfe",
        b"[" * 100000,
        b'{"action": 1}',
        b'"ANNOTATION_CREATED"',
        b"{}" * 3,
        b'{"tasks": "all"}',
        b"1e999999",
    ]
    for i in range(n):
        path = rng.choice(list(valid))
        if i % 10 == 0:
            yield path, rng.choice(raw_bodies), "raw"
        else:
            yield path, json.dumps(mutate(rng, rng.choice(valid[path])), allow_nan=True), "json"


def test_1000_malformed_requests_get_4xx_json_never_5xx(tmp_path, caplog):
    caplog.set_level(logging.ERROR, logger="aqt.backend")
    settings = Settings(data_dir=tmp_path / "d", background=False)
    statuses: dict[int, int] = {}
    with TestClient(create_app(settings), raise_server_exceptions=False) as c:
        for path, body, _ in malformed_requests(1000):
            r = c.post(path, content=body, headers={"content-type": "application/json"})
            statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
            assert r.status_code < 500, (path, body[:300], r.text[:300])
            if r.status_code >= 400:
                assert "error" in r.json() and r.json()["error"]
        for ref in ("x", "-1.html", "1;drop", "%00", "1.html.html"):
            r = c.get(f"/agreement/{ref}")
            assert 400 <= r.status_code < 500, ref
        assert c.get("/adjudications/1?format=xml").status_code == 400
        assert c.get("/health").status_code == 200  # still serving
    assert sum(v for k, v in statuses.items() if k >= 400) > 300  # most of them were rejected
    assert not [r for r in caplog.records if "unexpected error" in r.getMessage()]


def test_settings_from_env(tmp_path):
    toml = tmp_path / "t.toml"
    toml.write_text("[thresholds]\nitem_agreement = 0.7\n")
    env = {
        "LABEL_STUDIO_URL": "http://ls:8080/",
        "LABEL_STUDIO_API_KEY": "tok-123456",
        "AQT_DATA_DIR": str(tmp_path / "d"),
        "AQT_BASIC_AUTH_USER": "u",
        "AQT_BASIC_AUTH_PASSWORD": "p@ss",
        "AQT_WEBHOOK_SECRET": "hook-secret",
        "AQT_THRESHOLDS": str(toml),
        "AQT_MAX_BODY_MB": "1.5",
    }
    s = Settings.from_env(env)
    assert s.label_studio_url == "http://ls:8080" and s.can_call_label_studio
    assert s.thresholds.item_agreement == 0.7 and s.max_body_bytes == int(1.5 * 1024 * 1024)
    shown = repr(s) + str(s)
    for secret in ("tok-123456", "p@ss", "hook-secret"):
        assert secret not in shown
    assert "'***'" in shown
    inline = Settings.from_env({"AQT_THRESHOLDS": "item_agreement=0.6,annotator_kappa=0.3"})
    assert (inline.thresholds.item_agreement, inline.thresholds.annotator_kappa) == (0.6, 0.3)
    assert Settings.from_env({}).thresholds.item_agreement == 0.5


@pytest.mark.parametrize(
    "env, words",
    [
        ({"AQT_THRESHOLDS": "item_agreemnt=0.6"}, "item_agreemnt"),
        ({"AQT_THRESHOLDS": "/no/such/file.toml"}, "does not exist"),
        ({"AQT_BASIC_AUTH_USER": "u"}, "both"),
        ({"LABEL_STUDIO_URL": "ls:8080"}, "http://"),
        ({"AQT_MAX_BODY_MB": "lots"}, "AQT_MAX_BODY_MB"),
    ],
)
def test_settings_errors_name_the_fix(env, words):
    with pytest.raises(ConfigError) as err:
        Settings.from_env(env)
    assert words in str(err.value) and "Fix:" in str(err.value)


def test_settings_read_at_app_creation_not_import(tmp_path, monkeypatch):
    import importlib

    import aqt_labelstudio.app as app_module

    monkeypatch.setenv("AQT_THRESHOLDS", "nonsense_key=1")
    importlib.reload(app_module)  # importing never reads the environment
    with pytest.raises(ConfigError):
        app_module.create_app_from_env()
    monkeypatch.setenv("AQT_THRESHOLDS", "item_agreement=0.9")
    monkeypatch.setenv("AQT_DATA_DIR", str(tmp_path / "d"))
    app = app_module.create_app_from_env()
    assert app.state.settings.thresholds.item_agreement == 0.9


def test_secrets_never_logged(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    s = Settings(
        data_dir=tmp_path / "d",
        background=False,
        api_key="apikey-XYZ",
        label_studio_url="http://127.0.0.1:9",
        webhook_secret="hook-XYZ",
    )
    with TestClient(create_app(s)) as c:
        body = setup_body() | {"access_token": "setup-token-XYZ"}
        assert c.post("/setup", json=body).status_code == 200
        c.post("/webhook", json=created(1, 1, 2, "Positive"), headers={"X-Aqt-Secret": "bad-XYZ"})
        from aqt_labelstudio.worker import reconcile

        with pytest.raises(httpx.HTTPError):
            reconcile(c.app.state.backend, 1)  # nothing listens on port 9
    text = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ("apikey-XYZ", "hook-XYZ", "setup-token-XYZ"):
        assert secret not in text
