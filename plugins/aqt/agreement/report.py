"""``agreement_report``: the nine coefficients, per label, pairwise and the worst items of a table."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from operator import attrgetter
from typing import Any

import numpy as np

from aqt.agreement.coefficients import COEFFICIENTS
from aqt.agreement.encode import category_values, codes_matrix, domain, label_of
from aqt.agreement.engine import agreement_from_codes, metrics_dict
from aqt.agreement.weights import check_level, check_weights
from aqt.errors import InputError, UsageError, truncate
from aqt.records import natural_key

__all__ = ["AgreementReport", "agreement_report"]

SPAN_REASON = "span data: see the spans section"


@dataclass(frozen=True)
class AgreementReport:
    """The result of :func:`agreement_report`; :meth:`to_dict` is the ``aqt agreement --json`` shape
    (see docs/architecture.md)."""

    n_items: int
    n_annotators: int
    n_annotations: int
    skipped: Mapping[str, int]
    level: str
    weights: str
    categories: tuple[str, ...]
    control: str | None
    kind: str
    guideline_versions: tuple[str, ...]
    metrics: Mapping[str, Mapping[str, Any]]
    per_label: Mapping[str, Mapping[str, Any]]
    pairwise: tuple[Mapping[str, Any], ...]
    disagreements: tuple[Mapping[str, Any], ...]
    coincidence: Mapping[str, Any]
    confused_pairs: tuple[Mapping[str, Any], ...]
    sets: Mapping[str, Any] | None = None
    spans: Mapping[str, Any] | None = None
    alpha_bootstrap: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "n_items": self.n_items,
            "n_annotators": self.n_annotators,
            "n_annotations": self.n_annotations,
            "skipped": {"cancelled": 0, "ignored": 0, **dict(self.skipped)},
            "level": self.level,
            "weights": self.weights,
            "categories": list(self.categories),
            "control": self.control,
            "kind": self.kind,
            "guideline_versions": list(self.guideline_versions),
            "metrics": self.metrics,
            "per_label": self.per_label,
            "pairwise": list(self.pairwise),
            "disagreements": list(self.disagreements),
            "coincidence": self.coincidence,
            "confused_pairs": list(self.confused_pairs),
        }
        if self.sets is not None:
            d["sets"] = self.sets
        if self.spans is not None:
            d["spans"] = self.spans
        if self.alpha_bootstrap is not None:
            d["alpha_bootstrap"] = self.alpha_bootstrap
        return _plain(d)


def _plain(x: Any) -> Any:
    """Plain Python types, NaN -> None, so the dict serialises identically every run."""
    if isinstance(x, Mapping):
        return {str(k): _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (float, np.floating)):
        v = float(x)
        return v if math.isfinite(v) else None
    if isinstance(x, np.ndarray):
        return _plain(x.tolist())
    return x


def _empty_metrics(reason: str) -> dict[str, dict]:
    return {name: {"value": None, "ci95": None, "reason": reason} for name in COEFFICIENTS}


def _lazy_section(module: str, func: str, table: Any) -> dict[str, Any]:
    import importlib

    return getattr(importlib.import_module(f"aqt.agreement.{module}"), func)(table)


def agreement_report(
    table: Any,
    *,
    level: str = "nominal",
    weights: str = "identity",
    categories: Sequence[Any] | str | None = None,
    ci: int = 0,
    seed: int = 0,
    max_disagreements: int = 20,
    se: bool = False,
    ci_method: str = "items",
) -> AgreementReport:
    """Agreement on one control of an annotation table.

    Parameters
    ----------
    table : :class:`aqt.records.AnnotationTable` holding one control (``select_control`` first)
    level : Krippendorff's level of measurement for alpha (one of ``LEVELS``)
    weights : Gwet's weights for every other coefficient (one of ``WEIGHTS``), on the 1-based ranks
        of the category domain
    categories : the category domain and its order (a sequence or ``"A,B,C"``); default the
        sorted observed labels, numerically sorted when all are numbers
    ci : number of bootstrap resamples over items for 95% intervals (0 = off)
    seed : seed of the bootstrap's ``numpy.random.Generator``
    max_disagreements : how many of the worst items to list
    se : add Gwet's analytic standard error ``"se"`` to every metric
        (:func:`aqt.agreement.variance.standard_errors`)
    ci_method : ``"items"`` (bootstrap over items, every coefficient) or ``"pairs"``
        (Hayes & Krippendorff's bootstrap over pairs of values, alpha only, with the distribution
        summary in ``alpha_bootstrap``; :func:`aqt.agreement.pair_bootstrap.pair_bootstrap_alpha`)

    Returns
    -------
    AgreementReport
        Items with observed disagreement (``1 - p_a,i``, weighted) above 0 are listed worst first,
        ties in natural item order. When an annotator judged an item twice the last judgement
        counts. Pairwise percent agreement is weighted like ``percent_agreement``.
    """
    check_level(level)
    check_weights(weights)
    _check_ci_method(ci_method)
    extra = {"se": se, "ci_method": ci_method}
    table = table.select_control()
    columns = getattr(table, "columns", None)
    if columns is not None and columns.kind in _STRING_KINDS and len(columns):
        return _columnar_report(
            table, columns, level, weights, categories, ci, seed, max_disagreements, **extra
        )
    records = table.records
    kinds = sorted(set(map(attrgetter("kind"), records)))
    controls = sorted(set(map(attrgetter("control"), records)))
    if len(kinds) > 1:
        raise InputError(
            f"The control mixes task kinds {truncate(kinds)}.",
            fix="Select one control with --control, or fix the reader's kind.",
        )
    kind = kinds[0] if kinds else "choice"
    if kind == "text":
        raise UsageError(
            "Agreement is not computed on free text (kind 'text').",
            fix="Pick a choice, rating, label-set or span control with --control.",
        )
    items = list(map(attrgetter("item"), records))
    anns = list(map(attrgetter("annotator"), records))
    versions = set(map(attrgetter("guideline_version"), records))
    common = {
        "n_annotations": len(records),
        "skipped": dict(table.skipped),
        "level": level,
        "weights": weights,
        "control": controls[0] if len(controls) == 1 and controls[0] else None,
        "kind": kind,
        "guideline_versions": tuple(sorted((v for v in versions if v), key=natural_key)),
    }
    if kind == "spans" or not records:
        common.update(n_items=len(set(items)), n_annotators=len(set(anns)))
    if kind == "spans":
        return AgreementReport(
            **common,
            categories=(),
            metrics=_empty_metrics(SPAN_REASON),
            per_label={},
            pairwise=(),
            disagreements=(),
            coincidence={"categories": [], "matrix": []},
            confused_pairs=(),
            spans=_lazy_section("spans", "span_agreement", table),
        )
    if not records:
        return AgreementReport(
            **common,
            categories=(),
            metrics=_empty_metrics("no judgements"),
            per_label={},
            pairwise=(),
            disagreements=(),
            coincidence={"categories": [], "matrix": []},
            confused_pairs=(),
        )
    multi = kind == "multichoice"
    raw = list(map(attrgetter("value"), records))
    # choice, binary and pairwise values are strings already (see aqt.records)
    labels = raw if kind in ("choice", "binary", "pairwise") else list(map(label_of, raw))
    if multi:
        dom = domain(labels)  # distinct sets, one nominal value each
        label_universe = domain({x for v in raw for x in v}, categories)
    else:
        dom = domain(labels, categories)
    values = category_values(dom, level)
    X, item_ids, annotators = codes_matrix(items, anns, labels, dom)
    common.update(n_items=len(item_ids), n_annotators=len(annotators))
    out = agreement_from_codes(
        X,
        dom,
        annotators,
        level=level,
        weights=weights,
        values=values,
        max_disagreements=max_disagreements,
        per_label=not multi,
    )
    ci95, se_values, alpha_boot = _uncertainty(
        X, len(dom), level, weights, values, ci, seed, se, ci_method
    )
    per_label = _multichoice_per_label(X, dom, label_universe) if multi else out["per_label"]
    return AgreementReport(
        **common,
        categories=tuple(dom),
        metrics=metrics_dict(out["metrics"], ci95, se_values),
        per_label=per_label,
        pairwise=tuple(out["pairwise"]),
        disagreements=_disagreements(out, X, dom, item_ids, annotators, multi),
        coincidence=out["coincidence"],
        confused_pairs=tuple(out["confused_pairs"]),
        sets=_lazy_section("sets", "set_agreement", table) if multi else None,
        alpha_bootstrap=alpha_boot,
    )


CI_METHODS = ("items", "pairs")


def _check_ci_method(ci_method: str) -> None:
    if ci_method not in CI_METHODS:
        raise UsageError(
            f"Unknown interval method {ci_method!r}.",
            fix=f"Use one of {', '.join(CI_METHODS)} (--ci-method).",
        )


def _uncertainty(
    X: np.ndarray,
    q: int,
    level: str,
    weights: str,
    values: np.ndarray | None,
    ci: int,
    seed: int,
    se: bool,
    ci_method: str,
) -> tuple[dict | None, dict | None, dict | None]:
    """Bootstrap intervals, standard errors and the pair bootstrap's summary, each when asked."""
    ci95 = alpha_boot = se_values = None
    if ci and ci > 0 and ci_method == "pairs":
        from aqt.agreement.pair_bootstrap import pair_bootstrap_alpha

        boot = pair_bootstrap_alpha(X, q, level=level, values=values, n=ci, seed=seed)
        ci95 = {"krippendorff_alpha": list(boot.ci95) if boot.ci95 is not None else None}
        alpha_boot = boot.to_dict()
    elif ci and ci > 0:
        from aqt.agreement.bootstrap import bootstrap_ci

        ci95 = bootstrap_ci(X, q, level=level, weights=weights, values=values, n=ci, seed=seed)
    if se:
        from aqt.agreement.variance import standard_errors

        se_values = standard_errors(X, q, level=level, weights=weights, values=values)
    return ci95, se_values, alpha_boot


#: kinds whose values are their own labels (strings), so columns of them encode directly
_STRING_KINDS = ("choice", "binary", "pairwise")


def _disagreements(
    out: Mapping[str, Any],
    X: np.ndarray,
    dom: Sequence[str],
    item_ids: Sequence[str],
    annotators: Sequence[str],
    multi: bool,
) -> tuple[dict[str, Any], ...]:
    """The worst items with every annotator's label (only those rows of ``X`` are read)."""
    disagreements = []
    for row, dis in zip(out["disagreement_rows"].tolist(), out["disagreement_values"]):
        vals = {}
        for g in np.flatnonzero(X[row] >= 0).tolist():
            lab = dom[int(X[row, g])]
            vals[annotators[g]] = json.loads(lab) if multi else lab
        disagreements.append(
            {"item": item_ids[row], "values": vals, "observed_disagreement": float(dis)}
        )
    return tuple(disagreements)


def _columnar_report(
    table: Any,
    columns: Any,
    level: str,
    weights: str,
    categories: Sequence[Any] | str | None,
    ci: int,
    seed: int,
    max_disagreements: int,
    *,
    se: bool = False,
    ci_method: str = "items",
) -> AgreementReport:
    """:func:`agreement_report` of a table that still holds its columns (see
    :class:`aqt.records.TableColumns`) and a string kind: the codes come from the arrays, no
    record is built. Equal to the record path's report."""
    from aqt.agreement.encode import codes_from_columns

    X, item_ids, annotators, dom = codes_from_columns(
        columns.item, columns.annotator, columns.value, categories
    )
    values = category_values(dom, level)
    out = agreement_from_codes(
        X,
        dom,
        annotators,
        level=level,
        weights=weights,
        values=values,
        max_disagreements=max_disagreements,
    )
    ci95, se_values, alpha_boot = _uncertainty(
        X, len(dom), level, weights, values, ci, seed, se, ci_method
    )
    return AgreementReport(
        n_items=len(item_ids),
        n_annotators=len(annotators),
        n_annotations=len(columns),
        skipped=dict(table.skipped),
        level=level,
        weights=weights,
        categories=tuple(dom),
        control=columns.control or None,
        kind=columns.kind,
        guideline_versions=(),
        metrics=metrics_dict(out["metrics"], ci95, se_values),
        per_label=out["per_label"],
        pairwise=tuple(out["pairwise"]),
        disagreements=_disagreements(out, X, dom, item_ids, annotators, False),
        coincidence=out["coincidence"],
        confused_pairs=tuple(out["confused_pairs"]),
        alpha_bootstrap=alpha_boot,
    )


def _multichoice_per_label(X: np.ndarray, dom: Sequence[str], universe: Sequence[str]) -> dict:
    """One-vs-rest per label from the label sets: 'label in the set' as a binary judgement."""
    from aqt.agreement.coefficients import compute_coefficients
    from aqt.agreement.engine import _label_entry
    from aqt.agreement.stats import stats_from_codes

    sets = [set(json.loads(s)) for s in dom]
    out = {}
    for label in universe:
        lut = np.array([0 if label in s else 1 for s in sets] + [-1], dtype=np.int8)
        Xl = lut[np.where(X >= 0, X, len(dom))]
        st, _ = stats_from_codes(Xl, 2)
        out[label] = _label_entry(compute_coefficients(st, np.eye(2)), int(st.used[0]))
    return out
