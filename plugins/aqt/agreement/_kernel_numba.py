"""The compiled kernels behind :mod:`aqt.agreement._kernel` (imported only when used)."""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["float_codes_t", "scan_items"]


@numba.njit(cache=True, nogil=True)
def scan_items(X, q, W, want_pairs, want_items):  # pragma: no cover - compiled
    n, G = X.shape
    rmax = G
    n_r = np.zeros(rmax + 1, np.int64)
    C = np.zeros((rmax + 1, q), np.int64)
    P = np.zeros((rmax + 1, q, q), np.int64)
    n_gk = np.zeros((G, q), np.int64)
    used = np.zeros(q, np.int64)
    T = np.zeros((G if want_pairs else 1, G if want_pairs else 1, q, q), np.int64)
    pa = np.full(n if want_items else 1, np.nan)
    codes = np.empty(G, np.int64)
    seen = np.zeros(q, np.bool_)
    for i in range(n):
        r = 0
        for g in range(G):
            x = X[i, g]
            if x >= 0:
                codes[r] = x
                r += 1
                n_gk[g, x] += 1
        n_r[r] += 1
        agree = 0.0
        for a in range(r):
            ka = codes[a]
            C[r, ka] += 1
            if not seen[ka]:
                seen[ka] = True
                used[ka] += 1
            for b in range(r):
                kb = codes[b]
                P[r, ka, kb] += 1
                if want_items and a != b:
                    agree += W[ka, kb]
        for a in range(r):
            seen[codes[a]] = False
        if want_items and r >= 2:
            pa[i] = agree / (r * (r - 1.0))
        if want_pairs:
            for g in range(G):
                xg = X[i, g]
                if xg < 0:
                    continue
                for h in range(g + 1, G):
                    xh = X[i, h]
                    if xh >= 0:
                        T[g, h, xg, xh] += 1
    return n_r, C, P, n_gk, used, T, pa


@numba.njit(cache=True, nogil=True)
def float_codes_t(data, lo, span):  # pragma: no cover - compiled
    G, n = data.shape
    out = np.empty((n, G), np.int16)
    ok = True
    for g in range(G):
        for i in range(n):
            v = data[g, i]
            if np.isnan(v):
                out[i, g] = -1
            else:
                c = v - lo
                k = int(c)
                if k != c or k < 0 or k > span:
                    ok = False
                    out[i, g] = 0
                else:
                    out[i, g] = k
    return out, ok
