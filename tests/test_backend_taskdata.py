"""The two writers of a task's data in Label Studio (flag sync: ``aqt_status``; selection review:
``aqt_review``) go through one function under a per-task lock, so whichever writes last leaves both
fields right, and keys a user wrote survive. The races are forced with events: the second writer
starts while the first is inside its PATCH, the ordering that used to drop the other's field."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import threading

import pytest
from aqt_labelstudio import selection
from aqt_labelstudio.events import parse_webhook
from aqt_labelstudio.service import Backend
from aqt_labelstudio.settings import Settings
from aqt_labelstudio.store import Store
from aqt_labelstudio.taskdata import KEEP, compose, write_task_fields
from aqt_labelstudio.worker import sync_flags
from test_backend_payloads import FakeLabelStudio, created

TEXT = "text of task {}"
BOTH = {"text": TEXT.format(1), "aqt_status": "needs_adjudication", "aqt_review": "empty text"}


def backend_for(tmp_path, fake, monkeypatch, reasons: dict[int, str]) -> Backend:
    """Tasks 1 and 2 in Label Studio and the store; the review flags ``reasons``."""
    for tid in (1, 2):
        fake.add_task(tid, TEXT.format(tid))
    backend = Backend(Settings(data_dir=tmp_path / "d", background=False), api=fake)
    backend.handle_event(parse_webhook(created(1, 1, 2, "Positive", TEXT.format(1))))
    backend.handle_event(parse_webhook(created(3, 2, 2, "Positive", TEXT.format(2))))
    monkeypatch.setattr(selection, "review_reasons", lambda *a, **k: dict(reasons))
    monkeypatch.setattr(selection, "language_samples", lambda: None)
    return backend


def disagree(backend: Backend) -> None:
    """A second annotator disagrees on task 1: its flag becomes needs_adjudication, unsynced."""
    backend.handle_event(parse_webhook(created(2, 1, 3, "Negative", TEXT.format(1))))


def patched(fake: FakeLabelStudio) -> list[dict]:
    return [c[2] for c in fake.calls if c[0] == "set_task_data"]


class Interleave:
    """While the first writer is inside its PATCH, run ``second`` in a thread and let the PATCH
    go on only once ``second`` has finished or is waiting for the task lock (then it cannot
    finish before the first writer is done; without the lock it would finish first)."""

    def __init__(self, fake: FakeLabelStudio, backend: Backend, second) -> None:
        self.second, self.errors = second, []
        self.second_waits = threading.Event()
        self.thread: threading.Thread | None = None
        original_patch, original_lock = fake.set_task_data, backend.store.task_lock

        def patch(task, data):
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="second-writer")
                self.thread.start()
                assert self.second_waits.wait(60)
            return original_patch(task, data)

        def lock(task):
            if threading.current_thread() is self.thread:
                self.second_waits.set()
            return original_lock(task)

        fake.set_task_data = patch
        backend.store.task_lock = lock

    def _run(self) -> None:
        try:
            self.second()
        except Exception as exc:  # noqa: BLE001 - re-raised by join
            self.errors.append(exc)
        finally:
            self.second_waits.set()

    def join(self) -> None:
        assert self.thread is not None, "the first writer never sent a PATCH"
        self.thread.join(60)
        assert not self.thread.is_alive()
        if self.errors:
            raise self.errors[0]


def test_compose_sets_removes_and_keeps_only_the_two_fields():
    base = {"text": "t", "note": {"by": "user"}, "aqt_status": "adjudicated", "aqt_review": "x"}
    assert compose(base, status="needs_adjudication", review="empty text") == {
        **base,
        "aqt_status": "needs_adjudication",
        "aqt_review": "empty text",
    }
    assert compose(base, status="ok", review=None) == {"text": "t", "note": {"by": "user"}}
    assert compose(base, status=None, review=KEEP) == {
        "text": "t",
        "note": {"by": "user"},
        "aqt_review": "x",
    }
    assert compose(base) == base and compose(base) is not base
    assert base["aqt_status"] == "adjudicated"  # the input is not changed


def test_flag_sync_in_flight_keeps_a_review_written_meanwhile(tmp_path, monkeypatch):
    fake = FakeLabelStudio()
    backend = backend_for(tmp_path, fake, monkeypatch, {1: "empty text"})
    disagree(backend)
    race = Interleave(fake, backend, lambda: selection.review_project(backend, 1))
    assert sync_flags(backend) == 1  # the review starts while this PATCH is in flight
    race.join()
    assert fake.tasks[1]["data"] == BOTH
    assert backend.store.task_data(1) == BOTH
    assert patched(fake)[-1] == BOTH  # the last PATCH carries both fields
    assert sync_flags(backend) == 0  # the flag is known to be in Label Studio
    assert selection.review_project(backend, 1)["set"] == 0


def test_review_in_flight_keeps_a_flag_synced_meanwhile(tmp_path, monkeypatch):
    fake = FakeLabelStudio()
    backend = backend_for(tmp_path, fake, monkeypatch, {1: "empty text"})

    def flag_and_sync():  # the task is flagged and synced while the review's PATCH is in flight
        disagree(backend)
        assert sync_flags(backend) == 1

    race = Interleave(fake, backend, flag_and_sync)
    assert selection.review_project(backend, 1) == {"flagged": 1, "set": 1, "cleared": 0}
    race.join()
    assert fake.tasks[1]["data"] == BOTH
    assert backend.store.task_data(1) == BOTH
    assert patched(fake)[-1] == BOTH
    assert backend.store.claim_flag_syncs("check") == []
    assert backend.store.flags(1)[0]["synced"] == "needs_adjudication"


def test_last_writer_leaves_both_fields_in_either_order(tmp_path, monkeypatch):
    fake = FakeLabelStudio()
    backend = backend_for(tmp_path, fake, monkeypatch, {1: "empty text"})
    selection.review_project(backend, 1)
    disagree(backend)  # the webhook stores Label Studio's data of the event, without the reason
    assert "aqt_review" not in backend.store.task_data(1)
    assert sync_flags(backend) == 1
    assert fake.tasks[1]["data"] == BOTH == backend.store.task_data(1)
    # the review clears the reason: the flag stays
    monkeypatch.setattr(selection, "review_reasons", lambda *a, **k: {})
    assert selection.review_project(backend, 1) == {"flagged": 0, "set": 0, "cleared": 1}
    assert fake.tasks[1]["data"] == {"text": TEXT.format(1), "aqt_status": "needs_adjudication"}
    assert backend.store.query("SELECT task, reason FROM reviews ORDER BY task") == [
        (1, None),
        (2, None),
    ]


def test_keys_written_in_label_studio_since_the_store_saw_the_task_survive(tmp_path, monkeypatch):
    fake = FakeLabelStudio()
    backend = backend_for(tmp_path, fake, monkeypatch, {1: "empty text"})
    disagree(backend)
    fake.tasks[1]["data"]["note"] = "checked by the lead"  # the store has not seen this key
    assert sync_flags(backend) == 1
    selection.review_project(backend, 1)
    assert fake.tasks[1]["data"] == {**BOTH, "note": "checked by the lead"}
    assert backend.store.task_data(1) == fake.tasks[1]["data"]


def test_nothing_recorded_leaves_a_field_as_label_studio_has_it(tmp_path, monkeypatch):
    fake = FakeLabelStudio()
    backend = backend_for(tmp_path, fake, monkeypatch, {})
    fake.tasks[1]["data"]["aqt_review"] = "set before reviews were recorded"
    disagree(backend)
    assert sync_flags(backend) == 1
    assert fake.tasks[1]["data"]["aqt_review"] == "set before reviews were recorded"
    selection.review_project(backend, 1)  # now the review wants no reason on task 1
    assert "aqt_review" not in fake.tasks[1]["data"]
    assert fake.tasks[1]["data"]["aqt_status"] == "needs_adjudication"


def test_unchanged_data_is_not_patched_and_a_gone_task_is_skipped(tmp_path, monkeypatch):
    from aqt_labelstudio.lsapi import LabelStudioError

    fake = FakeLabelStudio()
    backend = backend_for(tmp_path, fake, monkeypatch, {1: "empty text", 2: "empty text"})
    n = len(patched(fake))
    out = write_task_fields(backend.store, fake, 1, 2)  # nothing recorded for task 2 yet
    assert out.patched is False and len(patched(fake)) == n
    assert out.to_dict()["data"] == {"text": TEXT.format(2)}

    def gone(method, path, **kw):
        if path == "/api/tasks/1/":
            err = LabelStudioError(f"Label Studio answered {method} {path} with HTTP 404")
            err.status = 404
            raise err
        return FakeLabelStudio.request(fake, method, path, **kw)

    fake.request = gone
    assert selection.review_project(backend, 1) == {"flagged": 2, "set": 1, "cleared": 0}
    assert fake.tasks[2]["data"]["aqt_review"] == "empty text"


def test_an_answer_without_data_is_refused_and_retried(tmp_path, monkeypatch):
    from aqt_labelstudio.lsapi import LabelStudioError

    fake = FakeLabelStudio()
    backend = backend_for(tmp_path, fake, monkeypatch, {})
    disagree(backend)
    fake.request = lambda method, path, **kw: "<html>login</html>"
    with pytest.raises(LabelStudioError, match="without a data object"):
        write_task_fields(backend.store, fake, 1, 1)
    assert sync_flags(backend) == 0 and patched(fake) == []
    assert backend.store.task_data(1) == {"text": TEXT.format(1)}
    del fake.request
    with backend.store.write() as tx:  # fast-forward the retry delay
        tx.c.execute("UPDATE flags SET sync_until=0")
    assert sync_flags(backend) == 1
    assert fake.tasks[1]["data"]["aqt_status"] == "needs_adjudication"


def test_store_without_label_studio_gets_both_fields(tmp_path, monkeypatch):
    fake = FakeLabelStudio()
    backend = backend_for(tmp_path, fake, monkeypatch, {1: "empty text"})
    disagree(backend)
    backend.api = None
    selection.review_project(backend, 1)
    assert backend.store.task_data(1) == BOTH
    assert backend.store.claim_flag_syncs("check")[0]["task"] == 1  # Label Studio not told yet


HOLDER = """
import sys
from aqt_labelstudio.store import Store
with Store(sys.argv[1]).task_lock(7):
    print("held", flush=True)
    sys.stdin.readline()
    with open(sys.argv[2], "a") as log:
        log.write("released\\n")
"""


@pytest.mark.parametrize("other_task", [7, 7 + 256])
def test_task_lock_excludes_another_process(tmp_path, other_task):
    store = Store(tmp_path / "d")
    log = tmp_path / "order.log"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(HOLDER), str(tmp_path / "d"), str(log)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"

        def free():
            with store.task_lock(8):
                pass

        other = threading.Thread(target=free)
        other.start()  # another task's lock is free while task 7 is held
        other.join(60)
        assert not other.is_alive()
        trying = threading.Event()

        def take():
            trying.set()
            with store.task_lock(other_task), open(log, "a") as f:
                f.write("acquired\n")

        t = threading.Thread(target=take)
        t.start()
        assert trying.wait(60)
        holder.stdin.write("\n")
        holder.stdin.flush()
        t.join(60)
        assert not t.is_alive()
    finally:
        holder.stdin.close()
        assert holder.wait(60) == 0
    assert log.read_text().split() == ["released", "acquired"]
