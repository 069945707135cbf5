"""Coverage: does the annotated set cover what production sends?

Both sets are embedded cheaply (TF-IDF of words and bigrams, reduced by truncated SVD and
L2-normalised, i.e. latent semantic analysis) and clustered with k-means, all fitted on the union
and seeded. A cluster's *missing mass* is ``max(0, p_c - d_c)``, its share of production minus its
share of the annotated set; clusters are ranked by it, so a kind of text production sends and the
annotated set lacks comes first. The coverage score is ``sum_c min(p_c, d_c)`` (1 minus the total
variation distance of the two cluster distributions): 1 when the shares match, 0 when disjoint.
Length, language (a stop-word guess), metadata fields and labels (where known) are compared too.

The targeted-collection list holds production items from the gaps, as JSONL with ``text`` and
``meta`` (``id``, ``cluster``, ``reason`` and the item's own fields): a data source that
``aqt calibrate``, ``aqt guidelines check`` and the teach recipes read.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aqt.edgecases import SourceItem
from aqt.errors import InputError
from aqt.fileio import atomic_write_text
from aqt.findings import Finding, sort_findings
from aqt.records import natural_key

__all__ = [
    "CoverageReport",
    "coverage_report",
    "guess_language",
    "render_coverage_text",
    "write_collection_list",
]

_STOP = {
    "en": "the and of to is in that it for with as was on but his her this movie film not you are",
    "de": "der die und das ist nicht ich wir sie den zu mit sich des auf für ein eine dass auch "
    "herr aber weil hat",
    "es": "el la los las que de y en un una por con no es se del para como pero más muchas "
    "gracias señor señora le lo al su muy",
    "nl": "de het een en van is dat niet ik we zijn op te met voor ook maar die aan er wat uw zal "
    "gaat voorzitter",
    "fr": "le la les et des est une un que qui dans pour pas sur ce il elle nous vous",
}
_STOPSETS = {lang: set(words.split()) for lang, words in _STOP.items()}
_WORD = re.compile(r"[^\W\d_]+", re.UNICODE)


def guess_language(text: str) -> str:
    """The language whose stop words occur most (en, de, es, nl, fr), else ``"unknown"``.

    >>> guess_language("Das ist nicht gut, und wir sind auch nicht froh.")
    'de'
    """
    words = [w.lower() for w in _WORD.findall(text or "")]
    if not words:
        return "unknown"
    scores = {lang: sum(w in s for w in words) for lang, s in _STOPSETS.items()}
    best = max(sorted(scores), key=lambda k: scores[k])
    return best if scores[best] > 0 else "unknown"


@dataclass(frozen=True)
class CoverageReport:
    """Coverage of a production sample by an annotated set (see the module docstring)."""

    n_production: int
    n_dataset: int
    score: float
    clusters: tuple[Mapping[str, Any], ...]
    features: Mapping[str, Any]
    findings: tuple[Finding, ...]
    collection: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)

    def gaps(self) -> list[Mapping[str, Any]]:
        return [c for c in self.clusters if c["status"] in ("under_covered", "rare_but_present")]

    def to_dict(self) -> dict[str, Any]:
        return {
            "n_production": self.n_production,
            "n_dataset": self.n_dataset,
            "coverage_score": self.score,
            "clusters": [dict(c) for c in self.clusters],
            "features": json.loads(json.dumps(self.features)),
            "findings": [f.to_dict() for f in self.findings],
            "n_collection": len(self.collection),
        }


def _embed(texts: list[str], seed: int, dims: int) -> tuple[np.ndarray, Any, Any]:
    from sklearn.decomposition import TruncatedSVD
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.preprocessing import normalize

    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, max_features=50000, sublinear_tf=True)
    X = vec.fit_transform(texts)
    k = max(2, min(dims, X.shape[1] - 1, X.shape[0] - 1))
    Z = normalize(TruncatedSVD(n_components=k, random_state=seed).fit_transform(X))
    return Z, X, vec


def _tv(a: Sequence[Any], b: Sequence[Any]) -> tuple[float, dict[str, float], dict[str, float]]:
    ca, cb = Counter(map(str, a)), Counter(map(str, b))
    na, nb = max(sum(ca.values()), 1), max(sum(cb.values()), 1)
    keys = sorted(set(ca) | set(cb), key=natural_key)
    pa = {k: ca[k] / na for k in keys}
    pb = {k: cb[k] / nb for k in keys}
    return 0.5 * sum(abs(pa[k] - pb[k]) for k in keys), pa, pb


def _categorical(
    name: str,
    prod: list[Any],
    data: list[Any],
    findings: list[Finding],
    max_tv: float,
    min_share: float = 0.01,
) -> dict[str, Any]:
    tv, pp, pd_ = _tv(prod, data)
    missing = [k for k in pp if pp[k] >= min_share and pd_.get(k, 0) == 0]
    if tv > max_tv or missing:
        findings.append(
            Finding(
                "coverage_feature",
                "warning",
                (),
                f"{name}: production and the annotated set differ (total variation {tv:.2f})"
                + (f"; values in production only: {', '.join(missing[:8])}" if missing else "")
                + ".",
                f"Collect annotated items with the under-represented {name} values.",
            )
        )
    return {
        "total_variation": round(tv, 4),
        "production": _round(pp),
        "dataset": _round(pd_),
        "missing": missing,
    }


def _round(d: Mapping[str, float]) -> dict[str, float]:
    return {k: round(v, 4) for k, v in d.items()}


def coverage_report(
    production: Sequence[SourceItem],
    dataset: Sequence[SourceItem],
    *,
    n_clusters: int | None = None,
    fields: Sequence[str] | None = None,
    min_share: float = 0.01,
    under_ratio: float = 0.5,
    rare_share: float = 0.02,
    rare_min: int = 3,
    min_score: float = 0.7,
    max_tv: float = 0.2,
    max_collection: int = 200,
    dims: int = 100,
    seed: int = 0,
) -> CoverageReport:
    """Compare a production sample with the annotated set.

    Parameters
    ----------
    production, dataset
        Items with text and metadata (:class:`~aqt.edgecases.SourceItem`); a ``label`` field is
        compared where both sides have it.
    n_clusters
        k of k-means (default ``min(30, max(4, sqrt(n / 10)))`` for n items in the union).
    fields
        Metadata fields to compare (default: fields present on both sides with at most 50 values).
    min_share, under_ratio
        A cluster with at least ``min_share`` of production and a dataset share under
        ``under_ratio`` times its production share is ``under_covered`` (warning).
    rare_share, rare_min
        A cluster with under ``rare_share`` of production, present there, and fewer than
        ``rare_min`` annotated items is ``rare_but_present``.
    min_score
        A coverage score under this is an ``error`` (exit 3 on the command line).
    """
    from sklearn.cluster import KMeans

    if len(production) < 2 or len(dataset) < 2:
        raise InputError(
            f"Need at least two production and two annotated items, got {len(production)} and "
            f"{len(dataset)}.",
            fix="Pass larger files to --production and --dataset.",
        )
    texts = [it.text for it in production] + [it.text for it in dataset]
    n_p = len(production)
    Z, X, vec = _embed(texts, seed, dims)
    k = n_clusters or int(min(30, max(4, round(np.sqrt(len(texts) / 10)))))
    km = KMeans(n_clusters=k, n_init=4, random_state=seed).fit(Z)
    lab = km.labels_
    is_p = np.arange(len(texts)) < n_p
    cp = np.bincount(lab[is_p], minlength=k).astype(float)
    cd = np.bincount(lab[~is_p], minlength=k).astype(float)
    p, d = cp / cp.sum(), cd / cd.sum()
    score = float(np.minimum(p, d).sum())
    terms = np.array(vec.get_feature_names_out())
    dist = 1.0 - (Z * km.cluster_centers_[lab]).sum(axis=1) / np.maximum(
        np.linalg.norm(km.cluster_centers_[lab], axis=1), 1e-12
    )
    overall = np.asarray(X.mean(axis=0)).ravel()
    clusters = []
    for c in range(k):
        members = np.flatnonzero(lab == c)
        lift = (
            np.asarray(X[members].mean(axis=0)).ravel() - overall
        )  # distinctive terms of the cluster
        top = [
            str(t)
            for t in terms[np.argsort(-lift, kind="stable")[:6]]
            if lift[vec.vocabulary_[t]] > 0
        ]
        prod_members = members[members < n_p]
        near = prod_members[np.argsort(dist[prod_members], kind="stable")]
        if 0 < p[c] < rare_share and cd[c] < rare_min:
            status = "rare_but_present"
        elif p[c] >= min_share and d[c] < under_ratio * p[c]:
            status = "under_covered"
        elif d[c] > 0 and p[c] == 0:
            status = "dataset_only"
        else:
            status = "covered"
        clusters.append(
            {
                "cluster": c,
                "status": status,
                "missing_mass": round(float(max(0.0, p[c] - d[c])), 4),
                "production_share": round(float(p[c]), 4),
                "dataset_share": round(float(d[c]), 4),
                "n_production": int(cp[c]),
                "n_dataset": int(cd[c]),
                "terms": top,
                "examples": [production[i].text[:160] for i in near[:3]],
                "_near": near,
            }
        )
    rank = {"under_covered": 0, "rare_but_present": 1, "covered": 2, "dataset_only": 3}
    clusters.sort(key=lambda r: (rank[r["status"]], -r["missing_mass"], r["cluster"]))
    findings: list[Finding] = []
    collection: list[dict[str, Any]] = []
    for r in clusters:
        near = r.pop("_near")
        if r["status"] not in ("under_covered", "rare_but_present"):
            continue
        ids = [production[i].id for i in near]
        what = (
            f"Cluster {r['cluster']} ({', '.join(r['terms'][:4])}): {r['production_share']:.1%} "
            "of production "
            f"({r['n_production']} items) but {r['dataset_share']:.1%} of the annotated set "
            f"({r['n_dataset']})"
        )
        if r["status"] == "under_covered":
            findings.append(
                Finding(
                    "coverage_gap",
                    "warning",
                    ids[:50],
                    what + ".",
                    "Annotate items from the targeted-collection list (--collect FILE).",
                )
            )
        else:
            findings.append(
                Finding(
                    "coverage_rare",
                    "info",
                    ids[:50],
                    what + ": rare but present in production.",
                    "Add a few annotated examples, or an edge case to the catalogue.",
                )
            )
        for i in near:
            collection.append(
                {
                    "text": production[i].text,
                    "meta": {
                        **dict(production[i].meta),
                        "id": production[i].id,
                        "cluster": r["cluster"],
                        "reason": r["status"],
                        "cluster_terms": r["terms"][:4],
                    },
                }
            )
    # interleave the gaps (round robin by cluster rank) up to max_collection
    by_cluster: dict[int, list[dict[str, Any]]] = {}
    for row in collection:
        by_cluster.setdefault(row["meta"]["cluster"], []).append(row)
    picked: list[dict[str, Any]] = []
    queues = list(by_cluster.values())
    while queues and len(picked) < max_collection:
        queues = [q for q in queues if q]
        for q in queues:
            if q and len(picked) < max_collection:
                picked.append(q.pop(0))
    if score < min_score:
        findings.append(
            Finding(
                "coverage_score",
                "error",
                (),
                f"Coverage score {score:.3f} is below {min_score}: the annotated set misses much "
                "of production.",
                "Annotate the targeted-collection list, then re-run aqt coverage.",
            )
        )
    features = _features(production, dataset, fields, findings, max_tv)
    return CoverageReport(
        n_p,
        len(dataset),
        round(score, 4),
        tuple(clusters),
        features,
        tuple(sort_findings(findings)),
        tuple(picked),
    )


def _features(production, dataset, fields, findings, max_tv) -> dict[str, Any]:
    from scipy.stats import ks_2samp

    lp = np.array([len(it.text) for it in production], dtype=float)
    ld = np.array([len(it.text) for it in dataset], dtype=float)
    ks = ks_2samp(lp, ld)
    out: dict[str, Any] = {
        "length": {
            "production_median": float(np.median(lp)),
            "dataset_median": float(np.median(ld)),
            "ks": round(float(ks.statistic), 4),
            "p_value": float(f"{ks.pvalue:.3g}"),
        },
    }
    if ks.statistic > max_tv and ks.pvalue < 0.01:
        findings.append(
            Finding(
                "coverage_feature",
                "warning",
                (),
                f"length: production median {np.median(lp):.0f} chars vs {np.median(ld):.0f} "
                "annotated "
                f"(KS {ks.statistic:.2f}).",
                "Collect annotated items of the missing lengths.",
            )
        )
    out["language"] = _categorical(
        "language",
        [guess_language(it.text) for it in production],
        [guess_language(it.text) for it in dataset],
        findings,
        max_tv,
    )
    if fields is None:
        common = set.intersection(
            *[set(it.meta) for it in production[:200]] or [set()]
        ) & set.intersection(*[set(it.meta) for it in dataset[:200]] or [set()])
        fields = sorted(
            f
            for f in common
            if f not in ("id", "meta") and len({str(it.meta.get(f)) for it in production}) <= 50
        )
    for name in fields:
        pv = [it.meta.get(name) for it in production if it.meta.get(name) not in (None, "")]
        dv = [it.meta.get(name) for it in dataset if it.meta.get(name) not in (None, "")]
        if pv and dv:
            out[name] = _categorical(name, pv, dv, findings, max_tv)
    return out


def write_collection_list(report: CoverageReport, path: str | Path) -> int:
    """Write the targeted-collection list as JSONL (``text``, ``meta``), atomically; returns the
    number of items."""
    lines = [json.dumps(row, ensure_ascii=False, sort_keys=True) for row in report.collection]
    atomic_write_text(path, "".join(line + "\n" for line in lines))
    return len(lines)


def render_coverage_text(d: Mapping[str, Any], top: int = 10) -> str:
    """Plain-text summary of ``CoverageReport.to_dict()``: score, ranked gaps, feature shifts."""
    head = (
        f"Coverage score {d['coverage_score']:.3f} ({d['n_production']} production items, "
        f"{d['n_dataset']} annotated)"
    )
    lines = [head, "", "Clusters, worst covered first:"]
    for c in d["clusters"][:top]:
        lines.append(
            f"  {c['cluster']:>3} {c['status']:<17} production {c['production_share']:6.1%}  "
            "annotated "
            f"{c['dataset_share']:6.1%}  {', '.join(c['terms'][:5])}"
        )
    lines.append("")
    for name, f in d["features"].items():
        if "total_variation" in f:
            lines.append(f"{name}: total variation {f['total_variation']:.3f}")
        elif "ks" in f:
            lines.append(
                f"{name}: KS {f['ks']:.3f} (medians {f['production_median']:.0f} vs "
                f"{f['dataset_median']:.0f})"
            )
    return "\n".join(lines) + "\n"
