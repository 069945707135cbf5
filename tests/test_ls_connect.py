"""``aqt ls connect`` and connection errors against a real Label Studio.

A tiny stdlib HTTP server stands in for the aqt backend (``/health``, ``/setup``, ``/predict``,
``/webhook``) and records what Label Studio sends it.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import lsserver
import pytest
from aqt.cli import cli
from click.testing import CliRunner

pytestmark = pytest.mark.labelstudio

SECRET = "s3cr3t-value"
VIEW_TITLES = ["aqt: needs adjudication", "aqt: needs re-annotation", "aqt: selection review"]


class StubBackend:
    """An ML backend on 127.0.0.1 that answers like the aqt backend and records every call."""

    def __init__(self, basic_auth: tuple[str, str] | None = None) -> None:
        self.calls: list[dict] = []
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self, code: int, obj: object) -> None:
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _record(self, body: object) -> None:
                with stub.lock:
                    stub.calls.append(
                        {
                            "method": self.command,
                            "path": self.path,
                            "headers": dict(self.headers),
                            "body": body,
                        }
                    )

            def _authorised(self) -> bool:
                if basic_auth is None or self.path == "/webhook":
                    return True
                token = base64.b64encode(":".join(basic_auth).encode()).decode()
                if self.headers.get("Authorization") == f"Basic {token}":
                    return True
                self._reply(401, {"error": "basic auth required"})
                return False

            def do_GET(self) -> None:
                self._record(None)
                if self._authorised():
                    self._reply(200, {"status": "UP"})

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                try:
                    body = json.loads(raw or b"null")
                except ValueError:
                    body = None
                self._record(body)
                if not self._authorised():
                    return
                if self.path.endswith("/setup"):
                    self._reply(200, {"model_version": "aqt"})
                elif self.path.endswith("/predict"):
                    tasks = (body or {}).get("tasks") or []
                    self._reply(
                        200,
                        {
                            "results": [
                                {"result": [], "score": 0.5, "model_version": "aqt"} for _ in tasks
                            ]
                        },
                    )
                else:
                    self._reply(200, {"status": "ok"})

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def webhook_calls(self) -> list[dict]:
        with self.lock:
            return [c for c in self.calls if c["path"] == "/webhook"]


@pytest.fixture
def backend() -> Iterator[StubBackend]:
    stub = StubBackend()
    stub.thread.start()
    yield stub
    stub.server.shutdown()
    stub.server.server_close()


@pytest.fixture(scope="module")
def client(ls_server):
    from aqt_labelstudio.client import connect

    return connect(ls_server.url, ls_server.admin.token)


_COUNTER = iter(range(1, 1000))


@pytest.fixture
def project(client) -> int:
    """A fresh project with five unlabelled tasks."""
    created = client.request(
        "POST",
        "api/projects/",
        json_body={
            "title": f"aqt connect test {next(_COUNTER)}",
            "label_config": lsserver.SENTIMENT_CONFIG,
        },
    )
    client.request(
        "POST",
        f"api/projects/{created['id']}/import",
        json_body=[{"text": f"text {i}"} for i in range(5)],
    )
    return int(created["id"])


def ls_cli(server, *args, key: str | None = None, url: str | None = None):
    env = {
        "LABEL_STUDIO_URL": url or server.url,
        "LABEL_STUDIO_API_KEY": key or server.admin.pat,
        "AQT_WEBHOOK_SECRET": None,
    }
    return CliRunner().invoke(cli, ["ls", *map(str, args)], env=env)


def connect_args(project: int, backend: StubBackend, *extra: str) -> list[str]:
    return [
        "connect",
        "--project",
        str(project),
        "--backend-url",
        backend.url,
        "--annotations-per-task",
        "2",
        "--webhook-secret",
        SECRET,
        *extra,
    ]


def assert_connected_once(client, project: int, backend: StubBackend) -> dict:
    mls = client.ml_backends(project)
    assert [(m["title"], m["url"]) for m in mls] == [("aqt", backend.url)]
    hooks = client.webhooks(project)
    assert len(hooks) == 1, hooks
    hook = hooks[0]
    assert hook["url"] == backend.url + "/webhook"
    assert hook["headers"] == {"X-Aqt-Secret": SECRET}
    assert sorted(hook["actions"]) == [
        "ANNOTATIONS_DELETED",
        "ANNOTATION_CREATED",
        "ANNOTATION_UPDATED",
    ]
    assert hook["send_for_all_actions"] is False and hook["is_active"] is True
    views = client.views(project)
    assert sorted(v["data"]["title"] for v in views) == VIEW_TITLES
    settings = client.project(project)
    assert settings["sampling"] == "Uncertainty sampling"
    assert settings["maximum_annotations"] == 2
    return {
        "ml": mls[0]["id"],
        "hook": hook["id"],
        "views": {v["data"]["title"]: v["id"] for v in views},
    }


# ------------------------------------------------------------------------------ idempotence


def test_connect_twice_leaves_one_backend_one_webhook_one_set_of_views(
    ls_server, client, project, backend
) -> None:
    first = ls_cli(ls_server, *connect_args(project, backend))
    assert first.exit_code == 0, (first.output, first.exception)
    assert "created" in first.stdout and first.stderr == ""
    state = assert_connected_once(client, project, backend)

    second = ls_cli(ls_server, *connect_args(project, backend, "--json"))
    assert second.exit_code == 0, (second.output, second.exception)
    report = json.loads(second.stdout)
    assert {action for _, action in report["changes"]} == {"unchanged"}
    assert report["ml_backend"] == state["ml"] and report["webhook"] == state["hook"]
    assert report["views"] == state["views"]
    assert assert_connected_once(client, project, backend) == state


def test_connect_adopts_the_webhook_label_studio_creates_for_the_backend(
    ls_server, client, project, backend
) -> None:
    # connected by hand first, as in Settings > Model: Label Studio adds <url>/webhook, no auth
    client.create_ml_backend(project, backend.url, title="my model")
    auto = client.webhooks(project)
    assert [(w["url"], w["headers"], w["send_for_all_actions"]) for w in auto] == [
        (backend.url + "/webhook", {}, True)
    ]
    result = ls_cli(ls_server, *connect_args(project, backend))
    assert result.exit_code == 0, (result.output, result.exception)
    state = assert_connected_once(client, project, backend)
    assert state["hook"] == auto[0]["id"]
    again = ls_cli(ls_server, *connect_args(project, backend))
    assert again.exit_code == 0
    assert all(line.strip().startswith("unchanged") for line in again.stdout.splitlines())


def test_connect_with_a_new_backend_url_moves_the_backend(
    ls_server, client, project, backend
) -> None:
    assert ls_cli(ls_server, *connect_args(project, backend)).exit_code == 0
    moved = StubBackend()
    moved.thread.start()
    try:
        result = ls_cli(ls_server, *connect_args(project, moved))
        assert result.exit_code == 0, (result.output, result.exception)
        assert "deleted (old backend URL)" in result.stdout
        assert_connected_once(client, project, moved)
    finally:
        moved.server.shutdown()
        moved.server.server_close()


def test_connect_with_basic_auth(ls_server, client, project) -> None:
    stub = StubBackend(basic_auth=("aqt-user", "aqt-pass"))
    stub.thread.start()
    try:
        args = connect_args(project, stub)
        refused = ls_cli(ls_server, *args)
        _one_line_error(refused, 1, "HTTP 400")
        auth = ["--basic-auth-user", "aqt-user", "--basic-auth-password", "aqt-pass"]
        first = ls_cli(ls_server, *args, *auth)
        assert first.exit_code == 0, (first.output, first.exception)
        assert_connected_once(client, project, stub)
        (ml,) = client.ml_backends(project)
        assert ml["auth_method"] == "BASIC_AUTH" and ml["basic_auth_user"] == "aqt-user"
        assert ml["state"] == "CO" and "aqt-pass" not in json.dumps(ml)
        again = ls_cli(ls_server, *args, *auth, "--json")
        assert {a for _, a in json.loads(again.stdout)["changes"]} == {"unchanged"}
        wrong = ls_cli(ls_server, *args, "--basic-auth-user", "aqt-user")
        _one_line_error(wrong, 2, "password")
    finally:
        stub.server.shutdown()
        stub.server.server_close()


# ------------------------------------------------------------------------------ what LS then does


def test_webhook_events_arrive_once_with_the_secret(ls_server, client, project, backend) -> None:
    assert ls_cli(ls_server, *connect_args(project, backend)).exit_code == 0
    from label_studio_sdk.client import LabelStudio

    annotator = LabelStudio(base_url=ls_server.url, api_key=ls_server.annotators[0].pat)
    task_id = client.request("GET", "api/tasks/", params={"project": project})["tasks"][0]["id"]
    before = len(backend.webhook_calls())
    result = [
        {
            "from_name": "sentiment",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": ["Positive"]},
        }
    ]
    ann = annotator.annotations.create(id=task_id, result=result)
    result[0]["value"]["choices"] = ["Negative"]
    annotator.annotations.update(id=ann.id, result=result)
    annotator.annotations.delete(id=ann.id)
    calls = backend.webhook_calls()[before:]
    assert [c["body"]["action"] for c in calls] == [
        "ANNOTATION_CREATED",
        "ANNOTATION_UPDATED",
        "ANNOTATIONS_DELETED",
    ]
    assert {c["headers"].get("X-Aqt-Secret") for c in calls} == {SECRET}
    assert calls[0]["body"]["annotation"]["completed_by"] == ls_server.annotators[0].id


def test_views_filter_on_aqt_fields_and_order_by_prediction_score(
    ls_server, client, project, backend
) -> None:
    result = ls_cli(ls_server, *connect_args(project, backend, "--json"))
    assert result.exit_code == 0, result.output
    views = json.loads(result.stdout)["views"]
    tasks = client.request("GET", "api/tasks/", params={"project": project})["tasks"]
    ids = sorted(t["id"] for t in tasks)
    status = {ids[1]: "needs_adjudication", ids[3]: "needs_adjudication", ids[4]: "resolved"}
    for task in tasks:
        if task["id"] in status:
            data = {**task["data"], "aqt_status": status[task["id"]]}
            client.request("PATCH", f"api/tasks/{task['id']}/", json_body={"data": data})
    assert client.view_task_ids(project, views["aqt: needs adjudication"]) == [ids[1], ids[3]]

    # connecting made the backend's title the project's model version, so predictions stored
    # under that version get a Data Manager score; the view lists least confident first
    assert client.project(project)["model_version"] == "aqt"
    scores = dict(zip(ids, [0.9, 0.2, 0.6, 0.1, 0.4]))
    for task_id, score in scores.items():
        client.request(
            "POST",
            "api/predictions/",
            json_body={
                "task": task_id,
                "score": score,
                "model_version": "aqt",
                "result": [
                    {
                        "from_name": "sentiment",
                        "to_name": "text",
                        "type": "choices",
                        "value": {"choices": ["Positive"]},
                    }
                ],
            },
        )
    # the selection review view lists only tasks the backend flagged (data.aqt_review holds the
    # reason), least confident first
    reasons = {ids[0]: "empty text", ids[2]: "language: de", ids[3]: "duplicate of task 1"}
    tasks = client.request("GET", "api/tasks/", params={"project": project})["tasks"]
    for task in tasks:
        if task["id"] in reasons:
            data = {**task["data"], "aqt_review": reasons[task["id"]]}
            client.request("PATCH", f"api/tasks/{task['id']}/", json_body={"data": data})
    order = client.view_task_ids(project, views["aqt: selection review"])
    assert order == sorted(reasons, key=scores.__getitem__)


# ------------------------------------------------------------------------------ errors


def _one_line_error(result, code: int, *needles: str) -> str:
    assert result.exit_code == code, (result.exit_code, result.output, result.exception)
    assert isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


@pytest.mark.parametrize("command", ["agreement", "export", "connect"])
def test_wrong_url_is_one_line_exit_1(ls_server, command, tmp_path) -> None:
    args = {
        "agreement": ["--project", "1"],
        "export": ["--project", "1", "--out", str(tmp_path / "x.csv")],
        "connect": ["--project", "1", "--backend-url", "http://127.0.0.1:9"],
    }[command]
    dead = f"http://127.0.0.1:{lsserver.free_port()}"
    line = _one_line_error(
        ls_cli(ls_server, command, *args, url=dead), 1, "Cannot reach Label Studio", dead, "--url"
    )
    assert "Traceback" not in line


@pytest.mark.parametrize("key", ["not-a-real-token-0000", "eyJhbGciOiJIUzI1NiJ9.e30.sig"])
def test_wrong_key_is_one_line_exit_1(ls_server, key) -> None:
    result = ls_cli(ls_server, "agreement", "--project", "1", key=key)
    assert result.exit_code == 1, result.output
    assert len(result.stderr.splitlines()) == 1 and "--api-key" in result.stderr


def test_wrong_legacy_token_says_rejected(ls_server) -> None:
    _one_line_error(
        ls_cli(ls_server, "agreement", "--project", "1", key="x" * 40),
        1,
        "rejected the API key",
        "401",
    )


def test_server_that_is_not_label_studio(ls_server, backend) -> None:
    _one_line_error(
        ls_cli(ls_server, "agreement", "--project", "1", url=backend.url),
        1,
        "does not look like Label Studio",
    )


def test_unknown_project_lists_the_ones_there_are(ls_server, project) -> None:
    line = _one_line_error(
        ls_cli(ls_server, "agreement", "--project", "99999"), 1, "Project 99999 was not found"
    )
    from aqt_labelstudio.client import connect

    newest = max(p.id for p in connect(ls_server.url, ls_server.admin.token).sdk.projects.list())
    assert f"{newest} '" in line
    assert "one of the projects this key can see" in line


def test_unreachable_backend_and_bad_backend_url(ls_server, project) -> None:
    dead = f"http://127.0.0.1:{lsserver.free_port()}"
    _one_line_error(
        ls_cli(ls_server, "connect", "--project", project, "--backend-url", dead), 1, "HTTP 400"
    )
    _one_line_error(
        ls_cli(ls_server, "connect", "--project", project, "--backend-url", "localhost:9090"),
        2,
        "http://",
    )


def test_both_token_kinds_connect(ls_server) -> None:
    from aqt_labelstudio.client import connect

    for user in [ls_server.admin, *ls_server.annotators]:
        assert connect(ls_server.url, user.token).whoami()["id"] == user.id
        assert connect(ls_server.url, user.pat).whoami()["id"] == user.id


def test_agreement_on_a_project_without_annotations(ls_server, project) -> None:
    _one_line_error(
        ls_cli(ls_server, "agreement", "--project", project),
        1,
        f"Project {project} at",
        "no annotations",
    )
