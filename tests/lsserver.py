"""A real Label Studio server for the integration tests (a test helper, not shipped).

Label Studio runs from its own environment, ``.ls-venv`` (``bash scripts/labelstudio.sh install``),
on 127.0.0.1 only, on a free port, with SQLite in a temporary data directory. The first start runs
about 45 s of migrations; the migrated data directory (SQLite file plus the ``.env`` holding
``SECRET_KEY``) is kept as a template in ``.cache/ls-template-<version>/`` and copied for every later
start, which then takes a few seconds. The admin exists in the template; annotators are seeded per
start through the organisation's invite link, each with a legacy token and a personal access token.

Environment and pitfalls: ``/work/shared/reference/labelstudio.md`` section 1.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import requests

__all__ = [
    "LS_VENV",
    "LS_VERSION",
    "ROOT",
    "SENTIMENT_CONFIG",
    "LabelStudioServer",
    "LabelStudioUnavailable",
    "SentimentProject",
    "User",
    "create_sentiment_project",
    "free_port",
    "start_seeded_server",
]

LS_VERSION = "1.23.2"
ROOT = Path(__file__).resolve().parent.parent
LS_VENV = Path(os.environ.get("AQT_LS_VENV", ROOT / ".ls-venv"))
TEMPLATE_DIR = ROOT / ".cache" / f"ls-template-{LS_VERSION}"

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "adminpass123"
ADMIN_TOKEN = "ci-admin-token-0123456789abcdef"
ANNOTATOR_PASSWORD = "annotator-pass-123"
ANNOTATOR_EMAILS = ("ann1@example.com", "ann2@example.com", "ann3@example.com")

COLD_START_TIMEOUT = 300.0
WARM_START_TIMEOUT = 120.0
HTTP_TIMEOUT = 30.0

#: variables Label Studio's get_env() would pick up from the caller's environment (it tries
#: LABEL_STUDIO_X, HEARTEX_X, then X), so they are removed before ours are set
_LEAKY = ("USERNAME", "PASSWORD", "PORT", "HOST", "USER_TOKEN", "DJANGO_DB", "BASE_DATA_DIR")


class LabelStudioUnavailable(RuntimeError):
    """Label Studio could not be installed, started or seeded; the message says why and how to fix."""


@dataclasses.dataclass(frozen=True)
class User:
    """A seeded account: ``token`` is the legacy API token, ``pat`` a personal access token."""

    id: int
    email: str
    password: str
    token: str
    pat: str


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_busy(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _server_env(data_dir: Path, port: int) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LABEL_STUDIO_", "HEARTEX_", "DJANGO_"))
        and k not in _LEAKY
        and k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    }
    env.update(
        {
            "PATH": f"{LS_VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}",
            "LABEL_STUDIO_BASE_DATA_DIR": str(data_dir),
            "DJANGO_DB": "sqlite",
            "LABEL_STUDIO_USERNAME": ADMIN_EMAIL,
            "LABEL_STUDIO_PASSWORD": ADMIN_PASSWORD,
            "LABEL_STUDIO_USER_TOKEN": ADMIN_TOKEN,
            "LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN": "true",
            "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK": "true",
            "ML_BLOCK_LOCAL_IP": "false",
            "SSRF_PROTECTION_ENABLED": "false",
            "LATEST_VERSION_CHECK": "false",
            "SENTRY_DSN": "",
            "FRONTEND_SENTRY_DSN": "",
            "COLLECT_ANALYTICS": "false",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def _log_tail(log: Path, lines: int = 40) -> str:
    try:
        text = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(text[-lines:])


class LabelStudioServer:
    """One Label Studio process on ``127.0.0.1:<port>`` serving ``data_dir``.

    Start with :meth:`start`, which returns once ``/health`` answers; stop with :meth:`stop`
    (SIGTERM, then SIGKILL after 10 s). The log is ``data_dir/ls.log``.
    """

    def __init__(self, data_dir: Path, port: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = self.data_dir / "ls.log"
        self.proc: subprocess.Popen | None = None
        self.startup_seconds: float | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self, timeout: float = WARM_START_TIMEOUT) -> LabelStudioServer:
        exe = LS_VENV / "bin" / "label-studio"
        if not exe.exists():
            raise LabelStudioUnavailable(
                f"Label Studio is not installed: {exe} does not exist. "
                "Fix: run `bash scripts/labelstudio.sh install` (scripts/test.sh does this)."
            )
        if _port_busy(self.port):
            raise LabelStudioUnavailable(
                f"Port {self.port} on 127.0.0.1 is busy; Label Studio "
                "would silently move to another port. Fix: pick a free port."
            )
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [
            str(exe), "start", "--no-browser",
            "--internal-host", "127.0.0.1",
            "--port", str(self.port),
            "--host", self.url,
            "--log-level", "WARNING",
            "--enable-legacy-api-token",
        ]  # fmt: skip
        t0 = time.monotonic()
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                cmd,
                cwd=self.data_dir,
                env=_server_env(self.data_dir, self.port),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            self._wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - t0
        return self

    def _wait_healthy(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            code = self.proc.poll()
            if code is not None:
                raise LabelStudioUnavailable(
                    f"Label Studio (pid {self.proc.pid}) exited with code {code} before it was "
                    f"ready. Log tail ({self.log}):\n{_log_tail(self.log)}"
                )
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=2) as resp:
                    if resp.status == 200 and json.loads(resp.read()).get("status") == "UP":
                        return
            except (urllib.error.URLError, OSError, ValueError):
                pass
            if time.monotonic() > deadline:
                raise LabelStudioUnavailable(
                    f"Label Studio (pid {self.proc.pid}) did not answer {self.url}/health within "
                    f"{timeout:.0f} s. Log tail ({self.log}):\n{_log_tail(self.log)}"
                )
            time.sleep(0.25)

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM by PID, wait up to ``grace`` seconds, then SIGKILL."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        return _log_tail(self.log, lines)


# --------------------------------------------------------------------------- template


def _template_stamp() -> dict[str, str]:
    """What a template was built with; a template built otherwise is rebuilt."""
    return {"label_studio": LS_VERSION, "admin": ADMIN_EMAIL, "admin_token": ADMIN_TOKEN}


def _template_ok(template: Path) -> bool:
    try:
        return json.loads((template / "READY").read_text()) == _template_stamp()
    except (OSError, ValueError):
        return False


def ensure_template(template: Path = TEMPLATE_DIR) -> tuple[Path, float | None]:
    """The migrated data directory, created by one cold start if missing or stale.

    Returns the template path and the cold-start time in seconds (``None`` if it already
    existed). A lock file serialises concurrent test sessions building it.
    """
    if _template_ok(template):
        return template, None
    template.parent.mkdir(parents=True, exist_ok=True)
    with open(template.parent / f"{template.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _template_ok(template):
            return template, None
        build = Path(tempfile.mkdtemp(prefix=f"{template.name}.build-", dir=template.parent))
        try:
            server = LabelStudioServer(build)
            try:
                server.start(timeout=COLD_START_TIMEOUT)
                cold = server.startup_seconds
            finally:
                server.stop()
            (build / "ls.log").unlink(missing_ok=True)
            (build / "READY").write_text(json.dumps(_template_stamp()) + "\n")
            shutil.rmtree(template, ignore_errors=True)
            os.rename(build, template)
        except BaseException:
            shutil.rmtree(build, ignore_errors=True)
            raise
        return template, cold


def copy_template(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest, symlinks=True, dirs_exist_ok=True)
    (dest / "READY").unlink(missing_ok=True)
    return dest


# --------------------------------------------------------------------------- seeding


def _session_login(base: str, email: str, password: str) -> requests.Session:
    s = requests.Session()
    s.get(f"{base}/user/login/", timeout=HTTP_TIMEOUT)
    csrf = s.cookies.get("csrftoken")
    r = s.post(
        f"{base}/user/login/",
        data={"email": email, "password": password, "csrfmiddlewaretoken": csrf},
        headers={"Referer": f"{base}/user/login/"},
        allow_redirects=False,
        timeout=HTTP_TIMEOUT,
    )
    if r.status_code not in (302, 303):
        raise LabelStudioUnavailable(f"Login as {email} failed: HTTP {r.status_code}")
    _csrf_headers(s, base)
    return s


def _csrf_headers(s: requests.Session, base: str) -> None:
    s.headers.update({"X-CSRFToken": s.cookies.get("csrftoken", ""), "Referer": f"{base}/"})


def _tokens(s: requests.Session, base: str, email: str, password: str) -> User:
    me = s.get(f"{base}/api/current-user/whoami", timeout=HTTP_TIMEOUT)
    me.raise_for_status()
    legacy = s.get(f"{base}/api/current-user/token", timeout=HTTP_TIMEOUT)
    legacy.raise_for_status()
    pat = s.post(f"{base}/api/token/", json={}, timeout=HTTP_TIMEOUT)
    if pat.status_code != 201:
        raise LabelStudioUnavailable(
            f"Creating a personal access token for {email} failed: HTTP {pat.status_code} "
            f"{pat.text[:200]}"
        )
    return User(me.json()["id"], email, password, legacy.json()["token"], pat.json()["token"])


def _signup(base: str, invite: str, email: str, password: str) -> User:
    s = requests.Session()
    url = f"{base}/user/signup/?token={invite}"
    s.get(url, timeout=HTTP_TIMEOUT)
    r = s.post(
        url,
        data={
            "email": email,
            "password": password,
            "csrfmiddlewaretoken": s.cookies.get("csrftoken", ""),
        },
        headers={"Referer": f"{base}/user/signup/"},
        allow_redirects=False,
        timeout=HTTP_TIMEOUT,
    )
    if r.status_code not in (302, 303):
        raise LabelStudioUnavailable(
            f"Signup of {email} through the invite link failed: HTTP {r.status_code}"
        )
    _csrf_headers(s, base)
    return _tokens(s, base, email, password)


def seed_users(base: str, emails: tuple[str, ...] = ANNOTATOR_EMAILS) -> tuple[User, list[User]]:
    """The admin (legacy token and a new PAT) and one annotator per email, via invite signup."""
    admin_session = _session_login(base, ADMIN_EMAIL, ADMIN_PASSWORD)
    admin = _tokens(admin_session, base, ADMIN_EMAIL, ADMIN_PASSWORD)
    invite = requests.get(
        f"{base}/api/invite",
        headers={"Authorization": f"Token {admin.token}"},
        timeout=HTTP_TIMEOUT,
    )
    invite.raise_for_status()
    token = invite.json()["token"]
    return admin, [_signup(base, token, email, ANNOTATOR_PASSWORD) for email in emails]


# --------------------------------------------------------------------------- the whole thing


@dataclasses.dataclass
class SeededServer:
    """What the ``ls_server`` fixture yields."""

    server: LabelStudioServer
    admin: User
    annotators: list[User]
    timings: dict[str, float | None]

    @property
    def url(self) -> str:
        return self.server.url

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "pid": self.server.pid,
            "data_dir": str(self.server.data_dir),
            "admin": dataclasses.asdict(self.admin),
            "annotators": [dataclasses.asdict(u) for u in self.annotators],
            "timings": self.timings,
        }


def start_seeded_server(data_dir: Path) -> SeededServer:
    """Build the template if needed, start a copy of it in ``data_dir``, seed users."""
    timings: dict[str, float | None] = {}
    template, timings["cold_start_s"] = ensure_template()
    copy_template(template, Path(data_dir))
    server = LabelStudioServer(Path(data_dir)).start()
    timings["template_start_s"] = server.startup_seconds
    try:
        t0 = time.monotonic()
        admin, annotators = seed_users(server.url)
        timings["seed_s"] = time.monotonic() - t0
    except BaseException:
        tail = server.log_tail()
        server.stop()
        if isinstance(sys.exc_info()[1], requests.RequestException):
            raise LabelStudioUnavailable(f"Seeding users failed; log tail:\n{tail}") from None
        raise
    return SeededServer(server, admin, annotators, timings)


# --------------------------------------------------------------------------- a labelled project

SENTIMENT_LABELS = ("Positive", "Negative", "Neutral")
SENTIMENT_CONFIG = (
    '<View><Text name="text" value="$text"/>'
    '<Choices name="sentiment" toName="text" choice="single" showInLine="true">'
    + "".join(f'<Choice value="{c}"/>' for c in SENTIMENT_LABELS)
    + "</Choices></View>"
)


@dataclasses.dataclass(frozen=True)
class SentimentProject:
    """A project labelled by the three seeded annotators (see :func:`create_sentiment_project`)."""

    id: int
    task_ids: tuple[int, ...]
    label_config: str
    users: dict[int, str]
    #: (task index, annotator index) -> label, for every non-cancelled annotation
    labels: dict[tuple[int, int], str]
    cancelled: tuple[tuple[int, int], ...]


def create_sentiment_project(
    seeded: SeededServer, *, title: str = "aqt sentiment", n_tasks: int = 20, seed: int = 7
) -> SentimentProject:
    """Create a Choices project and have the three annotators label it, each with their own key.

    Overlap: tasks 0-13 get all three annotators, 14-17 two (rotating pairs), 18 one, the last
    none. Annotator 3 skips task 14 (a cancelled annotation). Labels follow a seeded draw: the
    task's reference label with probability 0.7, else another. Annotator 1 authenticates with the
    legacy token, annotators 2 and 3 with personal access tokens.
    """
    import random

    from label_studio_sdk.client import LabelStudio

    admin = LabelStudio(base_url=seeded.url, api_key=seeded.admin.pat)
    project = admin.projects.create(
        title=title, label_config=SENTIMENT_CONFIG, maximum_annotations=3
    )
    imported = admin.projects.import_tasks(
        project.id,
        request=[
            {
                "text": f"review {i}: "
                + ("great" if i % 3 == 0 else "meh" if i % 3 == 2 else "awful")
            }
            for i in range(n_tasks)
        ],
        return_task_ids=True,
    )
    task_ids = tuple(sorted(imported.task_ids))
    clients = [
        LabelStudio(base_url=seeded.url, api_key=user.token if k == 0 else user.pat)
        for k, user in enumerate(seeded.annotators)
    ]
    rng = random.Random(seed)
    pairs = [(0, 1), (1, 2), (0, 2), (0, 1)]
    labels: dict[tuple[int, int], str] = {}
    cancelled: list[tuple[int, int]] = []
    for i, task_id in enumerate(task_ids):
        if i < 14:
            who: tuple[int, ...] = (0, 1, 2)
        elif i < 18:
            who = pairs[i - 14]
        elif i == n_tasks - 1:
            who = ()
        else:
            who = (0,)
        truth = SENTIMENT_LABELS[i % 3]
        for k in who:
            label = (
                truth
                if rng.random() < 0.7
                else rng.choice([c for c in SENTIMENT_LABELS if c != truth])
            )
            clients[k].annotations.create(
                id=task_id,
                result=[
                    {
                        "from_name": "sentiment",
                        "to_name": "text",
                        "type": "choices",
                        "value": {"choices": [label]},
                    }
                ],
                lead_time=1.0 + i,
            )
            labels[(i, k)] = label
        if i == 14:
            clients[2].annotations.create(id=task_id, result=[], was_cancelled=True)
            cancelled.append((i, 2))
    users = {u.id: u.email for u in [seeded.admin, *seeded.annotators]}
    return SentimentProject(project.id, task_ids, SENTIMENT_CONFIG, users, labels, tuple(cancelled))


def _main() -> None:
    """Start a seeded server, print its address and users as JSON, run until SIGINT or SIGTERM."""

    def _stop(signum: int, frame: Any) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    with tempfile.TemporaryDirectory(prefix="aqt-ls-") as tmp:
        seeded = start_seeded_server(Path(tmp))
        try:
            print(json.dumps(seeded.to_dict(), indent=2), flush=True)
            while True:
                signal.pause()
        finally:
            seeded.server.stop()


if __name__ == "__main__":  # manual use: python tests/lsserver.py
    _main()
