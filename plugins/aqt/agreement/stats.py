"""Sufficient statistics of a ratings matrix; every coefficient is derived from these.

Input is an integer codes matrix ``X`` (items x annotators, ``-1`` = missing) over ``q``
categories. With ``r_ik`` the number of judgements of category ``k`` on item ``i`` and
``r_i = sum_k r_ik``, the statistics are sums over items grouped by ``r = r_i``:

``n_r[r]``
    number of items with ``r`` judgements
``C[r, k]``
    ``sum_i r_ik`` over those items
``P[r, k, l]``
    ``sum_i r_ik r_il`` over those items
``n_gk[g, k]``
    judgements of category ``k`` by annotator ``g``
``used[k]``
    items on which category ``k`` was used at least once

All are integers, so they add up exactly over disjoint shards of items and can be updated one
judgement at a time (:class:`aqt.agreement.AgreementState`) with results equal to the batch ones.
Krippendorff's coincidence matrix is ``o_kl = sum_{r>=2} (P[r,k,l] - [k=l] C[r,k]) / (r - 1)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Stats", "stats_from_codes", "pairwise_tables", "coincidence"]

#: above this many annotators the per-item counts path is used instead of column pairs
_PAIR_LIMIT = 12
_CHUNK_CELLS = 1 << 22


@dataclass(frozen=True)
class Stats:
    """Integer sufficient statistics (see the module docstring); ``q`` categories, ``G`` annotators."""

    n_r: np.ndarray  # (rmax+1,)
    C: np.ndarray  # (rmax+1, q)
    P: np.ndarray  # (rmax+1, q, q)
    n_gk: np.ndarray  # (G, q)
    used: np.ndarray  # (q,)

    @property
    def q(self) -> int:
        return int(self.C.shape[1])

    @property
    def n_annotators(self) -> int:
        return int(self.n_gk.shape[0])

    def trimmed(self) -> Stats:
        """The canonical form: no trailing ``r`` rows without items (at least rows 0 and 1)."""
        nz = np.flatnonzero(self.n_r)
        top = max(int(nz[-1]) + 1 if nz.size else 1, 2)
        if top == len(self.n_r):
            return self
        if top < len(self.n_r):
            return Stats(self.n_r[:top], self.C[:top], self.P[:top], self.n_gk, self.used)
        pad = top - len(self.n_r)
        q = self.q
        return Stats(
            np.concatenate([self.n_r, np.zeros(pad, np.int64)]),
            np.concatenate([self.C, np.zeros((pad, q), np.int64)]),
            np.concatenate([self.P, np.zeros((pad, q, q), np.int64)]),
            self.n_gk,
            self.used,
        )

    def binary(self, k: int) -> Stats:
        """One-vs-rest statistics for category ``k`` (categories ``[k, rest]``), in closed form."""
        r = np.arange(len(self.n_r), dtype=np.int64)
        a = self.C[:, k]
        tot = r * self.n_r
        pkk = self.P[:, k, k]
        cross = r * a - pkk  # sum_i r_ik (r_i - r_ik)
        rest = r * tot - 2 * r * a + pkk  # sum_i (r_i - r_ik)^2
        P = np.stack([np.stack([pkk, cross], 1), np.stack([cross, rest], 1)], 1)
        C = np.stack([a, tot - a], 1)
        n_g = self.n_gk.sum(1)
        n_gk = np.stack([self.n_gk[:, k], n_g - self.n_gk[:, k]], 1)
        n_items = int(self.n_r[1:].sum())
        used = np.array([self.used[k], n_items], dtype=np.int64)
        return Stats(self.n_r, C, P, n_gk, used)


def coincidence(st: Stats) -> np.ndarray:
    """Krippendorff's coincidence matrix ``o_kl`` (float, ``q x q``) from the statistics."""
    q = st.q
    o = np.zeros((q, q))
    for r in range(2, len(st.n_r)):
        if st.n_r[r]:
            o += (st.P[r] - np.diag(st.C[r])) / (r - 1)
    return o


def _missing_as_q(X: np.ndarray, q: int) -> np.ndarray:
    Xq = X.astype(np.int64)
    Xq[Xq < 0] = q
    return Xq


def _stats_pairs(X: np.ndarray, q: int, want_pairs: bool, need_used: bool = True):
    """Column-pair path: one bincount per annotator pair (g <= h) over all items."""
    n, G = X.shape
    q1 = q + 1
    Xq = _missing_as_q(X, q)
    r_i = (X >= 0).sum(1).astype(np.int64)
    rmax = int(r_i.max()) if n else 0
    base = r_i * (q1 * q1)
    size = (rmax + 1) * q1 * q1
    P = np.zeros((rmax + 1, q, q), np.int64)
    C = np.zeros((rmax + 1, q), np.int64)
    n_gk = np.zeros((G, q), np.int64)
    tables = {}
    for g in range(G):
        xg = base + Xq[:, g] * q1
        for h in range(g, G):
            t = np.bincount(xg + Xq[:, h], minlength=size).reshape(rmax + 1, q1, q1)[:, :q, :q]
            if g == h:
                d = np.einsum("rkk->rk", t)
                C += d
                n_gk[g] = d.sum(0)
                P += t
            else:
                P += t + t.transpose(0, 2, 1)
                if want_pairs:
                    tables[(g, h)] = t.sum(0)
    n_r = np.bincount(r_i, minlength=rmax + 1).astype(np.int64)
    used = _used(X, q) if need_used else np.zeros(q, np.int64)
    return Stats(n_r, C, P, n_gk, used), tables


def _used(X: np.ndarray, q: int) -> np.ndarray:
    used = np.zeros(q, np.int64)
    if q <= 63:
        mask = np.zeros(len(X), np.uint64)
        for g in range(X.shape[1]):
            col = X[:, g].astype(np.int64)
            mask |= np.where(col >= 0, np.left_shift(np.uint64(1), np.maximum(col, 0).astype(np.uint64)), np.uint64(0))
        for k in range(q):
            used[k] = np.count_nonzero(mask & np.uint64(1 << k))
        return used
    for k in range(q):
        used[k] = np.count_nonzero((X == k).any(1))
    return used


def _stats_counts(X: np.ndarray, q: int) -> Stats:
    """Per-item counts path (chunked over items; memory linear in ``q``)."""
    n, G = X.shape
    r_all = (X >= 0).sum(1)
    rmax = int(r_all.max()) if n else 0
    P = np.zeros((rmax + 1, q, q), np.int64)
    C = np.zeros((rmax + 1, q), np.int64)
    used = np.zeros(q, np.int64)
    chunk = max(1, _CHUNK_CELLS // max(q, 1))
    for s in range(0, n, chunk):
        Xc = X[s : s + chunk].astype(np.int64)
        m = Xc >= 0
        rows = np.broadcast_to(np.arange(len(Xc))[:, None], Xc.shape)
        counts = np.bincount((rows * q + Xc)[m], minlength=len(Xc) * q).reshape(len(Xc), q)
        r_i = r_all[s : s + chunk]
        used += (counts > 0).sum(0)
        for r in np.unique(r_i):
            sel = counts[r_i == r].astype(np.float64)
            P[r] += np.rint(sel.T @ sel).astype(np.int64)
            C[r] += np.rint(sel.sum(0)).astype(np.int64)
    gidx = np.broadcast_to(np.arange(G)[None, :], X.shape)
    m = X >= 0
    n_gk = np.bincount((gidx * q + X.astype(np.int64))[m], minlength=G * q).reshape(G, q)
    n_r = np.bincount(r_all, minlength=rmax + 1).astype(np.int64)
    return Stats(n_r, C, P, n_gk.astype(np.int64), used)


def pairwise_tables(X: np.ndarray, q: int) -> dict[tuple[int, int], np.ndarray]:
    """Contingency tables ``T[k, l]`` (annotator ``g`` said ``k``, ``h`` said ``l``) for ``g < h``
    on the items both judged; pairs without a shared item are left out."""
    G = X.shape[1]
    out = {}
    present = X >= 0
    for g in range(G):
        rows = present[:, g]
        if not rows.any():
            continue
        Xg = X[rows]
        xg = Xg[:, g].astype(np.int64) * q
        for h in range(g + 1, G):
            both = Xg[:, h] >= 0
            if both.any():
                t = np.bincount(xg[both] + Xg[both, h], minlength=q * q).reshape(q, q)
                out[(g, h)] = t.astype(np.int64)
    return out


def stats_from_codes(
    X: np.ndarray, q: int, *, want_pairs: bool = False, need_used: bool = True
) -> tuple[Stats, dict[tuple[int, int], np.ndarray] | None]:
    """Sufficient statistics (and optionally the pairwise tables) of a codes matrix.

    Parameters
    ----------
    X : (n_items, n_annotators) integer array, codes ``0..q-1``, ``-1`` for missing
    q : number of categories
    want_pairs : also return the ``g < h`` contingency tables of items both annotators judged
    need_used : compute ``used`` (skipped, left zero, when only alpha is wanted)

    Returns
    -------
    (Stats in canonical trimmed form, tables or None)
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError("codes must be a 2-d array (items x annotators)")
    if X.shape[1] <= _PAIR_LIMIT:
        st, tables = _stats_pairs(X, q, want_pairs, need_used)
        if want_pairs:
            tables = {k: v.astype(np.int64) for k, v in tables.items() if v.sum() > 0}
    else:
        st = _stats_counts(X, q)
        tables = pairwise_tables(X, q) if want_pairs else None
    return st.trimmed(), (tables if want_pairs else None)
