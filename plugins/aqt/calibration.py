"""Calibration batches: a seeded, stratified sample every annotator labels, and the gate on it.

Before full-scale annotation every annotator labels the same 50-100 items; Krippendorff's alpha on
that batch decides whether the guidelines are ready (Krippendorff 2004, ch. 11: alpha >= 0.667 for
tentative conclusions, 0.8 for reliable data). Low agreement means revising the guidelines.

:func:`select_calibration_batch` draws the batch: every catalogued edge case with candidates gets
``per_case`` items first, then the rest is allocated to strata in proportion to their share of the
source (largest remainders, ties by stratum name) and drawn with ``numpy.random.default_rng(seed)``
from items sorted by id, so the same source, size, seed, strata and catalogue give the same batch.
The :class:`Manifest` records item hashes, seed, strata and guideline version; it is written
atomically and :func:`batch_items` / :func:`verify_manifest` reproduce the batch from it.
The gate itself is :func:`aqt.calibration_gate.calibration_gate`, re-exported here.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from aqt.config import Thresholds
from aqt.edgecases import Catalogue, SourceItem, field_value, find_candidates
from aqt.errors import InputError, UsageError, truncate
from aqt.findings import Finding
from aqt.records import natural_key

__all__ = [
    "MANIFEST_VERSION",
    "CalibrationBatch",
    "Manifest",
    "ManifestItem",
    "batch_items",
    "calibration_gate",
    "read_manifest",
    "select_calibration_batch",
    "stratum_labels",
    "verify_manifest",
    "write_manifest",
]

MANIFEST_VERSION = 1
LENGTH_BUCKETS = ("short", "medium", "long")


@dataclass(frozen=True)
class ManifestItem:
    """One batch item: its id, text hash, stratum and the edge cases it is a candidate for."""

    id: str
    hash: str
    stratum: str
    edge_cases: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "hash": self.hash,
            "stratum": self.stratum,
            "edge_cases": list(self.edge_cases),
        }


@dataclass(frozen=True)
class Manifest:
    """What is needed to reproduce a calibration batch (no timestamps: byte-identical reruns)."""

    batch_id: str
    seed: int
    size: int
    strata: str | None
    strata_counts: Mapping[str, Mapping[str, int]]
    guideline_version: str | None
    source: str | None
    edge_cases: Mapping[str, tuple[str, ...]]
    per_case: int
    items: tuple[ManifestItem, ...]

    def ids(self) -> list[str]:
        return [it.id for it in self.items]

    def to_dict(self) -> dict[str, Any]:
        return {
            "aqt_manifest": MANIFEST_VERSION,
            "batch_id": self.batch_id,
            "seed": self.seed,
            "size": self.size,
            "strata": self.strata,
            "strata_counts": {k: dict(v) for k, v in self.strata_counts.items()},
            "guideline_version": self.guideline_version,
            "source": self.source,
            "per_case": self.per_case,
            "edge_cases": {k: list(v) for k, v in self.edge_cases.items()},
            "items": [it.to_dict() for it in self.items],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], where: str = "manifest") -> Manifest:
        if not isinstance(d, Mapping) or d.get("aqt_manifest") != MANIFEST_VERSION:
            raise InputError(
                f"{where} is not an aqt calibration manifest (version {MANIFEST_VERSION}).",
                fix="Pass the file written by `aqt calibrate select --out`.",
            )
        try:
            items = tuple(
                ManifestItem(
                    str(i["id"]), str(i["hash"]), str(i["stratum"]), tuple(i.get("edge_cases", ()))
                )
                for i in d["items"]
            )
            return cls(
                batch_id=str(d["batch_id"]),
                seed=int(d["seed"]),
                size=int(d["size"]),
                strata=d.get("strata"),
                strata_counts={k: dict(v) for k, v in d.get("strata_counts", {}).items()},
                guideline_version=d.get("guideline_version"),
                source=d.get("source"),
                edge_cases={k: tuple(v) for k, v in d.get("edge_cases", {}).items()},
                per_case=int(d.get("per_case", 1)),
                items=items,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(
                f"{where}: manifest field missing or malformed ({exc}).",
                fix="Re-create it with `aqt calibrate select`.",
            ) from None


@dataclass(frozen=True)
class CalibrationBatch:
    """The selected items (in serving order), their manifest and the selection's findings."""

    items: tuple[SourceItem, ...]
    manifest: Manifest
    findings: tuple[Finding, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "manifest": self.manifest.to_dict(),
            "findings": [f.to_dict() for f in self.findings],
        }


def _length_edges(items: Sequence[SourceItem]) -> tuple[int, int]:
    lengths = np.array(sorted(len(it.text) for it in items))
    lo, hi = np.quantile(lengths, [1 / 3, 2 / 3], method="lower")
    return int(lo), int(hi)


def stratum_labels(items: Sequence[SourceItem], strata: str | None) -> dict[str, str]:
    """The stratum of each item: ``None`` -> ``"all"``; ``"length"`` -> short/medium/long by the
    source's length tertiles (characters); ``"source"`` or any field name (``meta.genre``, a
    predicted label such as ``prediction``) -> that field's value (``"(missing)"`` when absent)."""
    if strata is None:
        return {it.id: "all" for it in items}
    if strata == "length":
        lo, hi = _length_edges(items)
        return {
            it.id: "short" if len(it.text) <= lo else "medium" if len(it.text) <= hi else "long"
            for it in items
        }
    out = {}
    for it in items:
        v = field_value(it, strata)
        out[it.id] = "(missing)" if v is None else str(v)
    return out


def _allocate(sizes: Mapping[str, int], total: int) -> dict[str, int]:
    """Largest-remainder proportional allocation, capped by stratum size; ties by name."""
    names = sorted(sizes, key=natural_key)
    n = sum(sizes.values())
    if n == 0 or total <= 0:
        return {s: 0 for s in names}
    quota = {s: total * sizes[s] / n for s in names}
    alloc = {s: min(int(quota[s]), sizes[s]) for s in names}
    left = total - sum(alloc.values())
    order = sorted(names, key=lambda s: (-(quota[s] - int(quota[s])), natural_key(s)))
    while left > 0 and any(alloc[s] < sizes[s] for s in names):
        for s in order:
            if left and alloc[s] < sizes[s]:
                alloc[s] += 1
                left -= 1
    return alloc


def _batch_id(hashes: Sequence[str], seed: int) -> str:
    digest = hashlib.sha256(("\n".join(sorted(hashes)) + f"\n{seed}").encode()).hexdigest()
    return "cal-" + digest[:12]


def select_calibration_batch(
    items: Sequence[SourceItem],
    size: int,
    seed: int = 0,
    *,
    strata: str | None = None,
    edge_cases: Catalogue | None = None,
    per_case: int = 1,
    guideline_version: str | None = None,
    thresholds: Thresholds | None = None,
    source: str | None = None,
) -> CalibrationBatch:
    """A seeded, stratified calibration batch with every catalogued edge case that has candidates.

    Parameters
    ----------
    items : the data source (:func:`aqt.edgecases.read_source_items`)
    size : batch size; outside ``thresholds.calibration_min..calibration_max`` (50-100) a warning
    seed : seed of ``numpy.random.default_rng``
    strata : ``None``, ``"length"``, ``"source"`` or a field name (see :func:`stratum_labels`)
    edge_cases : catalogue whose cases with candidates each contribute ``per_case`` items
    guideline_version : recorded in the manifest

    Returns
    -------
    CalibrationBatch
        Items in a seeded shuffled order (edge cases spread through the batch).
    """
    th = thresholds or Thresholds()
    if size < 1:
        raise UsageError(f"--size must be at least 1, got {size}.", fix="Use e.g. --size 80.")
    items = sorted(items, key=lambda it: natural_key(it.id))
    if not items:
        raise InputError("The data source holds no items.", fix="Pass a file with texts.")
    findings: list[Finding] = []
    if not th.calibration_min <= size <= th.calibration_max:
        findings.append(
            Finding(
                "calibration_size",
                "warning",
                (),
                f"Batch size {size} is outside {th.calibration_min}-{th.calibration_max}: "
                "fewer items give intervals too wide to gate on, more delay the start.",
                f"Use --size between {th.calibration_min} and {th.calibration_max}.",
            )
        )
    if size > len(items):
        findings.append(
            Finding(
                "calibration_size",
                "warning",
                (),
                f"The source has {len(items)} items, fewer than --size {size}; all are used.",
                "Add items to the source or lower --size.",
            )
        )
        size = len(items)
    rng = np.random.default_rng(seed)
    by_id = {it.id: it for it in items}
    cands = find_candidates(edge_cases, items) if edge_cases is not None else {}
    chosen: list[str] = []
    for case in edge_cases.cases if edge_cases is not None else ():
        pool = [i for i in cands.get(case.id, []) if i not in chosen]
        if not pool:
            continue
        take = min(per_case, len(pool), size - len(chosen))
        if take <= 0:
            findings.append(
                Finding(
                    "calibration_edge_cases",
                    "warning",
                    (),
                    f"--size {size} leaves no room for edge case {case.id!r}.",
                    "Raise --size or lower --per-case.",
                )
            )
            continue
        chosen += [pool[int(k)] for k in sorted(rng.choice(len(pool), take, replace=False))]
    labels = stratum_labels(items, strata)
    taken = set(chosen)
    rest = [it.id for it in items if it.id not in taken]
    sizes = Counter(labels[i] for i in rest)
    alloc = _allocate(sizes, size - len(chosen))
    for s in sorted(alloc, key=natural_key):
        pool = [i for i in rest if labels[i] == s]
        if alloc[s]:
            chosen += [pool[int(k)] for k in sorted(rng.choice(len(pool), alloc[s], replace=False))]
    order = [chosen[int(k)] for k in rng.permutation(len(chosen))]
    ec_of: dict[str, list[str]] = {}
    for cid, hits in cands.items():
        for i in hits:
            ec_of.setdefault(i, []).append(cid)
    batch = [by_id[i] for i in order]
    m_items = tuple(
        ManifestItem(it.id, it.hash, labels[it.id], tuple(ec_of.get(it.id, ()))) for it in batch
    )
    in_batch = set(order)
    manifest = Manifest(
        batch_id=_batch_id([it.hash for it in batch], seed),
        seed=int(seed),
        size=int(size),
        strata=strata,
        strata_counts={
            "source": dict(sorted(Counter(labels.values()).items())),
            "batch": dict(sorted(Counter(labels[i] for i in order).items())),
        },
        guideline_version=guideline_version,
        source=source,
        edge_cases={
            cid: tuple(i for i in hits if i in in_batch)
            for cid, hits in sorted(cands.items())
            if any(i in in_batch for i in hits)
        },
        per_case=int(per_case),
        items=m_items,
    )
    return CalibrationBatch(tuple(batch), manifest, tuple(findings))


def write_manifest(manifest: Manifest, path: str | Path) -> None:
    """Write the manifest as JSON (sorted, indented), atomically."""
    from aqt.fileio import atomic_write_text

    atomic_write_text(path, json.dumps(manifest.to_dict(), indent=2, ensure_ascii=False) + "\n")


def read_manifest(path: str | Path) -> Manifest:
    """Read a manifest written by :func:`write_manifest`."""
    p = Path(path)
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"No manifest at {str(p)!r}.", fix="Create one with `aqt calibrate select --out`."
        ) from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{p}: not valid JSON ({exc}).", fix="Re-create the manifest.") from None
    return Manifest.from_dict(data, str(p))


def batch_items(items: Sequence[SourceItem], manifest: Manifest) -> list[SourceItem]:
    """The manifest's items from a source, in batch order, found by text hash.

    Raises :class:`InputError` listing the hashes the source lacks (the source changed).
    """
    by_hash = {it.hash: it for it in items}
    missing = [m.id for m in manifest.items if m.hash not in by_hash]
    if missing:
        raise InputError(
            f"The source lacks {len(missing)} item(s) of batch {manifest.batch_id}: "
            f"{truncate(missing)} (matched by text hash).",
            fix="Use the source the batch was selected from.",
        )
    return [by_hash[m.hash] for m in manifest.items]


def verify_manifest(
    items: Sequence[SourceItem], manifest: Manifest, edge_cases: Catalogue | None = None
) -> bool:
    """True when selecting again with the manifest's size, seed, strata and catalogue gives the
    same items in the same order."""
    again = select_calibration_batch(
        items,
        manifest.size,
        manifest.seed,
        strata=manifest.strata,
        edge_cases=edge_cases,
        per_case=manifest.per_case,
        guideline_version=manifest.guideline_version,
        thresholds=Thresholds(calibration_min=0, calibration_max=10**9),
        source=manifest.source,
    )
    return [m.hash for m in again.manifest.items] == [m.hash for m in manifest.items]


def calibration_gate(*args: Any, **kwargs: Any):
    """See :func:`aqt.calibration_gate.calibration_gate`."""
    from aqt.calibration_gate import calibration_gate as gate

    return gate(*args, **kwargs)
