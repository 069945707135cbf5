"""Krippendorff's alpha for set-valued judgements (``multichoice``), with MASI and Jaccard distances.

A ``multichoice`` judgement is a ``frozenset`` of labels. Two sets can agree partly, so alpha uses a
distance between sets instead of the nominal 0/1 one:

* Jaccard distance ``d_J(A, B) = 1 - |A & B| / |A | B|`` (Jaccard 1912);
* MASI distance ``d_M(A, B) = 1 - J * M`` with ``J`` the Jaccard index and the monotonicity weight
  ``M = 1`` if ``A == B``, ``2/3`` if one set contains the other, ``1/3`` if they intersect
  otherwise and ``0`` if they are disjoint (Passonneau 2006).

Two empty sets are equal (distance 0); an empty set and a non-empty set share no label (distance 1).

Alpha follows Krippendorff (2004, ch. 11; 2011): the coincidence matrix ``o_ck`` over the distinct
sets ``c, k`` seen in pairable units, ``n_c = sum_k o_ck``, ``n = sum_c n_c``,
``D_o = sum_ck o_ck delta_ck / n``, ``D_e = sum_ck n_c n_k delta_ck / (n (n - 1))`` and
``alpha = 1 - D_o / D_e``. Units (items) with fewer than two judgements are not pairable and drop
out. Alpha is undefined (``None``) when no unit is pairable or when ``D_e = 0`` (every pairable value
is the same set). An annotator's later record on the same item replaces the earlier one, as
``AgreementState.add`` does.

Computation: the coincidences are kept as their non-zero cells (one per observed pair of distinct
sets), ``D_o`` evaluates the distance on those cells, and ``D_e`` uses the fact that both distances
depend only on ``(|c|, |k|, |c & k|)``: common-subset counts per set size give the weight of each
such triple without visiting the ``V^2`` pairs of distinct sets (:func:`_size_weights`). Sets of
more than 16 labels fall back to all pairs in row blocks. Nothing of size items x sets or
``V x V`` is held in memory (100,000 items x 3 annotators, 30 labels, 38,959 distinct sets: a few
seconds, a few hundred MB).

References
----------
Passonneau, R. (2006). Measuring agreement on set-valued items (MASI) for semantic and pragmatic
annotation. *LREC 2006*.
Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability. UPenn ASC papers 43.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from itertools import combinations
from math import comb
from typing import Any

import numpy as np

from aqt.errors import InputError, UsageError, truncate
from aqt.records import natural_key

__all__ = ["SET_DISTANCES", "jaccard_distance", "masi_distance", "set_agreement", "set_alpha"]

#: distance names :func:`set_alpha` accepts (a callable ``(a, b) -> float`` works too)
SET_DISTANCES = ("masi", "jaccard")
#: cells per block when distances are evaluated, bounding memory with many distinct sets
_BLOCK = 1 << 20
#: above this many label subsets (sum of 2^|set| over distinct sets) D_e visits all pairs of sets
_SUBSET_LIMIT = 4_000_000


def jaccard_distance(a: Iterable[str], b: Iterable[str]) -> float:
    """Jaccard distance ``1 - |a & b| / |a | b|`` between two label sets, in [0, 1].

    Two empty sets are equal, so their distance is 0.

    >>> jaccard_distance({"x", "y"}, {"x"})
    0.5
    >>> jaccard_distance(set(), set())
    0.0
    """
    a, b = frozenset(a), frozenset(b)
    union = len(a | b)
    if union == 0:
        return 0.0
    return 1.0 - len(a & b) / union


def masi_distance(a: Iterable[str], b: Iterable[str]) -> float:
    """MASI distance (Passonneau 2006) between two label sets, in [0, 1].

    ``1 - J * M``: ``J`` is the Jaccard index, ``M`` is 1 for equal sets, 2/3 when one set contains
    the other, 1/3 when they intersect otherwise and 0 when they are disjoint. Two empty sets are
    equal (0.0); an empty and a non-empty set are disjoint (1.0).

    >>> masi_distance({"x", "y"}, {"x"})  # J = 1/2, M = 2/3
    0.6666666666666667
    >>> masi_distance({"x", "y"}, {"y", "z"})  # J = 1/3, M = 1/3
    0.8888888888888888
    """
    a, b = frozenset(a), frozenset(b)
    if a == b:
        return 0.0
    inter = len(a & b)
    if inter == 0:
        return 1.0
    m = 2.0 / 3.0 if inter == min(len(a), len(b)) else 1.0 / 3.0
    return 1.0 - inter / len(a | b) * m


# --------------------------------------------------------------------------------------------
# shared machinery: coincidences over distinct values and alpha from them (also used by spans)


def _coincidence_pairs(unit: np.ndarray, code: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The non-zero cells of Krippendorff's coincidence matrix from (unit, value code) pairs.

    Every ordered pair of values from different judgements in a unit with ``m_u >= 2`` values adds
    ``1 / (m_u - 1)`` to ``o_ck``. Pairs are built per unit size ``m`` as blocks of shape
    ``(units, m)``, so the work is ``sum_u m_u (m_u - 1)`` and nothing of size units x values or
    values x values is allocated. Returns ``(cells, weights)``: ``cells`` is an ``(N, 2)`` array of
    distinct ``(c, k)`` and ``weights`` the matching ``o_ck``.
    """
    empty = (np.zeros((0, 2), dtype=np.int64), np.zeros(0))
    if len(unit) == 0:
        return empty
    order = np.argsort(unit, kind="stable")
    unit, code = unit[order], code[order].astype(np.int64)
    starts = np.flatnonzero(np.r_[True, unit[1:] != unit[:-1]])
    sizes = np.diff(np.r_[starts, len(unit)])
    cells, weights = [], []
    for m in np.unique(sizes).tolist():
        if m < 2:
            continue
        first = starts[sizes == m]
        block = code[first[:, None] + np.arange(m)[None, :]]  # (units, m)
        i, j = np.nonzero(~np.eye(m, dtype=bool))
        cells.append(np.stack([block[:, i].ravel(), block[:, j].ravel()], axis=1))
        weights.append(np.full(cells[-1].shape[0], 1.0 / (m - 1)))
    if not cells:
        return empty
    pairs = np.concatenate(cells)
    width = int(pairs.max()) + 1
    keys, inverse = np.unique(pairs[:, 0] * width + pairs[:, 1], return_inverse=True)
    uniq = np.stack([keys // width, keys % width], axis=1)
    return uniq, np.bincount(inverse.ravel(), weights=np.concatenate(weights))


def _coincidences(unit: np.ndarray, code: np.ndarray, n_values: int) -> np.ndarray:
    """Krippendorff's coincidence matrix ``o_ck`` as a dense ``(V, V)`` array (few values only)."""
    cells, weights = _coincidence_pairs(unit, code)
    o = np.zeros((n_values, n_values))
    o[cells[:, 0], cells[:, 1]] = weights
    return o


def _alpha_from_coincidences(o: np.ndarray, delta: np.ndarray) -> float | None:
    """``1 - D_o / D_e`` from a coincidence matrix and a distance matrix ``delta_ck`` (with
    ``delta_cc = 0``); ``None`` when undefined (``n < 2`` or ``D_e = 0``)."""
    n_c = o.sum(axis=1)
    n = float(n_c.sum())
    if n < 2:
        return None
    d_o = float((o * delta).sum()) / n
    d_e = float(n_c @ delta @ n_c) / (n * (n - 1.0))
    if d_e <= 0.0:
        return None
    return 1.0 - d_o / d_e


def _last_values(records: Iterable[Any], check: Callable[[Any], Any], what: str) -> dict:
    """``{(item, annotator): value}`` keeping each annotator's last record on an item; values go
    through ``check`` (which returns the canonical value or raises ``TypeError``/``ValueError``).
    Every bad value is collected before one :class:`InputError` is raised."""
    values: dict[tuple[str, str], Any] = {}
    problems: list[str] = []
    for index, r in enumerate(records):
        try:
            values[(str(r.item), str(r.annotator))] = check(r.value)
        except (TypeError, ValueError, KeyError, IndexError) as exc:
            problems.append(f"record {index} (item {r.item!r}, annotator {r.annotator!r}): {exc}")
    if problems:
        shown = "; ".join(problems[:10])
        more = f" (+{len(problems) - 10} more)" if len(problems) > 10 else ""
        raise InputError(
            f"{len(problems)} value(s) are not {what}: {shown}{more}.",
            fix="Pick the control of that kind with --control NAME, or fix the values.",
        )
    return values


def _one_control(table: Any) -> list[Any]:
    """The records of ``table``, after checking they come from one control."""
    if hasattr(table, "select_control"):
        table = table.select_control(None)  # raises UsageError naming the controls
    return list(table)


def _as_label_set(value: Any) -> frozenset[str]:
    if type(value) is frozenset:  # the canonical form aqt.records produces
        return value
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise TypeError(f"expected a set of labels, got {truncate([value], 1)}")
    return frozenset(str(v) for v in value)


def _indicator(values: Sequence[frozenset[str]]) -> np.ndarray:
    """``(V, L)`` 0/1 matrix: row ``c`` marks the labels of set ``c``."""
    labels = sorted(set().union(*values), key=natural_key) if values else []
    col = {lab: i for i, lab in enumerate(labels)}
    b = np.zeros((len(values), len(labels)))
    for row, s in enumerate(values):
        b[row, [col[x] for x in s]] = 1.0
    return b


def _delta(inter: np.ndarray, size_c: np.ndarray, size_k: np.ndarray, distance: str) -> np.ndarray:
    """MASI or Jaccard distance from intersection sizes and set sizes (broadcast elementwise)."""
    union = size_c + size_k - inter
    jac = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 1.0)  # two empty sets: 1
    if distance == "jaccard":
        return 1.0 - jac
    equal = (inter == size_c) & (inter == size_k)
    subset = inter == np.minimum(size_c, size_k)
    m = np.select([equal, subset, inter > 0], [1.0, 2.0 / 3.0, 1.0 / 3.0], default=0.0)
    return 1.0 - jac * m


def _cell_intersections(b: np.ndarray, cells: np.ndarray) -> np.ndarray:
    """``|c & k|`` for each coincidence cell ``(c, k)``: popcounts of label bitmasks when the
    labels fit one int64, else row products in blocks."""
    if b.shape[1] <= 63 and hasattr(np, "bitwise_count"):
        mask = b.astype(np.int64) @ (np.int64(1) << np.arange(b.shape[1], dtype=np.int64))
        return np.bitwise_count(mask[cells[:, 0]] & mask[cells[:, 1]]).astype(np.float64)
    parts = [
        np.einsum("ij,ij->i", b[cells[lo : lo + _BLOCK, 0]], b[cells[lo : lo + _BLOCK, 1]])
        for lo in range(0, len(cells), _BLOCK)
    ]
    return np.concatenate(parts)


def _size_weights(b: np.ndarray, counts: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Weights ``W_st(i) = sum n_c n_k`` over pairs of distinct sets with ``|c| = s``, ``|k| = t``
    and ``|c & k| = i``, without visiting the ``V^2`` pairs.

    MASI and Jaccard depend only on ``(|c|, |k|, |c & k|)``, so ``D_e`` needs only these weights.
    Counting common subsets gives ``S_st(j) = sum_{|T| = j} F_s(T) F_t(T) = sum_i C(i, j) W_st(i)``
    with ``F_s(T) = sum_{c >= T, |c| = s} n_c``; a binomial inversion returns
    ``W_st(i) = sum_{j >= i} (-1)^(j - i) C(j, i) S_st(j)``, in exact integers. The work is
    ``sum_c 2^|c|`` rows, so this serves sets of a few labels (the caller checks).
    Returns ``([i, s, t], W)`` as float arrays over the non-zero weights.
    """
    sizes = b.sum(axis=1).astype(np.int64)
    live = counts > 0
    size_values = sorted(set(sizes[live].tolist()))
    ids, weight_of = {}, {}
    for sz in size_values:
        rows = np.flatnonzero(live & (sizes == sz))
        ids[sz] = np.nonzero(b[rows])[1].reshape(len(rows), sz)  # label columns of each set
        weight_of[sz] = counts[rows].astype(np.float64)
    big = float(counts.sum()) ** 2 * 2.0 ** max(size_values) >= 2.0**62
    s_j = []
    for j in range(max(size_values) + 1):
        subsets, columns, weights = [], [], []
        for col, sz in enumerate(size_values):
            if sz < j:
                continue
            for combo in combinations(range(sz), j):
                subsets.append(ids[sz][:, list(combo)])
                columns.append(np.full(len(ids[sz]), col, dtype=np.int64))
                weights.append(weight_of[sz])
        subset_rows = np.concatenate(subsets)
        if j == 0:
            inverse = np.zeros(len(subset_rows), dtype=np.int64)
            n_keys = 1
        else:
            n_labels = b.shape[1]
            if j * np.log2(max(n_labels, 2)) < 62:  # one int64 key per subset: faster than rows
                key = subset_rows @ (n_labels ** np.arange(j, dtype=np.int64))
                keys, inverse = np.unique(key, return_inverse=True)
            else:
                keys, inverse = np.unique(subset_rows, axis=0, return_inverse=True)
            inverse, n_keys = inverse.ravel(), len(keys)
        cells = inverse * len(size_values) + np.concatenate(columns)
        f = np.bincount(cells, weights=np.concatenate(weights), minlength=n_keys * len(size_values))
        f = np.rint(f).astype(np.int64).reshape(n_keys, len(size_values))
        if big:
            f = f.astype(object)  # Python integers: the sums below could overflow int64
        s_j.append(f.T @ f)
    inter, size_s, size_t, weight = [], [], [], []
    for a, s in enumerate(size_values):
        for t_index, t in enumerate(size_values):
            low = min(s, t)
            for i in range(low + 1):
                w = sum(
                    (-1) ** (j - i) * comb(j, i) * int(s_j[j][a, t_index])
                    for j in range(i, low + 1)
                )
                if w:
                    inter.append(i)
                    size_s.append(s)
                    size_t.append(t)
                    weight.append(w)
    geometry = [np.array(x, dtype=np.float64) for x in (inter, size_s, size_t)]
    return geometry, np.array(weight, dtype=np.float64)


def _alphas_from_pairs(
    values: Sequence[frozenset[str]],
    cells: np.ndarray,
    weights: np.ndarray,
    distances: Sequence[str | Callable],
) -> list[float | None]:
    """``1 - D_o / D_e`` for each distance. ``D_o`` evaluates ``delta`` on the observed
    coincidence cells; ``D_e`` uses :func:`_size_weights` when the sets are small, else all pairs of
    distinct sets in row blocks, so memory stays ``O(block x V)`` either way."""
    if len(cells) == 0:
        return [None for _ in distances]
    n_c = np.bincount(cells[:, 0], weights=weights, minlength=len(values))
    n = float(n_c.sum())
    if n < 2:
        return [None for _ in distances]
    b = size = cell_inter = by_size = None
    out: list[float | None] = []
    for distance in distances:
        if callable(distance):
            v = len(values)
            full = np.zeros((v, v))
            for c in range(v):
                for k in range(c + 1, v):
                    full[c, k] = full[k, c] = float(distance(values[c], values[k]))
            d_o_sum = float(weights @ full[cells[:, 0], cells[:, 1]])
            d_e_sum = float(n_c @ full @ n_c)
        else:
            if b is None:
                b = _indicator(values)
                size = b.sum(axis=1)
                cell_inter = _cell_intersections(b, cells)
                counts = np.rint(n_c).astype(np.int64)  # n_c counts values: whole numbers
                small = size.max() <= 16 and float(np.exp2(size).sum()) <= _SUBSET_LIMIT
                by_size = _size_weights(b, counts) if small else None
            c, k = cells[:, 0], cells[:, 1]
            d_o_sum = float(weights @ _delta(cell_inter, size[c], size[k], distance))
            if by_size is not None:
                geometry, w = by_size
                d_e_sum = float(w @ _delta(*geometry, distance)) if len(w) else 0.0
            else:
                d_e_sum = 0.0
                rows = max(1, _BLOCK // max(len(values), 1))
                for lo in range(0, len(values), rows):
                    inter = b[lo : lo + rows] @ b.T
                    block = _delta(inter, size[lo : lo + rows, None], size[None, :], distance)
                    d_e_sum += float(n_c[lo : lo + rows] @ block @ n_c)
        d_e = d_e_sum / (n * (n - 1.0))
        out.append(None if d_e <= 0.0 else 1.0 - (d_o_sum / n) / d_e)
    return out


def _check_distance(distance: Any) -> None:
    if not callable(distance) and distance not in SET_DISTANCES:
        raise UsageError(
            f"Unknown set distance {distance!r}.",
            fix=f"Use one of {', '.join(SET_DISTANCES)} or pass a function (a, b) -> float.",
        )


def _set_coincidences(table: Any) -> tuple[list[frozenset[str]], np.ndarray, np.ndarray, int]:
    """Distinct sets (sorted), the non-zero coincidence cells and weights, and the number of
    pairable items."""
    values = _last_values(_one_control(table), _as_label_set, "label sets")
    by_item: dict[str, list[frozenset[str]]] = {}
    for (item, _annotator), v in values.items():
        by_item.setdefault(item, []).append(v)
    pairable = {item: vs for item, vs in by_item.items() if len(vs) >= 2}
    distinct_sets = {v for vs in pairable.values() for v in vs}
    labels = sorted(set().union(*distinct_sets), key=natural_key) if distinct_sets else []
    rank = {label: r for r, label in enumerate(labels)}
    # sets in order of size, then of their labels in natural order
    distinct = sorted(distinct_sets, key=lambda v: (len(v), sorted(rank[x] for x in v)))
    index: dict[Hashable, int] = {v: i for i, v in enumerate(distinct)}
    unit = np.array([u for u, vs in enumerate(pairable.values()) for _ in vs], dtype=np.int64)
    code = np.array([index[v] for vs in pairable.values() for v in vs], dtype=np.int64)
    cells, weights = _coincidence_pairs(unit, code)
    return distinct, cells, weights, len(pairable)


def set_alpha(table: Any, distance: str | Callable[[Any, Any], float] = "masi") -> float | None:
    """Krippendorff's alpha over the set values of one control, with a set distance.

    Parameters
    ----------
    table : AnnotationTable
        ``multichoice`` records of one control (values are ``frozenset`` of ``str``).
    distance : {"masi", "jaccard"} or callable
        The distance ``delta(a, b)`` in [0, 1] between two sets; a callable gets two frozensets.

    Returns
    -------
    float or None
        Alpha in (-inf, 1]; 1 is perfect agreement, 0 chance level. ``None`` when no item has two
        judgements or every pairable judgement is the same set.

    Examples
    --------
    Three items, two annotators. The coincidences pair {x}-{x} twice, {x,y}-{x} and {y}-{} both ways;
    ``n = 6``, ``n_{x} = 3``. MASI: ``D_o = (2 * 2/3 + 2 * 1) / 6 = 5/9``, ``D_e = 64/3 / 30 = 32/45``,
    ``alpha = 1 - 25/32 = 7/32``; Jaccard: ``D_o = 1/2``, ``D_e = 2/3``, ``alpha = 1/4``.

    >>> from aqt.records import Annotation, AnnotationTable
    >>> rows = [("1", "A", {"x"}), ("1", "B", {"x"}), ("2", "A", {"x", "y"}), ("2", "B", {"x"}),
    ...         ("3", "A", {"y"}), ("3", "B", set())]
    >>> t = AnnotationTable.from_records(
    ...     Annotation(i, a, frozenset(v), kind="multichoice") for i, a, v in rows)
    >>> round(set_alpha(t), 12), round(set_alpha(t, "jaccard"), 12)
    (0.21875, 0.25)
    """
    _check_distance(distance)
    distinct, cells, weights, _ = _set_coincidences(table)
    return _alphas_from_pairs(distinct, cells, weights, [distance])[0]


def set_agreement(table: Any) -> dict[str, Any]:
    """Alpha with MASI and with Jaccard distance for one ``multichoice`` control.

    Returns
    -------
    dict
        ``{"krippendorff_alpha_masi": float | None, "krippendorff_alpha_jaccard": float | None,
        "n_items": int}``; ``n_items`` counts the items with at least two judgements (the units
        alpha uses).
    """
    distinct, cells, weights, n_items = _set_coincidences(table)
    masi, jaccard = _alphas_from_pairs(distinct, cells, weights, ["masi", "jaccard"])
    return {
        "krippendorff_alpha_masi": masi,
        "krippendorff_alpha_jaccard": jaccard,
        "n_items": int(n_items),
    }
