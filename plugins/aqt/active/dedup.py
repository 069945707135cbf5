"""Exact and near-duplicate detection with MinHash over hashed character shingles.

Near duplicates are found with MinHash (Broder 1997) over character 5-gram shingles of the
normalised text, and locality-sensitive hashing on bands of the signature (Leskovec, Rajaraman &
Ullman, *Mining of Massive Datasets*, ch. 3). Everything is vectorised over a list of texts.

For very large pools, :func:`byte_minhash` computes signatures straight from the joined bytes of
:func:`~aqt.active.textstats.encode_texts` (no Python work per text) and
:func:`earlier_near_duplicates` finds, with banded LSH, the items that nearly duplicate an earlier
item; both are numpy only (sorts and segment minima, no loop over items or pairs).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

import numpy as np

from aqt.active.textstats import TextBytes, encode_texts

__all__ = [
    "DuplicateIndex",
    "byte_minhash",
    "earlier_near_duplicates",
    "exact_keys",
    "minhash_signatures",
    "normalize_text",
]

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

    def has_exact(self, key: str) -> bool:
        """Whether an item with this exact-duplicate key is indexed."""
        return key in self._exact

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


# byte -> normalised byte: ASCII letters lower-cased, ASCII digits, "_" and non-ASCII bytes kept,
# every other ASCII byte (punctuation, whitespace, control) becomes a space; NUL separates texts
_NORM_BYTE = np.arange(256, dtype=np.uint8)
_NORM_BYTE[1:128] = ord(" ")
for _c in b"0123456789_abcdefghijklmnopqrstuvwxyz":
    _NORM_BYTE[_c] = _c
for _c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZ":
    _NORM_BYTE[_c] = _c + 32
_SPACE = np.uint8(ord(" "))
# non-word characters of U+0080-U+00BF (lead byte 0xC2) and U+2000-U+206F (0xE2 0x80/0x81 ...):
# no-break space, Latin-1 punctuation, typographic quotes, dashes, ellipsis and the like
_WORD = re.compile(r"\w", re.UNICODE)
_C2_BLANK = np.array([_WORD.match(chr(c)) is None for c in range(0x80, 0xC0)])
_E2_BLANK = np.array([_WORD.match(chr(c)) is None for c in range(0x2000, 0x2080)])
_E2_BLANK[0x70:] = False  # U+2070-U+207F (superscripts) are left alone
_U32_MAX = np.iinfo(np.uint32).max
_U64_MAX = np.iinfo(np.uint64).max


def _normalized_bytes(tb: TextBytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The bytes of ``tb`` normalised like :func:`normalize_text` (ASCII punctuation to spaces,
    runs of spaces collapsed, ends stripped), as (data, starts, lengths) with NUL separators."""
    m = _NORM_BYTE[tb.data]
    lead = np.flatnonzero(m[:-1] == 0xC2)
    lead = lead[_C2_BLANK[m[lead + 1] - 0x80]]
    m[lead] = m[lead + 1] = _SPACE
    lead = np.flatnonzero(m[:-2] == 0xE2)
    lead = lead[(m[lead + 1] >> 1) == 0x40]  # 0x80 or 0x81
    lead = lead[_E2_BLANK[(m[lead + 1].astype(np.intp) - 0x80) * 64 + m[lead + 2] - 0x80]]
    m[lead] = m[lead + 1] = m[lead + 2] = _SPACE
    blank = m == _SPACE
    # a space right after a space or a separator (or at the very start) goes
    keep = ~(blank & np.r_[True, (blank | (m == 0))[:-1]])
    m = m[keep]
    # at most one space is left before a separator: drop it (``data`` always ends with NUL)
    m = m[~((m == _SPACE) & np.r_[m[1:] == 0, False])]
    ends = np.flatnonzero(m == 0)
    starts = np.zeros(len(ends), dtype=np.int64)
    starts[1:] = ends[:-1] + 1
    return m, starts, ends - starts


def byte_minhash(tb: TextBytes, n_hashes: int = 16, shingle: int = 5, seed: int = 0) -> np.ndarray:
    """One-permutation MinHash signatures of byte ``shingle``-grams of texts already joined by
    :func:`~aqt.active.textstats.encode_texts`, computed without any Python work per text.

    The text is normalised on the bytes like :func:`normalize_text` (lower-cased; punctuation and
    whitespace, ASCII and the common non-ASCII ones such as typographic quotes, dashes and no-break
    spaces, to single spaces; ends stripped). Each shingle gets one 32-bit multiply-shift hash
    (Dietzfelbinger et al. 1997); its value range is cut into ``n_hashes`` bins and a text keeps the
    smallest hash in each bin (one-permutation hashing, Li, Owen & Zhang 2012). A bin no shingle
    fell into takes the value of the next non-empty bin to its right, cyclically (rotation
    densification, Shrivastava & Li 2014; a borrowed value lies in another bin's range, so it never
    equals a value of the bin itself). The share of equal entries of two rows estimates the Jaccard
    similarity of their shingle sets, as with :func:`minhash_signatures`, at a fraction of the cost
    (one hash per shingle instead of ``n_hashes``). A text shorter than one shingle is one shingle.
    Rows depend only on their text and ``seed``, so any split of a pool into chunks gives the same
    rows; they are not the values of :func:`minhash_signatures` (another hash scheme).

    Returns
    -------
    ndarray of uint32, shape (n_texts, n_hashes)
        Empty texts (nothing left after normalisation) get all-max rows.
    """
    if not 1 <= shingle <= 8:
        raise ValueError(f"shingle must be 1 to 8 bytes, got {shingle}")
    data, starts, lengths = _normalized_bytes(tb)
    n = len(starts)
    sig = np.full((n, n_hashes), _U32_MAX, dtype=np.uint32)
    # one window per shingle start; a short text's single window starts at its first byte
    counts = np.where(lengths >= shingle, lengths - shingle + 1, np.minimum(lengths, 1))
    total = int(counts.sum())
    if total == 0:
        return sig
    # the shingle's bytes packed into one integer (byte j at bits 8j): read 8 bytes at every
    # window start through a byte-strided little-endian view, keep the first ``shingle``
    first = np.zeros(n, dtype=np.int64)
    first[1:] = np.cumsum(counts)[:-1]
    pos = np.repeat(starts - first, counts)
    pos += np.arange(total)
    buf = np.zeros(len(data) + 8, dtype=np.uint8)
    buf[: len(data)] = data
    words = np.ndarray((len(data),), dtype="<u8", buffer=buf, strides=(1,))
    x = words[pos]
    x &= np.uint64((1 << (8 * shingle)) - 1)
    short = (counts > 0) & (lengths < shingle)
    if short.any():  # keep only the text's own bytes
        x[first[short]] &= (np.uint64(1) << (lengths[short] * 8).astype(np.uint64)) - np.uint64(1)
    mult = np.random.default_rng(seed).integers(_U64_MAX, dtype=np.uint64, endpoint=True)
    x *= mult | np.uint64(1)
    x >>= np.uint64(32)  # the 32-bit hash
    # flat index of (text, bin of the hash) in ``sig``; all values are below 2**63
    cell = np.repeat(np.arange(0, n * n_hashes, n_hashes, dtype=np.uint64), counts)
    cell += (x * np.uint64(n_hashes)) >> np.uint64(32)
    np.minimum.at(sig.reshape(-1), cell.view(np.int64), x.astype(np.uint32))
    # densification: rows of non-empty texts with empty bins borrow from the right
    gaps = np.flatnonzero((counts > 0) & (sig == _U32_MAX).any(axis=1))
    if len(gaps):
        part = sig[gaps]
        out = part.copy()
        todo = part == _U32_MAX
        for t in range(1, n_hashes):
            src = np.roll(part, -t, axis=1)
            fill = todo & (src != _U32_MAX)
            out[fill] = src[fill]
            todo &= ~fill
            if not todo.any():
                break
        sig[gaps] = out
    return sig


def _fingerprints(sig: np.ndarray) -> np.ndarray:
    """The low 4 bits of each of the first 16 signature values packed into one uint64: equal values
    have equal nibbles, so counting equal nibbles bounds the count of equal values from above."""
    nib = np.zeros((len(sig), 16), dtype=np.uint8)
    w = min(16, sig.shape[1])
    nib[:, :w] = sig[:, :w] & 15
    packed = np.ascontiguousarray(nib[:, 0::2] | (nib[:, 1::2] << 4))
    return packed.view("<u8").ravel().astype(np.uint64)


def _unequal_nibbles(x: np.ndarray) -> np.ndarray:
    """Per uint64 of ``fp_a ^ fp_b``: how many of the 16 packed nibbles differ."""
    x = x | (x >> np.uint64(1))
    x |= x >> np.uint64(2)
    x &= np.uint64(0x1111111111111111)
    if hasattr(np, "bitwise_count"):  # numpy >= 2.0
        return np.bitwise_count(x)
    return _BYTE_BITS[x.view(np.uint8)].reshape(-1, 8).sum(axis=1, dtype=np.uint8)


_BYTE_BITS = np.array([b.bit_count() for b in range(256)], dtype=np.uint8)


def earlier_near_duplicates(
    signatures: np.ndarray,
    threshold: float,
    bands: int = 8,
    eligible: np.ndarray | None = None,
    window: int = 16,
) -> np.ndarray:
    """Which rows nearly duplicate an earlier row (by position), with banded LSH.

    The ``n_hashes`` columns are cut into ``bands`` bands; per band, the band's values form one
    64-bit bucket key and the rows are sorted by (key, position). A row that shares its bucket with
    earlier rows is compared, on the whole signature, with the earliest row of the bucket and with
    the ``window`` rows just before it in the bucket; it is flagged when the share of equal values
    is at least ``threshold`` for one of them. The first row of a group of near copies is never
    flagged, and every flagged row has an earlier row at estimated similarity ``>= threshold``.
    All-max rows (empty texts) and rows where ``eligible`` is False take no part.

    Recall: a pair at similarity ``s`` shares some band with probability ``1 - (1 - s^r)^bands``
    (``r`` rows per band; 0.995 at s = 0.7 for 16 hashes in 8 bands); a row whose only near copy
    lies deeper than ``window`` rows back in every shared bucket (buckets of many loosely similar
    rows) is missed. A 4-bit fingerprint per value screens the pairs before the full comparison.

    Returns
    -------
    ndarray of bool, shape (n_rows,)
    """
    sig = np.asarray(signatures)
    n, n_hashes = sig.shape
    if n_hashes % bands:
        raise ValueError(f"n_hashes ({n_hashes}) must be a multiple of bands ({bands})")
    r = n_hashes // bands
    ok = ~(sig == np.iinfo(sig.dtype).max).all(axis=1)
    if eligible is not None:
        ok &= np.asarray(eligible, dtype=bool)
    rows = np.flatnonzero(ok)
    flagged = np.zeros(n, dtype=bool)
    m = len(rows)
    if m < 2:
        return flagged
    need = int(np.ceil(threshold * n_hashes - 1e-9))
    # whole rows as single opaque items: gathering rows is several times faster that way
    row_items = np.ascontiguousarray(sig).view(np.dtype((np.void, sig.dtype.itemsize * n_hashes)))
    row_items = row_items.ravel()[rows]
    sub = row_items.view(sig.dtype).reshape(m, n_hashes)
    fp = _fingerprints(sub)
    max_unequal = n_hashes - need  # (values beyond the 16th are not in the fingerprint)
    done = np.zeros(m, dtype=bool)  # flagged, by index into ``rows``
    # sort key: a 64-bit mix of the band's values in the high bits, the row's index in the low
    # bits (so equal band values sort by position); a collision of mixed values only adds pairs to
    # compare, every match is verified on the whole signature
    pbits = max(1, (m - 1).bit_length())
    index = np.arange(m, dtype=np.uint64)
    ar = np.arange(m)
    for band in range(bands):
        key = np.zeros(m, dtype=np.uint64)
        for j in range(band * r, (band + 1) * r):
            key = key * np.uint64(0x9E3779B97F4A7C15) + sub[:, j].astype(np.uint64)
        key ^= key >> np.uint64(29)
        key *= np.uint64(0xBF58476D1CE4E5B9)
        key ^= key >> np.uint64(32)
        key = (key << np.uint64(pbits)) | index
        key.sort()
        # from here on, arrays are in sorted order; ``pos`` maps a sorted position to its row
        pos = (key & np.uint64((1 << pbits) - 1)).astype(np.intp)
        key >>= np.uint64(pbits)
        start = np.ones(m, dtype=bool)
        np.not_equal(key[1:], key[:-1], out=start[1:])
        head = np.maximum.accumulate(np.where(start, ar, 0))
        depth = ar - head  # rows before this one in its bucket
        fps, dn = fp[pos], done[pos]
        act = np.flatnonzero((depth > 0) & ~dn)
        for k in range(window + 1):  # k = 0: the bucket's head; then the rows 1..window back
            if k:
                keep = depth[act] > k
                keep &= ~dn[act]
                act = act[keep]
            if len(act) == 0:
                break
            ref = head[act] if k == 0 else act - k
            pre = np.flatnonzero(_unequal_nibbles(fps[act] ^ fps[ref]) <= max_unequal)
            a, b = act[pre], ref[pre]
            equal = row_items[pos[a]].view(sig.dtype) == row_items[pos[b]].view(sig.dtype)
            hit = a[np.count_nonzero(equal.reshape(len(a), n_hashes), axis=1) >= need]
            dn[hit] = True
            done[pos[hit]] = True
    flagged[rows[done]] = True
    return flagged
