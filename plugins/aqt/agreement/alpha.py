"""Krippendorff's alpha as a drop-in for the ``krippendorff`` package's ``alpha`` function."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from aqt.agreement import _kernel
from aqt.agreement.coefficients import alpha_from_coincidence
from aqt.agreement.stats import coincidence, stats_from_codes
from aqt.agreement.weights import check_level, delta2
from aqt.errors import InputError, truncate

__all__ = ["krippendorff_alpha"]


def _codes_numeric(data: np.ndarray, value_domain: Sequence[Any] | None):
    """Codes (annotators x items, ``-1`` missing) and the numeric domain of a float array."""
    if value_domain is not None:
        missing = np.isnan(data)
        dom = np.asarray(value_domain, dtype=np.float64)
        order = {float(v): k for k, v in enumerate(dom)}
        uniq, inv = np.unique(data[~missing], return_inverse=True)
        bad = [u for u in uniq.tolist() if u not in order]
        if bad:
            raise InputError(
                f"Values {truncate(bad)} are not in value_domain.", fix="Add them to value_domain."
            )
        lut = np.array([order[u] for u in uniq.tolist()], dtype=np.int64)
        codes = np.full(data.shape, -1, np.int64)
        codes[~missing] = lut[inv.ravel()]
        return codes, dom
    if data.size == 0 or np.isnan(data).all():
        return np.full(data.shape, -1, np.int64), np.zeros(0)
    lo, hi = float(np.nanmin(data)), float(np.nanmax(data))
    if hi - lo < 256:  # small-integer fast path: the value minus the minimum is the code
        if _kernel.available() and data.size >= _kernel.min_cells():
            codes_t, ok = _kernel.float_codes(data, lo, int(hi - lo))
            if ok:  # unused values in lo..hi stay in the domain; they carry no weight
                return codes_t.T, np.arange(int(hi - lo) + 1, dtype=np.float64) + lo
        else:
            shifted = data - lo
            missing = np.isnan(shifted)
            raw = np.where(missing, -1.0, shifted)
            codes = raw.astype(np.int16)
            if np.array_equal(codes, raw):
                return codes, np.arange(int(hi - lo) + 1, dtype=np.float64) + lo
    missing = np.isnan(data)
    uniq, inv = np.unique(data[~missing], return_inverse=True)
    codes = np.full(data.shape, -1, np.int64)
    codes[~missing] = inv.ravel()
    return codes, uniq


def _codes_object(data: np.ndarray, value_domain: Sequence[Any] | None):
    def is_missing(v: Any) -> bool:
        return v is None or (isinstance(v, float) and np.isnan(v))

    flat = data.ravel().tolist()
    present = sorted({v for v in flat if not is_missing(v)}, key=lambda v: (str(type(v)), v))
    dom = list(value_domain) if value_domain is not None else present
    index = {v: k for k, v in enumerate(dom)}
    bad = [v for v in present if v not in index]
    if bad:
        raise InputError(
            f"Values {truncate(bad)} are not in value_domain.", fix="Add them to value_domain."
        )
    codes = np.array([-1 if is_missing(v) else index[v] for v in flat], np.int64)
    return codes.reshape(data.shape), dom


def krippendorff_alpha(
    reliability_data: Any,
    level: str = "nominal",
    *,
    level_of_measurement: str | None = None,
    value_domain: Sequence[Any] | None = None,
) -> float:
    """Krippendorff's alpha for data in the ``krippendorff`` package's layout.

    Parameters
    ----------
    reliability_data : array-like, shape (n_annotators, n_items)
        One row per annotator (coder), one column per item (unit); ``NaN`` (or ``None`` in an
        object array) marks a missing judgement.
    level : {"nominal", "ordinal", "interval", "ratio"}
        Level of measurement; ``level_of_measurement`` is accepted as an alias. Unlike the
        ``krippendorff`` package (default interval) the default here is nominal.
    value_domain : sequence, optional
        The possible values in order (their order defines the ordinal metric). Defaults to the
        sorted observed values.

    Returns
    -------
    float
        alpha in ``[-1, 1]`` (1 = perfect agreement, 0 = chance); ``nan`` when undefined (no
        pairable values, or no variation).

    References
    ----------
    Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability. Annenberg School for
    Communication, University of Pennsylvania, ASC papers 43.

    Examples
    --------
    Krippendorff's (2011) reliability data, 4 observers x 12 units:

    >>> nan = float("nan")
    >>> data = [[1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    ...         [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    ...         [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    ...         [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan]]
    >>> round(krippendorff_alpha(data, "nominal"), 3)
    0.743
    >>> round(krippendorff_alpha(data, level_of_measurement="interval"), 3)
    0.849
    """
    level = check_level(level_of_measurement or level)
    data = np.asarray(reliability_data)
    if data.ndim != 2:
        raise InputError(
            f"reliability_data must be 2-d (annotators x items); got shape {data.shape}.",
            fix="Pass one row per annotator and one column per item.",
        )
    if data.dtype.kind in "fiub":
        codes, dom = _codes_numeric(data.astype(np.float64, copy=False), value_domain)
        values = np.asarray(dom, dtype=np.float64)
    else:
        codes, dom = _codes_object(data, value_domain)
        values = None
        if level in ("interval", "ratio"):
            try:
                values = np.array([float(v) for v in dom])
            except (TypeError, ValueError):
                raise InputError(
                    f"The {level} level needs numeric values; got {truncate(dom)}.",
                    fix="Use level='nominal' or 'ordinal', or pass numbers.",
                ) from None
    q = len(dom)
    X = codes.T
    st, _ = stats_from_codes(X, q)
    o = coincidence(st)
    alpha = alpha_from_coincidence(o, delta2(level, o.sum(1), values))
    return float("nan") if alpha is None else alpha
