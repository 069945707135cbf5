"""Optional compiled single pass over the items (numba), used for large inputs when installed.

The kernel produces exactly the integer statistics of :func:`aqt.agreement.stats.stats_from_patterns`
(tests compare the two), so results do not depend on whether numba is present. Without numba, or
for small inputs (where compiling would cost more than it saves), the numpy path runs.
Compiled functions are cached on disk (``cache=True``), so the compile cost is paid once.
"""

from __future__ import annotations

import os

import numpy as np

__all__ = ["available", "float_codes", "scan", "use_kernel"]

#: inputs with at least this many cells use the compiled pass (``AQT_KERNEL=0`` turns it off)
MIN_CELLS = 500_000
MAX_ANNOTATORS = 64

try:  # pragma: no cover - depends on the environment
    import numba

    _HAVE = True
except ImportError:  # pragma: no cover
    _HAVE = False


def available() -> bool:
    return _HAVE and os.environ.get("AQT_KERNEL", "1") != "0"


def use_kernel(X: np.ndarray, q: int, want_pairs: bool = False) -> bool:
    """Whether the compiled pass is worth it (large input, few annotators, small tables)."""
    G = X.shape[1] if X.ndim == 2 else 0
    pair_cells = G * G * q * q if want_pairs else 0
    return (
        available()
        and X.size >= MIN_CELLS
        and 0 < G <= MAX_ANNOTATORS
        and pair_cells + (G + 1) * q * q <= 16_000_000
    )


if _HAVE:

    @numba.njit(cache=True, nogil=True)
    def _scan(X, q, W, want_pairs, want_items):  # pragma: no cover - compiled
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
    def _float_codes(data, lo, span):  # pragma: no cover - compiled
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


def scan(X: np.ndarray, q: int, W: np.ndarray | None = None, want_pairs: bool = False):
    """Compiled statistics of a codes matrix: ``(n_r, C, P, n_gk, used, tables, pa_i)``."""
    Wm = np.eye(q) if W is None else np.ascontiguousarray(W, dtype=np.float64)
    n_r, C, P, n_gk, used, T, pa = _scan(np.ascontiguousarray(X), q, Wm, want_pairs, W is not None)
    tables = None
    if want_pairs:
        G = X.shape[1]
        tables = {(g, h): T[g, h] for g in range(G) for h in range(g + 1, G) if T[g, h].any()}
    return n_r, C, P, n_gk, used, tables, (pa if W is not None else None)


def float_codes(data: np.ndarray, lo: float, span: int) -> tuple[np.ndarray, bool]:
    """Codes ``value - lo`` (int16, ``-1`` for NaN) of an annotators x items float array,
    transposed to items x annotators; ``ok`` is False when a value is not an integer in range."""
    return _float_codes(np.ascontiguousarray(data, dtype=np.float64), float(lo), int(span))
