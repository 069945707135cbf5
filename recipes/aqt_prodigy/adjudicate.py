"""The ``aqt.adjudicate`` recipe: a senior annotator gives the final answer per item."""
# ruff: noqa: UP045  (Optional keeps the typed arguments readable by every radicli version)

import time
from pathlib import Path
from typing import Any, Optional

from aqt.errors import AqtError

from aqt_prodigy._compat import (
    REASON_FIELD,
    REVIEW_LAYOUTS,
    Arg,
    connect,
    fail,
    msg,
    recipe,
    review_view,
    session_name,
)

__all__ = ["AUTO_SESSION", "adjudicate"]

#: session name of decisions written by --auto-accept (session id ``"{OUT_DATASET}-auto"``)
AUTO_SESSION = "auto"
MANUAL_VIEWS = ("choice", "ner_manual", "spans_manual")


#: the recipe's arguments (their help is the --help text)
ARGS = {
    "out_dataset": Arg(help="Dataset to save the final answers to (one per item)"),
    "in_dataset": Arg(help="Dataset holding every annotator's answers (choice or spans tasks)"),
    "min_annotators": Arg(
        "--min-annotators",
        "-m",
        help="Only items answered by at least this many annotators (others wait)",
    ),
    "only_disagreements": Arg(
        "--only-disagreements", "-D", help="Leave out items every annotator answered the same way"
    ),
    "auto_accept": Arg(
        "--auto-accept",
        "-A",
        help="Write unanimous items straight to the output "
        "dataset and the log as decisions by 'auto'",
    ),
    "log": Arg(
        "--log",
        help="Append-only adjudication log (JSONL); default "
        "OUT_DATASET.adjudication.jsonl in the current directory",
    ),
    "guidelines": Arg(
        "--guidelines",
        "-g",
        help="Guidelines file; its version (a 'version: X' line, "
        "else a content hash) is stored with every decision",
    ),
    "layout": Arg(
        "--layout",
        help="'blocks' (review plus reason and guideline-note fields) or "
        "'review' (the bare review interface, no text fields)",
    ),
}


@recipe("aqt.adjudicate", **ARGS)
def adjudicate(
    out_dataset: str,
    in_dataset: str,
    min_annotators: int = 2,
    only_disagreements: bool = False,
    auto_accept: bool = False,
    log: Optional[str] = None,
    guidelines: Optional[str] = None,
    layout: str = "blocks",
) -> dict:
    """Adjudicate a dataset: see each item with every annotator's answer (Prodigy's review
    interface), pick or edit the final answer, and give a reason and a guideline note. Decisions
    go to OUT_DATASET and to an append-only log; a restart resumes where it stopped. Example:
    prodigy aqt.adjudicate sentiment_final sentiment --only-disagreements --auto-accept
    """
    try:
        return _components(
            out_dataset,
            in_dataset,
            int(min_annotators),
            only_disagreements,
            auto_accept,
            log,
            guidelines,
            layout,
        )
    except AqtError as exc:
        fail(exc)


def _components(
    out_dataset: str,
    in_dataset: str,
    min_annotators: int,
    only_disagreements: bool,
    auto_accept: bool,
    log_path: Optional[str],
    guidelines: Optional[str],
    layout: str,
) -> dict:
    from aqt.adjudication import (
        AdjudicationLog,
        Decision,
        auto_decisions,
        build_review_items,
        pending_items,
    )
    from aqt.errors import InputError, UsageError
    from aqt.guidelines import guideline_version_of

    from aqt_prodigy._common import check_one_view, load_examples, to_table
    from aqt_prodigy._review import decision_from_answer, example_from_decision, review_task

    if layout not in REVIEW_LAYOUTS:
        raise UsageError(
            f"--layout {layout!r} is unknown.", fix=f"Use one of {', '.join(REVIEW_LAYOUTS)}."
        )
    if out_dataset == in_dataset:
        raise UsageError(
            f"OUT_DATASET and IN_DATASET are both {in_dataset!r}.",
            fix=f"Save the decisions to a new dataset, e.g. {in_dataset}_adjudicated.",
        )
    examples = check_one_view(load_examples(in_dataset), in_dataset)
    view = str(examples[0].get("_view_id") or "")
    if view not in MANUAL_VIEWS and not any("options" in eg for eg in examples):
        raise InputError(
            f"Dataset {in_dataset!r} was annotated with the {view!r} interface; "
            f"aqt.adjudicate handles choice and spans tasks ({', '.join(MANUAL_VIEWS)}).",
            fix="Use Prodigy's built-in review recipe for binary interfaces.",
        )
    view = view or "choice"
    table = to_table(examples, in_dataset)
    items = build_review_items(
        table, min_annotators=min_annotators, only_disagreements=only_disagreements
    )
    by_item = {r.item: r for r in items}
    gversion = guideline_version_of(guidelines) if guidelines else None
    log = AdjudicationLog(log_path or Path.cwd() / f"{out_dataset}.adjudication.jsonl")
    logged = log.read()

    db = connect()
    db.add_dataset(out_dataset)
    stored = db.get_dataset_examples(out_dataset)
    in_out = {
        str(eg.get("aqt", {}).get("item")) for eg in stored if isinstance(eg.get("aqt"), dict)
    }
    groups: dict[str, list[dict]] = {}
    for eg in examples:
        groups.setdefault(str(eg.get("_input_hash")), []).append(eg)

    # A decision logged but not saved (a stop between the two writes) is saved now.
    repair = [d for d in logged if d.item not in in_out and d.item in groups]
    if repair:
        db.add_examples(
            [
                example_from_decision(d, groups[d.item], in_dataset, out_dataset, view)
                for d in repair
            ],
            datasets=[out_dataset],
        )
    decided = {d.item for d in logged} | in_out

    if auto_accept:
        now = int(time.time())
        auto = auto_decisions(
            pending_items(items, decided),
            time=now,
            guideline_version=gversion,
            min_annotators=min_annotators,
        )
        for d in auto:
            log.append(d)
        db.add_examples(
            [
                example_from_decision(
                    d, groups[d.item], in_dataset, out_dataset, view, session=AUTO_SESSION
                )
                for d in auto
            ],
            datasets=[out_dataset],
        )
        decided |= {d.item for d in auto}
        if auto:
            msg.good(f"Auto-accepted {len(auto)} unanimous item(s) into '{out_dataset}'")

    todo = pending_items(items, decided)
    labels = sorted(
        {s.label for r in items if r.kind == "spans" for v in r.versions for s in v.value}
    )
    view_id, config = review_view(layout, labels)
    config["feed_overlap"] = False  # with several adjudicators, each item goes to one
    msg.info(f"{len(todo)} item(s) to adjudicate, {len(decided)} already decided (log: {log.path})")

    def stream():
        for r in todo:
            yield review_task(r, groups[r.item], in_dataset, view, gversion)

    def validate_answer(eg: dict) -> None:
        if eg.get("answer") == "reject" and not str(eg.get(REASON_FIELD) or "").strip():
            raise ValueError("Rejecting drops the item from the final data: give a reason.")
        if eg.get("answer") == "accept" and eg.get("view_id", view) == "choice":
            chosen = eg.get("accept") or []
            style = (eg.get("config") or {}).get("choice_style", "single")
            if style == "single" and len(chosen) != 1:
                raise ValueError(f"Choose exactly one option (chosen: {len(chosen)}).")

    def before_db(answers: list[dict]) -> list[dict]:
        for eg in answers:
            if eg.get("answer") not in ("accept", "reject"):
                continue  # ignore: stays in the dataset as skipped, not a decision
            item = str(eg.get("aqt", {}).get("item", eg.get("_input_hash")))
            adjudicator = session_name(
                eg.get("_annotator_id") or eg.get("_session_id"), out_dataset
            )
            decision: Decision = decision_from_answer(
                eg, by_item[item], adjudicator, int(eg.get("_timestamp") or time.time()), gversion
            )
            log.append(decision)
            eg["aqt"] = dict(
                eg.get("aqt") or {},
                item=item,
                adjudicator=adjudicator,
                reason=decision.reason,
                guideline_note=decision.guideline_note,
                guideline_version=gversion,
            )
            eg["_view_id"] = view  # the export reads like an ordinary dataset of final answers
        return answers

    def on_exit(ctrl: Any) -> None:
        final = {
            str(eg["aqt"].get("item"))
            for eg in ctrl.db.get_dataset_examples(out_dataset)
            if isinstance(eg.get("aqt"), dict) and eg.get("answer") in ("accept", "reject")
        }
        left = [r.item for r in items if r.item not in final]
        msg.info(f"{len(final)} item(s) decided in '{out_dataset}', {len(left)} left")

    return {
        "dataset": out_dataset,
        "stream": stream(),
        "view_id": view_id,
        "config": config,
        "validate_answer": validate_answer,
        "before_db": before_db,
        "on_exit": on_exit,
    }
