"""The ``aqt.calibrate`` recipe: every named annotator labels the same calibration batch; on exit,
the calibration gate."""
# ruff: noqa: UP045  (Optional keeps the typed arguments readable by every radicli version)

from pathlib import Path
from typing import Any, Optional

from aqt.errors import AqtError

from aqt_prodigy._compat import (
    Arg,
    allow_sessions,
    fail,
    msg,
    recipe,
    session_name,
    set_hashes,
)

__all__ = ["ARGS", "VIEWS", "answer_value", "calibrate", "make_task", "split_names"]

#: --view -> Prodigy interface
VIEWS = {"choice": "choice", "binary": "classification", "spans": "spans_manual"}

#: the recipe's arguments (their help is the --help text)
ARGS = {
    "dataset": Arg(help="Dataset to save the calibration answers to"),
    "source": Arg(
        help="Data source (JSONL, JSON or CSV with a text column) to draw the batch from"
    ),
    "label": Arg("--label", "-l", help="Comma-separated labels, e.g. Positive,Negative,Neutral"),
    "annotators": Arg(
        "--annotators", "-a", help="Comma-separated annotator names (their ?session=NAME)"
    ),
    "size": Arg("--size", "-n", help="Items in the batch (50-100 recommended)"),
    "guidelines": Arg(
        "--guidelines", "-g", help="Guidelines Markdown; its version is stamped on every answer"
    ),
    "edge_cases": Arg(
        "--edge-cases", "-e", help="Edge-case catalogue; cases with candidates join the batch"
    ),
    "threshold": Arg("--threshold", "-t", help="Alpha the batch must reach (default 0.667)"),
    "view": Arg("--view", "-v", help="Interface: choice, binary (one label) or spans"),
    "seed": Arg("--seed", help="Seed of the batch selection"),
    "strata": Arg(
        "--strata", help="Stratify by 'length', 'source' or a field (meta.genre, a prediction)"
    ),
    "out_dir": Arg(
        "--out-dir",
        help="Directory for the manifest, gate report, discussion sheet and gold items (default: .)",
    ),
}


def split_names(value: Any, what: str) -> list[str]:
    """``"a,b"`` (or a list) -> ``["a", "b"]``; empty or repeated names are usage errors."""
    from aqt.errors import UsageError

    if value is None:
        raise UsageError(f"--{what} is required.", fix=f"Pass --{what} a,b,c.")
    parts = value if isinstance(value, list) else str(value).split(",")
    names = [str(p).strip() for p in parts if str(p).strip()]
    if not names or len(set(names)) != len(names):
        raise UsageError(
            f"--{what} {value!r} is empty or repeats a name.",
            fix=f"Give each once, comma-separated, e.g. --{what} a,b,c.",
        )
    return names


def make_task(item: Any, labels: list[str], view: str, gversion: Optional[str]) -> dict:
    """The Prodigy task of a source item for ``view`` (``choice``, ``binary`` or ``spans``)."""
    meta = {k: v for k, v in dict(item.meta).items() if k != "meta" and not isinstance(v, dict)}
    meta.update(
        dict(item.meta.get("meta") or {}) if isinstance(item.meta.get("meta"), dict) else {}
    )
    meta["aqt_item"] = item.id
    if gversion:
        meta["guideline_version"] = gversion
    task: dict[str, Any] = {"text": item.text, "meta": meta}
    if view == "choice":
        task["options"] = [{"id": lab, "text": lab} for lab in labels]
    elif view == "binary":
        task["label"] = labels[0]
    else:
        task["tokens"] = _tokens(item.text)
    return set_hashes(task)


def _tokens(text: str) -> list[dict]:
    import re

    out = []
    for n, m in enumerate(re.finditer(r"\w+|[^\w\s]", text)):
        ws = m.end() < len(text) and text[m.end()].isspace()
        out.append({"text": m.group(), "start": m.start(), "end": m.end(), "id": n, "ws": ws})
    return out


def answer_value(eg: dict, view: str) -> Optional[str]:
    """The label of an accepted choice answer, the answer of a binary one, else None."""
    if view == "choice":
        accept = eg.get("accept") or []
        return str(accept[0]) if eg.get("answer") == "accept" and len(accept) == 1 else None
    if view == "binary":
        return str(eg["answer"]) if eg.get("answer") in ("accept", "reject") else None
    return None


@recipe("aqt.calibrate", **ARGS)
def calibrate(
    dataset: str,
    source: str,
    label: Optional[str] = None,
    annotators: Optional[str] = None,
    size: int = 80,
    guidelines: Optional[str] = None,
    edge_cases: Optional[str] = None,
    threshold: float = 0.667,
    view: str = "choice",
    seed: int = 0,
    strata: Optional[str] = None,
    out_dir: Optional[str] = None,
) -> dict:
    """Calibrate before full-scale work: every named annotator labels the same seeded, stratified
    batch (edge cases included), each answer stamped with the guideline version; on exit the gate
    (Krippendorff's alpha overall and per label), the discussion sheet and, on PASS, gold items.
    Example: prodigy aqt.calibrate calib reviews.jsonl --label Positive,Negative,Neutral
    --annotators alice,bob,carol --size 80 --guidelines guidelines.md
    """
    try:
        return _components(
            dataset, source, label, annotators, int(size), guidelines, edge_cases,
            float(threshold), view, int(seed), strata, out_dir,
        )  # fmt: skip
    except AqtError as exc:
        fail(exc)


def _components(
    dataset, source, label, annotators, size, guidelines, edge_cases, threshold, view, seed,
    strata, out_dir,
) -> dict:  # fmt: skip
    from aqt.calibration import batch_items, read_manifest, select_calibration_batch, write_manifest
    from aqt.edgecases import load_catalogue, read_source_items
    from aqt.errors import UsageError
    from aqt.guidelines import read_guidelines

    if view not in VIEWS:
        raise UsageError(f"--view {view!r} is unknown.", fix=f"Use one of {', '.join(VIEWS)}.")
    labels = split_names(label, "label")
    names = split_names(annotators, "annotators")
    if view == "binary" and len(labels) != 1:
        raise UsageError(
            f"--view binary asks one yes/no question; got {len(labels)} labels.",
            fix="Give one --label, or use --view choice.",
        )
    if len(names) < 2:
        raise UsageError("Calibration needs at least two annotators.", fix="Name them all.")
    if not guidelines:
        raise UsageError(
            "--guidelines is required: every calibration answer carries the guideline version.",
            fix="Pass --guidelines guidelines.md.",
        )
    allowed = allow_sessions(names)
    if sorted(allowed) != sorted(names):
        raise UsageError(
            f"PRODIGY_ALLOWED_SESSIONS is {','.join(allowed)!r}, not the named annotators.",
            fix=f"Unset it or set it to {','.join(names)}.",
        )
    guide = read_guidelines(guidelines)
    gversion = guide.version.id
    catalogue = load_catalogue(edge_cases, labels=labels) if edge_cases else None
    items = read_source_items(source)
    folder = Path(out_dir or ".")
    manifest_path = folder / f"{dataset}.manifest.json"
    if manifest_path.exists():  # a restart serves the same batch
        manifest = read_manifest(manifest_path)
        batch = batch_items(items, manifest)
        msg.info(f"Resuming batch {manifest.batch_id} from {manifest_path}")
    else:
        selected = select_calibration_batch(
            items, size, seed, strata=strata, edge_cases=catalogue,
            guideline_version=gversion, source=Path(source).name,
        )  # fmt: skip
        manifest, batch = selected.manifest, list(selected.items)
        write_manifest(manifest, manifest_path)
        for f in selected.findings:
            msg.warn(f.message, f.fix)
        msg.good(f"Batch {manifest.batch_id}: {len(batch)} items; manifest {manifest_path}")
    tasks = [make_task(it, labels, view, gversion) for it in batch]
    done: dict[str, set] = {n: set() for n in names}
    total = len(tasks)

    def validate_answer(eg: dict) -> None:
        name = session_name(eg.get("_session_id"), dataset)
        if name not in names:
            raise ValueError(
                f"Session '{name}' is not one of this calibration's annotators "
                f"({', '.join(names)}). Open the app with ?session=NAME using your name."
            )
        if view == "choice" and eg.get("answer") == "accept" and len(eg.get("accept") or []) != 1:
            raise ValueError("Choose exactly one label.")

    def update(answers: list[dict]) -> None:
        for eg in answers:
            name = session_name(eg.get("_session_id"), dataset)
            if name in done:
                done[name].add(eg.get("_input_hash"))

    def before_db(answers: list[dict]) -> list[dict]:
        for eg in answers:
            meta = dict(eg.get("meta") or {})
            meta["guideline_version"] = gversion
            meta["guideline_hash"] = guide.version.hash
            meta["calibration_batch"] = manifest.batch_id
            eg["meta"] = meta
        return answers

    def progress(ctrl: Any, session: Any, answers: Any, update_return: Any = None) -> float:
        name = session_name(getattr(session, "id", None), dataset)
        return len(done.get(name, ())) / total if total else 1.0

    def on_exit(ctrl: Any) -> None:
        _report_gate(
            ctrl.db.get_dataset_examples(dataset), dataset, manifest, names, threshold,
            catalogue, guide, batch, folder, view,
        )  # fmt: skip

    return {
        "dataset": dataset,
        "stream": iter(tasks),
        "view_id": VIEWS[view],
        "config": {
            "feed_overlap": True,
            "choice_style": "single",
            "labels": labels if view == "spans" else [],
            "total_examples_target": total,
            "batch_size": 10,
        },
        "validate_answer": validate_answer,
        "update": update,
        "before_db": before_db,
        "progress": progress,
        "on_exit": on_exit,
    }


def _report_gate(examples, dataset, manifest, names, threshold, catalogue, guide, batch, folder,
                 view) -> Any:  # fmt: skip
    """Print the gate and write its JSON, the discussion sheet and (PASS) the gold items."""
    import json

    from aqt.calibration_gate import calibration_gate
    from aqt.calibration_report import discussion_sheet, render_gate_json, render_gate_text
    from aqt.fileio import atomic_write_text

    from aqt_prodigy._common import to_table

    examples = [eg for eg in examples if eg.get("_view_id") == VIEWS[view]]
    if not examples:
        msg.warn("No calibration answers yet; the gate runs when the server stops.")
        return None
    result = calibration_gate(
        to_table(examples, dataset), manifest, names, edge_cases=catalogue, guidelines=guide,
        threshold=threshold, items=batch,
    )  # fmt: skip
    d = result.to_dict()
    atomic_write_text(folder / f"{dataset}.gate.json", render_gate_json(d) + "\n")
    atomic_write_text(folder / f"{dataset}.sheet.md", discussion_sheet(d))
    per = ", ".join(f"{u['annotator']} {u['done']}/{u['total']}" for u in d["unfinished"])
    if per:
        msg.info(f"Not finished: {per}")
    print(render_gate_text(d), end="")
    if result.status == "PASS":
        gold = folder / f"{dataset}.gold.jsonl"
        atomic_write_text(
            gold, "".join(json.dumps(g, ensure_ascii=False) + "\n" for g in d["gold"])
        )
        msg.good(f"Calibration gate PASS; gold items in {gold}", result.next_step)
    else:
        msg.fail("Calibration gate FAIL", result.next_step)
    return result
