"""Incremental, mergeable agreement statistics (one judgement at a time).

:class:`AgreementState` keeps the integer sufficient statistics of :mod:`aqt.agreement.stats` as
sums over items, so adding, replacing or removing a judgement touches only that item's terms
(``O(r_i^2)`` dictionary updates), disjoint shards of items add up, and :meth:`metrics` runs the
same code as the batch report on the same integers: the result equals
``agreement_report(table).to_dict()["metrics"]`` exactly (intervals are ``None`` here).

Categories
----------
Categories may grow as values arrive, for every level and weighting: the statistics are keyed by
label and the domain (sorted observed labels, numeric order when all are numbers, exactly as the
batch default) and its ranks are fixed only when metrics are read. Pass ``categories=`` to fix the
domain and its order up front (unused categories then count, e.g. in AC1's ``q`` and in weights);
a value outside a fixed domain is an :class:`~aqt.errors.InputError`. Interval and ratio levels
reject non-numeric labels as they arrive.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np

from aqt.agreement.coefficients import cohen_from_table, compute_coefficients
from aqt.agreement.encode import category_values, domain, label_of, parse_number
from aqt.agreement.engine import metrics_dict
from aqt.agreement.stats import Stats
from aqt.agreement.weights import check_level, check_weights, weight_matrix
from aqt.errors import InputError, UsageError
from aqt.records import natural_key

__all__ = ["AgreementState"]


class AgreementState:
    """Agreement statistics that update per judgement and merge across shards of items.

    Parameters
    ----------
    level : Krippendorff's level of measurement for alpha
    weights : Gwet's weights for the other coefficients
    categories : optional fixed, ordered category domain (see the module docstring)

    Examples
    --------
    >>> s = AgreementState()
    >>> for item, who, label in [("1", "a", "x"), ("1", "b", "x"), ("2", "a", "x"), ("2", "b", "y")]:
    ...     s.add(item, who, label)
    >>> s.metrics()["percent_agreement"]["value"]
    0.5
    >>> s.item_agreement("2")
    0.0
    """

    def __init__(
        self,
        level: str = "nominal",
        weights: str = "identity",
        categories: Sequence[Any] | str | None = None,
    ) -> None:
        self.level = check_level(level)
        self.weights = check_weights(weights)
        self._fixed = domain([], categories) if categories is not None else None
        if self._fixed is not None:
            category_values(self._fixed, level)
        self._code: dict[str, int] = {}
        self._labels: list[str] = []
        self._items: dict[str, dict[str, int]] = {}
        self._n_r: dict[int, int] = defaultdict(int)
        self._C: dict[tuple[int, int], int] = defaultdict(int)
        self._P: dict[tuple[int, int, int], int] = defaultdict(int)
        self._n_gk: dict[str, dict[int, int]] = defaultdict(lambda: defaultdict(int))
        self._used: dict[int, int] = defaultdict(int)
        self._cache: tuple | None = None

    # -- updates -------------------------------------------------------------------------------
    def _code_of(self, value: Any) -> int:
        label = label_of(value)
        code = self._code.get(label)
        if code is not None:
            return code
        if self._fixed is not None and label not in self._fixed:
            number = parse_number(label)
            same = [c for c in self._fixed if number is not None and parse_number(c) == number]
            if same:  # "3" arriving for a category written "3.0"
                return self._code_of(same[0])
            raise InputError(
                f"Value {label!r} is not among the fixed categories {self._fixed[:10]}.",
                fix="Add it to categories= or create the state without categories.",
            )
        if self.level in ("interval", "ratio") and parse_number(label) is None:
            raise InputError(
                f"The {self.level} level needs numeric values; got {label!r}.",
                fix="Use level='nominal' or 'ordinal', or send numbers.",
            )
        code = len(self._labels)
        self._code[label] = code
        self._labels.append(label)
        return code

    def _apply(self, judg: dict[str, int], sign: int) -> None:
        r = len(judg)
        if r == 0:
            return
        cnt: dict[int, int] = {}
        for c in judg.values():
            cnt[c] = cnt.get(c, 0) + 1
        self._n_r[r] += sign
        C, P, used = self._C, self._P, self._used
        for k, a in cnt.items():
            C[(r, k)] += sign * a
            used[k] += sign
            for el, b in cnt.items():
                P[(r, k, el)] += sign * a * b

    def add(self, item_id: Any, annotator_id: Any, value: Any) -> None:
        """Record ``annotator_id``'s judgement ``value`` on ``item_id`` (replacing an earlier one)."""
        code = self._code_of(value)
        item, ann = str(item_id), str(annotator_id)
        judg = self._items.setdefault(item, {})
        self._apply(judg, -1)
        old = judg.get(ann)
        if old is not None:
            self._n_gk[ann][old] -= 1
        judg[ann] = code
        self._n_gk[ann][code] += 1
        self._apply(judg, +1)
        self._cache = None

    def remove(self, item_id: Any, annotator_id: Any) -> None:
        """Delete ``annotator_id``'s judgement on ``item_id``."""
        item, ann = str(item_id), str(annotator_id)
        judg = self._items.get(item)
        if judg is None or ann not in judg:
            raise InputError(
                f"There is no judgement by {ann!r} on item {item!r} to remove.",
                fix="Remove only judgements that were added.",
            )
        self._apply(judg, -1)
        self._n_gk[ann][judg.pop(ann)] -= 1
        self._apply(judg, +1)
        if not judg:
            del self._items[item]
        self._cache = None

    def merge(self, other: AgreementState) -> AgreementState:
        """Add another state's judgements into this one (in place; returns ``self``).

        On disjoint sets of items the integer statistics simply add up. Items present in both are
        replayed judgement by judgement (``other``'s judgement wins for the same annotator).
        """
        if (other.level, other.weights, other._fixed) != (self.level, self.weights, self._fixed):
            raise UsageError(
                "Cannot merge states with different level, weights or categories.",
                fix="Create both states with the same level=, weights= and categories=.",
            )
        if self._items.keys() & other._items.keys():
            for item, judg in other._items.items():
                for ann, code in judg.items():
                    self.add(item, ann, other._labels[code])
            return self
        tr = [self._code_of(lab) for lab in other._labels]
        for r, v in other._n_r.items():
            self._n_r[r] += v
        for (r, k), v in other._C.items():
            self._C[(r, tr[k])] += v
        for (r, k, el), v in other._P.items():
            self._P[(r, tr[k], tr[el])] += v
        for k, v in other._used.items():
            self._used[tr[k]] += v
        for ann, row in other._n_gk.items():
            mine = self._n_gk[ann]
            for k, v in row.items():
                mine[tr[k]] += v
        for item, judg in other._items.items():
            self._items[item] = {a: tr[c] for a, c in judg.items()}
        self._cache = None
        return self

    # -- reads ---------------------------------------------------------------------------------
    def _domain(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        if self._cache is None:
            totals: dict[int, int] = defaultdict(int)
            for row in self._n_gk.values():
                for k, v in row.items():
                    totals[k] += v
            observed = [self._labels[k] for k, v in totals.items() if v > 0]
            labels = domain(observed, self._fixed)
            pos = {lab: i for i, lab in enumerate(labels)}
            perm = np.array([pos.get(lab, -1) for lab in self._labels], dtype=np.int64)
            self._cache = (labels, perm, weight_matrix(self.weights, len(labels)))
        return self._cache

    def stats(self) -> tuple[Stats, list[str], list[str]]:
        """Canonical statistics (as the batch path builds them), the domain and the annotators."""
        labels, perm, _ = self._domain()
        q = len(labels)
        rs = [r for r, v in self._n_r.items() if v > 0]
        rmax = max(rs) if rs else 1
        n_r = np.zeros(rmax + 1, np.int64)
        for r in rs:
            n_r[r] = self._n_r[r]
        C = np.zeros((rmax + 1, q), np.int64)
        for (r, k), v in self._C.items():
            if v and r <= rmax:
                C[r, perm[k]] = v
        P = np.zeros((rmax + 1, q, q), np.int64)
        for (r, k, el), v in self._P.items():
            if v and r <= rmax:
                P[r, perm[k], perm[el]] = v
        anns = sorted((a for a, row in self._n_gk.items() if any(row.values())), key=natural_key)
        n_gk = np.zeros((len(anns), q), np.int64)
        for g, a in enumerate(anns):
            for k, v in self._n_gk[a].items():
                if v:
                    n_gk[g, perm[k]] = v
        used = np.zeros(q, np.int64)
        for k, v in self._used.items():
            if v:
                used[perm[k]] = v
        return Stats(n_r, C, P, n_gk, used).trimmed(), labels, anns

    def metrics(self) -> dict[str, dict[str, Any]]:
        """``{name: {"value", "ci95": None, "reason"}}`` for the nine coefficients."""
        st, labels, _ = self.stats()
        if not self._items:
            from aqt.agreement.report import _empty_metrics

            return _empty_metrics("no judgements")
        W = self._domain()[2]
        res = compute_coefficients(
            st, W, level=self.level, values=category_values(labels, self.level), labels=labels
        )
        return metrics_dict(res)

    def item_agreement(self, item_id: Any) -> float | None:
        """Weighted observed agreement ``p_a,i`` of one item; None under two judgements."""
        judg = self._items.get(str(item_id))
        if not judg or len(judg) < 2:
            return None
        _, perm, W = self._domain()
        codes = perm[list(judg.values())]
        r = len(codes)
        return float((W[codes[:, None], codes[None, :]].sum() - r) / (r * (r - 1.0)))

    def annotator_agreement(self) -> dict[str, dict[str, Any]]:
        """Per annotator, against the peers on shared items: weighted percent agreement,
        Cohen-style kappa on the pooled (own value, peer value) table, and ``n_items``."""
        labels, perm, W = self._domain()
        q = len(labels)
        tables: dict[str, np.ndarray] = {}
        n_items: dict[str, int] = defaultdict(int)
        for judg in self._items.values():
            if len(judg) < 2:
                continue
            for a, ca in judg.items():
                t = tables.setdefault(a, np.zeros((q, q), np.int64))
                n_items[a] += 1
                for b, cb in judg.items():
                    if b != a:
                        t[perm[ca], perm[cb]] += 1
        out = {}
        anns = sorted((a for a, row in self._n_gk.items() if any(row.values())), key=natural_key)
        for a in anns:
            kappa, pa = cohen_from_table(tables[a], W) if a in tables else (None, None)
            out[a] = {"percent_agreement": pa, "cohen_kappa": kappa, "n_items": n_items.get(a, 0)}
        return out
