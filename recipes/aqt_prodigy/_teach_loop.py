"""The state of one ``aqt.teach`` run (:class:`TeachLoop`): the pool, the model and its
retraining, selection review of the candidates, and what was sent and answered.

:mod:`aqt_prodigy.teach` builds the recipe's stream and update callbacks around it. Nothing here
imports prodigy.
"""
# ruff: noqa: UP045  (Optional matches the recipe module's typing)

from typing import Any, Optional

import numpy as np

__all__ = ["MIN_REFERENCE", "REJECT", "TeachLoop"]

#: labelled items needed before they set the length limit and off-task reference of selection
#: review (with fewer, the 99.5th length percentile is close to the sample maximum and flags
#: ordinary long items)
MIN_REFERENCE = 300
#: the second class of a one-label (accept/reject) classification
REJECT = "__reject__"


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
            if i not in self.sent_set and not self.sent.has_exact(self.review.keys[i])
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
        from aqt.active.strategies import exploration_share, uncertainty_scores

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
            # tapered as the simulation's default; fractions are drawn, so small batches keep
            # the mean share
            done = sum(1 for m in self.picked.values() if m.get("aqt_pick") == "explore")
            share = exploration_share(done, self.explore)
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
