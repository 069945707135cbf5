"""Synthetic data against held-out real samples, before it may join a training set.

Three tests: distribution shift per surface feature (two-sample Kolmogorov-Smirnov statistic),
a classifier two-sample test (Lopez-Paz & Oquab 2017, "Revisiting classifier two-sample tests",
ICLR): a TF-IDF + logistic-regression model tries to tell synthetic from real, and its
cross-validated ROC AUC near 0.5 means it cannot), and near-copies of real items (MinHash, see
:mod:`aqt.validate._dups`). scikit-learn and scipy are imported inside the function.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from aqt.errors import InputError
from aqt.findings import Finding
from aqt.validate._dups import duplicate_pairs

__all__ = ["find_synthetic_problems", "surface_features"]

_WORD = re.compile(r"\w+", re.UNICODE)
_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)


def surface_features(texts: Sequence[str]) -> dict[str, np.ndarray]:
    """Per-text features: ``chars``, ``words``, ``mean_word_length``, ``digit_share``,
    ``upper_share``, ``punct_share``, ``non_ascii_share`` (shares of characters)."""
    out: dict[str, list[float]] = {
        k: []
        for k in (
            "chars",
            "words",
            "mean_word_length",
            "digit_share",
            "upper_share",
            "punct_share",
            "non_ascii_share",
        )
    }
    for t in texts:
        t = t or ""
        n = max(len(t), 1)
        words = _WORD.findall(t)
        out["chars"].append(len(t))
        out["words"].append(len(words))
        out["mean_word_length"].append(float(np.mean([len(w) for w in words])) if words else 0.0)
        out["digit_share"].append(sum(c.isdigit() for c in t) / n)
        out["upper_share"].append(sum(c.isupper() for c in t) / n)
        out["punct_share"].append(len(_PUNCT.findall(t)) / n)
        out["non_ascii_share"].append(sum(ord(c) > 127 for c in t) / n)
    return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}


def _two_sample_auc(synth: Sequence[str], real: Sequence[str], folds: int, seed: int) -> float:
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    texts = list(synth) + list(real)
    y = np.r_[np.ones(len(synth)), np.zeros(len(real))]
    scores = np.zeros(len(texts))
    k = int(min(folds, len(synth), len(real)))
    skf = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    for train, test in skf.split(np.zeros(len(y)), y):
        words = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
        chars = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), min_df=2, sublinear_tf=True)
        tr = [texts[i] for i in train]
        te = [texts[i] for i in test]
        X = hstack([words.fit_transform(tr), chars.fit_transform(tr)]).tocsr()
        model = LogisticRegression(
            C=1.0, max_iter=1000, solver="liblinear", class_weight="balanced"
        )
        model.fit(X, y[train])
        scores[test] = model.predict_proba(
            hstack([words.transform(te), chars.transform(te)]).tocsr()
        )[:, 1]
    return float(roc_auc_score(y, scores))


def find_synthetic_problems(
    synthetic: Sequence[str],
    real: Sequence[str],
    *,
    synthetic_ids: Sequence[str] | None = None,
    auc_max: float = 0.75,
    ks_max: float = 0.25,
    near_threshold: float = 0.7,
    folds: int = 5,
    seed: int = 0,
) -> tuple[dict[str, Any], list[Finding]]:
    """Is the synthetic set distinguishable from the real one, shifted, or copied from it?

    Returns
    -------
    summary : dict
        ``n_synthetic``, ``n_real``, ``auc`` (cross-validated ROC AUC of the two-sample classifier;
        0.5 = indistinguishable, 1 = trivially told apart), ``features`` (per feature: synthetic and
        real median, KS statistic, p-value), ``near_copies`` (synthetic id, real index, kind).
    findings : list of Finding
        ``synthetic_distinguishable`` (error, AUC > ``auc_max``), ``synthetic_shift`` (warning per
        feature with KS > ``ks_max`` and p < 0.01), ``synthetic_near_copy`` (error).
    """
    from scipy.stats import ks_2samp

    if len(synthetic) < 2 or len(real) < 2:
        raise InputError(
            f"Need at least two synthetic and two real texts, got {len(synthetic)} and "
            f"{len(real)}.",
            fix="Pass larger samples to --synthetic and --real.",
        )
    sids = (
        [str(i) for i in synthetic_ids]
        if synthetic_ids is not None
        else [str(i) for i in range(len(synthetic))]
    )
    fs, fr = surface_features(synthetic), surface_features(real)
    feats: dict[str, Any] = {}
    findings: list[Finding] = []
    for name in fs:
        res = ks_2samp(fs[name], fr[name])
        stat, p = float(res.statistic), float(res.pvalue)
        feats[name] = {
            "synthetic_median": round(float(np.median(fs[name])), 4),
            "real_median": round(float(np.median(fr[name])), 4),
            "ks": round(stat, 4),
            "p_value": float(f"{p:.3g}"),
        }
        if stat > ks_max and p < 0.01:
            findings.append(
                Finding(
                    "synthetic_shift",
                    "warning",
                    (),
                    f"Feature {name!r} is shifted: synthetic median "
                    f"{feats[name]['synthetic_median']} vs "
                    f"real {feats[name]['real_median']} (KS {stat:.3f}, p {p:.2g}).",
                    "Adjust the generation prompt or filter the synthetic items on this feature.",
                )
            )
    auc = _two_sample_auc(synthetic, real, folds, seed)
    if auc > auc_max:
        findings.append(
            Finding(
                "synthetic_distinguishable",
                "error",
                (),
                "A classifier tells synthetic from real items apart with cross-validated AUC "
                f"{auc:.3f} "
                f"(> {auc_max}); the synthetic data does not look like production.",
                "Generate closer to real data (few-shot with real examples, varied style), then "
                "re-test.",
            )
        )
    n_s = len(synthetic)
    best: dict[int, tuple[float, int, str]] = {}
    for i, j, kind, sim in duplicate_pairs(list(synthetic) + list(real), near_threshold):
        if i < n_s <= j and (i not in best or sim > best[i][0]):
            best[i] = (sim, j - n_s, kind)
    copies = [
        {"synthetic": sids[i], "real": r, "kind": k, "similarity": round(s, 4)}
        for i, (s, r, k) in sorted(best.items())
    ]
    if copies:
        findings.append(
            Finding(
                "synthetic_near_copy",
                "error",
                sorted({c["synthetic"] for c in copies}),
                f"{len(copies)} synthetic item(s) copy real items exactly or nearly "
                f"(similarity >= {near_threshold}); they would leak held-out data into training.",
                "Drop them from the synthetic set.",
            )
        )
    if not findings:
        findings.append(
            Finding(
                "synthetic_distinguishable",
                "info",
                (),
                f"Synthetic data passes (AUC {auc:.3f}).",
                "",
            )
        )
    summary = {
        "n_synthetic": len(synthetic),
        "n_real": len(real),
        "auc": round(auc, 4),
        "features": feats,
        "near_copies": copies[:100],
        "n_near_copies": len(copies),
    }
    return summary, findings
