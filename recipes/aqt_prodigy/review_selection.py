"""The ``aqt.review-selection`` recipe: a reviewer decides on the items selection review flagged.

``aqt.teach`` writes every flagged candidate, with its reasons, to the review queue dataset
(``DATASET_review``). This recipe serves each undecided one as a choice between *keep* and *drop*,
with the reason on the card; the decisions are saved to the same queue dataset. The next
``aqt.teach`` run serves kept items first (without reviewing them again) and never serves dropped
ones.
"""

from typing import Any

from aqt.errors import AqtError, InputError, truncate

from aqt_prodigy._compat import Arg, connect, fail, msg, recipe, set_hashes

__all__ = ["ARGS", "DECISIONS", "pending_items", "review_selection"]

#: the two options of every review card
DECISIONS = (
    {"id": "keep", "text": "Keep: send to annotators"},
    {"id": "drop", "text": "Drop: never send"},
)

ARGS = {
    "review_dataset": Arg(help="Review queue dataset written by aqt.teach (DATASET_review)"),
    "source_dataset": Arg(help="The aqt.teach dataset the queue belongs to (its answers)"),
    "batch_size": Arg("--batch-size", "-b", help="Cards per batch (default 10)"),
}


def pending_items(queue: list[dict], answered_items: set[str]) -> list[dict]:
    """Flag entries of the queue without a decision yet (one per item, first flag kept), minus
    items the teach dataset already holds answers for."""
    decided = {
        str((eg.get("meta") or {}).get("aqt_item"))
        for eg in queue
        if eg.get("answer") in ("accept", "reject", "ignore")
    }
    out: dict[str, dict] = {}
    for eg in queue:
        item = str((eg.get("meta") or {}).get("aqt_item"))
        if eg.get("answer") or item in decided or item in answered_items or item in out:
            continue
        out[item] = eg
    return [out[k] for k in sorted(out)]


def _card(entry: dict) -> dict:
    meta = dict(entry.get("meta") or {})
    reason = meta.get("aqt_reason") or "; ".join(entry.get("aqt_reasons") or ()) or "flagged"
    text = entry.get("text") or ""
    task: dict[str, Any] = {
        "text": text if text.strip() else f"[empty text: {text!r}]",
        "meta": {**meta, "reason": reason},
        "aqt_reasons": list(entry.get("aqt_reasons") or [reason]),
        "options": [dict(o) for o in DECISIONS],
    }
    return set_hashes(task, overwrite=True)


@recipe("aqt.review-selection", **ARGS)
def review_selection(review_dataset: str, source_dataset: str, batch_size: int = 10) -> dict:
    """Review the items selection review kept from annotators: each card shows the text and the
    reason (empty, garbled, foreign, duplicate, off-task, like skipped items); choose keep (the next
    aqt.teach run serves it) or drop (never served). Decisions are saved to the queue dataset.
    Example: prodigy aqt.review-selection sentiment_review sentiment
    """
    try:
        return _components(review_dataset, source_dataset, int(batch_size))
    except AqtError as exc:
        fail(exc)


def _components(review_dataset: str, source_dataset: str, batch_size: int) -> dict:
    db = connect()
    if review_dataset not in db:
        raise InputError(
            f"No review queue {review_dataset!r}; the database has {truncate(db.datasets, 10)}.",
            fix="Run aqt.teach first; its queue is DATASET_review unless --review-dataset says.",
        )
    answered = db.get_dataset_examples(source_dataset) if source_dataset in db else []
    done = {str((eg.get("meta") or {}).get("aqt_item")) for eg in answered}
    cards = [_card(eg) for eg in pending_items(db.get_dataset_examples(review_dataset), done)]
    msg.info(f"{len(cards)} flagged item(s) to review from {review_dataset}")

    def validate_answer(eg: dict) -> None:
        if eg.get("answer") == "accept" and len(eg.get("accept") or []) != 1:
            raise ValueError("Choose keep or drop.")

    def before_db(answers: list[dict]) -> list[dict]:
        for eg in answers:
            choice = (eg.get("accept") or [None])[0] if eg.get("answer") == "accept" else None
            eg["meta"] = {**(eg.get("meta") or {}), "aqt_decision": choice or "drop"}
        return answers

    return {
        "dataset": review_dataset,
        "stream": iter(cards),
        "view_id": "choice",
        "validate_answer": validate_answer,
        "before_db": before_db,
        "config": {"choice_style": "single", "batch_size": batch_size},
    }
