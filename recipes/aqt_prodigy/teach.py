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

import numpy as np
from aqt import sources
from aqt.errors import AqtError, InputError, UsageError

from aqt_prodigy._compat import Arg, connect, fail, msg, recipe, set_hashes

__all__ = ["ARGS", "STRATEGY_NAMES", "TeachLoop", "read_pool", "teach"]

#: strategies the recipe serves (``committee`` lives in ``aqt al simulate`` only)
STRATEGY_NAMES = ("default", "margin", "least-confidence", "entropy", "diverse", "random")
#: labelled items needed before they set the length limit and off-task reference of selection
#: review (with fewer, the 99.5th length percentile is close to the sample maximum and flags
#: ordinary long items)
MIN_REFERENCE = 300
#: the second class of a one-label (accept/reject) classification
REJECT = "__reject__"

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


class TeachLoop:
    """The state of one ``aqt.teach`` run: pool, model, review, what was sent and answered."""

    def __init__(self, ids, texts, metas, labels, *, model="sklearn", strategy="default",
                 review=True, batch_size=10, explore=0.1, seed=0, other_languages=None) -> None:  # fmt: skip
        from aqt.active import SelectionReview, SkipModel, make_model
        from aqt.active.dedup import DuplicateIndex

        self.ids, self.texts, self.metas = list(ids), list(texts), list(metas)
        self.pos = {item: i for i, item in enumerate(self.ids)}
        self.labels = list(labels)
        self.classes = sorted(self.labels) if len(self.labels) > 1 else [self.labels[0], REJECT]
        self.model_name, self.strategy, self.use_review = model, strategy, review
        self.batch_size, self.explore = batch_size, explore
        self.rng = np.random.default_rng(seed)
        self.model: Any = make_model("spacy" if model == "spacy" else "sklearn", seed=seed)
        self._vec = make_model("sklearn", seed=seed).fit_vectorizer(self.texts)
        self.X = self._vec.vectorize(self.texts)  # cold start, diversity, sklearn features
        self.fitted = False
        self.review = SelectionReview(
            self.texts, vectors=self.X, off_task=review, other_languages=other_languages
        )
        self.skip_model = SkipModel(seed=seed)
        self.sent = DuplicateIndex(threshold=self.review.config.near_duplicate)
        self.sent_set: set[int] = set()
        self.answers: dict[int, str | None] = {}  # pool index -> class (None: skipped)
        self.flagged: dict[int, tuple[str, ...]] = {}
        self.approved: list[int] = []  # kept by a reviewer: served first, not reviewed again
        self.picked: dict[int, dict] = {}  # pool index -> how it was chosen (meta)
        self.recalibrator: Any = None
        self.history: list[dict] = []
        self.n_trained_on = 0
        self.trained: set[int] = set()  # pool indices the model has learnt from

    # -- state from earlier runs -----------------------------------------------------------
    def restore(self, answered: list[dict], queue: list[dict]) -> None:
        """Mark items answered in the dataset and items in the review queue (flags, decisions)."""
        decisions: dict[int, str] = {}
        for eg in queue:
            i = self.pos.get(str((eg.get("meta") or {}).get("aqt_item")))
            if i is None:
                continue
            if eg.get("answer") in ("accept", "reject", "ignore"):
                choice = (eg.get("accept") or [None])[0] if eg.get("answer") == "accept" else None
                decisions[i] = "keep" if choice == "keep" else "drop"
            else:
                self.flagged.setdefault(i, tuple(eg.get("aqt_reasons") or ()))
        self.approved = sorted(i for i, d in decisions.items() if d == "keep")
        for i, d in decisions.items():
            if d == "drop":
                self.flagged[i] = ("dropped by the reviewer",)
            else:
                self.flagged.pop(i, None)
        for eg in answered:
            i = self.pos.get(str((eg.get("meta") or {}).get("aqt_item")))
            if i is not None:
                self._mark_sent(i)
                self.answers[i] = self.answer_class(eg)
                self.picked[i] = dict(eg.get("meta") or {})
        # a kept item whose exact copy was answered is not served (Prodigy would filter it by hash)
        self.approved = [
            i
            for i in self.approved
            if i not in self.sent_set
            and (self.sent.match(self.review.keys[i], self.review.signatures[i]) or ("",))[0]
            != "exact"
        ]
        self.retrain()

    def answer_class(self, eg: dict) -> Optional[str]:
        """The class an answer teaches the model (None for a skip or a multi-choice answer)."""
        if eg.get("answer") == "ignore":
            return None
        if len(self.labels) == 1:
            return self.labels[0] if eg.get("answer") == "accept" else REJECT
        accept = eg.get("accept") or []
        return str(accept[0]) if eg.get("answer") == "accept" and len(accept) == 1 else None

    # -- model -------------------------------------------------------------------------------
    def proba(self, idx: np.ndarray) -> np.ndarray:
        """Recalibrated class probabilities of pool items, columns in ``self.classes`` order."""
        if self.model_name == "spacy":
            raw = self.model.predict_proba([self.texts[i] for i in idx])
        else:
            raw = self.model.predict_proba_vectors(self.X[idx])
        out = np.full((len(idx), len(self.classes)), 1e-9)
        for j, c in enumerate(self.model.classes_):
            out[:, self.classes.index(str(c))] = raw[:, j]
        out /= out.sum(axis=1, keepdims=True)
        return self.recalibrator.transform(out) if self.recalibrator is not None else out

    def retrain(self) -> None:
        """Refit the model on every labelled answer, the skip model on every answer, and the
        recalibrator on the exploration items (their scores were made before they were labelled)."""
        from aqt.active import fit_recalibrator

        done = sorted(self.answers)
        lab = [i for i in done if self.answers[i] is not None]
        y = [self.answers[i] for i in lab]
        if len(set(y)) >= 2 and len(lab) > self.n_trained_on:
            if self.model_name == "spacy":
                self._spacy_update(lab, y)
            else:
                self.model.fit_vectors(self.X[lab], y)
            self.fitted, self.n_trained_on = True, len(lab)
            self.trained = set(lab)
        skipped = [self.answers[i] is None for i in done]
        if done:
            self.skip_model.fit_features(self.review.skip_features[done], skipped)
        explore = [i for i in lab if "aqt_proba" in self.picked.get(i, {})]
        if explore:
            P = np.array([self.picked[i]["aqt_proba"] for i in explore])
            yi = np.array([self.classes.index(self.answers[i]) for i in explore])
            self.recalibrator = fit_recalibrator(P, yi)
        if len(lab) >= MIN_REFERENCE:
            self.review.update_reference(lab, approved=self.approved)

    def _spacy_update(self, lab: list[int], y: list[str]) -> None:
        """spaCy: ``nlp.update`` on the new answers once the label set is known, else a refit."""
        nlp = self.model.nlp_
        if nlp is None or sorted(set(y)) != [str(c) for c in self.model.classes_]:
            self.model.fit([self.texts[i] for i in lab], y)
            return
        from spacy.training import Example

        classes = [str(c) for c in self.model.classes_]
        new = [(i, t) for i, t in zip(lab, y) if i not in self.trained]
        examples = [
            Example.from_dict(
                nlp.make_doc(self.texts[i]), {"cats": {c: float(c == t) for c in classes}}
            )
            for i, t in new
        ]
        optimizer = nlp.resume_training()
        for _ in range(3):
            nlp.update(examples, sgd=optimizer, drop=0.0)

    # -- batches -------------------------------------------------------------------------------
    def _mark_sent(self, i: int) -> None:
        self.sent_set.add(i)
        sig = self.review.signatures[i][None, :]
        self.sent.add([self.ids[i]], [self.texts[i]], signatures=sig, keys=[self.review.keys[i]])

    def candidates(self) -> np.ndarray:
        blocked = self.sent_set | set(self.flagged)
        return np.array([i for i in range(len(self.texts)) if i not in blocked], dtype=int)

    def choose(self, cand: np.ndarray, k: int) -> list[tuple[int, dict]]:
        """``k`` candidates, most wanted first, each with its pick meta (score, strategy)."""
        from aqt.active import select_cold_start, select_diverse, select_random, select_top
        from aqt.active.strategies import uncertainty_scores

        if not self.fitted or self.strategy == "random":
            how = "random" if self.strategy == "random" else "cold-start"
            pick = (
                select_random(len(cand), k, self.rng)
                if how == "random"
                else select_cold_start(self.X[cand], k, self.rng)
            )
            return [(int(cand[j]), {"aqt_pick": how}) for j in pick]
        n_explore = 0
        if self.strategy == "default" and self.explore > 0:
            # the full share until 150 random items are out, a tenth of it after (as the
            # simulation's default); fractions are drawn, so small batches keep the mean share
            done = sum(1 for m in self.picked.values() if m.get("aqt_pick") == "explore")
            share = self.explore if done < 150 else self.explore / 10
            n_explore = int(share * k) + int(self.rng.random() < (share * k) % 1)
        proba = self.proba(cand)
        scores = uncertainty_scores(self.strategy, proba)
        if self.strategy == "diverse":
            top = select_diverse(scores, self.X[cand], k - n_explore, self.rng)
        else:
            top = select_top(scores, k - n_explore)
        rest = np.setdiff1d(np.arange(len(cand)), top)
        rand = rest[select_random(len(rest), n_explore, self.rng)] if n_explore else []
        out = []
        for j, how in [(j, "uncertain") for j in top] + [(j, "explore") for j in rand]:
            meta = {"aqt_pick": how, "aqt_score": round(float(scores[j]), 4)}
            if how == "explore":
                meta["aqt_proba"] = [round(float(p), 6) for p in proba[j]]
            out.append((int(cand[j]), meta))
        return out

    def _name_items(self, reason: str) -> str:
        """Within-batch duplicate reasons name pool positions; show the item ids instead."""
        import re

        return re.sub(
            r"of item (\d+) \(earlier in this batch\)",
            lambda m: f"of item {self.ids[int(m.group(1))]} (earlier in this batch)",
            reason,
        )

    def next_batch(self) -> tuple[list[int], dict[int, tuple[str, ...]]]:
        """The next batch to serve (pool indices) and the items flagged while choosing it."""
        out: list[int] = []
        new_flags: dict[int, tuple[str, ...]] = {}
        while self.approved and len(out) < self.batch_size:
            i = self.approved.pop(0)
            self.picked[i] = {"aqt_pick": "reviewed-keep"}
            self._mark_sent(i)
            out.append(i)
        while True:  # each round sends or flags at least one candidate, so this ends
            need = self.batch_size - len(out)
            cand = self.candidates()
            cand = cand[~np.isin(cand, out)]
            if need <= 0 or not len(cand):
                break
            chosen = self.choose(cand, need)
            meta = dict(chosen)
            kept = [i for i, _ in chosen]
            if self.use_review:
                res = self.review.review(kept, sent=self.sent, skip_model=self.skip_model)
                for i, reasons in res.flagged.items():
                    new_flags[i] = self.flagged[i] = tuple(self._name_items(r) for r in reasons)
                kept = list(res.kept)
            for i in kept:
                self.picked[i] = meta[i]
                self._mark_sent(i)
                out.append(i)
        return out, new_flags


def _strategy_meta(loop: TeachLoop, i: int) -> dict:
    meta = {k: v for k, v in loop.picked.get(i, {}).items() if k != "aqt_proba"}
    meta["aqt_strategy"] = loop.strategy
    return meta


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
