"""The ``aqt.annotate`` recipe: full-scale annotation with continuous quality control."""
# ruff: noqa: UP045  (Optional keeps the typed arguments readable by every radicli version)

import json
import time
from pathlib import Path
from typing import Any, Optional

from aqt.errors import AqtError

from aqt_prodigy._compat import (
    Arg,
    copy_task,
    exclusion_router,
    fail,
    msg,
    recipe,
    session_name,
)

__all__ = ["ARGS", "QCStream", "annotate", "read_gold"]

ROUTES = ("copies", "router")

#: the recipe's arguments (their help is the --help text)
ARGS = {
    "dataset": Arg(help="Dataset to save the answers to"),
    "source": Arg(help="Data source (JSONL, JSON or CSV with a text column)"),
    "label": Arg("--label", "-l", help="Comma-separated labels, e.g. Positive,Negative,Neutral"),
    "annotators": Arg("--annotators", "-a", help="Comma-separated annotator names (sessions)"),
    "overlap": Arg("--overlap", "-o", help="Share of items a second annotator also labels"),
    "gold": Arg(
        "--gold", help="Gold items (JSONL with text and label), e.g. from aqt.calibrate on PASS"
    ),
    "gold_share": Arg("--gold-share", help="Share of served tasks that are gold items"),
    "guidelines": Arg(
        "--guidelines", "-g", help="Guidelines (required); their version is on every answer"
    ),
    "status": Arg("--status", help="Status file (JSON), default DATASET.status.json"),
    "route": Arg(
        "--route",
        help="How second copies avoid the first annotator: 'copies' (a copy is offered to "
        "whoever asks next, again if it was the same person) or 'router' (a task_router)",
    ),
    "batch_size": Arg("--batch-size", help="Questions per request"),
    "seed": Arg("--seed", help="Seed of the overlap choice"),
}


def read_gold(path: str) -> list[dict]:
    """Gold items: JSONL lines with ``text`` and ``label`` (``id`` optional)."""
    from aqt.edgecases import text_hash
    from aqt.errors import InputError, collect_problems

    p = Path(path)
    if not p.is_file():
        raise InputError(f"No gold file at {str(p)!r}.", fix="Pass the file aqt.calibrate wrote.")
    rows, problems = [], []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            problems.append(f"line {n}: not JSON ({exc.msg})")
            continue
        if not isinstance(row, dict) or not row.get("text") or not row.get("label"):
            problems.append(f"line {n}: needs text and label")
            continue
        rows.append({"id": str(row.get("id") or text_hash(row["text"])), **row})
    collect_problems(problems, f"Gold file {p}", "Give each line a text and a label.")
    return rows


class QCStream:
    """The task stream: re-annotation requests first, then a gold item every ``1/gold_share``
    tasks, then new source items. It raises ``StopIteration`` when nothing is waiting and yields
    again once the queue refills (Prodigy asks again on the next request)."""

    def __init__(self, tasks, monitor, gold_tasks, gold_share, done) -> None:
        self.tasks = tasks  # item id -> task
        self.order = list(tasks)
        self.monitor = monitor
        self.gold_tasks = gold_tasks
        self.gold_every = round(1 / gold_share) if gold_share and gold_tasks else 0
        self.done = done  # items already answered (a restart)
        self.pos = 0
        self.served = 0
        self.copies: dict[str, int] = {}
        self.n_gold = 0

    def __iter__(self) -> "QCStream":
        return self

    def _copy(self, item: str, task: dict, extra: dict) -> dict:
        n = self.copies[item] = self.copies.get(item, 1) + 1
        out = copy_task(task, f"aqt-copy-{n}")
        out["aqt"] = dict(item=item, copy=n, **extra)
        return out

    def __next__(self) -> dict:
        req = self.monitor.next_request()
        if req is not None:
            task = self.tasks[req["item"]]
            return self._copy(
                req["item"], task, {"reason": req["reason"], "exclude": req["exclude"]}
            )
        self.served += 1
        if self.gold_every and self.served % self.gold_every == 0:
            g = self.gold_tasks[self.n_gold % len(self.gold_tasks)]
            self.n_gold += 1
            return self._copy(g["aqt"]["item"], g, {"gold": True})
        while self.pos < len(self.order):
            item = self.order[self.pos]
            self.pos += 1
            if item not in self.done:
                return dict(self.tasks[item], aqt={"item": item, "copy": 1})
        self.served -= 1
        raise StopIteration


@recipe("aqt.annotate", **ARGS)
def annotate(
    dataset: str,
    source: str,
    label: Optional[str] = None,
    annotators: Optional[str] = None,
    overlap: float = 0.1,
    gold: Optional[str] = None,
    gold_share: float = 0.1,
    guidelines: Optional[str] = None,
    status: Optional[str] = None,
    route: str = "copies",
    batch_size: int = 10,
    seed: int = 0,
) -> dict:
    """Full-scale annotation with quality control: a share of items goes to a second annotator,
    gold items are interleaved, agreement with peers and gold is updated on every batch, drifting
    annotators are flagged, low-agreement items go back for re-annotation or to adjudication.
    Example: prodigy aqt.annotate reviews reviews.jsonl --label Positive,Negative,Neutral
    --annotators alice,bob,carol --overlap 0.1 --gold calib.gold.jsonl
    """
    try:
        return _components(
            dataset, source, label, annotators, float(overlap), gold, float(gold_share),
            guidelines, status, route, int(batch_size), int(seed),
        )  # fmt: skip
    except AqtError as exc:
        fail(exc)


def _components(dataset, source, label, annotators, overlap, gold, gold_share, guidelines,
                status, route, batch_size, seed) -> dict:  # fmt: skip
    from dataclasses import replace

    from aqt.config import Thresholds
    from aqt.edgecases import SourceItem, read_source_items
    from aqt.errors import UsageError
    from aqt.fileio import atomic_write_text
    from aqt.guidelines import read_guidelines
    from aqt.monitoring import QualityMonitor

    from aqt_prodigy._compat import connect
    from aqt_prodigy.calibrate import answer_value, make_task, split_names

    if route not in ROUTES:
        raise UsageError(f"--route {route!r} is unknown.", fix=f"Use one of {', '.join(ROUTES)}.")
    if not 0 <= overlap <= 1 or not 0 <= gold_share < 1:
        raise UsageError(
            f"--overlap {overlap} and --gold-share {gold_share} must be shares in [0, 1).",
            fix="Use e.g. --overlap 0.1 --gold-share 0.1.",
        )
    labels = split_names(label, "label")
    names = split_names(annotators, "annotators")
    if not guidelines:
        raise UsageError(
            "--guidelines is required: every answer carries the guideline version.",
            fix="Pass --guidelines guidelines.md (the file the calibration passed with).",
        )
    guide = read_guidelines(guidelines)
    gversion = guide.version.id
    items = read_source_items(source)
    tasks = {it.id: make_task(it, labels, "choice", gversion) for it in items}
    gold_rows = read_gold(gold) if gold else []
    bad = sorted({g["label"] for g in gold_rows} - set(labels))
    if bad:
        raise UsageError(f"Gold labels {bad} are not in --label.", fix="Use the same label set.")
    gold_tasks = []
    for g in gold_rows:
        gid = f"gold:{g['id']}"
        t = make_task(SourceItem(gid, g["text"], {}), labels, "choice", gversion)
        t["aqt"] = {"item": gid}
        gold_tasks.append(t)
    monitor = QualityMonitor(
        names,
        replace(Thresholds(), overlap_share=overlap),
        gold={f"gold:{g['id']}": g["label"] for g in gold_rows},
        categories=labels,
        seed=seed,
    )
    status_path = Path(status or f"{dataset}.status.json")
    started = int(time.time())

    def observe(eg: dict) -> list[str]:
        info = eg.get("aqt") or {}
        item = info.get("item")
        value = answer_value(eg, "choice")
        if item is None:
            return []
        if value is None:
            monitor.release(str(item))  # skipped: offer the request again
            return []
        name = session_name(eg.get("_annotator_id") or eg.get("_session_id"), dataset)
        return monitor.observe(str(item), name, value, gold=bool(info.get("gold")))

    # a restart: replay what is stored, so agreement, flags and the queue carry on
    done: set[str] = set()
    db = connect()
    if dataset in db:
        for eg in db.get_dataset_examples(dataset):
            observe(eg)
            if (eg.get("aqt") or {}).get("item") is not None:
                done.add(str(eg["aqt"]["item"]))
    stream = QCStream(tasks, monitor, gold_tasks, gold_share, done)

    def write_status() -> dict:
        s = monitor.status()
        s.update(dataset=dataset, guideline_version=gversion, started=started,
                 updated=int(time.time()))  # fmt: skip
        atomic_write_text(status_path, json.dumps(s, indent=2, ensure_ascii=False) + "\n")
        return s

    def validate_answer(eg: dict) -> None:
        name = session_name(eg.get("_session_id"), dataset)
        if name not in names:
            raise ValueError(
                f"Session '{name}' is not one of the annotators ({', '.join(names)}); "
                "open the app with ?session=NAME using your name."
            )
        if eg.get("answer") == "accept" and len(eg.get("accept") or []) != 1:
            raise ValueError("Choose exactly one label.")

    def update(answers: list[dict]) -> dict:
        for eg in answers:
            for event in observe(eg):
                kind, _, who = event.partition(":")
                if kind == "flagged":
                    msg.warn(f"aqt: {who} flagged", monitor.flags[who]["reason"])
        return write_status()

    def before_db(answers: list[dict]) -> list[dict]:
        for eg in answers:
            meta = dict(eg.get("meta") or {})
            meta["guideline_version"] = gversion
            meta["guideline_hash"] = guide.version.hash
            eg["meta"] = meta
        return answers

    def on_exit(ctrl: Any) -> None:
        s = write_status()
        msg.info(
            f"{s['items']} items, {s['double_annotated']} double-annotated, "
            f"{len(s['queue'])} waiting for re-annotation, {len(s['adjudication'])} for "
            f"adjudication; flagged: {', '.join(s['flagged']) or 'none'} (status: {status_path})"
        )

    write_status()
    components: dict[str, Any] = {
        "dataset": dataset,
        "stream": stream,
        "view_id": "choice",
        "config": {
            "feed_overlap": False,
            "choice_style": "single",
            "batch_size": batch_size,
            "exclude_by": "task",
        },
        "validate_answer": validate_answer,
        "update": update,
        "before_db": before_db,
        "on_exit": on_exit,
    }
    if route == "router":
        components["task_router"] = exclusion_router(
            names, lambda task: (task.get("aqt") or {}).get("exclude") or []
        )
    return components
