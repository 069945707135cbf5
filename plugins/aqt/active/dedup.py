"""Exact and near-duplicate detection with MinHash over hashed character shingles.

Near duplicates are found with MinHash (Broder 1997) over character 5-gram shingles of the
normalised text, and locality-sensitive hashing on bands of the signature (Leskovec, Rajaraman &
Ullman, *Mining of Massive Datasets*, ch. 3). Everything is vectorised over a list of texts.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from aqt.active.textstats import encode_texts

__all__ = ["DuplicateIndex", "exact_keys", "minhash_signatures", "normalize_text"]

_PUNCT = re.compile(r"[^\w\s]+", re.UNICODE)
_SPACES = re.compile(r"\s+")
_MERSENNE = (1 << 61) - 1


def normalize_text(text: str) -> str:
    """Lower-case, drop punctuation, collapse whitespace: the key for exact duplicates."""
    return _SPACES.sub(" ", _PUNCT.sub(" ", (text or "").lower())).strip()


def exact_keys(texts: Sequence[str]) -> list[str]:
    """A stable key per text (BLAKE2 of the normalised text); equal keys = exact duplicates."""
    return [
        hashlib.blake2b(normalize_text(t).encode("utf-8"), digest_size=8).hexdigest() for t in texts
    ]


def minhash_signatures(
    texts: Sequence[str], n_hashes: int = 16, shingle: int = 5, seed: int = 0
) -> np.ndarray:
    """MinHash signatures of character ``shingle``-grams of the normalised texts.

    Returns
    -------
    ndarray of uint64, shape (n_texts, n_hashes)
        Texts shorter than one shingle hash their whole normalised text; empty texts get all-max.
    """
    norm = [normalize_text(t) for t in texts]
    tb = encode_texts(norm, lower=False)
    d = tb.data.astype(np.uint64)
    n = len(d)
    sig = np.full((len(norm), n_hashes), np.iinfo(np.uint64).max, dtype=np.uint64)
    if n == 0 or len(norm) == 0:
        return sig
    # rolling polynomial hash of each window of ``shingle`` bytes starting at every position
    h = np.zeros(n, dtype=np.uint64)
    valid = np.ones(n, dtype=bool)
    for j in range(shingle):
        shifted = np.zeros(n, dtype=np.uint64)
        shifted[: n - j] = d[j:]
        h = h * np.uint64(1_000_003) + shifted
        valid[: n - j] &= d[j:] != 0
        if j:
            valid[n - j :] = False
    # texts shorter than one shingle: use the start position with the whole text as one shingle
    short = (tb.lengths > 0) & (tb.lengths < shingle)
    valid[tb.starts[short]] = True
    owner = np.repeat(np.arange(len(norm)), tb.lengths + 1)[:n]
    hv = h[valid] & np.uint64(_MERSENNE)
    ov = owner[valid]
    if len(hv) == 0:
        return sig
    rng = np.random.default_rng(seed)
    a = rng.integers(1, 1 << 31, size=n_hashes, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 1 << 31, size=n_hashes, dtype=np.uint64)
    # segment minimum per owner; owners are contiguous and increasing
    bounds = np.flatnonzero(np.r_[True, ov[1:] != ov[:-1]])
    owners = ov[bounds]
    for k in range(n_hashes):
        perm = (hv * a[k] + b[k]) & np.uint64(_MERSENNE)
        sig[owners, k] = np.minimum.reduceat(perm, bounds)
    return sig


class DuplicateIndex:
    """Items already seen (sent to annotators, or earlier in the pool), for duplicate look-ups.

    ``add`` registers items; ``query`` returns, for each new text, the id of an indexed item it
    duplicates exactly (same normalised text) or nearly (estimated Jaccard similarity of shingles at
    least ``threshold``), else ``None``.
    """

    def __init__(self, threshold: float = 0.7, n_hashes: int = 16, bands: int = 8) -> None:
        if n_hashes % bands:
            raise ValueError("n_hashes must be a multiple of bands")
        self.threshold = threshold
        self.n_hashes = n_hashes
        self.bands = bands
        self._exact: dict[str, str] = {}
        self._buckets: list[dict[bytes, list[int]]] = [{} for _ in range(bands)]
        self._ids: list[str] = []
        self._sigs: list[np.ndarray] = []

    def __len__(self) -> int:
        return len(self._ids)

    def _band_keys(self, sig: np.ndarray) -> list[bytes]:
        r = self.n_hashes // self.bands
        return [sig[i * r : (i + 1) * r].tobytes() for i in range(self.bands)]

    def add(
        self,
        ids: Sequence[str],
        texts: Sequence[str],
        signatures: np.ndarray | None = None,
        keys: Sequence[str] | None = None,
    ) -> None:
        sigs = minhash_signatures(texts, self.n_hashes) if signatures is None else signatures
        keys = exact_keys(texts) if keys is None else keys
        for item, key, sig in zip(ids, keys, sigs):
            self._exact.setdefault(key, str(item))
            pos = len(self._ids)
            self._ids.append(str(item))
            self._sigs.append(sig)
            for band, bk in enumerate(self._band_keys(sig)):
                self._buckets[band].setdefault(bk, []).append(pos)

    def match(self, key: str, sig: np.ndarray) -> tuple[str, str] | None:
        """``("exact", id)``, ``("near", id)`` or ``None`` for one text's key and signature."""
        if key in self._exact:
            return "exact", self._exact[key]
        if sig[0] == np.iinfo(np.uint64).max:  # empty text: only exact matches count
            return None
        best, best_sim = None, self.threshold
        for band, bk in enumerate(self._band_keys(sig)):
            for pos in self._buckets[band].get(bk, ()):
                sim = float(np.mean(self._sigs[pos] == sig))
                if sim >= best_sim and (best is None or sim > best_sim or pos < best):
                    best, best_sim = pos, sim
        return ("near", self._ids[best]) if best is not None else None

    def query(self, texts: Sequence[str]) -> list[tuple[str, str] | None]:
        sigs = minhash_signatures(texts, self.n_hashes)
        return [self.match(k, s) for k, s in zip(exact_keys(texts), sigs)]
