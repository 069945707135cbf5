"""Cheap, vectorised text statistics for selection review.

Every function works on a whole list of texts at once: the texts are joined into one byte array
(UTF-8, lower-cased) and per-text sums come from :func:`numpy.add.reduceat`, so a million short
texts take seconds, not minutes. Used by :mod:`aqt.active.review`.

The character n-gram model is a hashed trigram model with add-one smoothing (Cavnar & Trenkle 1994
use rank profiles of the same n-grams for language identification; a smoothed log-probability is
the likelihood version). Scores are mean log10-probabilities per trigram: higher means the text
looks more like the training text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "CharNgramModel",
    "LanguageIdentifier",
    "TextBytes",
    "char_stats",
    "encode_texts",
    "trigram_codes",
]

_TABLE_BITS = 20
_SEP = 0  # byte separating texts in the joined array


@dataclass(frozen=True)
class TextBytes:
    """All texts as one uint8 array; ``starts[i]`` is where text i begins, ``lengths[i]`` its bytes."""

    data: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray

    def per_text_sum(self, values: np.ndarray) -> np.ndarray:
        """Sum of ``values`` (one per byte of ``data``) over each text; 0 for empty texts."""
        return _segment_sum(values, self.starts, self.lengths)


def _segment_sum(values: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    out = np.zeros(len(starts), dtype=np.float64)
    if len(values) == 0 or len(starts) == 0:
        return out
    nonempty = lengths > 0
    if not nonempty.any():
        return out
    s = starts[nonempty]
    sums = np.add.reduceat(np.asarray(values, dtype=np.float64), s)
    # reduceat over s gives sums up to the next start; texts are separated by one byte, which the
    # caller sets to zero in ``values``
    out[nonempty] = sums
    return out


def encode_texts(texts: Sequence[str], lower: bool = True) -> TextBytes:
    """Join ``texts`` with NUL separators into one byte array (NUL inside a text becomes a space)."""
    cleaned = [(t or "").replace("\x00", " ") for t in texts]
    if lower:
        cleaned = [t.lower() for t in cleaned]
    encoded = [t.encode("utf-8", "replace") for t in cleaned]
    lengths = np.fromiter((len(b) for b in encoded), dtype=np.int64, count=len(encoded))
    data = np.frombuffer(b"\x00".join(encoded) + b"\x00", dtype=np.uint8)
    starts = np.zeros(len(encoded), dtype=np.int64)
    if len(encoded) > 1:
        starts[1:] = np.cumsum(lengths[:-1] + 1)
    return TextBytes(data=data, starts=starts, lengths=lengths)


_LETTER = np.zeros(256, dtype=bool)
_LETTER[ord("a") : ord("z") + 1] = True
_LETTER[ord("A") : ord("Z") + 1] = True
_LETTER[0xC2:0xF5] = True  # lead byte of a non-ASCII character counts as one letter
_VOWEL = np.zeros(256, dtype=bool)
for _c in "aeiouyAEIOUY":
    _VOWEL[ord(_c)] = True
_DIGIT = np.zeros(256, dtype=bool)
_DIGIT[ord("0") : ord("9") + 1] = True
_SPACE = np.zeros(256, dtype=bool)
for _c in " \t\n\r":
    _SPACE[ord(_c)] = True
_CONT = np.zeros(256, dtype=bool)
_CONT[0x80:0xC0] = True  # UTF-8 continuation bytes: not counted as characters
_ASCII_LETTER = _LETTER.copy()
_ASCII_LETTER[0x80:] = False


#: UTF-8 read as Latin-1 / Windows-1252 (and the replacement character): the signature of mojibake
_MOJIBAKE = re.compile(
    "\u00c3[\u0080-\u00bf]|\u00c2[\u0080-\u00bf ]|\u00e2\u20ac|\u00ef\u00bf\u00bd|\ufffd"
)


def _mojibake_counts(texts: Sequence[str]) -> np.ndarray:
    return np.fromiter(
        (len(_MOJIBAKE.findall(t)) if t and not t.isascii() else 0 for t in texts),
        dtype=np.float64,
        count=len(texts),
    )


def char_stats(texts: Sequence[str] | TextBytes) -> dict[str, np.ndarray]:
    """Per-text counts: characters, letters, vowels, digits, spaces, non-ASCII letters, words.

    Returns
    -------
    dict of str to ndarray, shape (n_texts,)
        ``n_chars`` (characters, not bytes), ``n_letters``, ``n_ascii_letters``, ``n_vowels``,
        ``n_digits``, ``n_spaces``, ``n_nonascii``, ``n_words`` (maximal runs of non-space) and
        ``n_mojibake`` (UTF-8 read as Latin-1: "Ã©", "â€™", U+FFFD; only when given strings).
    """
    tb = texts if isinstance(texts, TextBytes) else encode_texts(texts)
    d = tb.data
    sep = d == _SEP
    cont = _CONT[d]
    space = _SPACE[d]
    word_start = ~space & ~sep
    prev_blank = np.ones(len(d), dtype=bool)
    prev_blank[1:] = space[:-1] | sep[:-1]
    word_start &= prev_blank
    stats = {
        "n_mojibake": _mojibake_counts(texts)
        if not isinstance(texts, TextBytes)
        else np.zeros(len(tb.starts)),
        "n_chars": tb.per_text_sum(~cont & ~sep),
        "n_letters": tb.per_text_sum(_LETTER[d]),
        "n_ascii_letters": tb.per_text_sum(_ASCII_LETTER[d]),
        "n_vowels": tb.per_text_sum(_VOWEL[d]),
        "n_digits": tb.per_text_sum(_DIGIT[d]),
        "n_spaces": tb.per_text_sum(space),
        "n_nonascii": tb.per_text_sum(d >= 0xC2),
        "n_words": tb.per_text_sum(word_start),
    }
    return stats


def trigram_codes(tb: TextBytes) -> tuple[np.ndarray, np.ndarray]:
    """Hashed trigram code per byte and whether the position is inside a text (shareable)."""
    return _trigram_codes(tb)


def _trigram_codes(tb: TextBytes) -> tuple[np.ndarray, np.ndarray]:
    """Hashed trigram code for every byte position (padding each text with one boundary byte)."""
    d = tb.data.astype(np.int64)
    # the NUL separators act as text boundaries on both sides, so the first and last trigrams of a
    # text include a boundary marker, as in Cavnar & Trenkle's padded profiles
    prev = np.concatenate(([_SEP], d[:-1]))
    nxt = np.concatenate((d[1:], [_SEP]))
    codes = (prev * 65599 * 65599 + d * 65599 + nxt) & ((1 << _TABLE_BITS) - 1)
    valid = d != _SEP
    return codes, valid


class CharNgramModel:
    """Hashed character-trigram language model with add-one smoothing.

    ``score(texts)`` returns the mean log10-probability per trigram (higher = more like the
    training text); ``NaN`` for empty texts.
    """

    def __init__(self) -> None:
        self.logp_: np.ndarray | None = None

    def fit(self, texts: Sequence[str] | TextBytes) -> CharNgramModel:
        tb = texts if isinstance(texts, TextBytes) else encode_texts(texts)
        codes, valid = _trigram_codes(tb)
        counts = np.bincount(codes[valid], minlength=1 << _TABLE_BITS).astype(np.float64)
        total = counts.sum()
        # add-one smoothing over the hashed vocabulary actually seen, plus one unseen bucket mass
        seen = max(int((counts > 0).sum()), 1)
        self.logp_ = np.log10((counts + 1.0) / (total + seen)).astype(np.float32)
        return self

    def score(
        self, texts: Sequence[str] | TextBytes, codes: tuple[np.ndarray, np.ndarray] | None = None
    ) -> np.ndarray:
        """Mean log10-probability per trigram; ``codes`` (from :func:`trigram_codes`) may be passed
        to share the hashing between several models."""
        if self.logp_ is None:
            raise RuntimeError("CharNgramModel.score called before fit")
        tb = texts if isinstance(texts, TextBytes) else encode_texts(texts)
        codes_, valid = _trigram_codes(tb) if codes is None else codes
        lp = self.logp_[np.where(valid, codes_, 0)]
        lp[~valid] = 0.0
        total = tb.per_text_sum(lp)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(tb.lengths > 0, total / np.maximum(tb.lengths, 1), np.nan)


class LanguageIdentifier:
    """Pick the most likely language among character-trigram models built from sample texts.

    Parameters
    ----------
    samples : mapping of language code to texts
        At least a few thousand characters per language; for example the labelled pool for the
        pool's language and ParlSpeech speeches for others.
    """

    def __init__(self, samples: Mapping[str, Sequence[str]]) -> None:
        if len(samples) < 2:
            raise ValueError("LanguageIdentifier needs samples of at least two languages")
        self.languages_ = tuple(sorted(samples))
        self.models_ = {lang: CharNgramModel().fit(samples[lang]) for lang in self.languages_}

    def scores(self, texts: Sequence[str] | TextBytes) -> np.ndarray:
        """Mean log10-probability per trigram, shape (n_texts, n_languages), ``languages_`` order."""
        tb = texts if isinstance(texts, TextBytes) else encode_texts(texts)
        codes = _trigram_codes(tb)
        return np.column_stack([self.models_[lang].score(tb, codes) for lang in self.languages_])

    def predict(
        self, texts: Sequence[str] | TextBytes, scores: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Most likely language per text and the margin over the runner-up (log10 per trigram);
        pass ``scores`` from :meth:`scores` to avoid computing them twice.

        Ties go to the alphabetically first language; empty texts get ``""`` and margin 0.
        """
        s = self.scores(texts) if scores is None else scores
        s_filled = np.nan_to_num(s, nan=-np.inf)
        best = np.argmax(s_filled, axis=1)
        top2 = np.sort(s_filled, axis=1)[:, -2:]
        with np.errstate(invalid="ignore"):
            margin = np.where(np.isfinite(top2[:, 0]), top2[:, 1] - top2[:, 0], 0.0)
        langs = np.array(self.languages_, dtype=object)[best]
        empty = ~np.isfinite(s_filled.max(axis=1))
        langs[empty] = ""
        margin[empty] = 0.0
        return langs, margin
