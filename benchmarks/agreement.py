"""Agreement engine speed and memory, printed side by side with the anchors of issue 3.

Data (as in the reference notes): N items x 5 annotators, V categories, each annotator copies a
latent true label with p = 0.6, else uniform; 20% of cells missing; ``default_rng(0)``.

Every measurement runs in its own process (``--worker NAME``) that loads the inputs from ``.npy``
files, so its memory is its own. ``extra`` is the memory the first call needs on top of the
loaded input: the larger of the tracemalloc peak (numpy allocations) and the growth of the
process's maximum resident set (which also sees the compiled kernel's allocations). Times are the
median of later calls, wall clock and CPU (the CPU figure is steadier on a shared machine).

Usage::

    python benchmarks/agreement.py            # 1M items (about 2 minutes)
    python benchmarks/agreement.py --quick    # 100k items, small JSONL (seconds)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA_DIR: str | None = None


def make_codes(n: int, r: int = 5, v: int = 10, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    truth = rng.integers(0, v, n)
    X = np.where(rng.random((n, r)) < 0.6, truth[:, None], rng.integers(0, v, (n, r))).astype(
        np.int8
    )
    X[rng.random((n, r)) < 0.2] = -1
    return X


def measure(fn, repeat: int, warm=None) -> dict:
    """Memory of the first call (after ``warm`` loads compiled code on tiny data), then times."""
    if warm is not None:
        warm()
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    tracemalloc.start()
    value = fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    walls, cpus = [], []
    for _ in range(repeat):
        w0, c0 = time.perf_counter(), time.process_time()
        value = fn()
        walls.append(time.perf_counter() - w0)
        cpus.append(time.process_time() - c0)
    return {
        "wall": statistics.median(walls),
        "wall_min": min(walls),
        "cpu": statistics.median(cpus),
        "peak_mb": peak / 2**20,
        "rss_mb": (rss1 - rss0) / 1024,
        "extra_mb": max(peak / 2**20, (rss1 - rss0) / 1024),
        "value": value,
    }


def worker(name: str, n: int, v: int, repeat: int, path: str | None) -> dict:
    if name == "state":
        return state_worker(n, repeat)
    if name == "cli":
        return cli_worker(path)
    # the parent wrote the inputs; np.load allocates only the arrays, so the process's maximum
    # resident set before the call is the data itself
    X = np.load(os.path.join(path, f"codes_{n}_{v}.npy"))
    tiny_X = X[:1000].copy()
    if name == "krippendorff":
        import krippendorff

        data = np.load(os.path.join(path, f"data_{n}_{v}.npy"))
        tiny = data[:, :1000].copy()

        def fn(d=data):
            return krippendorff.alpha(d, level_of_measurement="nominal", value_domain=range(v))

        warm = lambda: fn(tiny)
    elif name.startswith("ours_alpha"):
        from aqt.agreement import _kernel, krippendorff_alpha

        data = np.load(os.path.join(path, f"data_{n}_{v}.npy"))
        tiny = data[:, :1000].copy()

        def fn(d=data):
            return krippendorff_alpha(d, "nominal")

        def warm():
            saved, _kernel.MIN_CELLS = _kernel.MIN_CELLS, 0
            fn(tiny)
            _kernel.MIN_CELLS = saved

    elif name.startswith("ours_all"):
        from aqt.agreement import _kernel
        from aqt.agreement.engine import agreement_from_codes

        labels = [str(k) for k in range(v)]
        anns = [f"a{g}" for g in range(X.shape[1])]

        def fn(x=X):
            out = agreement_from_codes(x, labels, anns)
            return out["metrics"]["krippendorff_alpha"][0]

        def warm():
            saved, _kernel.MIN_CELLS = _kernel.MIN_CELLS, 0
            fn(tiny_X)
            _kernel.MIN_CELLS = saved

    else:
        raise SystemExit(f"unknown worker {name}")
    return measure(fn, repeat, warm)


def state_worker(n_items: int, repeat: int) -> dict:
    from aqt.agreement import AgreementState

    rng = np.random.default_rng(0)
    s = AgreementState()
    labels = [str(k) for k in range(10)]
    for i in range(n_items):
        for a in range(5):
            s.add(str(i), f"a{a}", labels[rng.integers(0, 10)])
    ops = [
        (str(rng.integers(0, n_items)), f"a{rng.integers(0, 5)}", labels[rng.integers(0, 10)])
        for _ in range(20000)
    ]
    t0, c0 = time.perf_counter(), time.process_time()
    for item, ann, lab in ops:
        s.add(item, ann, lab)
    add_us = (time.perf_counter() - t0) / len(ops) * 1e6
    add_cpu = (time.process_time() - c0) / len(ops) * 1e6
    removes = list(dict.fromkeys((item, ann) for item, ann, _ in ops))[:5000]
    t0, c0 = time.perf_counter(), time.process_time()
    for item, ann in removes:
        s.remove(item, ann)
    remove_us = (time.perf_counter() - t0) / len(removes) * 1e6
    remove_cpu = (time.process_time() - c0) / len(removes) * 1e6
    reads, read_cpu = [], []
    for k in range(max(repeat, 20)):
        s.add(str(k), "a0", labels[k % 10])  # invalidate the cached domain, as a live stream does
        t0, c0 = time.perf_counter(), time.process_time()
        s.metrics()
        reads.append(time.perf_counter() - t0)
        read_cpu.append(time.process_time() - c0)
    return {
        "add_us": add_us,
        "add_cpu_us": add_cpu,
        "remove_us": remove_us,
        "remove_cpu_us": remove_cpu,
        "metrics_ms": statistics.median(reads) * 1e3,
        "metrics_cpu_ms": statistics.median(read_cpu) * 1e3,
        "value": s.metrics()["krippendorff_alpha"]["value"],
    }


def cli_worker(path: str) -> dict:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "aqt"), "agreement", path, "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    ok = proc.returncode == 0
    value = json.loads(proc.stdout)["metrics"]["krippendorff_alpha"]["value"] if ok else None
    return {"wall": wall, "value": value, "ok": ok, "stderr": proc.stderr[-300:]}


def run(name: str, n: int, v: int = 10, repeat: int = 5, path: str | None = None, env=None) -> dict:
    path = path or DATA_DIR
    cmd = [sys.executable, __file__, "--worker", name, "--items", str(n), "--cats", str(v)]
    cmd += ["--repeat", str(repeat)] + (["--path", path] if path else [])
    proc = subprocess.run(
        cmd, capture_output=True, text=True, check=False, env={**os.environ, **(env or {})}
    )
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return json.loads(proc.stdout)


def write_jsonl(path: str, n_lines: int) -> None:
    n_items = int(n_lines / (5 * 0.8)) + 1
    X = make_codes(n_items)
    with open(path, "w") as fh:
        written = 0
        for i in range(n_items):
            row = X[i]
            for g in range(5):
                if row[g] >= 0 and written < n_lines:
                    fh.write(f'{{"item": "{i}", "annotator": "a{g}", "label": "{int(row[g])}"}}\n')
                    written += 1


def fmt(res: dict, key: str = "wall") -> str:
    if "error" in res:
        return f"error: {res['error']}"
    return f"{res[key]:.3f} s (cpu {res['cpu']:.3f} s, min wall {res['wall_min']:.3f} s)"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="small sizes (100k items, 200k lines)")
    ap.add_argument("--worker")
    ap.add_argument("--items", type=int)
    ap.add_argument("--cats", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--path")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.items, args.cats, args.repeat, args.path)))
        return
    n = 100_000 if args.quick else 1_000_000
    lines = 200_000 if args.quick else 5_000_000
    rep = 3 if args.quick else 5
    tmpdir = tempfile.mkdtemp(prefix="aqt-bench-")
    for v in (10, 60):
        X = make_codes(n, v=v)
        np.save(os.path.join(tmpdir, f"codes_{n}_{v}.npy"), X)
        np.save(
            os.path.join(tmpdir, f"data_{n}_{v}.npy"),
            np.where(X >= 0, X, np.nan).T.astype(np.float64),
        )
        del X
    global DATA_DIR
    DATA_DIR = tmpdir
    print(f"Agreement benchmark: {n:,} items x 5 annotators, 10 categories, 20% missing")
    print(f"(load average now {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)\n")

    kr = run("krippendorff", n, repeat=rep)
    ours = run("ours_alpha", n, repeat=rep, env={"AQT_KERNEL": "1"})
    ours_np = run("ours_alpha", n, repeat=rep, env={"AQT_KERNEL": "0"})
    print("Krippendorff's alpha, nominal (goal: >= 10x faster, <= 1/8 of the extra memory, 1e-9)")
    print(f"  krippendorff 0.9.0     {fmt(kr)}  extra {kr.get('extra_mb', 0):.0f} MB")
    print(f"  aqt (compiled pass)    {fmt(ours)}  extra {ours.get('extra_mb', 0):.0f} MB")
    print(f"  aqt (numpy only)       {fmt(ours_np)}  extra {ours_np.get('extra_mb', 0):.0f} MB")
    if "error" not in kr and "error" not in ours:
        print(
            f"  speed-up {kr['wall'] / ours['wall']:.1f}x wall, {kr['cpu'] / ours['cpu']:.1f}x cpu "
            f"(numpy only {kr['wall'] / ours_np['wall']:.1f}x wall, {kr['cpu'] / ours_np['cpu']:.1f}x cpu); "
            f"extra memory {ours['extra_mb'] / kr['extra_mb']:.3f} of krippendorff's "
            f"(numpy only {ours_np['extra_mb'] / kr['extra_mb']:.3f}); "
            f"|difference| {abs(kr['value'] - ours['value']):.1e} / {abs(kr['value'] - ours_np['value']):.1e}"
        )
    o60 = run("ours_alpha_60", n, v=60, repeat=max(2, rep - 2), env={"AQT_KERNEL": "1"})
    o60np = run("ours_alpha_60", n, v=60, repeat=max(2, rep - 2), env={"AQT_KERNEL": "0"})
    print(f"  aqt, 60 categories     {fmt(o60)}  extra {o60.get('extra_mb', 0):.0f} MB")
    print(f"  same, numpy only       {fmt(o60np)}  extra {o60np.get('extra_mb', 0):.0f} MB")
    print("  (krippendorff 0.9.0 at 60 categories would need about N * 60^2 * 8 bytes: not run)")
    all60 = run("ours_all_60", n, v=60, repeat=max(2, rep - 2), env={"AQT_KERNEL": "0"})
    print(
        f"  everything, 60 categories, numpy only {fmt(all60)}  extra {all60.get('extra_mb', 0):.0f} MB"
    )

    allr = run("ours_all", n, repeat=rep, env={"AQT_KERNEL": "1"})
    all_np = run("ours_all", n, repeat=rep, env={"AQT_KERNEL": "0"})
    print(
        "\nAll nine coefficients + per label + pairwise + worst items, from the codes (goal <= 1 s)"
    )
    print(f"  aqt (compiled pass)    {fmt(allr)}  extra {allr.get('extra_mb', 0):.0f} MB")
    print(f"  aqt (numpy only)       {fmt(all_np)}  extra {all_np.get('extra_mb', 0):.0f} MB")

    st = run("state", 50_000, repeat=rep)
    print(
        "\nAgreementState at 50k items x 5 annotators (goal: <= 50 us per add/remove, <= 2 ms read)"
    )
    if "error" in st:
        print(f"  error: {st['error']}")
    else:
        print(
            f"  add (replace) {st['add_us']:.1f} us (cpu {st['add_cpu_us']:.1f})   "
            f"remove {st['remove_us']:.1f} us (cpu {st['remove_cpu_us']:.1f})   "
            f"metrics() {st['metrics_ms']:.2f} ms (cpu {st['metrics_cpu_ms']:.2f})"
        )

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "judgements.jsonl")
        write_jsonl(path, lines)
        cli = run("cli", 0, path=path)
        print(f"\n`aqt agreement` on a {lines:,}-line JSONL file (goal <= 15 s at 5M lines)")
        if "error" in cli or not cli.get("ok"):
            print(f"  failed: {cli.get('error') or cli.get('stderr')}")
        else:
            print(f"  {cli['wall']:.2f} s wall (alpha {cli['value']:.6f})")
    shutil.rmtree(tmpdir, ignore_errors=True)


if __name__ == "__main__":
    main()
