"""Benchmarks of the aqt ML backend (``aqt-backend``, two workers, on loopback). Prints figures.

1. ``/predict`` with 10 tasks per request under 16 concurrent clients: p50 / p99 latency, errors
   (goal: p99 <= 150 ms, 0 errors), after the model was trained on 400 labelled tasks.
2. Webhook ingestion: events/s with 8 concurrent senders (goal >= 300/s), agreement updated.
3. SIGKILL of the whole backend during a burst of events, restart: every acknowledged event is in
   the database, and after the start-up reconciliation with Label Studio (a stand-in serving the
   full data) the reported agreement equals the core's agreement on that export.
4. The live agreement design: building an ``AgreementState`` from the table vs catching up.

Usage: .venv/bin/python benchmarks/backend.py [--quick]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from test_backend_payloads import CONFIG, annotation_obj, created

SECRET = "bench-secret"
WORDS = {
    "Positive": ["great", "lovely", "wonderful", "good", "fine"],
    "Negative": ["awful", "bad", "terrible", "poor", "boring"],
    "Neutral": ["plain", "average", "ordinary", "okay", "usual"],
}
LABELS = tuple(WORDS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def text_for(rng: random.Random, label: str) -> str:
    words = rng.sample(WORDS[label], 3) + [rng.choice(WORDS[rng.choice(LABELS)]), "film"]
    rng.shuffle(words)
    return " ".join(words)


def make_events(project: int, n_tasks: int, first_id: int, seed: int) -> list[dict]:
    """Two or three annotators per task, 80% agreeing with the task's label."""
    rng = random.Random(seed)
    events, aid = [], first_id
    for i in range(n_tasks):
        tid = project * 100000 + i
        truth = LABELS[i % 3]
        text = text_for(rng, truth)
        for user in (2, 3, 4)[: rng.choice((2, 3))]:
            label = truth if rng.random() < 0.8 else rng.choice(LABELS)
            events.append(
                created(aid, tid, user, label, text, pid=project, t=aid, model_version="aqt")
            )
            aid += 1
    return events


class Server:
    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, port: int | None = None):
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full = {k: v for k, v in os.environ.items() if not k.startswith(("AQT_", "LABEL_STUDIO"))}
        full.update(
            {
                "AQT_DATA_DIR": str(data_dir),
                "AQT_WEBHOOK_SECRET": SECRET,
                "AQT_TRAIN_DEBOUNCE": "0.5",
                "AQT_RECONCILE_INTERVAL": "1",
                **(env or {}),
            }
        )
        exe = Path(sys.executable).with_name("aqt-backend")
        # kept open for the server's lifetime (its stdout and stderr)
        self.log = open(data_dir.parent / f"backend-{self.port}.log", "ab")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [
                str(exe),
                "--port",
                str(self.port),
                "--workers",
                "2",
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env=full,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        warm = 0
        while time.monotonic() < deadline:  # up, and scikit-learn imported (ask a few times,
            try:  # so both workers are likely to have answered)
                r = httpx.get(f"{self.url}/health", timeout=1)
                warm = warm + 1 if r.json().get("warm") else 0
                if warm >= 10:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"backend did not start; see {self.log.name}")

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()


def post_events(url: str, events: list[dict], workers: int, stop: threading.Event | None = None):
    """Send ``events`` with ``workers`` threads; returns (acknowledged annotation ids, errors)."""
    acked: list[int] = []
    errors = [0]
    lock = threading.Lock()
    chunks = [events[i::workers] for i in range(workers)]

    host, port = url.split("//", 1)[1].split(":")
    headers = {"X-Aqt-Secret": SECRET, "Content-Type": "application/json"}

    def run(chunk):
        # http.client with keep-alive: a light client, so the figure is the server's
        conn = http.client.HTTPConnection(host, int(port), timeout=10)
        for ev in chunk:
            if stop is not None and stop.is_set():
                return
            try:
                conn.request("POST", "/webhook", body=json.dumps(ev), headers=headers)
                resp = conn.getresponse()
                resp.read()
                ok = resp.status == 200
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(host, int(port), timeout=10)
                ok = False
            with lock:
                if ok:
                    acked.append(ev["annotation"]["id"])
                else:
                    errors[0] += 1
        conn.close()

    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(run, chunks))
    return acked, errors[0]


def bench_predict_and_ingest(tmp: Path, quick: bool) -> dict:
    data = tmp / "bench"
    data.mkdir()
    server = Server(data)
    try:
        events = make_events(1, 150 if quick else 400, 1, seed=1)
        t0 = time.perf_counter()
        _, errors = post_events(server.url, events, workers=8)
        ingest_s = time.perf_counter() - t0
        agreement = httpx.get(f"{server.url}/agreement/1", timeout=30).json()
        n_ann = agreement["controls"]["sentiment"]["n_annotations"]
        print(
            f"webhook ingestion: {len(events)} events in {ingest_s:.2f} s = "
            f"{len(events) / ingest_s:.0f} events/s (goal >= 300), errors {errors}, "
            f"agreement holds {n_ann}/{len(events)} annotations, "
            f"alpha {agreement['controls']['sentiment']['metrics']['krippendorff_alpha']['value']:.3f}"
        )
        deadline = time.monotonic() + 120  # background training (debounced) must have run
        while time.monotonic() < deadline:
            models = httpx.get(f"{server.url}/versions", timeout=5).json()["models"]
            if models:
                break
            time.sleep(0.3)
        rng = random.Random(5)
        body = {
            "tasks": [
                {"id": 900000 + i, "data": {"text": text_for(rng, LABELS[i % 3])}}
                for i in range(10)
            ],
            "project": "1.1795919020",
            "label_config": CONFIG,
        }
        n_clients, per_client = 16, (20 if quick else 60)
        # one process per client (forked), so no client waits for another's GIL
        ctx = multiprocessing.get_context("fork")
        barrier = ctx.Barrier(n_clients + 1)
        queue = ctx.Queue()
        procs = [
            ctx.Process(
                target=_predict_client,
                args=(server.port, json.dumps(body), per_client, barrier, queue),
            )
            for _ in range(n_clients)
        ]
        for p in procs:
            p.start()
        barrier.wait()
        t0 = time.perf_counter()
        results = [queue.get(timeout=600) for _ in procs]
        for p in procs:
            p.join(30)
        latencies = [x for r in results for x in r[0]]
        errs = [sum(r[1] for r in results)]
        wall = time.perf_counter() - t0
        lat = np.array(latencies) * 1000
        p50, p99 = np.percentile(lat, 50), np.percentile(lat, 99)
        print(
            f"/predict, 10 tasks, {n_clients} concurrent clients, {len(lat)} requests: "
            f"p50 {p50:.1f} ms, p99 {p99:.1f} ms (goal <= 150), max {lat.max():.1f} ms, "
            f"errors {errs[0]}, {len(lat) / wall:.0f} req/s; model revision "
            f"{models[0]['revision'] if models else None}"
        )
        return {
            "ingest_eps": len(events) / ingest_s,
            "p50_ms": p50,
            "p99_ms": p99,
            "predict_errors": errs[0],
        }
    finally:
        server.stop()


def _predict_client(port: int, payload: str, n: int, barrier, queue) -> None:
    """One client process: warm up, wait for the others, send ``n`` requests, report latencies.
    http.client with keep-alive: a light client, so the figure is the server's."""

    def call(conn: http.client.HTTPConnection) -> bool:
        conn.request("POST", "/predict", body=payload, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status == 200 and len(json.loads(data)["results"]) == 10

    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for _ in range(3):  # warm-up: connection, model load in each worker
        call(conn)
    barrier.wait()
    latencies, errors = [], 0
    for _ in range(n):
        t = time.perf_counter()
        try:
            ok = call(conn)
        except (OSError, http.client.HTTPException, ValueError):
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            ok = False
        latencies.append(time.perf_counter() - t)
        errors += not ok
    conn.close()
    queue.put((latencies, errors))


class FakeLabelStudio:
    """Label Studio's task listing for one project, served over HTTP for the reconciliation."""

    def __init__(self, project: int, events: list[dict]) -> None:
        tasks: dict[int, dict] = {}
        for ev in events:
            a = ev["annotation"]
            t = tasks.setdefault(
                a["task"], {"id": a["task"], "data": ev["task"]["data"], "annotations": []}
            )
            t["annotations"].append(
                annotation_obj(
                    a["id"],
                    a["task"],
                    a["completed_by"],
                    a["result"][0]["value"]["choices"][0],
                    pid=project,
                    t=a["id"],
                )
            )
        self.tasks = [tasks[k] for k in sorted(tasks)]
        project_doc = {
            "id": project,
            "label_config": CONFIG,
            "model_version": "aqt",
            "title": "bench",
        }
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, obj, code=200):
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                if self.path.startswith(f"/api/projects/{project}/"):
                    return self._send(project_doc)
                if self.path.startswith("/api/tasks/?"):
                    q = dict(p.split("=", 1) for p in self.path.split("?", 1)[1].split("&"))
                    page, size = int(q.get("page", 1)), int(q.get("page_size", 100))
                    chunk = fake.tasks[(page - 1) * size : page * size]
                    return self._send({"tasks": chunk, "total": len(fake.tasks)})
                if self.path.startswith("/api/predictions/"):
                    return self._send([])
                return self._send({"detail": "not found"}, 404)

            def do_PATCH(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self._send({"id": 1})

            do_POST = do_PATCH

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def export(self) -> list[dict]:
        return self.tasks


def bench_sigkill(tmp: Path, quick: bool) -> dict:
    from aqt.agreement import agreement_report
    from aqt.formats import read_labelstudio_tasks

    data = tmp / "kill"
    data.mkdir()
    events = make_events(2, 300 if quick else 800, 500000, seed=2)
    ls = FakeLabelStudio(2, events)
    env = {"LABEL_STUDIO_URL": ls.url, "LABEL_STUDIO_API_KEY": "legacy-bench-token"}
    server = Server(data)  # without Label Studio: the database holds only what was ingested
    stop = threading.Event()
    result: dict = {}

    def burst():
        result["acked"], result["errors"] = post_events(server.url, events, 8, stop)

    sender = threading.Thread(target=burst)
    sender.start()
    time.sleep(0.3 if quick else 1.0)
    server.kill()  # SIGKILL the uvicorn parent and both workers mid-burst
    stop.set()
    sender.join()
    db = sqlite3.connect(data / "aqt-backend.sqlite3")
    stored = {r[0] for r in db.execute("SELECT annotation FROM annotations")}
    db.close()
    lost = set(result["acked"]) - stored
    print(
        f"SIGKILL during a burst: {len(result['acked'])} events acknowledged before the kill, "
        f"{len(stored)} stored, acknowledged but lost: {len(lost)}"
    )
    t0 = time.perf_counter()
    server = Server(data, env)  # reconciles with Label Studio at start-up
    up = time.perf_counter() - t0
    try:
        table = read_labelstudio_tasks(ls.export()).select_control("sentiment")
        expected = agreement_report(table).to_dict()["metrics"]
        got = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            d = httpx.get(f"{server.url}/agreement/2", timeout=30).json()
            got = d["controls"].get("sentiment", {}).get("metrics")
            if got == expected:
                break
            time.sleep(0.3)
        equal = got == expected
        print(
            f"restart + reconciliation: agreement equals the core on the export: {equal} "
            f"({up:.1f} s to start and import scikit-learn, equal {time.perf_counter() - t0 - up:.1f} s "
            f"later; {len(events)} annotations)"
        )
        return {"lost": len(lost), "equal": equal}
    finally:
        server.stop()
        ls.server.shutdown()


def bench_live_state(tmp: Path, quick: bool) -> None:
    from aqt_labelstudio.events import parse_webhook
    from aqt_labelstudio.live import LiveAgreement
    from aqt_labelstudio.service import Backend
    from aqt_labelstudio.settings import Settings

    backend = Backend(Settings(data_dir=tmp / "live", background=False))
    events = make_events(3, 2000 if quick else 7000, 900000, seed=3)
    t0 = time.perf_counter()
    for ev in events:
        backend.handle_event(parse_webhook(ev))
    per_event = (time.perf_counter() - t0) / len(events) * 1000
    fresh = LiveAgreement(backend.store)
    t0 = time.perf_counter()
    fresh.state(3, "sentiment").state.metrics()
    cold = time.perf_counter() - t0
    more = make_events(3, 40, 5000000, seed=4)
    for ev in more:
        backend.handle_event(parse_webhook(ev))
    t0 = time.perf_counter()
    fresh.state(3, "sentiment").state.metrics()
    warm = time.perf_counter() - t0
    print(
        f"live agreement, {len(events)} annotations: ingest {per_event:.2f} ms/event in-process; "
        f"state built from the table {cold * 1000:.0f} ms; catching up {len(more)} new events "
        f"+ metrics {warm * 1000:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller workloads")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="aqt-bench-") as tmp:
        tmp = Path(tmp)
        a = bench_predict_and_ingest(tmp, args.quick)
        k = bench_sigkill(tmp, args.quick)
        bench_live_state(tmp, args.quick)
    ok = (
        a["p99_ms"] <= 150
        and a["predict_errors"] == 0
        and a["ingest_eps"] >= 300
        and k["lost"] == 0
        and k["equal"]
    )
    print("goals met" if ok else "goals NOT met (see figures above)")


if __name__ == "__main__":
    main()
