"""Wire a Label Studio project to the aqt backend, idempotently (``aqt ls connect``).

What a connected project has, exactly once each:

- the ML backend titled ``aqt`` at the backend URL;
- one webhook at ``<backend>/webhook`` sending ``ANNOTATION_CREATED``, ``ANNOTATION_UPDATED`` and
  ``ANNOTATIONS_DELETED`` with the header ``X-Aqt-Secret``. Label Studio creates a webhook at that
  same URL for every ML backend it connects (all events, no auth, unless one exists there already);
  aqt adopts that webhook and sets the secret and the actions on it, so the backend gets each event
  once and never without the secret;
- ``sampling = "Uncertainty sampling"`` (accepted through the API in Community, though its UI shows
  the option as Enterprise-only) and, if asked, ``maximum_annotations``;
- if asked (``overlap_share``), ``overlap_cohort_percentage`` = round(share * 100) with
  ``maximum_annotations`` at least 2: that share of tasks is routed to more than one annotator, so
  the backend can follow each annotator's agreement with peers during full-scale work;
- the Data Manager views in :data:`VIEWS`.

Running it again changes nothing; duplicates (same backend URL, same webhook URL, same view title)
left by earlier tools are removed so one of each remains. Run with a new backend URL, it moves the
``aqt`` backend there and removes the webhook of the old address.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from aqt.errors import UsageError

from aqt_labelstudio.client import LabelStudioClient

__all__ = [
    "BACKEND_TITLE",
    "NEEDS_ADJUDICATION",
    "NEEDS_ADJUDICATION_VIEW",
    "NEEDS_REANNOTATION",
    "NEEDS_REANNOTATION_VIEW",
    "SECRET_HEADER",
    "SELECTION_REVIEW_VIEW",
    "STATUS_FIELD",
    "VIEWS",
    "WEBHOOK_ACTIONS",
    "ConnectResult",
    "connect_project",
    "webhook_url",
]

BACKEND_TITLE = "aqt"
SECRET_HEADER = "X-Aqt-Secret"
WEBHOOK_ACTIONS = ("ANNOTATION_CREATED", "ANNOTATION_UPDATED", "ANNOTATIONS_DELETED")
UNCERTAINTY_SAMPLING = "Uncertainty sampling"

#: task data field the backend sets on low-agreement tasks; Data Manager filters on it
STATUS_FIELD = "aqt_status"
NEEDS_ADJUDICATION = "needs_adjudication"
#: ``aqt_status`` of tasks only annotators flagged for drift answered (none is adjudication)
NEEDS_REANNOTATION = "needs_reannotation"
#: task data field holding the selection-review reason (see :mod:`aqt_labelstudio.selection`)
REVIEW_FIELD = "aqt_review"

NEEDS_ADJUDICATION_VIEW = "aqt: needs adjudication"
NEEDS_REANNOTATION_VIEW = "aqt: needs re-annotation"
SELECTION_REVIEW_VIEW = "aqt: selection review"


def _view(title: str, field: str, operator: str, value: Any, ordering: str) -> dict[str, Any]:
    """A Data Manager view with one filter on ``data.<field>``, as Label Studio stores it."""
    item = {
        "filter": f"filter:tasks:data.{field}",
        "operator": operator,
        "type": "String",
        "value": value,
    }
    return {
        "title": title,
        "filters": {"conjunction": "and", "items": [item]},
        "ordering": [ordering],
    }


#: view title -> Data Manager view data (filters and ordering), as Label Studio stores them
VIEWS: dict[str, dict[str, Any]] = {
    NEEDS_ADJUDICATION_VIEW: _view(
        NEEDS_ADJUDICATION_VIEW, STATUS_FIELD, "equal", NEEDS_ADJUDICATION, "tasks:id"
    ),
    # tasks whose only answers came from annotators flagged for drift: give them to someone else
    NEEDS_REANNOTATION_VIEW: _view(
        NEEDS_REANNOTATION_VIEW, STATUS_FIELD, "equal", NEEDS_REANNOTATION, "tasks:id"
    ),
    # tasks selection review flagged (data.aqt_review holds the reason, set after each retrain),
    # least confident prediction first (ascending score); "empty" False = the field is set
    SELECTION_REVIEW_VIEW: _view(
        SELECTION_REVIEW_VIEW, REVIEW_FIELD, "empty", False, "tasks:predictions_score"
    ),
}


@dataclasses.dataclass(frozen=True)
class ConnectResult:
    """What :func:`connect_project` found and did; ``changes`` lists ``(thing, action)`` pairs
    with action ``created``, ``updated``, ``deleted duplicate`` or ``unchanged``."""

    project: int
    ml_backend: int
    webhook: int
    views: Mapping[str, int]
    changes: tuple[tuple[str, str], ...]

    @property
    def changed(self) -> bool:
        return any(action != "unchanged" for _, action in self.changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "ml_backend": self.ml_backend,
            "webhook": self.webhook,
            "views": dict(sorted(self.views.items())),
            "changes": [list(c) for c in self.changes],
        }


def webhook_url(backend_url: str) -> str:
    """The URL Label Studio uses for an ML backend's webhook: ``<backend>/webhook``."""
    return backend_url.rstrip("/") + "/webhook"


def _norm_url(url: str) -> str:
    return (url or "").strip().rstrip("/")


def connect_project(
    client: LabelStudioClient,
    project_id: int,
    backend_url: str,
    *,
    annotations_per_task: int | None = None,
    webhook_secret: str | None = None,
    basic_auth: tuple[str, str] | None = None,
    overlap_share: float | None = None,
) -> ConnectResult:
    """Register the aqt backend, its webhook, uncertainty sampling and the views on a project.

    Parameters
    ----------
    client
        A connected client whose user may change the project.
    project_id
        The Label Studio project.
    backend_url
        Where Label Studio reaches the aqt backend (as seen from the Label Studio server).
    annotations_per_task
        Sets ``maximum_annotations`` (annotators per task) when given.
    webhook_secret
        Value of the ``X-Aqt-Secret`` header on the webhook; ``None`` removes that header.
    basic_auth
        ``(user, password)`` Label Studio sends to the backend (``/health``, ``/setup``,
        ``/predict``, training); ``None`` connects without authentication. Webhooks never carry
        basic auth; the backend accepts the secret header there. The password is write-only in
        Label Studio, so a backend that already has this user and a password keeps its password.
    overlap_share
        Share of tasks (0 to 1) Label Studio gives to more than one annotator: sets
        ``overlap_cohort_percentage`` to ``round(overlap_share * 100)`` and ``maximum_annotations``
        to ``annotations_per_task``, or to at least 2 when that is not given. ``None`` leaves both
        as they are.
    """
    backend_url = _norm_url(backend_url)
    if not backend_url.startswith(("http://", "https://")):
        raise UsageError(
            f"The backend URL {backend_url!r} has no http:// or https:// scheme.",
            fix="Pass the address Label Studio reaches the aqt backend at, e.g. "
            "--backend-url http://localhost:9090.",
        )
    if annotations_per_task is not None and annotations_per_task < 1:
        raise UsageError(
            f"--annotations-per-task must be at least 1, got {annotations_per_task}.",
            fix="Pass the number of annotators each task should get, e.g. 3.",
        )
    if overlap_share is not None:
        if not 0.0 <= overlap_share <= 1.0:
            raise UsageError(
                f"--overlap-share must be between 0 and 1, got {overlap_share}.",
                fix="Pass the share of tasks to double-annotate, e.g. --overlap-share 0.1.",
            )
        if annotations_per_task is not None and annotations_per_task < 2:
            raise UsageError(
                f"--overlap-share needs at least 2 annotations per task, got "
                f"--annotations-per-task {annotations_per_task}.",
                fix="Pass --annotations-per-task 2 (or more), or leave it out.",
            )
    if basic_auth is not None and not (basic_auth[0] and basic_auth[1]):
        raise UsageError(
            "Basic auth needs both a user and a password.",
            fix="Pass both --basic-auth-user and --basic-auth-password (or neither).",
        )
    project = client.project(project_id)
    changes: list[tuple[str, str]] = []
    ml_id, old_urls = _ensure_ml_backend(client, project_id, backend_url, basic_auth, changes)
    hook_id = _ensure_webhook(
        client,
        project_id,
        backend_url,
        webhook_secret,
        changes,
        stale={webhook_url(u) for u in old_urls},
    )
    _ensure_settings(client, project, annotations_per_task, changes, overlap_share)
    views = {
        title: _ensure_view(client, project_id, title, data, changes)
        for title, data in VIEWS.items()
    }
    return ConnectResult(int(project_id), ml_id, hook_id, views, tuple(changes))


def _auth_fields(basic_auth: tuple[str, str] | None) -> dict[str, Any]:
    if basic_auth is None:
        return {"auth_method": "NONE"}
    user, password = basic_auth
    return {"auth_method": "BASIC_AUTH", "basic_auth_user": user, "basic_auth_pass": password}


def _auth_differs(ml: Mapping[str, Any], basic_auth: tuple[str, str] | None) -> bool:
    if basic_auth is None:
        return ml.get("auth_method") not in (None, "NONE")
    return (
        ml.get("auth_method") != "BASIC_AUTH"
        or ml.get("basic_auth_user") != basic_auth[0]
        or not ml.get("basic_auth_pass_is_set")
    )


def _ensure_ml_backend(
    client: LabelStudioClient,
    project_id: int,
    url: str,
    basic_auth: tuple[str, str] | None,
    changes: list[tuple[str, str]],
) -> tuple[int, set[str]]:
    """The backend's id and the other URLs aqt backends of this project had (now replaced)."""
    ours = [
        m
        for m in client.ml_backends(project_id)
        if _norm_url(m.get("url", "")) == url or m.get("title") == BACKEND_TITLE
    ]
    ours.sort(key=lambda m: (_norm_url(m.get("url", "")) != url, m["id"]))
    if not ours:
        created = client.create_ml_backend(
            project_id, url, title=BACKEND_TITLE, is_interactive=False, **_auth_fields(basic_auth)
        )
        changes.append((f"ML backend {created['id']} ({url})", "created"))
        return int(created["id"]), set()
    old_urls = {_norm_url(m.get("url", "")) for m in ours} - {url}
    keep, *extra = ours
    for m in extra:
        client.delete_ml_backend(m["id"])
        changes.append((f"ML backend {m['id']} ({m.get('url')})", "deleted duplicate"))
    if (
        _norm_url(keep.get("url", "")) != url
        or keep.get("title") != BACKEND_TITLE
        or _auth_differs(keep, basic_auth)
    ):
        client.update_ml_backend(
            keep["id"], project_id, url, title=BACKEND_TITLE, **_auth_fields(basic_auth)
        )
        changes.append((f"ML backend {keep['id']} ({url})", "updated"))
    else:
        changes.append((f"ML backend {keep['id']} ({url})", "unchanged"))
    return int(keep["id"]), old_urls


def _ensure_webhook(
    client: LabelStudioClient,
    project_id: int,
    backend_url: str,
    secret: str | None,
    changes: list[tuple[str, str]],
    stale: set[str] = frozenset(),
) -> int:
    url = webhook_url(backend_url)
    hooks = client.webhooks(project_id)
    for w in hooks:  # webhooks of the backend's previous address
        if _norm_url(w.get("url", "")) in stale:
            client.delete_webhook(w["id"])
            changes.append((f"webhook {w['id']} ({w.get('url')})", "deleted (old backend URL)"))
    ours = [w for w in hooks if _norm_url(w.get("url", "")) == url]

    def wanted_headers(current: Mapping[str, str]) -> dict[str, str]:
        headers = {k: v for k, v in (current or {}).items() if k.lower() != SECRET_HEADER.lower()}
        if secret:
            headers[SECRET_HEADER] = secret
        return headers

    if not ours:
        created = client.create_webhook(
            project_id, url, actions=WEBHOOK_ACTIONS, headers=wanted_headers({})
        )
        changes.append((f"webhook {created['id']} ({url})", "created"))
        return int(created["id"])
    keep, *extra = ours
    for w in extra:
        client.delete_webhook(w["id"])
        changes.append((f"webhook {w['id']} ({url})", "deleted duplicate"))
    desired = {
        "url": url,
        "actions": sorted(WEBHOOK_ACTIONS),
        "send_for_all_actions": False,
        "send_payload": True,
        "is_active": True,
        "headers": wanted_headers(keep.get("headers") or {}),
    }
    current = {k: keep.get(k) for k in desired}
    current["actions"] = sorted(current["actions"] or [])
    current["headers"] = current["headers"] or {}
    if current != desired:
        client.update_webhook(keep["id"], **desired)
        changes.append((f"webhook {keep['id']} ({url})", "updated"))
    else:
        changes.append((f"webhook {keep['id']} ({url})", "unchanged"))
    return int(keep["id"])


def _ensure_settings(
    client: LabelStudioClient,
    project: Mapping[str, Any],
    annotations_per_task: int | None,
    changes: list[tuple[str, str]],
    overlap_share: float | None = None,
) -> None:
    desired: dict[str, Any] = {"sampling": UNCERTAINTY_SAMPLING}
    if annotations_per_task is not None:
        desired["maximum_annotations"] = int(annotations_per_task)
    if overlap_share is not None:
        current = int(project.get("maximum_annotations") or 1)
        desired["maximum_annotations"] = max(desired.get("maximum_annotations", current), 2)
        desired["overlap_cohort_percentage"] = round(overlap_share * 100)
    patch = {k: v for k, v in desired.items() if project.get(k) != v}
    label = ", ".join(f"{k}={v!r}" for k, v in desired.items())
    if patch:
        client.update_project(project["id"], **patch)
        changes.append((f"project {project['id']} settings ({label})", "updated"))
    else:
        changes.append((f"project {project['id']} settings ({label})", "unchanged"))


def _view_key(data: Mapping[str, Any]) -> tuple:
    filters = data.get("filters") or {}
    items = [
        (i.get("filter"), i.get("operator"), i.get("type"), repr(i.get("value")))
        for i in filters.get("items") or []
    ]
    return (
        data.get("title"),
        filters.get("conjunction"),
        sorted(items),
        list(data.get("ordering") or []),
    )


def _ensure_view(
    client: LabelStudioClient,
    project_id: int,
    title: str,
    data: dict[str, Any],
    changes: list[tuple[str, str]],
) -> int:
    ours = [v for v in client.views(project_id) if (v.get("data") or {}).get("title") == title]
    if not ours:
        created = client.create_view(project_id, data)
        changes.append((f"view {created['id']} {title!r}", "created"))
        return int(created["id"])
    keep, *extra = ours
    for v in extra:
        client.delete_view(v["id"])
        changes.append((f"view {v['id']} {title!r}", "deleted duplicate"))
    existing = dict(keep.get("data") or {})
    if _view_key(existing) != _view_key(data):
        client.update_view(keep["id"], project_id, {**existing, **data})
        changes.append((f"view {keep['id']} {title!r}", "updated"))
    else:
        changes.append((f"view {keep['id']} {title!r}", "unchanged"))
    return int(keep["id"])
