"""The ML backend's HTTP app (FastAPI): Label Studio's routes plus agreement and adjudication views.

========================================  ===================================================
route                                     what
========================================  ===================================================
``GET /health``, ``GET /``                ``{"status": "UP"}`` (Label Studio: 1 s timeout)
``POST /setup``                           ``{"model_version"}``; queues a reconciliation
``POST /predict``                         one prediction per task, same order, with ``score``
``POST /webhook``                         annotation events (``X-Aqt-Secret`` checked); < 1 s
``GET /versions``                         model versions known for the projects
``GET /agreement/{project}``              live agreement JSON, flagged tasks, weak annotators
``GET /agreement/{project}.html``         the core's self-contained HTML report
``GET /adjudications/{project}``          the adjudication log (``?format=jsonl`` for lines)
========================================  ===================================================

Every route needs basic auth when ``AQT_BASIC_AUTH_USER``/``AQT_BASIC_AUTH_PASSWORD`` are set;
``/webhook`` also accepts the ``X-Aqt-Secret`` header alone, since Label Studio's webhooks carry
custom headers but no basic auth. Bad input gets a 4xx JSON body ``{"error", "fix"}``.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import json
import logging
import sys
import threading
from typing import Any

from aqt import __version__
from aqt.errors import AqtError, InputError
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from aqt_labelstudio.events import parse_predict, parse_setup, parse_webhook, project_id
from aqt_labelstudio.service import Backend
from aqt_labelstudio.settings import Settings
from aqt_labelstudio.worker import Worker

__all__ = ["BasicAuth", "BodyLimit", "create_app", "create_app_from_env"]

log = logging.getLogger("aqt.backend")
SECRET_HEADER = "x-aqt-secret"


def _error(
    status: int, message: str, fix: str | None = None, headers: dict | None = None
) -> JSONResponse:
    return JSONResponse({"error": message, "fix": fix}, status_code=status, headers=headers)


class BodyLimit:
    """ASGI middleware: 413 JSON for bodies over ``limit`` bytes (declared or streamed)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        too_big = _error(
            413,
            f"The request body is over the limit of {self.limit} bytes.",
            "Send fewer tasks per request, or raise AQT_MAX_BODY_MB.",
        )
        try:
            if declared is not None and int(declared) > self.limit:
                await too_big(scope, receive, send)
                return
        except ValueError:
            await _error(400, "Content-Length is not a number.")(scope, receive, send)
            return
        seen = 0
        started = False

        async def limited_receive() -> dict:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooBig
            return message

        async def tracking_send(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooBig:
            if not started:
                await too_big(scope, receive, send)


class _TooBig(Exception):
    pass


class BasicAuth:
    """ASGI middleware: every route needs the basic-auth pair; ``/webhook`` also accepts the
    ``X-Aqt-Secret`` header alone (Label Studio's webhooks send custom headers, not basic auth)."""

    def __init__(self, app: Any, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers") or []
        }
        ok = _check_basic(headers.get("authorization", ""), self.settings)
        if not ok and scope.get("path") == "/webhook" and self.settings.webhook_secret:
            ok = hmac.compare_digest(
                headers.get(SECRET_HEADER, "").encode(), self.settings.webhook_secret.encode()
            )
        if not ok:
            await _error(
                401,
                "Authentication required.",
                "Give the connection the backend's basic-auth user and password.",
                {"WWW-Authenticate": 'Basic realm="aqt"'},
            )(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if not raw.strip():
        raise InputError(
            "The request body is empty; a JSON object was expected.",
            fix="Send the JSON body Label Studio sends.",
        )
    try:
        return json.loads(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, nesting
        raise InputError(
            f"The request body is not valid JSON ({str(exc)[:80]}).",
            fix="Send a JSON object with Content-Type: application/json.",
        ) from None


def _check_basic(header: str, settings: Settings) -> bool:
    if not header.lower().startswith("basic "):
        return False
    try:
        user, _, password = (
            base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
        )
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return False
    return hmac.compare_digest(
        user.encode(), settings.basic_auth_user.encode()
    ) and hmac.compare_digest(password.encode(), settings.basic_auth_password.encode())


def create_app(settings: Settings, backend: Backend | None = None) -> FastAPI:
    """The app for ``settings``; ``backend`` may be given (tests share one between apps)."""
    backend = backend or Backend(settings)
    worker = Worker(backend)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        backend.reconcile_requests.update(backend.store.projects())
        for project in backend.store.projects():
            backend.reconcile_attempts.pop(project, None)
        if settings.background:
            worker.start()
            threading.Thread(target=_warm_up, name="aqt-warm-up", daemon=True).start()
        try:
            yield
        finally:
            worker.stop()
            if backend.api is not None:
                backend.api.close()

    app = FastAPI(
        title="aqt ML backend for Label Studio",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.backend = backend
    app.state.worker = worker

    @app.exception_handler(AqtError)
    async def aqt_error(request: Request, exc: AqtError):
        return _error(400, exc.message, exc.fix)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        return _error(exc.status_code, str(exc.detail), None, getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception):
        log.error(
            "unexpected error on %s %s: %s: %s",
            request.method,
            request.url.path,
            type(exc).__name__,
            str(exc)[:200],
        )
        return _error(500, "Internal error in the aqt backend.", "See the backend log.")

    @app.get("/")
    @app.get("/health")
    async def health() -> dict[str, Any]:
        warm = "sklearn.linear_model" in sys.modules
        return {"status": "UP", "model_class": "aqt", "version": __version__, "warm": warm}

    @app.post("/setup")
    async def setup(request: Request) -> dict[str, Any]:
        body = parse_setup(await _json_body(request))
        project = body["project"]
        if project is not None:
            known = await run_in_threadpool(backend.project_info, project)
            if body["schema"] and body["schema"] != known.get("label_config"):
                await run_in_threadpool(_remember_config, backend, project, body["schema"])
            backend.reconcile_requests.add(project)
            worker.wake.set()
        return {"model_version": await run_in_threadpool(backend.model_version, project)}

    @app.post("/predict")
    async def predict(request: Request) -> Response:
        project, config, tasks = parse_predict(await _json_body(request))

        def run() -> list[dict]:
            backend.ensure_project(project)
            return backend.predict(project, config, tasks)

        return JSONResponse({"results": await run_in_threadpool(run)})

    @app.post("/webhook")
    async def webhook(request: Request) -> Response:
        if settings.webhook_secret and not settings.basic_auth_user:
            given = request.headers.get(SECRET_HEADER, "")
            if not hmac.compare_digest(given.encode(), settings.webhook_secret.encode()):
                return _error(
                    401,
                    "The webhook secret header X-Aqt-Secret is missing or wrong.",
                    "Register the webhook with `aqt ls connect`, which sets the header.",
                )
        event = parse_webhook(await _json_body(request))
        answer = await run_in_threadpool(backend.handle_event, event)
        worker.wake.set()
        return JSONResponse(answer, status_code=200)

    @app.get("/versions")
    async def versions() -> dict[str, Any]:
        def run() -> dict[str, Any]:
            rows = backend.store.query(
                "SELECT project, control, MAX(revision) FROM models "
                "WHERE control!='' GROUP BY project, control"
            )
            projects = backend.store.projects()
            names = sorted({backend.model_version(p) for p in projects} | {settings.model_version})
            return {
                "versions": names,
                "model_version": settings.model_version,
                "models": [{"project": p, "control": c, "revision": r} for p, c, r in rows],
            }

        return await run_in_threadpool(run)

    @app.get("/agreement/{ref}")
    async def agreement(ref: str, control: str | None = None) -> Response:
        html = ref.endswith(".html")
        project = project_id(ref[:-5] if html else ref, "project")
        if not html:
            return JSONResponse(await run_in_threadpool(backend.agreement, project))
        return HTMLResponse(await run_in_threadpool(_html_report, backend, project, control))

    @app.get("/adjudications/{project}")
    async def adjudications(project: str, format: str = "json") -> Response:
        pid = project_id(project, "project")
        entries = await run_in_threadpool(backend.store.adjudications, pid)
        if format == "jsonl":
            lines = [json.dumps(d, sort_keys=True) for e in entries for d in e["decision"]]
            return PlainTextResponse(
                "".join(line + "\n" for line in lines), media_type="application/x-ndjson"
            )
        if format != "json":
            raise InputError(f"Unknown format {format!r}.", fix="Use format=json or format=jsonl.")
        return JSONResponse({"project": pid, "adjudications": entries})

    if settings.basic_auth_user:
        app.add_middleware(BasicAuth, settings=settings)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    return app


def _warm_up() -> None:
    """Import scikit-learn ahead of the first prediction (several seconds on a busy machine)."""
    with contextlib.suppress(ImportError):
        import sklearn.feature_extraction.text
        import sklearn.linear_model  # noqa: F401


def _remember_config(backend: Backend, project: int, schema: str) -> None:
    with backend.store.write() as tx:
        tx.upsert_project(project, label_config=schema)
    backend.forget_project(project)


def _html_report(backend: Backend, project: int, control: str | None) -> str:
    from aqt.agreement import agreement_report
    from aqt.report import render_html

    table = backend.table(project)
    if not len(table):
        raise InputError(
            f"Project {project} has no annotations in the backend yet.",
            fix="Annotate some tasks, or check that the webhook reaches the backend.",
        )
    controls = [
        c
        for c in table.controls()
        if {r.kind for r in table.records if r.control == c} & set(_SCALAR)
    ]
    chosen = control or (controls[0] if controls else None)
    return render_html(agreement_report(table.select_control(chosen)).to_dict())


_SCALAR = ("choice", "binary", "pairwise", "rating", "number")


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory``: settings from the environment, read once per process."""
    return create_app(Settings.from_env())
