"""Scoring plus selection review of very large pools (millions of short texts) on a few cores.

The pool is cut into chunks; each worker process (forked, so the model and the character models are
shared copy-on-write) hashes its texts, scores them with the linear model (margin uncertainty) and
runs the cheap review checks (empty, garbled, language, length), exact-duplicate keys and MinHash
signatures (one-permutation MinHash, 16 values over byte 5-grams of the normalised text,
:func:`aqt.active.dedup.byte_minhash`). Duplicates across chunks are resolved in the parent, the
first occurrence (by position) being kept: exact duplicates by sorting the keys, near duplicates
(estimated Jaccard similarity of shingle sets at least ``ReviewConfig.near_duplicate`` with an
earlier item) by banded LSH on the signatures (:func:`aqt.active.dedup.earlier_near_duplicates`, 8
bands of 2 values; each bucket member is checked against the bucket's first item and the 16 before
it). An exact duplicate carries only the exact bit; empty texts are never near duplicates. The
result keeps every item: flagged items carry a bitmask of reasons, nothing is dropped.
"""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from aqt.active.dedup import byte_minhash, earlier_near_duplicates
from aqt.active.review import (
    DEFAULT_REVIEW,
    POOL_LANGUAGE,
    ReviewConfig,
    _empty_mask,
    _garbled_mask,
)
from aqt.active.strategies import score_margin
from aqt.active.textstats import (
    CharNgramModel,
    LanguageIdentifier,
    char_stats,
    encode_texts,
    trigram_codes,
)

__all__ = ["FLAG_BITS", "BulkReview", "score_and_review"]

#: reason -> bit in ``BulkReview.flags``
FLAG_BITS = {
    "empty_text": 1,
    "garbled_text": 2,
    "language_mismatch": 4,
    "length_outlier": 8,
    "exact_duplicate": 16,
    "near_duplicate": 32,
}

#: near duplicates: MinHash signature size, shingle length (bytes), LSH bands, rows checked back
N_HASHES, SHINGLE, BANDS, WINDOW = 16, 5, 8, 16


@dataclass(frozen=True)
class BulkReview:
    """``scores``: margin uncertainty per item (higher = more worth labelling); ``flags``: bitmask
    of :data:`FLAG_BITS` per item (0 = clean)."""

    scores: np.ndarray
    flags: np.ndarray

    def reasons(self, i: int) -> list[str]:
        return [name for name, bit in FLAG_BITS.items() if self.flags[i] & bit]

    def counts(self) -> dict[str, int]:
        return {name: int(((self.flags & bit) > 0).sum()) for name, bit in FLAG_BITS.items()}


_STATE: dict[str, Any] = {}


def _work(bounds: tuple[int, int]) -> tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    st = _STATE
    texts = st["texts"][bounds[0] : bounds[1]]
    X = st["vectorizer"].transform(texts)
    scores = score_margin(st["clf"].predict_proba(X))
    tb = encode_texts(texts)
    stats = char_stats(tb)
    stats["n_mojibake"] = np.zeros(len(texts))
    cfg: ReviewConfig = st["config"]
    if st["ident"] is not None:
        all_scores = st["ident"].scores(tb)
        lm = all_scores[:, st["ident"].languages_.index(POOL_LANGUAGE)]
    else:
        lm = st["lm"].score(tb, trigram_codes(tb))
    flags = np.zeros(len(texts), dtype=np.uint8)
    empty = _empty_mask(stats, cfg)
    garbled = _garbled_mask(stats, lm, st["lm_median"], cfg)
    flags[empty] |= FLAG_BITS["empty_text"]
    flags[garbled] |= FLAG_BITS["garbled_text"]
    if st["ident"] is not None:
        langs, margin = st["ident"].predict(tb, all_scores)
        foreign = ~empty & ~garbled & (langs != POOL_LANGUAGE) & (margin >= cfg.language_margin)
        flags[foreign] |= FLAG_BITS["language_mismatch"]
    flags[stats["n_chars"] > st["length_limit"]] |= FLAG_BITS["length_outlier"]
    # 64-bit keys of the lower-cased, whitespace-collapsed text
    keys = np.fromiter(
        (hash(" ".join(t.lower().split())) for t in texts), dtype=np.int64, count=len(texts)
    )
    sigs = byte_minhash(tb, n_hashes=N_HASHES, shingle=SHINGLE)
    return bounds[0], scores, flags, keys, sigs


def score_and_review(
    texts: Sequence[str],
    vectorizer: Any,
    clf: Any,
    *,
    reference_texts: Sequence[str],
    other_languages: Mapping[str, Sequence[str]] | None = None,
    n_jobs: int = 2,
    chunk: int = 20_000,
    config: ReviewConfig = DEFAULT_REVIEW,
) -> BulkReview:
    """Score and review ``texts`` with a fitted (stateless, e.g. hashing) ``vectorizer`` and a
    fitted probabilistic classifier ``clf``; character models come from ``reference_texts``.

    Uses ``n_jobs`` forked worker processes (1 = in process); the flags do not depend on
    ``n_jobs`` or ``chunk``.
    """
    ref = list(reference_texts)
    lm = CharNgramModel().fit(ref)
    ident = (
        LanguageIdentifier({POOL_LANGUAGE: ref, **dict(other_languages)})
        if other_languages
        else None
    )
    ref_len = char_stats(ref)["n_chars"]
    _STATE.update(
        texts=texts,
        vectorizer=vectorizer,
        clf=clf,
        lm=lm,
        lm_median=float(np.nanmedian(lm.score(ref))),
        ident=ident,
        config=config,
        length_limit=config.length_factor * float(np.percentile(ref_len, 99.5)),
    )
    n = len(texts)
    bounds = [(s, min(n, s + chunk)) for s in range(0, n, chunk)]
    scores = np.zeros(n)
    flags = np.zeros(n, dtype=np.uint8)
    keys = np.zeros(n, dtype=np.int64)
    sigs = np.zeros((n, N_HASHES), dtype=np.uint32)

    def put(start: int, s: np.ndarray, f: np.ndarray, k: np.ndarray, g: np.ndarray) -> None:
        end = start + len(s)
        scores[start:end], flags[start:end], keys[start:end], sigs[start:end] = s, f, k, g

    try:
        if n_jobs > 1 and len(bounds) > 1 and "fork" in mp.get_all_start_methods():
            with mp.get_context("fork").Pool(n_jobs) as pool:
                for part in pool.imap_unordered(_work, bounds):
                    put(*part)
        else:
            for b in bounds:
                put(*_work(b))
    finally:
        _STATE.clear()
    # exact duplicates: every occurrence after the first (by position) is flagged
    order = np.argsort(keys, kind="stable")
    sk = keys[order]
    exact = np.zeros(n, dtype=bool)
    exact[order[np.r_[False, sk[1:] == sk[:-1]]]] = True
    flags[exact] |= FLAG_BITS["exact_duplicate"]
    # near duplicates among the rest (an exact copy has its first occurrence's signature)
    near = earlier_near_duplicates(
        sigs, config.near_duplicate, bands=BANDS, eligible=~exact, window=WINDOW
    )
    flags[near] |= FLAG_BITS["near_duplicate"]
    return BulkReview(scores=scores, flags=flags)
