"""The ``aqt.teach`` recipe: uncertainty-based active learning with selection review.

Each batch is chosen by the strategy from the items not yet sent (a k-means cold start before the
model knows two classes), with a random exploration share on which the scores are recalibrated.
Every candidate goes through selection review first: flagged items are demoted (not served) and
written with their reasons to the review queue dataset (``DATASET_review``), where
``aqt.review-selection`` decides on them. The model is refitted from each batch of answers in
``update``; ``ignore`` answers (skips) teach the skip model, which flags items like them.
"""
# ruff: noqa: UP045  (Optional keeps the typed arguments readable by every radicli version)

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

from aqt import sources
from aqt.errors import AqtError, InputError, UsageError

from aqt_prodigy._compat import Arg, connect, fail, msg, recipe, set_hashes
from aqt_prodigy._teach_loop import MIN_REFERENCE, REJECT, TeachLoop, _strategy_meta

# MIN_REFERENCE and REJECT are re-exported from aqt_prodigy._teach_loop

__all__ = ["ARGS", "MIN_REFERENCE", "REJECT", "STRATEGY_NAMES", "TeachLoop", "read_pool", "teach"]

#: strategies the recipe serves (``committee`` lives in ``aqt al simulate`` only)
STRATEGY_NAMES = ("default", "margin", "least-confidence", "entropy", "diverse", "random")

ARGS = {
    "dataset": Arg(help="Dataset to save the answers to"),
    "source": Arg(help="Data source: JSONL, JSON list or CSV with a text column"),
    "label": Arg("--label", "-l", help="Comma-separated labels; one label asks accept/reject"),
    "model": Arg("--model", "-m", help="Model: sklearn (TF-IDF + logistic regression) or spacy"),
    "strategy": Arg(
        "--strategy",
        "-s",
        help="Selection: default (margin, review, 10 percent exploration), margin, "
        "least-confidence, entropy, diverse or random",
    ),
    "no_review": Arg("--no-review", help="Serve candidates without selection review (a baseline)"),
    "review_dataset": Arg(
        "--review-dataset", help="Review queue dataset for flagged items (default DATASET_review)"
    ),
    "languages": Arg(
        "--languages",
        help="JSONL of other-language samples ({text, lang} per line) for the language check",
    ),
    "batch_size": Arg("--batch-size", "-b", help="Items per batch (the model updates after each)"),
    "explore": Arg(
        "--explore",
        help="Random exploration share of each batch until 150 random items are out, a tenth of it after (default 0.1)",
    ),
    "seed": Arg("--seed", help="Seed of the cold start and the exploration draws"),
}


def read_pool(path: str | Path) -> tuple[list[str], list[str], list[dict]]:
    """``(ids, texts, metas)`` of a data source; empty texts are kept (selection review flags
    them). An item without ``id`` or ``meta.id`` is named by its line number."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"No data source at {str(p)!r}.", fix="Check the path.")
    if p.suffix.lower() == ".csv":
        import csv

        with open(p, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        if rows and "text" not in rows[0]:
            raise InputError(
                f"{p}: no 'text' column (columns: {sorted(rows[0])}).", fix="Name it 'text'."
            )
    elif p.suffix.lower() == ".json":
        rows = json.loads(p.read_text(encoding="utf-8"))
    else:
        rows = []
        for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise InputError(
                        f"{p} line {n}: not JSON ({exc.msg}).", fix="Fix it."
                    ) from None
    ids, texts, metas, seen = [], [], [], set()
    for n, row in enumerate(rows, 1):
        if not isinstance(row, dict) or not isinstance(row.get("text", ""), str):
            raise InputError(f"{p} item {n}: expected an object with a text field.", fix="Fix it.")
        meta = row.get("meta") if isinstance(row.get("meta"), dict) else {}
        raw = row.get("id", meta.get("id"))
        item = str(raw) if raw is not None else f"line{n}"
        if item in seen:
            raise InputError(f"{p}: the id {item!r} repeats.", fix="Give every item its own id.")
        seen.add(item)
        ids.append(item)
        texts.append(str(row.get("text") or ""))
        metas.append(dict(meta))
    if not ids:
        raise InputError(f"{p} holds no items.", fix="Point SOURCE at the texts to label.")
    return ids, texts, metas


def read_language_samples(path: str | Path) -> dict[str, list[str]]:
    """``{lang: [texts]}`` from a JSONL file of ``{"text": ..., "lang": ...}`` lines."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"No language samples at {str(p)!r}.", fix="Check the --languages path.")
    return sources.read_language_samples(p)


@recipe("aqt.teach", **ARGS)
def teach(
    dataset: str,
    source: str,
    label: Optional[str] = None,
    model: str = "sklearn",
    strategy: str = "default",
    no_review: bool = False,
    review_dataset: Optional[str] = None,
    languages: Optional[str] = None,
    batch_size: int = 10,
    explore: float = 0.1,
    seed: int = 0,
) -> dict:
    """Active learning with selection review: serves the items the model is least sure of, in
    batches, and updates the model from each batch of answers. Candidates flagged by selection
    review (empty, garbled, foreign, duplicate, off-task, like skipped items) are not served but
    written with the reason to the review queue dataset; `prodigy aqt.review-selection` decides on
    them. Each answer's meta carries the score, the pick (uncertain, explore, cold-start) and the
    strategy. Example: prodigy aqt.teach sentiment reviews.jsonl --label POSITIVE,NEGATIVE
    --model sklearn --strategy default
    """
    try:
        return components(dataset, source, label, model, strategy, not no_review, review_dataset,
                          int(batch_size), float(explore), int(seed), languages)[0]  # fmt: skip
    except AqtError as exc:
        fail(exc)


def components(dataset, source, label, model="sklearn", strategy="default", review=True,
               review_dataset=None, batch_size=10, explore=0.1, seed=0,
               languages=None) -> tuple[dict, TeachLoop]:  # fmt: skip
    """The recipe's components and the :class:`TeachLoop` behind them."""
    labels = [s.strip() for s in str(label or "").split(",") if s.strip()]
    if not labels or len(set(labels)) != len(labels):
        raise UsageError(f"--label {label!r} is empty or repeats a label.", fix="Pass --label A,B.")
    if model not in ("sklearn", "spacy"):
        raise UsageError(f"--model {model!r} is unknown.", fix="Use sklearn or spacy.")
    if strategy not in STRATEGY_NAMES:
        raise UsageError(
            f"--strategy {strategy!r} is not served by aqt.teach.",
            fix=f"Use one of {', '.join(STRATEGY_NAMES)} (committee: aqt al simulate).",
        )
    if not 0 <= explore < 1 or batch_size < 1:
        raise UsageError(
            f"--explore {explore} / --batch-size {batch_size} out of range.",
            fix="Use 0 <= explore < 1 and a batch size of at least 1.",
        )
    queue_name = review_dataset or f"{dataset}_review"
    ids, texts, metas = read_pool(source)
    other = read_language_samples(languages) if languages else None
    loop = TeachLoop(ids, texts, metas, labels, model=model, strategy=strategy, review=review,
                     batch_size=batch_size, explore=explore, seed=seed,
                     other_languages=other)  # fmt: skip
    db = connect()
    db.add_dataset(queue_name)
    answered = db.get_dataset_examples(dataset) if dataset in db else []
    loop.restore(answered, db.get_dataset_examples(queue_name))
    view = "choice" if len(labels) > 1 else "classification"

    def task(i: int) -> dict:
        meta = {**loop.metas[i], "aqt_item": loop.ids[i], **_strategy_meta(loop, i)}
        t: dict[str, Any] = {"text": loop.texts[i], "meta": meta}
        if view == "choice":
            t["options"] = [{"id": lab, "text": lab} for lab in labels]
        else:
            t["label"] = labels[0]
        return set_hashes(t)

    def queue_flags(flags: dict[int, tuple[str, ...]]) -> None:
        rows = []
        for i, reasons in sorted(flags.items()):
            meta = {"aqt_item": loop.ids[i], "aqt_reason": "; ".join(reasons), "aqt_queue": dataset}
            rows.append(
                set_hashes({"text": loop.texts[i], "meta": meta, "aqt_reasons": list(reasons)})
            )
        if rows:
            db.add_examples(rows, datasets=[queue_name])

    def stream() -> Iterator[dict]:
        while True:
            batch, flags = loop.next_batch()
            queue_flags(flags)
            if not batch:
                return
            yield from (task(i) for i in batch)

    def update(answers: list[dict]) -> None:
        for eg in answers:
            i = loop.pos.get(str((eg.get("meta") or {}).get("aqt_item")))
            if i is not None:
                loop.answers[i] = loop.answer_class(eg)
        loop.retrain()
        loop.history.append({"n_answers": len(loop.answers), "n_flagged": len(loop.flagged)})

    def before_db(answers: list[dict]) -> list[dict]:
        for eg in answers:
            i = loop.pos.get(str((eg.get("meta") or {}).get("aqt_item")))
            if i is not None and "aqt_proba" in loop.picked.get(i, {}):
                eg["meta"] = {**eg["meta"], "aqt_proba": loop.picked[i]["aqt_proba"]}
        return answers

    msg.info(f"{len(texts)} items; {len(loop.sent_set)} answered before; "
             f"{len(loop.flagged)} in or decided by review; queue {queue_name}")  # fmt: skip
    comps = {
        "dataset": dataset,
        "stream": stream(),
        "view_id": view,
        "update": update,
        "before_db": before_db,
        "config": {"batch_size": batch_size, "choice_style": "single", "labels": labels},
    }
    return comps, loop
