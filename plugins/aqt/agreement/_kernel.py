"""Optional compiled single pass over the items (numba), used for large inputs when installed.

The kernel produces exactly the integer statistics of :func:`aqt.agreement.stats.stats_from_patterns`
(tests compare the two), so results do not depend on whether numba is present. Without numba, or
for small inputs (where compiling would cost more than it saves), the numpy path runs.

Importing numba costs 1-2.5 s of CPU in a fresh process, more than the numpy pass takes on a
million items. So a process that has not loaded numba yet uses the compiled pass only for inputs
of at least :data:`MIN_CELLS_COLD` cells; a long-running process that already has it (the backend,
a notebook, the benchmark) uses it from :data:`MIN_CELLS`. ``AQT_KERNEL=1`` always uses it from
:data:`MIN_CELLS`, ``AQT_KERNEL=0`` never.
Compiled functions live in :mod:`aqt.agreement._kernel_numba`, imported on first use (so importing
``aqt`` never imports numba) and cached on disk (``cache=True``): the compile cost is paid once.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import numpy as np

__all__ = ["available", "float_codes", "min_cells", "scan", "use_kernel"]

#: inputs with at least this many cells use the compiled pass once numba is loaded (or forced)
MIN_CELLS = 500_000
#: the same threshold for a process that would have to import numba first
MIN_CELLS_COLD = 20_000_000
MAX_ANNOTATORS = 64


def _have_numba() -> bool:
    return importlib.util.find_spec("numba") is not None


def available() -> bool:
    """numba is installed and ``AQT_KERNEL`` is not ``0``."""
    return os.environ.get("AQT_KERNEL", "1") != "0" and _have_numba()


def min_cells() -> int:
    """The input size from which the compiled pass pays for itself in this process."""
    if os.environ.get("AQT_KERNEL") == "1" or "numba" in sys.modules:
        return MIN_CELLS
    return max(MIN_CELLS, MIN_CELLS_COLD)


def use_kernel(X: np.ndarray, q: int, want_pairs: bool = False) -> bool:
    """Whether the compiled pass is worth it (large input, few annotators, small tables)."""
    G = X.shape[1] if X.ndim == 2 else 0
    pair_cells = G * G * q * q if want_pairs else 0
    return (
        available()
        and X.size >= min_cells()
        and 0 < G <= MAX_ANNOTATORS
        and pair_cells + (G + 1) * q * q <= 16_000_000
    )


def scan(X: np.ndarray, q: int, W: np.ndarray | None = None, want_pairs: bool = False):
    """Compiled statistics of a codes matrix: ``(n_r, C, P, n_gk, used, tables, pa_i)``."""
    Wm = np.eye(q) if W is None else np.ascontiguousarray(W, dtype=np.float64)
    from aqt.agreement._kernel_numba import scan_items

    n_r, C, P, n_gk, used, T, pa = scan_items(
        np.ascontiguousarray(X), q, Wm, want_pairs, W is not None
    )
    tables = None
    if want_pairs:
        G = X.shape[1]
        tables = {(g, h): T[g, h] for g in range(G) for h in range(g + 1, G) if T[g, h].any()}
    return n_r, C, P, n_gk, used, tables, (pa if W is not None else None)


def float_codes(data: np.ndarray, lo: float, span: int) -> tuple[np.ndarray, bool]:
    """Codes ``value - lo`` (int16, ``-1`` for NaN) of an annotators x items float array,
    transposed to items x annotators; ``ok`` is False when a value is not an integer in range."""
    from aqt.agreement._kernel_numba import float_codes_t

    return float_codes_t(np.ascontiguousarray(data, dtype=np.float64), float(lo), int(span))
