"""Likely label errors: items where a model trained out-of-fold confidently disagrees.

A TF-IDF + logistic-regression model is trained on k-1 folds and predicts the held-out fold
(stratified, seeded), so every item is scored by a model that never saw it. An item is suspect
when the model gives its final label a probability of at most ``1 - threshold``; this is the
"confident disagreement" of confident learning (Northcutt, Jiang & Chuang 2021, *JAIR* 70) with
a fixed threshold. scikit-learn is imported inside the function.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from aqt.errors import MissingExtraError
from aqt.findings import Finding
from aqt.records import natural_key

__all__ = ["find_label_errors", "out_of_fold_proba"]

CHECK = "label_errors"


def out_of_fold_proba(
    texts: Sequence[str], labels: Sequence[str], *, folds: int = 5, seed: int = 0, C: float = 4.0
) -> tuple[list[str], np.ndarray]:
    """Out-of-fold class probabilities, shape (n_items, n_classes), classes sorted."""
    try:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold
    except ImportError as exc:  # pragma: no cover - scikit-learn is a core dependency
        raise MissingExtraError(
            "The label-error check needs scikit-learn.", fix="pip install scikit-learn"
        ) from exc
    y = np.array([str(v) for v in labels])
    classes = sorted(set(y.tolist()), key=natural_key)
    idx = {c: k for k, c in enumerate(classes)}
    yi = np.array([idx[v] for v in y])
    proba = np.full((len(y), len(classes)), np.nan)
    smallest = int(np.bincount(yi).min()) if len(yi) else 0
    k = min(folds, smallest)
    if len(classes) < 2 or k < 2:
        return classes, proba
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    texts = [t or "" for t in texts]
    for train, test in skf.split(np.zeros(len(yi)), yi):
        vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        X = vec.fit_transform([texts[i] for i in train])
        model = LogisticRegression(
            C=C, max_iter=1000, solver="liblinear" if len(classes) == 2 else "lbfgs"
        )
        model.fit(X, yi[train])
        p = model.predict_proba(vec.transform([texts[i] for i in test]))
        proba[np.ix_(test, model.classes_)] = p
    return classes, np.nan_to_num(proba, nan=0.0)


def find_label_errors(
    ids: Sequence[str],
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    threshold: float = 0.9,
    max_share: float = 0.01,
    folds: int = 5,
    seed: int = 0,
) -> tuple[dict[str, Any], list[Finding]]:
    """Items the out-of-fold model confidently labels otherwise.

    Parameters
    ----------
    threshold
        An item is suspect when the model gives another label at least this probability.
    max_share
        More suspects than this share of the items is an ``error`` (systematic label noise; on
        clean data a TF-IDF model is rarely this sure and wrong);
        fewer are a ``warning`` listing them, worst first.

    Returns
    -------
    summary : dict
        ``n_items``, ``n_suspect``, ``oof_accuracy`` and ``suspects`` (worst first: item, label,
        predicted, probability of the prediction).
    findings : list of Finding
    """
    classes, proba = out_of_fold_proba(texts, labels, folds=folds, seed=seed)
    y = [str(v) for v in labels]
    n = len(y)
    if n == 0 or not np.isfinite(proba).all() or proba.sum() == 0:
        return {"n_items": n, "n_suspect": 0, "oof_accuracy": None, "suspects": []}, [
            Finding(CHECK, "info", (), "Too few items per label to train an out-of-fold model.", "")
        ]
    given = np.array([proba[i, classes.index(v)] for i, v in enumerate(y)])
    best = proba.argmax(axis=1)
    p_best = proba.max(axis=1)
    accuracy = float(np.mean([classes[b] == v for b, v in zip(best, y)]))
    suspect = np.flatnonzero((p_best >= threshold) & (given <= 1 - threshold))
    order = suspect[np.lexsort((suspect, -p_best[suspect]))]
    rows = [
        {
            "item": str(ids[i]),
            "label": y[i],
            "predicted": classes[best[i]],
            "probability": round(float(p_best[i]), 4),
        }
        for i in order
    ]
    summary = {
        "n_items": n,
        "n_suspect": len(rows),
        "oof_accuracy": round(accuracy, 4),
        "suspects": rows[:100],
    }
    share = len(rows) / n
    item_ids = [r["item"] for r in rows[:100]]
    if share > max_share:
        sev, msg = (
            "error",
            (
                f"{len(rows)} of {n} items ({share:.1%}) look mislabelled: an out-of-fold model "
                f"(accuracy {accuracy:.3f}) gives another label probability >= {threshold}; more "
                "than "
                f"{max_share:.0%} suggests systematic label noise."
            ),
        )
    elif rows:
        sev, msg = (
            "warning",
            (
                f"{len(rows)} of {n} items ({share:.1%}) may be mislabelled (out-of-fold model, "
                f"probability >= {threshold} for another label)."
            ),
        )
    else:
        return summary, [
            Finding(
                CHECK,
                "info",
                (),
                f"No confident disagreement from the out-of-fold model (accuracy {accuracy:.3f}).",
                "",
            )
        ]
    fix = (
        "Re-adjudicate the listed items (prodigy aqt.adjudicate, or ground truth in Label Studio), worst first; fix the guideline if one "
        "label pair dominates."
    )
    return summary, [Finding(CHECK, sev, item_ids, msg, fix)]
