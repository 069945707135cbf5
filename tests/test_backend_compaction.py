"""Compaction of the backend's change log: the table shrinks, every process's agreement stays equal
to the agreement computed from scratch from ``effective``, concurrent ingestion loses nothing, and
a reader whose watermark is older than the compaction point rebuilds instead of replaying."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import textwrap

import pytest
from aqt.agreement import agreement_report
from aqt.config import Thresholds
from aqt.errors import AqtError
from aqt_labelstudio.compaction import compact, compaction_point, maybe_compact
from aqt_labelstudio.events import parse_webhook
from aqt_labelstudio.service import Backend
from aqt_labelstudio.settings import Settings
from aqt_labelstudio.store import compacted_through, head_seq
from aqt_labelstudio.worker import Worker
from backendproc import wait_until
from test_backend_payloads import created, deleted, updated

LABELS = ("Positive", "Negative", "Neutral")


def make_events(n: int, seed: int, first_aid: int = 1, t0: float = 1.0) -> list[dict]:
    """Creates, updates (newer label) and deletions over 40 tasks and 5 annotators; task 1 has a
    ground truth, so the quality monitors have a gold item."""
    rng = random.Random(seed)
    events: list[dict] = []
    live: dict[int, tuple[int, int]] = {}  # annotation -> (task, user)
    taken: set[tuple[int, int]] = set()
    aid, t = first_aid, t0
    if first_aid == 1:
        events.append(created(aid, 1, 1, "Positive", t=t, ground_truth=True))
        aid, t = aid + 1, t + 1
    while len(events) < n:
        t += 1
        roll = rng.random()
        if roll < 0.2 and live:
            a = rng.choice(sorted(live))
            task, user = live[a]
            events.append(updated(a, task, user, rng.choice(LABELS), t=t))
        elif roll < 0.25 and live:
            a = rng.choice(sorted(live))
            taken.discard(live.pop(a))
            events.append(deleted([a]))
        else:
            task, user = rng.randint(1, 40), rng.randint(2, 6)
            if (task, user) in taken:
                continue
            label = "Positive" if rng.random() < 0.5 else rng.choice(LABELS)
            events.append(created(aid, task, user, label, t=t))
            live[aid] = (task, user)
            taken.add((task, user))
            aid += 1
    return events


def new_backend(data_dir) -> Backend:
    """One backend process's state (its own LiveAgreement and LiveQuality) over ``data_dir``."""
    settings = Settings(
        data_dir=data_dir, background=False, thresholds=Thresholds(min_shared_items=3)
    )
    return Backend(settings)


def post(backend: Backend, events: list[dict]) -> None:
    for ev in events:
        backend.handle_event(parse_webhook(ev))


def n_changes(backend: Backend) -> int:
    return backend.store.query("SELECT COUNT(*) FROM changes")[0][0]


def scratch_metrics(backend: Backend) -> dict:
    """The agreement computed from scratch from ``effective``, by the core."""
    table = backend.table(1).select_control("sentiment")
    return agreement_report(table).to_dict()["metrics"]


@pytest.fixture
def data_dir(tmp_path):
    return tmp_path / "d"


def test_compaction_shrinks_the_table_and_records_the_point(data_dir):
    backend = new_backend(data_dir)
    post(backend, make_events(300, seed=1))
    before = n_changes(backend)
    with backend.store.read() as c:
        head = head_seq(c)
    assert before > 250 and compacted_through(backend.store._conn(), 1) == 0
    result = compact(backend.store, head - 20, batch=50)
    assert result.through == head - 20 and result.projects == (1,)
    assert result.deleted == before - n_changes(backend) and n_changes(backend) <= 20
    assert result.transactions >= before // 50 - 1  # short transactions, not one long one
    low = backend.store.query("SELECT MIN(seq) FROM changes")[0][0]
    assert low > head - 20
    assert compacted_through(backend.store._conn(), 1) == head - 20
    with backend.store.read() as c:  # the head survives the deletion: seq numbers are not reused
        assert head_seq(c) == head
    again = compact(backend.store, head - 20)
    assert again.deleted == 0 and again.transactions == 0
    assert result.to_dict()["projects"] == [1]


def test_every_process_equals_scratch_after_compaction(data_dir):
    events = make_events(600, seed=2)
    old_reader = new_backend(data_dir)
    post(old_reader, events[:250])
    early = old_reader.agreement(1)  # replayed up to here, before the compaction
    assert early["controls"]["sentiment"]["live"]
    post(new_backend(data_dir), events[250:])  # another process ingests the rest
    reference = new_backend(data_dir).agreement(1)  # full log, before the compaction
    with old_reader.store.read() as c:
        head = head_seq(c)
    result = compact(old_reader.store, head - 5)
    assert result.deleted > 400 and n_changes(old_reader) <= 5
    fresh = new_backend(data_dir)
    for backend in (old_reader, fresh):
        got = backend.agreement(1)
        assert got == reference  # live figures, quality monitors (order-dependent), flags
        assert got["controls"]["sentiment"]["metrics"] == scratch_metrics(backend)
    # ingestion goes on after the compaction; both catch up by replaying the new changes
    post(fresh, make_events(80, seed=3, first_aid=5000, t0=10_000.0))
    rebuilds = old_reader.live.rebuilds
    for backend in (old_reader, fresh):
        got = backend.agreement(1)
        assert got["controls"]["sentiment"]["metrics"] == scratch_metrics(backend)
        assert got == new_backend(data_dir).agreement(1)
    assert old_reader.live.rebuilds == rebuilds  # watermark past the point: replayed


def test_a_reader_with_an_old_watermark_rebuilds_rather_than_replays(data_dir):
    events = make_events(400, seed=4)
    reader = new_backend(data_dir)
    post(reader, events[:200])
    reader.agreement(1)
    entry = reader.live.state(1, "sentiment")
    old_watermark = entry.watermark
    post(new_backend(data_dir), events[200:])
    with reader.store.read() as c:
        head = head_seq(c)
    compact(reader.store, head)  # every change the reader has not seen yet is gone
    assert n_changes(reader) == 0
    assert reader.live.rebuilds == 0
    rebuilt = reader.live.state(1, "sentiment")
    assert reader.live.rebuilds == 1 and rebuilt is not entry
    assert rebuilt.watermark == head > old_watermark
    # replaying would have found no changes and kept the stale state of the first 200 events
    assert rebuilt.state.metrics() == scratch_metrics(reader)
    assert rebuilt.state.metrics() != entry.state.metrics()
    assert reader.agreement(1) == new_backend(data_dir).agreement(1)
    assert reader.live.rebuilds == 1  # now current: the next reads replay (nothing)


def test_a_reader_past_the_point_replays_without_rebuilding(data_dir):
    events = make_events(300, seed=5)
    reader = new_backend(data_dir)
    post(reader, events[:150])
    with reader.store.read() as c:
        point = head_seq(c)
    compact(reader.store, point - 10)
    entry = reader.live.state(1, "sentiment")  # built after the compaction
    post(new_backend(data_dir), events[150:])
    compact(reader.store, point)  # below the reader's watermark
    again = reader.live.state(1, "sentiment")
    assert again is entry and reader.live.rebuilds == 0
    assert again.state.metrics() == scratch_metrics(reader)


def test_concurrent_ingestion_during_compaction_loses_nothing(data_dir, tmp_path):
    events = make_events(700, seed=6)
    reader = new_backend(data_dir)
    post(reader, events[:50])
    reader.agreement(1)
    feed = tmp_path / "events.jsonl"
    feed.write_text("".join(json.dumps(ev) + "\n" for ev in events[50:]))
    script = textwrap.dedent(
        """
        import json, sys
        from pathlib import Path
        from aqt.config import Thresholds
        from aqt_labelstudio.events import parse_webhook
        from aqt_labelstudio.service import Backend
        from aqt_labelstudio.settings import Settings
        backend = Backend(Settings(data_dir=Path(sys.argv[1]), background=False,
                                   thresholds=Thresholds(min_shared_items=3)))
        for i, line in enumerate(open(sys.argv[2])):
            backend.handle_event(parse_webhook(json.loads(line)))
            print(i, flush=True)  # acknowledged
        """
    )
    child = subprocess.Popen(
        [sys.executable, "-c", script, str(data_dir), str(feed)],
        stdout=subprocess.PIPE,
        text=True,
    )
    deleted_rows = runs = 0
    reads = []
    while child.poll() is None:
        with reader.store.read() as c:
            head = head_seq(c)
        result = compact(reader.store, max(head - 3, 0), batch=7)
        deleted_rows += result.deleted
        runs += result.transactions > 0
        reads.append(reader.agreement(1)["controls"]["sentiment"]["n_annotations"])
    out, _ = child.communicate()
    assert child.returncode == 0
    acknowledged = [int(x) for x in out.split()]
    assert acknowledged == list(range(len(events) - 50))
    assert runs >= 2 and deleted_rows > 0  # compaction really ran while events arrived
    # every acknowledged event is in the database: the final state equals a sequential ingestion
    expected = new_backend(tmp_path / "sequential")
    post(expected, events)

    def state(backend: Backend) -> tuple:
        return (
            backend.store.query(
                "SELECT * FROM effective ORDER BY project, control, task, annotator"
            ),
            sorted(backend.store.annotation_ids(1)),
            backend.store.query("SELECT annotation FROM tombstones ORDER BY annotation"),
        )

    assert state(reader) == state(expected)
    got = reader.agreement(1)
    assert got["controls"]["sentiment"]["metrics"] == scratch_metrics(reader)
    assert got == expected.agreement(1) == new_backend(data_dir).agreement(1)


def test_maybe_compact_keeps_recent_changes_and_runs_once_per_interval(data_dir):
    backend = new_backend(data_dir)
    store = backend.store
    post(backend, make_events(100, seed=7))
    with store.read() as c:
        first_head = head_seq(c)
    kw = {"interval": 300.0, "keep_seconds": 600.0, "keep_rows": 0}
    result = maybe_compact(store, now=1000.0, **kw)  # leaves a mark; nothing is old enough
    assert result is not None and result.deleted == 0
    post(backend, make_events(100, seed=8, first_aid=5000, t0=10_000.0))
    assert maybe_compact(store, now=1200.0, **kw) is None  # within the interval
    assert compaction_point(store, 1500.0, 600.0, 0) == 0  # the mark is not 600 s old yet
    result = maybe_compact(store, now=1700.0, **kw)
    assert result.through == first_head and result.deleted > 0
    low = store.query("SELECT MIN(seq) FROM changes")[0][0]
    assert low == first_head + 1  # the changes of the last 600 s are all there
    # keep_rows: the newest rows are kept even when old enough
    assert maybe_compact(store, now=3000.0, **(kw | {"keep_rows": 10**6})).deleted == 0
    assert backend.agreement(1)["controls"]["sentiment"]["metrics"] == scratch_metrics(backend)


def test_bad_compaction_points_name_the_fix(data_dir):
    store = new_backend(data_dir).store
    with pytest.raises(AqtError, match="int >= 0"):
        compact(store, -1)
    with pytest.raises(AqtError, match="batch="):
        compact(store, 10, batch=0)


def test_the_worker_loop_runs_compaction(data_dir):
    backend = new_backend(data_dir)
    post(backend, make_events(20, seed=9))
    worker = Worker(backend, interval=0.05)
    worker.start()
    try:
        marks = wait_until(
            lambda: backend.store.query("SELECT at, seq FROM compaction_marks"),
            30,
            "a compaction mark from the sync thread",
        )
    finally:
        worker.stop()
    with backend.store.read() as c:
        assert marks[0][1] == head_seq(c)
