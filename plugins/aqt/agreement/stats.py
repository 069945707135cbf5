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

__all__ = [
    "Stats",
    "coincidence",
    "compress",
    "item_agreement_patterns",
    "pairwise_tables",
    "stats_from_codes",
    "stats_from_patterns",
]

_CHUNK_CELLS = 1 << 22
#: up to this many possible rows ``(q+1)^G`` distinct rows are found with one bincount
_DENSE_PATTERNS = 1 << 22


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


def compress(X: np.ndarray, q: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Distinct rows of ``X`` with their multiplicities (items with the same judgements by the
    same annotators contribute identical terms, so statistics over rows are weighted sums).

    Each row is packed into one integer in base ``q + 1``; a ``bincount`` over the packed codes
    (when ``(q+1)^G`` is small) or ``np.unique`` (otherwise) finds the distinct rows.

    Returns
    -------
    patterns : (m, G) codes, ``-1`` missing
    weights : (m,) int64 multiplicities
    inverse : (n_items,) index of each item's pattern, or None when rows cannot be packed
    """
    n, G = X.shape
    q1 = q + 1
    if G == 0 or n == 0 or q1**G >= 2**62:
        return X.astype(np.int64), np.ones(n, np.int64), None
    Xq = np.where(X < 0, q, X)
    dtype = np.int32 if q1**G < 2**31 else np.int64
    packed = np.zeros(n, dtype)
    for g in range(G):
        packed *= q1
        packed += Xq[:, g]
    if q1**G <= _DENSE_PATTERNS:
        hist = np.bincount(packed, minlength=q1**G)
        codes = np.flatnonzero(hist)
        weights = hist[codes].astype(np.int64)
        lookup = np.zeros(q1**G, np.int64)
        lookup[codes] = np.arange(len(codes))
        inverse = lookup[packed]
    else:
        codes, inverse, weights = np.unique(packed, return_inverse=True, return_counts=True)
        weights = weights.astype(np.int64)
    pat = np.empty((len(codes), G), np.int64)
    rest = codes.astype(np.int64)
    for g in range(G - 1, -1, -1):
        pat[:, g] = rest % q1
        rest //= q1
    pat[pat == q] = -1
    return pat, weights, inverse.ravel()


def _pairs_cheaper(G: int, q: int) -> bool:
    """Column pairs (``G (G + 1) / 2`` bincounts) beat dense per-row counts (``q^2`` per row)."""
    return G * (G + 1) // 2 <= max(q * q // 4, 1)


def _stats_by_pairs(pat: np.ndarray, w: np.ndarray, q: int) -> Stats:
    """``P`` and ``C`` from one weighted bincount per annotator pair ``g <= h``; ``used`` from the
    first occurrence of each code in a row. Cost independent of ``q``."""
    m, G = pat.shape
    present = pat >= 0
    r_all = present.sum(1)
    rmax = int(r_all.max()) if m else 0
    size = (rmax + 1) * q * q
    wf = w.astype(np.float64)
    base = r_all.astype(np.int64) * (q * q)
    P = np.zeros((rmax + 1, q, q), np.float64)
    used = np.zeros(q, np.float64)
    for g in range(G):
        col_g = present[:, g]
        xg = base + pat[:, g] * q
        first = col_g.copy()
        for h in range(g):
            first &= pat[:, h] != pat[:, g]
        used += np.bincount(pat[first, g], weights=wf[first], minlength=q)
        for h in range(g, G):
            both = col_g & present[:, h]
            t = np.bincount(xg[both] + pat[both, h], weights=wf[both], minlength=size)
            t = t.reshape(rmax + 1, q, q)
            P += t if g == h else t + t.transpose(0, 2, 1)
    P = np.rint(P).astype(np.int64)
    C = np.rint(_diag_counts(pat, wf, r_all, rmax, q)).astype(np.int64)
    n_gk = _annotator_counts(pat, wf, q)
    n_r = np.bincount(r_all, weights=wf, minlength=rmax + 1).round().astype(np.int64)
    return Stats(n_r, C, P, n_gk, np.rint(used).astype(np.int64))


def _diag_counts(pat, wf, r_all, rmax, q) -> np.ndarray:
    """``C[r, k]``: judgements of ``k`` on rows with ``r`` judgements (weighted)."""
    C = np.zeros((rmax + 1) * q)
    for g in range(pat.shape[1]):
        ok = pat[:, g] >= 0
        C += np.bincount(r_all[ok] * q + pat[ok, g], weights=wf[ok], minlength=(rmax + 1) * q)
    return C.reshape(rmax + 1, q)


def _annotator_counts(pat: np.ndarray, wf: np.ndarray, q: int) -> np.ndarray:
    G = pat.shape[1]
    n_gk = np.zeros((G, q), np.int64)
    for g in range(G):
        col = pat[:, g]
        ok = col >= 0
        n_gk[g] = np.bincount(col[ok], weights=wf[ok], minlength=q).round().astype(np.int64)
    return n_gk


def stats_from_patterns(
    pat: np.ndarray, w: np.ndarray, q: int, *, want_pairs: bool = False
) -> tuple[Stats, dict[tuple[int, int], np.ndarray] | None]:
    """Statistics of rows ``pat`` (codes, ``-1`` missing) weighted by integer ``w``.

    Few annotators: one weighted bincount per annotator pair; many annotators: dense per-row
    counts, chunked over rows. Either way memory is linear in ``q`` (plus the ``q x q`` tables).
    """
    pat = np.asarray(pat, dtype=np.int64)  # small code dtypes would overflow in index arithmetic
    m, G = pat.shape
    if _pairs_cheaper(G, q):
        st = _stats_by_pairs(pat, w, q)
        return st.trimmed(), (_pair_tables(pat, w.astype(np.float64), q) if want_pairs else None)
    r_all = (pat >= 0).sum(1)
    rmax = int(r_all.max()) if m else 0
    P = np.zeros((rmax + 1, q, q), np.int64)
    C = np.zeros((rmax + 1, q), np.int64)
    used = np.zeros(q, np.int64)
    wf = w.astype(np.float64)
    chunk = max(1, _CHUNK_CELLS // max(q, 1))
    for s in range(0, m, chunk):
        Xc = pat[s : s + chunk]
        msk = Xc >= 0
        rows = np.broadcast_to(np.arange(len(Xc))[:, None], Xc.shape)
        counts = np.bincount((rows * q + Xc)[msk], minlength=len(Xc) * q).reshape(len(Xc), q)
        counts = counts.astype(np.float64)
        wc = wf[s : s + chunk]
        r_i = r_all[s : s + chunk]
        used += np.rint(wc @ (counts > 0)).astype(np.int64)
        for r in np.unique(r_i):
            sel = r_i == r
            cs = counts[sel]
            P[r] += np.rint((cs * wc[sel, None]).T @ cs).astype(np.int64)
            C[r] += np.rint(wc[sel] @ cs).astype(np.int64)
    n_gk = _annotator_counts(pat, wf, q)
    n_r = np.bincount(r_all, weights=wf, minlength=rmax + 1).round().astype(np.int64)
    tables = _pair_tables(pat, wf, q) if want_pairs else None
    return Stats(n_r, C, P, n_gk, used).trimmed(), tables


def _pair_tables(pat: np.ndarray, wf: np.ndarray, q: int) -> dict[tuple[int, int], np.ndarray]:
    tables = {}
    for g in range(pat.shape[1]):
        rows_g = pat[:, g] >= 0
        if not rows_g.any():
            continue
        Pg, wg = pat[rows_g], wf[rows_g]
        xg = Pg[:, g] * q
        for h in range(g + 1, pat.shape[1]):
            both = Pg[:, h] >= 0
            if both.any():
                t = np.bincount(xg[both] + Pg[both, h], weights=wg[both], minlength=q * q)
                tables[(g, h)] = t.reshape(q, q).round().astype(np.int64)
    return tables


def item_agreement_patterns(pat: np.ndarray, W: np.ndarray) -> np.ndarray:
    """Weighted observed agreement ``p_a,i`` of each row (NaN under two judgements)."""
    pat = np.asarray(pat, dtype=np.int64)
    m, G = pat.shape
    q = len(W)
    r_i = (pat >= 0).sum(1)
    agree = np.zeros(m)
    if _pairs_cheaper(G, q):
        for g in range(G):
            for h in range(g + 1, G):
                both = (pat[:, g] >= 0) & (pat[:, h] >= 0)
                agree[both] += 2.0 * W[pat[both, g], pat[both, h]]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(r_i >= 2, agree / (r_i * (r_i - 1.0)), np.nan)
    chunk = max(1, _CHUNK_CELLS // max(q, 1))
    for s in range(0, m, chunk):
        Xc = pat[s : s + chunk]
        msk = Xc >= 0
        rows = np.broadcast_to(np.arange(len(Xc))[:, None], Xc.shape)
        cnt = np.bincount((rows * q + Xc)[msk], minlength=len(Xc) * q).reshape(len(Xc), q)
        cnt = cnt.astype(np.float64)
        agree[s : s + chunk] = ((cnt @ W) * cnt).sum(1) - cnt.sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(r_i >= 2, agree / (r_i * (r_i - 1.0)), np.nan)


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
    X: np.ndarray, q: int, *, want_pairs: bool = False
) -> tuple[Stats, dict[tuple[int, int], np.ndarray] | None]:
    """Sufficient statistics (and optionally the pairwise tables) of a codes matrix.

    Parameters
    ----------
    X : (n_items, n_annotators) integer array, codes ``0..q-1``, ``-1`` for missing
    q : number of categories
    want_pairs : also return the ``g < h`` contingency tables of items both annotators judged
        (pairs without a shared item are left out)

    Returns
    -------
    (Stats in canonical trimmed form, tables or None)
    """
    X = np.asarray(X)
    if X.ndim != 2:
        raise ValueError("codes must be a 2-d array (items x annotators)")
    from aqt.agreement import _kernel

    if _kernel.use_kernel(X, q, want_pairs):
        n_r, C, P, n_gk, used, tables, _ = _kernel.scan(X, q, None, want_pairs)
        return Stats(n_r, C, P, n_gk, used).trimmed(), tables
    pat, w, _ = compress(X, q)
    return stats_from_patterns(pat, w, q, want_pairs=want_pairs)
