"""A thin client for a live Label Studio (Community 1.23): label-studio-sdk 2.1.2 underneath.

The key may be a personal access token (a JWT, exchanged for short-lived access tokens by the SDK)
or a legacy API token. Every failure becomes one :class:`LabelStudioError` line that names the fix:
an unreachable URL, a rejected key, a server that is not Label Studio, an unknown project. Plain
HTTP (with the SDK's own authentication) is used only where the SDK has no route or parses the
answer into models that lose fields.

Example
-------
>>> client = connect("http://localhost:8080", "<token>")          # doctest: +SKIP
>>> table = client.table(1)                                       # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from typing import Any

from aqt.errors import AqtError, UsageError

from aqt_labelstudio.client_setup import SetupCalls, _plain

__all__ = [
    "DEFAULT_URL",
    "ENV_API_KEY",
    "ENV_URL",
    "EXPORT_TYPES",
    "LabelStudioClient",
    "LabelStudioError",
    "connect",
]

ENV_URL = "LABEL_STUDIO_URL"
ENV_API_KEY = "LABEL_STUDIO_API_KEY"
DEFAULT_URL = "http://localhost:8080"
EXPORT_TYPES = ("JSON", "JSON_MIN", "CSV", "TSV")

_KEY_FIX = (
    f"Pass a personal access token or legacy token (Label Studio: Account & Settings) with "
    f"--api-key or {ENV_API_KEY}."
)
_URL_FIX = f"Check --url / {ENV_URL} (Label Studio's address, e.g. {DEFAULT_URL}) and that it runs."


class LabelStudioError(AqtError, RuntimeError):
    """Label Studio could not be reached, refused the key, or rejected a request."""


def _detail(body: Any, limit: int = 200) -> str:
    """A short human string from an error body (DRF ``detail``, field errors, or text)."""
    if isinstance(body, Mapping):
        if "detail" in body:
            return str(body["detail"])[:limit].rstrip(".")
        if "validation_errors" in body:
            return json.dumps(body["validation_errors"], sort_keys=True)[:limit]
        return json.dumps(body, sort_keys=True, default=str)[:limit]
    text = " ".join(str(body or "").split())
    if text.lstrip().lower().startswith(("<!doctype", "<html")):
        return "an HTML page"
    return text[:limit]


class LabelStudioClient(SetupCalls):
    """One authenticated connection to a Label Studio server (ML backend, webhook and view calls
    come from :class:`~aqt_labelstudio.client_setup.SetupCalls`).

    Parameters
    ----------
    url
        Base URL, e.g. ``http://localhost:8080`` (a sub-path such as ``https://host/ls`` is kept).
    api_key
        A personal access token or a legacy token.
    timeout
        Seconds per HTTP request.
    """

    def __init__(self, url: str, api_key: str, *, timeout: float = 30.0) -> None:
        if not url or not url.strip():
            raise UsageError("No Label Studio URL given.", fix=_URL_FIX)
        if not api_key or not api_key.strip():
            raise UsageError("No Label Studio API key given.", fix=_KEY_FIX)
        url = url.strip().rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise UsageError(
                f"The Label Studio URL {url!r} has no http:// or https:// scheme.",
                fix=f"Pass the full address, e.g. --url {DEFAULT_URL}.",
            )
        self.url = url
        with self._errors("reading the API key"):
            from label_studio_sdk.client import LabelStudio

            self.sdk = LabelStudio(base_url=url, api_key=api_key.strip(), timeout=timeout)
        self._projects: dict[int, dict[str, Any]] = {}

    # ------------------------------------------------------------------ errors

    @contextlib.contextmanager
    def _errors(self, doing: str, project: int | None = None) -> Iterator[None]:
        """Turn SDK and transport failures into one :class:`LabelStudioError` line."""
        import httpx
        import pydantic
        from label_studio_sdk.core.api_error import ApiError

        try:
            yield
        except AqtError:
            raise
        except ApiError as exc:
            raise self._api_error(doing, exc.status_code, exc.body, project) from None
        except httpx.TimeoutException:
            raise LabelStudioError(
                f"Label Studio at {self.url} did not answer in time while {doing}.",
                fix=_URL_FIX,
            ) from None
        except httpx.HTTPError as exc:
            reason = str(exc).split("] ")[-1] or type(exc).__name__
            raise LabelStudioError(
                f"Cannot reach Label Studio at {self.url} ({reason}).", fix=_URL_FIX
            ) from None
        except (ValueError, pydantic.ValidationError) as exc:
            # JSON decode errors and model validation errors: the server is not Label Studio,
            # or answered something the SDK cannot read.
            first = str(exc).splitlines()[0][:120] if str(exc) else ""
            raise LabelStudioError(
                f"The server at {self.url} does not look like Label Studio: its answer while "
                f"{doing} is not Label Studio's API ({type(exc).__name__}: {first}).",
                fix=_URL_FIX,
            ) from None

    def _api_error(
        self, doing: str, status: int | None, body: Any, project: int | None
    ) -> LabelStudioError:
        detail = _detail(body)
        if status == 401:
            fix = _KEY_FIX
            if "legacy token" in detail.lower():
                fix = (
                    "Use a personal access token (Account & Settings > Personal Access Token), or "
                    "enable legacy tokens in Organization > API Tokens Settings."
                )
            return LabelStudioError(
                f"Label Studio at {self.url} rejected the API key (HTTP 401: {detail}).", fix=fix
            )
        if status == 403:
            return LabelStudioError(
                f"Label Studio at {self.url} refused {doing} (HTTP 403: {detail}).",
                fix="Use the key of a user who may do this (an owner or administrator of the "
                "organisation); for ML backends or webhooks on a local address, start Label Studio "
                "with ML_BLOCK_LOCAL_IP=false and SSRF_PROTECTION_ENABLED=false.",
            )
        if status == 404 and project is not None:
            return LabelStudioError(
                f"Project {project} was not found at {self.url} ({detail or 'HTTP 404'}).",
                fix=f"Pass one of the projects this key can see to --project: {self._project_list()}.",
            )
        if status == 404 and "HTML" in detail:
            return LabelStudioError(
                f"{self.url} answered 404 with an HTML page while {doing}; it does not look like "
                "Label Studio's API.",
                fix=_URL_FIX,
            )
        return LabelStudioError(
            f"Label Studio at {self.url} answered HTTP {status} while {doing}: {detail}.",
            fix="Check the values passed; the message above is Label Studio's.",
        )

    def _project_list(self) -> str:
        try:
            projects = [(p.id, p.title) for p in self.sdk.projects.list()]
        except Exception:  # noqa: BLE001 - only used inside an error message
            return "(could not list them)"
        if not projects:
            return "(none; create a project first)"
        newest = sorted(projects, reverse=True)
        shown = ", ".join(f"{pid} {title!r}" for pid, title in newest[:10])
        more = f" (+{len(newest) - 10} older)" if len(newest) > 10 else ""
        return shown + more

    # ------------------------------------------------------------------ plain HTTP

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        doing: str | None = None,
        project: int | None = None,
    ) -> Any:
        """One API call with the SDK's authentication; returns the decoded JSON (or ``None``).

        ``path`` is relative to the base URL, e.g. ``"api/webhooks/3/"``.
        """
        doing = doing or f"{method} /{path.lstrip('/')}"
        with self._errors(doing, project):
            wrapper = self.sdk._client_wrapper
            response = wrapper.httpx_client.httpx_client.request(
                method,
                f"{self.url}/{path.lstrip('/')}",
                params=dict(params or {}),
                json=json_body,
                headers=wrapper.get_headers(),
                timeout=wrapper.get_timeout(),
            )
            if response.status_code >= 400:
                try:
                    body: Any = response.json()
                except ValueError:
                    body = response.text
                raise self._api_error(doing, response.status_code, body, project)
            if response.status_code == 204 or not response.content:
                return None
            return response.json()

    # ------------------------------------------------------------------ identity

    def whoami(self) -> dict[str, Any]:
        """``{"id", "email", "username"}`` of the key's user; the connection check."""
        with self._errors("checking the connection"):
            me = self.sdk.users.whoami()
        if getattr(me, "id", None) is None:
            raise LabelStudioError(
                f"The server at {self.url} did not say who the key belongs to; it does not look "
                "like Label Studio.",
                fix=_URL_FIX,
            )
        return {"id": me.id, "email": me.email, "username": me.username}

    check = whoami

    def users(self) -> dict[int, str]:
        """User id -> email (the username when a user has no email), every organisation member."""
        with self._errors("listing users"):
            users = self.sdk.users.list()
        return {u.id: (u.email or u.username or str(u.id)) for u in users}

    # ------------------------------------------------------------------ projects and tasks

    def project(self, project_id: int) -> dict[str, Any]:
        """The project's settings as a plain dict (``label_config``, ``maximum_annotations``...)."""
        with self._errors(f"reading project {project_id}", project_id):
            data = _plain(self.sdk.projects.get(int(project_id)))
        self._projects[int(project_id)] = data
        return data

    def update_project(self, project_id: int, **fields: Any) -> dict[str, Any]:
        """PATCH project settings (e.g. ``sampling``, ``maximum_annotations``)."""
        with self._errors(f"updating project {project_id}", project_id):
            data = _plain(self.sdk.projects.update(int(project_id), **fields))
        self._projects.pop(int(project_id), None)
        return data

    def tasks(self, project_id: int, *, page_size: int = 100) -> list[dict[str, Any]]:
        """Every task of the project with its annotations (cancelled ones included), as dicts
        shaped like Label Studio's JSON export (``completed_by`` is the user id)."""
        self._require_project(project_id)
        out: list[dict[str, Any]] = []
        with self._errors(f"reading the tasks of project {project_id}", project_id):
            for task in self.sdk.tasks.list(
                project=int(project_id), fields="all", page_size=page_size
            ):
                out.append(_plain(task))
        out.sort(key=lambda t: t.get("id") or 0)
        return out

    def table(self, project_id: int, *, label_config: str | None = None):  # -> AnnotationTable
        """The project's annotations as an :class:`aqt.records.AnnotationTable`, annotators by
        email; cancelled annotations are left out and counted in ``skipped["cancelled"]``."""
        from aqt.formats import read_labelstudio_tasks

        if label_config is None:
            label_config = self._cached_project(project_id).get("label_config")
        tasks = self.tasks(project_id)
        return read_labelstudio_tasks(
            tasks,
            label_config=label_config,
            users=self.users(),
            name=f"Project {project_id} at {self.url}",
        )

    def export(
        self, project_id: int, export_type: str = "JSON", *, download_all_tasks: bool = False
    ) -> bytes:
        """Label Studio's own export of the project (``JSON``, ``JSON_MIN``, ``CSV``, ``TSV``)."""
        if export_type not in EXPORT_TYPES:
            raise UsageError(
                f"Unknown export type {export_type!r}; aqt reads {', '.join(EXPORT_TYPES)}.",
                fix="Pick one of those.",
            )
        self._require_project(project_id)
        with self._errors(f"exporting project {project_id} as {export_type}", project_id):
            chunks = self.sdk.projects.exports.download_sync(
                int(project_id), export_type=export_type, download_all_tasks=download_all_tasks
            )
            return b"".join(chunks)

    def _cached_project(self, project_id: int) -> dict[str, Any]:
        return self._projects.get(int(project_id)) or self.project(project_id)

    def _require_project(self, project_id: int) -> None:
        self._cached_project(project_id)


def connect(
    url: str | None = None,
    api_key: str | None = None,
    *,
    timeout: float = 30.0,
    check: bool = True,
) -> LabelStudioClient:
    """A checked client: URL and key from the arguments, else ``LABEL_STUDIO_URL`` /
    ``LABEL_STUDIO_API_KEY`` (URL default ``http://localhost:8080``).

    With ``check`` the key is tried once (``whoami``), so a wrong URL or key fails here, in one
    line, before any work starts.
    """
    url = url or os.environ.get(ENV_URL) or DEFAULT_URL
    api_key = api_key or os.environ.get(ENV_API_KEY)
    if not api_key:
        raise UsageError("No Label Studio API key given.", fix=_KEY_FIX)
    client = LabelStudioClient(url, api_key, timeout=timeout)
    if check:
        client.whoami()
    return client
