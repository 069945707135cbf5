"""aqt's two fields in a Label Studio task's data, written by one function for both writers.

Two jobs put a field into a task's ``data``: the flag sync (:func:`aqt_labelstudio.worker.sync_flags`)
writes ``aqt_status``, the agreement flag, and the selection review
(:func:`aqt_labelstudio.selection.review_project`) writes ``aqt_review``, the reason a task was
flagged. Label Studio's task PATCH replaces the whole ``data`` object, so each write carries both
fields, and the two jobs run in different threads and processes. Each job therefore records what it
wants in the store first (``flags.status``; ``reviews.reason`` via :meth:`Store.set_reviews`) and
then calls :func:`write_task_fields`, which, holding the task's lock (:meth:`Store.task_lock`):

1. reads the task's data: Label Studio's current data when there is an API (so keys a user wrote
   since the store last saw the task survive), else the stored data;
2. sets both fields from the wanted values as they are now (:func:`compose`); a field with nothing
   recorded (no flag row, no review row) is left as it is, and every other key is passed through;
3. PATCHes the data if it changed, stores it, and notes the flag Label Studio now holds
   (``flags.synced``, releasing any flag-sync claim on the task).

Whichever job writes last reads the wanted values after the other recorded its own, so it leaves
both fields right; the lock is held for one task's read-PATCH-store only, never for a batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from aqt_labelstudio.lsapi import STATUS_FIELD, LabelStudioError
from aqt_labelstudio.service import OK

__all__ = ["KEEP", "REVIEW_FIELD", "STATUS_FIELD", "TaskWrite", "compose", "write_task_fields"]

#: task data field holding the selection-review reason; the Data Manager view filters on it
REVIEW_FIELD = "aqt_review"


class _Keep:
    def __repr__(self) -> str:
        return "KEEP"


#: a field value meaning "nothing recorded: leave the field as the data has it"
KEEP: Final = _Keep()


def compose(
    base: Mapping[str, Any], *, status: str | None | _Keep = KEEP, review: str | None | _Keep = KEEP
) -> dict[str, Any]:
    """``base`` with ``aqt_status`` and ``aqt_review`` set (a string), removed (None) or kept.

    ``status`` is the flag as the ``flags`` table holds it: ``"ok"`` removes the field, like None.
    ``base`` is not changed; keys other than the two are copied as they are.

    >>> compose({"text": "hi", "aqt_review": "empty text"}, status="needs_adjudication", review=None)
    {'text': 'hi', 'aqt_status': 'needs_adjudication'}
    >>> compose({"text": "hi", "aqt_status": "adjudicated"}, status="ok")
    {'text': 'hi'}
    """
    data = dict(base)
    for field, value in ((STATUS_FIELD, None if status == OK else status), (REVIEW_FIELD, review)):
        if value is KEEP:
            continue
        if value is None:
            data.pop(field, None)
        else:
            data[field] = value
    return data


@dataclass(frozen=True)
class TaskWrite:
    """What :func:`write_task_fields` did for one task.

    ``status``/``review`` are the values written (None: field absent, ``KEEP``-ed fields show
    what the data had); ``patched`` says whether Label Studio was sent a PATCH (False when its data
    already matched, or without an API).
    """

    task: int
    data: Mapping[str, Any]
    patched: bool
    status: str | None
    review: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "data": dict(self.data),
            "patched": self.patched,
            "status": self.status,
            "review": self.review,
        }


def write_task_fields(store: Any, api: Any, project: int, task: int) -> TaskWrite | None:
    """Write the wanted ``aqt_status`` and ``aqt_review`` of ``task`` into Label Studio and the store.

    Parameters
    ----------
    store : aqt_labelstudio.store.Store
        The backend's store; ``flags.status`` and ``reviews.reason`` are read under the task lock.
    api : aqt_labelstudio.lsapi.LabelStudioAPI or None
        Label Studio; None writes the store only (the flag is then not marked as synced).
    project, task : int
        The task, and the project it is stored under.

    Returns
    -------
    TaskWrite or None
        None when there is no API and the store does not know the task.

    Raises
    ------
    aqt_labelstudio.lsapi.LabelStudioError
        Label Studio refused the read or the PATCH (``status`` 404: the task is gone), or its
        answer held no data object; nothing is stored then, so a caller may retry.
    """
    with store.task_lock(task):
        if api is not None:
            doc = api.request("GET", f"/api/tasks/{task}/")
            if not isinstance(doc, dict) or not isinstance(doc.get("data"), dict):
                # writing our two fields over nothing would wipe the task's data: refuse
                raise LabelStudioError(
                    f"Label Studio answered GET /api/tasks/{task}/ without a data object: "
                    f"{str(doc)[:120]!r}; task {task} was not written.",
                    fix="Check that LABEL_STUDIO_URL points at Label Studio itself (not a proxy "
                    "page) and that the API key may read the project's tasks.",
                )
            base = dict(doc["data"])
        else:
            stored = store.task_data(task)
            if stored is None:
                return None
            base = stored
        flag = store.query("SELECT status FROM flags WHERE task=?", (task,))
        review = store.query("SELECT reason FROM reviews WHERE task=?", (task,))
        data = compose(
            base,
            status=flag[0][0] if flag else KEEP,
            review=review[0][0] if review else KEEP,
        )
        patched = api is not None and data != base
        if patched:
            api.set_task_data(task, data)
        with store.write() as tx:
            tx.upsert_task(project, task, data)
            if flag and api is not None:
                tx.c.execute(
                    "UPDATE flags SET synced=?, sync_owner=NULL, sync_until=NULL WHERE task=?",
                    (flag[0][0], task),
                )
    return TaskWrite(
        task=task,
        data=data,
        patched=patched,
        status=data.get(STATUS_FIELD),
        review=data.get(REVIEW_FIELD),
    )
