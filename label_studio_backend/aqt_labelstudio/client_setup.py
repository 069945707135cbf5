"""The Label Studio calls that set up a project for the backend: ML backends, webhooks and Data
Manager views.

:class:`SetupCalls` is a base of :class:`aqt_labelstudio.client.LabelStudioClient`; its methods use
the client's ``sdk`` and ``_errors`` (every failure becomes one
:class:`~aqt_labelstudio.client.LabelStudioError` line that names the fix).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["SetupCalls"]


def _plain(model: Any) -> Any:
    """An SDK model as plain JSON data (dates as Label Studio's strings, field aliases kept)."""
    return json.loads(model.json(by_alias=True)) if hasattr(model, "json") else model


class SetupCalls:
    """ML backend, webhook and view calls of
    :class:`~aqt_labelstudio.client.LabelStudioClient` (see module docstring)."""

    # ------------------------------------------------------------------ ML backends

    def ml_backends(self, project_id: int) -> list[dict[str, Any]]:
        """The project's ML backends (listing makes Label Studio call each one's /health, /setup)."""
        with self._errors(f"listing ML backends of project {project_id}", project_id):
            found = self.sdk.ml.list(project=int(project_id))
        return sorted((_plain(m) for m in found), key=lambda m: m["id"])

    def create_ml_backend(self, project_id: int, url: str, *, title: str, **fields: Any) -> dict:
        with self._errors(f"connecting the ML backend {url}", project_id):
            return _plain(
                self.sdk.ml.create(project=int(project_id), url=url, title=title, **fields)
            )

    def update_ml_backend(self, ml_id: int, project_id: int, url: str, **fields: Any) -> dict:
        """PATCH an ML backend; Label Studio needs ``url`` and ``project`` in every PATCH."""
        with self._errors(f"updating ML backend {ml_id}", project_id):
            return _plain(
                self.sdk.ml.update(int(ml_id), project=int(project_id), url=url, **fields)
            )

    def delete_ml_backend(self, ml_id: int) -> None:
        with self._errors(f"deleting ML backend {ml_id}"):
            self.sdk.ml.delete(int(ml_id))

    # ------------------------------------------------------------------ webhooks

    def webhooks(self, project_id: int) -> list[dict[str, Any]]:
        with self._errors(f"listing webhooks of project {project_id}", project_id):
            found = self.sdk.webhooks.list(project=str(int(project_id)))
        hooks = (_plain(w) for w in found)
        return sorted(
            (w for w in hooks if w.get("project") == int(project_id)), key=lambda w: w["id"]
        )

    def create_webhook(
        self,
        project_id: int,
        url: str,
        *,
        actions: Sequence[str],
        headers: Mapping[str, str] | None = None,
        send_payload: bool = True,
    ) -> dict[str, Any]:
        with self._errors(f"creating the webhook {url}", project_id):
            return _plain(
                self.sdk.webhooks.create(
                    url=url,
                    project=int(project_id),
                    actions=list(actions),
                    send_for_all_actions=not actions,
                    send_payload=send_payload,
                    headers=dict(headers or {}),
                    is_active=True,
                )
            )

    def update_webhook(self, webhook_id: int, **fields: Any) -> dict[str, Any]:
        """PATCH a webhook (``url``, ``actions``, ``headers``, ``send_for_all_actions``...)."""
        with self._errors(f"updating webhook {webhook_id}"):
            return _plain(self.sdk.webhooks.update(int(webhook_id), **fields))

    def delete_webhook(self, webhook_id: int) -> None:
        with self._errors(f"deleting webhook {webhook_id}"):
            self.sdk.webhooks.delete(int(webhook_id))

    # ------------------------------------------------------------------ Data Manager views

    def views(self, project_id: int) -> list[dict[str, Any]]:
        with self._errors(f"listing views of project {project_id}", project_id):
            found = self.sdk.views.list(project=int(project_id))
        return sorted((_plain(v) for v in found), key=lambda v: v["id"])

    def create_view(self, project_id: int, data: Mapping[str, Any]) -> dict[str, Any]:
        with self._errors(f"creating view {data.get('title')!r}", project_id):
            return _plain(self.sdk.views.create(project=int(project_id), data=dict(data)))

    def update_view(self, view_id: int, project_id: int, data: Mapping[str, Any]) -> dict:
        with self._errors(f"updating view {view_id}", project_id):
            return _plain(
                self.sdk.views.update(str(int(view_id)), project=int(project_id), data=dict(data))
            )

    def delete_view(self, view_id: int) -> None:
        with self._errors(f"deleting view {view_id}"):
            self.sdk.views.delete(str(int(view_id)))

    def view_task_ids(self, project_id: int, view_id: int) -> list[int]:
        """Ids of the tasks a Data Manager view shows, in its order (filters applied by Label
        Studio)."""
        with self._errors(f"listing the tasks of view {view_id}", project_id):
            pager = self.sdk.tasks.list(
                project=int(project_id), view=int(view_id), fields="task_only", page_size=100
            )
            return [int(t.id) for t in pager]
