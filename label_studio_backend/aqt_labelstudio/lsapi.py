"""The few Label Studio REST calls the backend makes itself (raw HTTP, short timeouts).

The backend runs inside a web server's worker processes, where the SDK's import cost and
pagination helpers buy nothing; these calls are: read a project, page through its tasks with
annotations, edit a task's data (the adjudication flag), and list/create/update predictions. The
Data Manager view "aqt: needs adjudication" that filters on the flag is made by ``aqt ls connect``.

``api_key`` may be a legacy token (sent as ``Token ...``) or a personal access token (a JWT: it is
exchanged at ``/api/token/refresh`` for a short-lived access token, sent as ``Bearer ...``). The key
never appears in ``repr``, logs or error messages.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
from aqt.errors import AqtError

__all__ = ["STATUS_FIELD", "LabelStudioAPI", "LabelStudioError"]

STATUS_FIELD = "aqt_status"


class LabelStudioError(AqtError, RuntimeError):
    """A call to Label Studio failed; the message names the call and the status."""

    status: int | None = None


def _is_jwt(key: str) -> bool:
    parts = key.split(".")
    return len(parts) == 3 and all(parts) and key.startswith("ey")


class LabelStudioAPI:
    """A small, thread-safe client; one ``httpx.Client`` per instance."""

    def __init__(self, url: str, api_key: str, *, timeout: float = 15.0) -> None:
        self.url = url.rstrip("/")
        self._key = api_key
        self._pat = _is_jwt(api_key)
        self._access: tuple[str, float] | None = None
        self._lock = threading.Lock()
        self._http = httpx.Client(base_url=self.url, timeout=timeout)

    def __repr__(self) -> str:
        return f"LabelStudioAPI(url={self.url!r}, api_key='***')"

    def close(self) -> None:
        self._http.close()

    def _auth(self, refresh: bool = False) -> dict[str, str]:
        if not self._pat:
            return {"Authorization": f"Token {self._key}"}
        with self._lock:
            if refresh or self._access is None or self._access[1] < time.monotonic():
                r = self._http.post("/api/token/refresh", json={"refresh": self._key})
                if r.status_code != 200:
                    raise LabelStudioError(
                        f"Label Studio refused the personal access token (HTTP {r.status_code}).",
                        fix="Create a new token in Account & Settings and set LABEL_STUDIO_API_KEY.",
                    )
                self._access = (r.json()["access"], time.monotonic() + 240.0)
            return {"Authorization": f"Bearer {self._access[0]}"}

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        r = self._http.request(method, path, headers=self._auth(), **kwargs)
        if r.status_code == 401 and self._pat:
            r = self._http.request(method, path, headers=self._auth(refresh=True), **kwargs)
        if r.status_code >= 400:
            err = LabelStudioError(
                f"Label Studio answered {method} {path} with HTTP {r.status_code}: {r.text[:200]}",
                fix="Check LABEL_STUDIO_URL, the API key's permissions, and the Label Studio log.",
            )
            err.status = r.status_code
            raise err
        if not r.content:
            return None
        try:
            return r.json()
        except json.JSONDecodeError:
            return r.text

    # ------------------------------------------------------------------ reads
    def project(self, project: int) -> dict[str, Any]:
        return self.request("GET", f"/api/projects/{project}/")

    def iter_tasks(self, project: int, page_size: int = 100) -> Iterator[dict[str, Any]]:
        """Every task of the project with its annotations (``completed_by`` as int ids)."""
        page = 1
        while True:
            try:
                doc = self.request(
                    "GET",
                    "/api/tasks/",
                    params={
                        "project": project,
                        "fields": "all",
                        "page": page,
                        "page_size": page_size,
                    },
                )
            except LabelStudioError as exc:
                if page > 1 and "404" in str(exc):
                    return  # past the last page
                raise
            tasks = doc.get("tasks", []) if isinstance(doc, dict) else doc
            yield from tasks
            total = doc.get("total", 0) if isinstance(doc, dict) else len(tasks)
            if not tasks or page * page_size >= total:
                return
            page += 1

    def predictions(self, project: int) -> list[dict[str, Any]]:
        doc = self.request("GET", "/api/predictions/", params={"project": project})
        return doc if isinstance(doc, list) else doc.get("results", [])

    # ------------------------------------------------------------------ writes
    def set_task_data(self, task: int, data: dict[str, Any]) -> dict[str, Any]:
        return self.request("PATCH", f"/api/tasks/{task}/", json={"data": data})

    def create_prediction(self, task: int, prediction: dict[str, Any]) -> dict[str, Any]:
        return self.request("POST", "/api/predictions/", json={"task": task, **prediction})

    def update_prediction(self, pid: int, prediction: dict[str, Any]) -> dict[str, Any]:
        return self.request("PATCH", f"/api/predictions/{pid}/", json=prediction)
