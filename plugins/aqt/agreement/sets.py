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

References
----------
Passonneau, R. (2006). Measuring agreement on set-valued items (MASI) for semantic and pragmatic
annotation. *LREC 2006*.
Krippendorff, K. (2011). Computing Krippendorff's alpha-reliability. UPenn ASC papers 43.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Sequence
from typing import Any

import numpy as np

from aqt.errors import InputError, UsageError, truncate
from aqt.records import natural_key

__all__ = ["SET_DISTANCES", "jaccard_distance", "masi_distance", "set_agreement", "set_alpha"]

#: distance names :func:`set_alpha` accepts (a callable ``(a, b) -> float`` works too)
SET_DISTANCES = ("masi", "jaccard")


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


def _coincidences(unit: np.ndarray, code: np.ndarray, n_values: int) -> np.ndarray:
    """Krippendorff's coincidence matrix ``o_ck`` (shape ``(V, V)``) from (unit, value code) pairs.

    Every ordered pair of values from different judgements in a unit with ``m_u >= 2`` values adds
    ``1 / (m_u - 1)``. Pairs are built per unit size ``m`` as blocks of shape ``(units, m)``, so the
    work is ``sum_u m_u (m_u - 1)`` and memory never holds a units x values table.
    """
    o = np.zeros(n_values * n_values, dtype=np.float64)
    if len(unit) == 0:
        return o.reshape(n_values, n_values)
    order = np.argsort(unit, kind="stable")
    unit, code = unit[order], code[order].astype(np.int64)
    starts = np.flatnonzero(np.r_[True, unit[1:] != unit[:-1]])
    sizes = np.diff(np.r_[starts, len(unit)])
    for m in np.unique(sizes):
        if m < 2:
            continue
        first = starts[sizes == m]
        block = code[first[:, None] + np.arange(m)[None, :]]  # (units, m)
        i, j = np.nonzero(~np.eye(m, dtype=bool))
        pair = (block[:, i] * n_values + block[:, j]).ravel()
        o += np.bincount(pair, minlength=n_values * n_values) / (m - 1)
    return o.reshape(n_values, n_values)


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


def _set_key(s: frozenset[str]) -> tuple:
    labels = sorted(s, key=natural_key)
    return (len(labels), [natural_key(x) for x in labels])


def _distance_matrix(values: Sequence[frozenset[str]], distance: str | Callable) -> np.ndarray:
    """``delta_ck`` for the distinct sets ``values``, vectorised over a values x labels indicator."""
    if callable(distance):
        v = len(values)
        delta = np.zeros((v, v))
        for c in range(v):
            for k in range(c + 1, v):
                delta[c, k] = delta[k, c] = float(distance(values[c], values[k]))
        return delta
    labels = sorted(set().union(*values), key=natural_key) if values else []
    col = {lab: i for i, lab in enumerate(labels)}
    b = np.zeros((len(values), len(labels)))
    for row, s in enumerate(values):
        b[row, [col[x] for x in s]] = 1.0
    inter = b @ b.T
    size = b.sum(axis=1)
    union = size[:, None] + size[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        jac = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 1.0)
    if distance == "jaccard":
        delta = 1.0 - jac
    else:
        equal = (inter == size[:, None]) & (inter == size[None, :])
        subset = inter == np.minimum(size[:, None], size[None, :])
        m = np.select([equal, subset, inter > 0], [1.0, 2.0 / 3.0, 1.0 / 3.0], default=0.0)
        delta = 1.0 - jac * m
    np.fill_diagonal(delta, 0.0)
    return delta


def _check_distance(distance: Any) -> None:
    if not callable(distance) and distance not in SET_DISTANCES:
        raise UsageError(
            f"Unknown set distance {distance!r}.",
            fix=f"Use one of {', '.join(SET_DISTANCES)} or pass a function (a, b) -> float.",
        )


def _set_coincidences(table: Any) -> tuple[list[frozenset[str]], np.ndarray, int]:
    """Distinct sets (sorted), their coincidence matrix and the number of pairable items."""
    values = _last_values(_one_control(table), _as_label_set, "label sets")
    by_item: dict[str, list[frozenset[str]]] = {}
    for (item, _annotator), v in values.items():
        by_item.setdefault(item, []).append(v)
    pairable = {item: vs for item, vs in by_item.items() if len(vs) >= 2}
    distinct = sorted({v for vs in pairable.values() for v in vs}, key=_set_key)
    index: dict[Hashable, int] = {v: i for i, v in enumerate(distinct)}
    unit = np.array([u for u, vs in enumerate(pairable.values()) for _ in vs], dtype=np.int64)
    code = np.array([index[v] for vs in pairable.values() for v in vs], dtype=np.int64)
    return distinct, _coincidences(unit, code, len(distinct)), len(pairable)


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
    >>> set_alpha(t), set_alpha(t, "jaccard")
    (0.21875, 0.25)
    """
    _check_distance(distance)
    distinct, o, _ = _set_coincidences(table)
    return _alpha_from_coincidences(o, _distance_matrix(distinct, distance))


def set_agreement(table: Any) -> dict[str, Any]:
    """Alpha with MASI and with Jaccard distance for one ``multichoice`` control.

    Returns
    -------
    dict
        ``{"krippendorff_alpha_masi": float | None, "krippendorff_alpha_jaccard": float | None,
        "n_items": int}``; ``n_items`` counts the items with at least two judgements (the units
        alpha uses).
    """
    distinct, o, n_items = _set_coincidences(table)
    return {
        "krippendorff_alpha_masi": _alpha_from_coincidences(o, _distance_matrix(distinct, "masi")),
        "krippendorff_alpha_jaccard": _alpha_from_coincidences(
            o, _distance_matrix(distinct, "jaccard")
        ),
        "n_items": int(n_items),
    }
