"""Reviewing batches against a whole pool: :class:`SelectionReview` and the :class:`SkipModel`.

The pool-level statistics (character counts, trigram scores, language, MinHash signatures) are
computed once; each batch review is then a few look-ups plus the duplicate index of items already
sent. See :mod:`aqt.active.review` for the individual checks.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from aqt.active.dedup import DuplicateIndex, exact_keys, minhash_signatures
from aqt.active.review import (
    DEFAULT_REVIEW,
    POOL_LANGUAGE,
    ReviewConfig,
    _coverage,
    _empty_mask,
    _garbled_mask,
    _length_limit,
    off_task_limit,
)
from aqt.active.textstats import CharNgramModel, LanguageIdentifier, char_stats, encode_texts

__all__ = ["ReviewOutcome", "SelectionReview", "SkipModel", "review_selection"]


@dataclass(frozen=True)
class ReviewOutcome:
    """``kept``: pool indices that may go to annotators, in the order given; ``flagged``: pool index
    -> reasons (check names with detail), for the reviewer."""

    kept: tuple[int, ...]
    flagged: dict[int, tuple[str, ...]]

    def to_dict(self) -> dict:
        return {
            "kept": list(self.kept),
            "flagged": {str(k): list(v) for k, v in sorted(self.flagged.items())},
        }


class SkipModel:
    """Learns which items annotators skip: logistic regression of skip vs keep on cheap features
    (log length, letter, vowel, digit and non-ASCII ratios, trigram score) and hashed words.

    Until it has seen ``min_each`` skips and keeps it flags nothing.
    """

    def __init__(self, threshold: float = 0.5, min_each: int = 3, seed: int = 0) -> None:
        self.threshold = threshold
        self.min_each = min_each
        self.seed = seed
        self.clf_: Any = None

    @staticmethod
    def features(texts: Sequence[str], lm_scores: np.ndarray) -> Any:
        import scipy.sparse as sp
        from sklearn.feature_extraction.text import HashingVectorizer

        st = char_stats(texts)
        n = np.maximum(st["n_chars"], 1)
        dense = np.column_stack(
            [
                np.log1p(st["n_chars"]) / 6,
                st["n_letters"] / n,
                st["n_vowels"] / np.maximum(st["n_letters"], 1),
                st["n_digits"] / n,
                st["n_nonascii"] / n,
                np.nan_to_num(lm_scores, nan=-6.0) / 3,
                np.log1p(st["n_words"]) / 4,
            ]
        )
        words = HashingVectorizer(n_features=1 << 16, alternate_sign=False, norm="l2").transform(
            texts
        )
        return sp.hstack([sp.csr_matrix(dense), words]).tocsr()

    def fit(
        self, texts: Sequence[str], lm_scores: np.ndarray, skipped: Sequence[bool]
    ) -> SkipModel:
        return self.fit_features(self.features(texts, lm_scores), skipped)

    def fit_features(self, F: Any, skipped: Sequence[bool]) -> SkipModel:
        """Fit on precomputed :meth:`features` rows (the simulation caches them for the pool)."""
        y = np.asarray(skipped, dtype=int)
        if min(int(y.sum()), int(len(y) - y.sum())) < self.min_each:
            self.clf_ = None
            return self
        from sklearn.linear_model import LogisticRegression

        self.clf_ = LogisticRegression(
            C=3.0, solver="liblinear", class_weight="balanced", random_state=self.seed
        )
        self.clf_.fit(F, y)
        return self

    def predict_skip(self, texts: Sequence[str], lm_scores: np.ndarray) -> np.ndarray:
        """Probability that annotators skip each item (zeros before the model is trained)."""
        if self.clf_ is None or len(texts) == 0:
            return np.zeros(len(texts))
        return self.predict_skip_features(self.features(texts, lm_scores))

    def predict_skip_features(self, F: Any) -> np.ndarray:
        if self.clf_ is None or F.shape[0] == 0:
            return np.zeros(F.shape[0])
        return self.clf_.predict_proba(F)[:, 1]


class SelectionReview:
    """Selection review over a pool of texts.

    Parameters
    ----------
    texts : sequence of str
        The whole unlabelled pool; the trigram model and language profile are built from it
        (plus ``reference_texts``).
    reference_texts : sequence of str, optional
        A clean reference sample (known on-task items); used for the length limit and, with vectors,
        for the off-task check, together with the labelled items.
    other_languages : mapping of language code to texts, optional
        Samples of languages the pool should not contain, for the language identifier.
    vectors : sparse matrix, optional
        L2-normalised vectors of the pool (the model's); enables the off-task check.
    """

    def __init__(
        self,
        texts: Sequence[str],
        *,
        reference_texts: Sequence[str] = (),
        other_languages: Mapping[str, Sequence[str]] | None = None,
        vectors: Any = None,
        config: ReviewConfig = DEFAULT_REVIEW,
        off_task: bool = True,
    ) -> None:
        self.texts = list(texts)
        self.config = config
        self.reference_texts = list(reference_texts)
        tb = encode_texts(self.texts)
        self.stats = char_stats(self.texts)
        lm = CharNgramModel().fit(self.texts + self.reference_texts)
        self.lm_scores = lm.score(tb)
        med = float(np.nanmedian(self.lm_scores))
        self.empty = _empty_mask(self.stats, config)
        self.garbled = _garbled_mask(self.stats, self.lm_scores, med, config)
        ok = ~self.empty & ~self.garbled
        if other_languages:
            ident = LanguageIdentifier(
                {POOL_LANGUAGE: self.texts + self.reference_texts, **dict(other_languages)}
            )
            langs, margin = ident.predict(tb)
            self.language = np.where(
                ok & (langs != POOL_LANGUAGE) & (margin >= config.language_margin), langs, ""
            )
        else:
            low = np.nan_to_num(self.lm_scores, nan=0.0) < med - config.language_drop
            low &= self.stats["n_letters"] >= config.language_min_letters
            self.language = np.where(ok & low, "other", "").astype(object)
        self.keys = exact_keys(self.texts)
        self.signatures = minhash_signatures(self.texts)
        self.vectors = vectors if off_task else None
        self._seen: np.ndarray | None = None
        self._skip_features: Any = None
        self._off_limit = -np.inf
        self._n_ref_fitted = 0
        # items like the length outliers (off-task material of every length): a skip model with
        # the labelled items as "keep" and the pool's length outliers as "skip"
        self.like_outliers: SkipModel | None = None
        self._n_like_fitted = 0
        self._reference_lengths = char_stats(self.reference_texts)["n_chars"]
        self.length_limit = _length_limit(self._reference_lengths, config)

    @property
    def skip_features(self) -> Any:
        """:meth:`SkipModel.features` of every pool item, computed once."""
        if self._skip_features is None:
            self._skip_features = SkipModel.features(self.texts, self.lm_scores)
        return self._skip_features

    def static_reasons(self, i: int) -> list[str]:
        reasons = []
        if self.empty[i]:
            reasons.append(f"empty_text: fewer than {self.config.min_letters} letters")
        if self.garbled[i]:
            reasons.append("garbled_text: symbols, encoding damage or letter salad")
        if self.language[i]:
            reasons.append(f"language_mismatch: looks like {self.language[i]!r}")
        if self.stats["n_chars"][i] > self.length_limit:
            reasons.append(
                f"length_outlier: {int(self.stats['n_chars'][i])} characters "
                f"> {self.length_limit:.0f}"
            )
        return reasons

    def update_reference(self, labelled: Sequence[int], approved: Sequence[int] = ()) -> None:
        """Refresh the length limit and off-task models from the labelled items and the items a
        reviewer kept (``approved``: on task, even if not labelled yet). Without the kept items the
        limit would sink: long items wait for the reviewer, so the labelled ones are shorter."""
        labelled = np.asarray(labelled, dtype=int)
        if len(labelled) < 20:
            return
        on_task = np.union1d(labelled, np.asarray(list(approved), dtype=int))
        ref_len = np.concatenate([self.stats["n_chars"][on_task], self._reference_lengths])
        self.length_limit = _length_limit(ref_len, self.config)
        self._fit_like_outliers(on_task)
        if (
            self.vectors is not None
            and len(labelled) >= 100
            and len(labelled) >= 1.5 * self._n_ref_fitted
        ):
            df, self._off_limit = off_task_limit(self.vectors[labelled], self.config)
            self._seen = df >= 1
            self._n_ref_fitted = len(labelled)

    def _fit_like_outliers(self, labelled: np.ndarray) -> None:
        """Learn what the length outliers look like, so that shorter items of the same kind (a
        short plot synopsis among reviews) are flagged too. Needs the length check to be on and at
        least ``min_outliers`` outliers; refitted when the labelled set has grown by half."""
        if not np.isfinite(self.length_limit) or len(labelled) < 1.5 * self._n_like_fitted:
            return
        outliers = np.flatnonzero(self.stats["n_chars"] > self.length_limit)
        outliers = np.setdiff1d(outliers, labelled)
        need = max(self.config.min_outliers, self.config.min_outlier_share * len(self.texts))
        if len(outliers) < need:
            self.like_outliers = None
            return
        rows = np.concatenate([labelled, outliers])
        skipped = np.r_[np.zeros(len(labelled), bool), np.ones(len(outliers), bool)]
        model = SkipModel(threshold=self.config.like_outlier_threshold)
        self.like_outliers = model.fit_features(self.skip_features[rows], skipped)
        self._n_like_fitted = len(labelled)

    def review(
        self,
        indices: Sequence[int],
        sent: DuplicateIndex | None = None,
        skip_model: SkipModel | None = None,
        approved: Collection[int] = (),
    ) -> ReviewOutcome:
        """Check a candidate batch (pool indices, most wanted first). Later copies within the batch
        and copies of items in ``sent`` are flagged as duplicates. ``approved`` items (kept by a
        reviewer before) get the duplicate checks only."""
        idx = [int(i) for i in indices]
        approved = set(approved)
        flagged: dict[int, list[str]] = {i: self.static_reasons(i) for i in idx}
        if self._seen is not None and idx:
            cover = _coverage(self.vectors[idx], self._seen)
            for i, c in zip(idx, cover):
                if c < self._off_limit:
                    flagged[i].append(
                        f"off_task: vocabulary coverage {c:.2f} by labelled data < {self._off_limit:.2f}"
                    )
        if self.like_outliers is not None and idx:
            p = self.like_outliers.predict_skip_features(self.skip_features[idx])
            for i, pi in zip(idx, p):
                if (
                    pi >= self.like_outliers.threshold
                    and self.stats["n_chars"][i] <= self.length_limit
                ):
                    flagged[i].append(f"off_task: like the length outliers (p={pi:.2f})")
        if skip_model is not None and idx:
            p = skip_model.predict_skip_features(self.skip_features[idx])
            for i, pi in zip(idx, p):
                if pi >= skip_model.threshold:
                    flagged[i].append(f"skip_model: annotators skip items like this (p={pi:.2f})")
        for i in approved.intersection(idx):
            flagged[i] = []
        local = DuplicateIndex(threshold=self.config.near_duplicate)
        for i in idx:
            for index, where in ((sent, "already sent"), (local, "earlier in this batch")):
                if index is None or len(index) == 0:
                    continue
                m = index.match(self.keys[i], self.signatures[i])
                if m is not None:
                    flagged[i].append(f"{m[0]}_duplicate: of item {m[1]} ({where})")
                    break
            if not flagged[i]:
                local.add(
                    [str(i)], [""], signatures=self.signatures[i][None, :], keys=[self.keys[i]]
                )
        kept = tuple(i for i in idx if not flagged[i])
        return ReviewOutcome(kept=kept, flagged={i: tuple(r) for i, r in flagged.items() if r})


def review_selection(
    texts: Sequence[str],
    ids: Sequence[Any] | None = None,
    *,
    reference_texts: Sequence[str] = (),
    sent_texts: Sequence[str] = (),
    other_languages: Mapping[str, Sequence[str]] | None = None,
    config: ReviewConfig = DEFAULT_REVIEW,
) -> list[tuple[str, tuple[str, ...]]]:
    """Review a proposed batch in order: returns ``(id, reasons)`` for every item, kept items
    (no reasons) first in their original order, then flagged items (demoted, with reasons)."""
    ids = [str(i) for i in (range(len(texts)) if ids is None else ids)]
    rev = SelectionReview(
        list(texts),
        reference_texts=reference_texts,
        other_languages=other_languages,
        config=config,
        off_task=False,
    )
    sent = DuplicateIndex(threshold=config.near_duplicate)
    if len(sent_texts):
        sent.add([f"sent:{j}" for j in range(len(sent_texts))], list(sent_texts))
    out = rev.review(range(len(texts)), sent=sent)
    kept = [(ids[i], ()) for i in out.kept]
    demoted = [(ids[i], out.flagged[i]) for i in range(len(texts)) if i in out.flagged]
    return kept + demoted
