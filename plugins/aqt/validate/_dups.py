"""Duplicate pairs within one list of texts (exact and near), and grouping by connected pairs.

Near duplicates use the MinHash signatures of :mod:`aqt.active.dedup` (character 5-grams of the
normalised text) with locality-sensitive hashing on bands: 32 hashes in 8 bands of 4, so a pair
with Jaccard similarity 0.7 becomes a candidate with probability 0.89 and unrelated short texts
(similarity about 0.05) almost never do; candidates are kept when at least ``threshold`` of their
signature agrees (the unbiased estimate of their Jaccard similarity).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np

from aqt.active.dedup import exact_keys, minhash_signatures

__all__ = ["connected_groups", "duplicate_pairs"]

N_HASHES, BANDS = 32, 8


def duplicate_pairs(
    texts: Sequence[str], threshold: float = 0.7, seed: int = 0
) -> list[tuple[int, int, str, float]]:
    """Every pair ``(i, j, kind, similarity)`` with ``i < j``: ``kind`` is ``"exact"`` (same
    normalised text) or ``"near"``; sorted by ``(i, j)``. Empty texts pair only exactly."""
    keys = exact_keys(texts)
    pairs: dict[tuple[int, int], tuple[str, float]] = {}
    by_key: dict[str, list[int]] = {}
    for i, k in enumerate(keys):
        by_key.setdefault(k, []).append(i)
    for members in by_key.values():
        for a in range(len(members)):
            for b in range(a + 1, len(members)):
                pairs[(members[a], members[b])] = ("exact", 1.0)
    sig = minhash_signatures(texts, N_HASHES, seed=seed)
    empty = sig[:, 0] == np.iinfo(np.uint64).max
    rows = N_HASHES // BANDS
    for band in range(BANDS):
        block = np.ascontiguousarray(sig[:, band * rows : (band + 1) * rows])
        keys_b = block.view(np.dtype((np.void, block.dtype.itemsize * rows))).ravel()
        order = np.argsort(keys_b, kind="stable")
        sk = keys_b[order]
        bounds = np.flatnonzero(np.r_[True, sk[1:] != sk[:-1], True])
        for s, e in itertools.pairwise(bounds):
            if e - s < 2:
                continue
            members = np.sort(order[s:e])
            members = members[~empty[members]]
            for a in range(len(members)):
                for b in range(a + 1, len(members)):
                    i, j = int(members[a]), int(members[b])
                    if (i, j) in pairs:
                        continue
                    sim = float(np.mean(sig[i] == sig[j]))
                    if sim >= threshold:
                        pairs[(i, j)] = ("near", sim)
    return [(i, j, k, s) for (i, j), (k, s) in sorted(pairs.items())]


def connected_groups(
    n: int, pairs: Sequence[tuple[int, int]], labels: Sequence[object] | None = None
) -> np.ndarray:
    """Group index per element: elements joined by a pair, or sharing a non-empty ``labels``
    value, are in one group (union-find). Group ids are the smallest member index."""
    parent = np.arange(n)

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return int(x)

    def union(a: int, b: int) -> None:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)

    for a, b in pairs:
        union(int(a), int(b))
    if labels is not None:
        first: dict[object, int] = {}
        for i, g in enumerate(labels):
            if g is None or g == "":
                continue
            if g in first:
                union(first[g], i)
            else:
                first[g] = i
    return np.array([find(i) for i in range(n)], dtype=np.int64)
