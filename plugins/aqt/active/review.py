"""Selection review: checks that catch items uncertainty sampling should not send to annotators.

Uncertainty is least trustworthy at the edges of the distribution (empty, garbled or foreign text,
off-task items, duplicates), exactly where plain uncertainty sampling spends its budget. Each
``find_*`` check returns :class:`aqt.findings.Finding` objects; :class:`SelectionReview` runs all of
them over a pool once (vectorised) and then reviews each batch: flagged items are demoted and
handed to a reviewer with the reason, never silently dropped. :class:`SkipModel` learns from items
annotators skipped (a logistic regression of skip vs keep on cheap features and hashed words).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from aqt.active.dedup import DuplicateIndex, exact_keys, minhash_signatures
from aqt.active.textstats import CharNgramModel, LanguageIdentifier, char_stats
from aqt.findings import Finding

__all__ = [
    "DEFAULT_REVIEW",
    "ReviewConfig",
    "find_duplicates",
    "find_empty_text",
    "find_garbled_text",
    "find_language_mismatch",
    "find_length_outliers",
    "find_off_task",
]

POOL_LANGUAGE = "pool"


@dataclass(frozen=True)
class ReviewConfig:
    """Thresholds of the selection-review checks (defaults tuned on Rotten Tomatoes + junk)."""

    #: fewer letters than this = empty or near-empty text
    min_letters: int = 2
    #: letters / non-space characters below this = garbled
    min_letter_ratio: float = 0.6
    #: vowels / ASCII letters outside this range (texts with >= 12 ASCII letters) = garbled
    vowel_range: tuple[float, float] = (0.18, 0.65)
    #: character-trigram score this far (log10 per trigram) below the pool median = garbled
    lm_drop: float = 0.75
    #: language identifier must prefer another language by at least this margin
    language_margin: float = 0.05
    #: without other-language samples: trigram score this far below the median = not the language
    language_drop: float = 0.4
    #: longer than this factor times the 99.5th percentile of reference lengths = length outlier
    length_factor: float = 1.0
    #: the length check waits for this many reference lengths (a percentile of fewer is the
    #: sample's maximum, which sent 6% of real reviews to review at 50 items)
    length_min_reference: int = 200
    #: items like the length outliers (skip-model probability at least this) are off task; the
    #: model is fitted once at least ``min_outliers`` and ``min_outlier_share`` of the pool are
    #: length outliers (on-task data alone gives about 0.5%, 1.4% seen with a limit from 1,000
    #: actively chosen items: the limit is their 99.5th percentile)
    like_outlier_threshold: float = 0.5
    min_outliers: int = 20
    min_outlier_share: float = 0.02
    #: without other-language samples, texts with fewer letters are not judged by language
    language_min_letters: int = 25
    #: estimated Jaccard similarity of shingles at or above this = near duplicate
    near_duplicate: float = 0.7
    #: off-task: vocabulary coverage below this quantile of the reference items' own
    #: (leave-one-out) coverage, times ``off_task_factor``
    off_task_quantile: float = 0.01
    off_task_factor: float = 0.9
    #: the skip model flags items whose skip probability is at least this
    skip_threshold: float = 0.5


#: the default thresholds (a frozen, shared instance)
DEFAULT_REVIEW = ReviewConfig()


def _ids(ids: Sequence[Any] | None, n: int) -> list[str]:
    return [str(i) for i in (range(n) if ids is None else ids)]


def _group(
    check: str,
    severity: str,
    ids: list[str],
    mask: np.ndarray,
    what: str,
    fix: str,
    examples: Sequence[str] = (),
) -> list[Finding]:
    flagged = sorted(i for i, m in zip(ids, mask) if m)
    if not flagged:
        return []
    shown = "; ".join(repr(t[:40]) for t in examples[:3])
    msg = f"{len(flagged)} item(s) {what}" + (f", e.g. {shown}" if shown else "") + "."
    return [Finding(check, severity, tuple(flagged), msg, fix)]


# -- per-item masks (vectorised) -------------------------------------------------------------------
def _empty_mask(stats: dict[str, np.ndarray], cfg: ReviewConfig) -> np.ndarray:
    return stats["n_letters"] < cfg.min_letters


def _garbled_mask(
    stats: dict[str, np.ndarray], lm_scores: np.ndarray, lm_median: float, cfg: ReviewConfig
) -> np.ndarray:
    visible = np.maximum(stats["n_chars"] - stats["n_spaces"], 1)
    letter_ratio = stats["n_letters"] / visible
    vowel_ratio = stats["n_vowels"] / np.maximum(stats["n_ascii_letters"], 1)
    enough = stats["n_ascii_letters"] >= 12
    lo, hi = cfg.vowel_range
    bad_vowels = enough & ((vowel_ratio < lo) | (vowel_ratio > hi))
    low_lm = np.nan_to_num(lm_scores, nan=-99.0) < lm_median - cfg.lm_drop
    mojibake = stats.get("n_mojibake", np.zeros_like(letter_ratio)) >= 2
    nonempty = stats["n_letters"] >= cfg.min_letters
    return nonempty & ((letter_ratio < cfg.min_letter_ratio) | bad_vowels | low_lm | mojibake)


# -- public checks on plain lists --------------------------------------------------------------------
def find_empty_text(
    texts: Sequence[str], ids: Sequence[Any] | None = None, config: ReviewConfig = DEFAULT_REVIEW
) -> list[Finding]:
    """Items with fewer than ``config.min_letters`` letters (empty, whitespace, lone punctuation)."""
    mask = _empty_mask(char_stats(texts), config)
    return _group(
        "empty_text",
        "warning",
        _ids(ids, len(texts)),
        mask,
        "are empty or near-empty",
        "remove them from the source, or fix the text column (--text-col).",
        [t for t, m in zip(texts, mask) if m],
    )


def find_garbled_text(
    texts: Sequence[str],
    ids: Sequence[Any] | None = None,
    reference: Sequence[str] | None = None,
    config: ReviewConfig = DEFAULT_REVIEW,
) -> list[Finding]:
    """Garbled or non-language text: too few letters, implausible vowel ratio, or a character-trigram
    score far below the reference's median (the model is trained on ``reference``, default the texts).
    """
    ref = list(texts if reference is None else reference)
    lm = CharNgramModel().fit(ref)
    med = float(np.nanmedian(lm.score(ref))) if ref else 0.0
    mask = _garbled_mask(char_stats(texts), lm.score(texts), med, config)
    return _group(
        "garbled_text",
        "warning",
        _ids(ids, len(texts)),
        mask,
        "look garbled (symbols, encoding damage or letter salad)",
        "check the source encoding and extraction; drop the items if they carry no text.",
        [t for t, m in zip(texts, mask) if m],
    )


def find_language_mismatch(
    texts: Sequence[str],
    ids: Sequence[Any] | None = None,
    reference: Sequence[str] | None = None,
    other_languages: Mapping[str, Sequence[str]] | None = None,
    config: ReviewConfig = DEFAULT_REVIEW,
) -> list[Finding]:
    """Items not in the pool's language. With ``other_languages`` samples a character-trigram
    identifier names the language; without, items whose trigram score under the reference model is
    ``language_drop`` below the median are flagged (garbled items are left to the garbled check)."""
    ref = list(texts if reference is None else reference)
    stats = char_stats(texts)
    ok = ~_empty_mask(stats, config)
    lm = CharNgramModel().fit(ref)
    med = float(np.nanmedian(lm.score(ref))) if ref else 0.0
    ok &= ~_garbled_mask(stats, lm.score(texts), med, config)
    idl = _ids(ids, len(texts))
    if other_languages:
        ident = LanguageIdentifier({POOL_LANGUAGE: ref, **dict(other_languages)})
        langs, margin = ident.predict(texts)
        mask = ok & (langs != POOL_LANGUAGE) & (margin >= config.language_margin)
        findings = []
        for lang in sorted(set(langs[mask].tolist())):
            m = mask & (langs == lang)
            findings += _group(
                "language_mismatch",
                "warning",
                idl,
                m,
                f"look like {lang!r}, not the pool's language",
                "send them to annotators of that language or drop them.",
                [t for t, x in zip(texts, m) if x],
            )
        return findings
    ok &= stats["n_letters"] >= config.language_min_letters
    mask = ok & (np.nan_to_num(lm.score(texts), nan=0.0) < med - config.language_drop)
    return _group(
        "language_mismatch",
        "warning",
        idl,
        mask,
        "do not look like the pool's language",
        "send them to annotators of that language or drop them.",
        [t for t, m in zip(texts, mask) if m],
    )


def find_duplicates(
    texts: Sequence[str],
    ids: Sequence[Any] | None = None,
    sent_texts: Sequence[str] = (),
    sent_ids: Sequence[Any] | None = None,
    config: ReviewConfig = DEFAULT_REVIEW,
) -> list[Finding]:
    """Exact (same normalised text) and near duplicates (MinHash) within ``texts`` (the first
    occurrence is kept) and against items already sent. One finding per kind of duplicate."""
    idl = _ids(ids, len(texts))
    index = DuplicateIndex(threshold=config.near_duplicate)
    if len(sent_texts):
        index.add(_ids(sent_ids, len(sent_texts)), list(sent_texts))
    sigs = minhash_signatures(texts, index.n_hashes)
    keys = exact_keys(texts)
    hits: dict[str, list[str]] = {}
    for i, (key, sig) in enumerate(zip(keys, sigs)):
        m = index.match(key, sig)
        if m is not None:
            hits.setdefault(m[0], []).append(f"{idl[i]}~{m[1]}")
        index.add([idl[i]], [texts[i]], signatures=sig[None, :], keys=[key])
    out = []
    for kind in sorted(hits):
        pairs = hits[kind]
        items = tuple(sorted(p.split("~")[0] for p in pairs))
        out.append(
            Finding(
                f"{kind}_duplicate",
                "warning",
                items,
                f"{len(items)} item(s) duplicate an earlier or already sent item "
                f"({', '.join(pairs[:3])}).",
                "send one copy; skip the rest.",
            )
        )
    return out


def _length_limit(ref_lengths: np.ndarray, cfg: ReviewConfig) -> float:
    if len(ref_lengths) < max(1, cfg.length_min_reference):
        return np.inf
    return float(cfg.length_factor * np.percentile(ref_lengths, 99.5))


def find_length_outliers(
    texts: Sequence[str],
    ids: Sequence[Any] | None = None,
    reference: Sequence[str] | None = None,
    config: ReviewConfig = DEFAULT_REVIEW,
) -> list[Finding]:
    """Items longer than ``length_factor`` times the 99.5th percentile of the reference lengths."""
    ref = list(texts if reference is None else reference)
    limit = _length_limit(char_stats(ref)["n_chars"], config)
    mask = char_stats(texts)["n_chars"] > limit
    return _group(
        "length_outlier",
        "warning",
        _ids(ids, len(texts)),
        mask,
        f"are longer than {limit:.0f} characters (unlike the reference)",
        "check that they belong to the task; split or drop them.",
        [t for t, m in zip(texts, mask) if m],
    )


def _coverage(vectors: Any, seen: np.ndarray) -> np.ndarray:
    """Share of each (L2-normalised) vector's squared weight on features in ``seen``."""
    v = vectors.tocsr() if hasattr(vectors, "tocsr") else vectors
    sq = v.multiply(v) if hasattr(v, "multiply") else np.asarray(v) ** 2
    total = np.asarray(sq.sum(axis=1)).ravel()
    on = np.asarray(sq[:, np.flatnonzero(seen)].sum(axis=1)).ravel()
    return np.where(total > 0, on / np.maximum(total, 1e-12), 0.0)


def _reference_df(reference_vectors: Any) -> np.ndarray:
    ref = reference_vectors.tocsr() if hasattr(reference_vectors, "tocsr") else reference_vectors
    return np.asarray((ref != 0).sum(axis=0)).ravel()


def off_task_limit(reference_vectors: Any, config: ReviewConfig) -> tuple[np.ndarray, float]:
    """Reference document frequencies and the coverage limit: ``off_task_factor`` times the
    ``off_task_quantile`` quantile of the reference items' leave-one-out coverage (a feature counts
    as seen for a reference item only if another reference item has it too)."""
    df = _reference_df(reference_vectors)
    own = _coverage(reference_vectors, df >= 2)
    return df, float(config.off_task_factor * np.quantile(own, config.off_task_quantile))


def find_off_task(
    vectors: Any,
    reference_vectors: Any,
    ids: Sequence[Any] | None = None,
    config: ReviewConfig = DEFAULT_REVIEW,
) -> list[Finding]:
    """Out-of-distribution items by vocabulary coverage: the share of an item's (TF-IDF) weight on
    features that occur in the reference (labelled items plus an optional clean sample). Items
    below ``off_task_factor`` times the ``off_task_quantile`` quantile of the reference's own
    leave-one-out coverage are flagged; foreign, garbled and off-topic texts use words the task's
    texts do not."""
    df, limit = off_task_limit(reference_vectors, config)
    mask = _coverage(vectors, df >= 1) < limit
    return _group(
        "off_task",
        "warning",
        _ids(ids, vectors.shape[0]),
        mask,
        "are far from the labelled data (off-task or out of distribution)",
        "check that they belong to the task; add a clean reference sample if unsure.",
    )
