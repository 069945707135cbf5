"""Calibration batch selection: seeded, stratified in proportion, every edge case with candidates
included, size warnings, and a manifest that reproduces the batch byte for byte."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from aqt.calibration import (
    Manifest,
    batch_items,
    read_manifest,
    select_calibration_batch,
    stratum_labels,
    verify_manifest,
    write_manifest,
)
from aqt.edgecases import SourceItem, load_catalogue
from aqt.errors import InputError, UsageError

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "configs" / "edge_cases.example.toml"


def source(n: int = 600) -> list[SourceItem]:
    """Reviews from three channels (60% web, 30% app, 10% mail) and a few edge cases."""
    out = []
    for i in range(n):
        channel = "web" if i % 10 < 6 else "app" if i % 10 < 9 else "mail"
        text = f"a review numbered {i}: " + "word " * (i % 37)
        if i in (17, 333):
            text = f"Oh great, it broke again ({i})."
        if i == 250:
            text = "meh"
        out.append(SourceItem(f"r{i}", text, {"source": channel, "meta": {"lang": "en"}}))
    return out


def test_same_inputs_give_the_same_batch_and_other_seeds_differ():
    items = source()
    a = select_calibration_batch(items, 80, seed=3, strata="source")
    b = select_calibration_batch(list(reversed(items)), 80, seed=3, strata="source")
    c = select_calibration_batch(items, 80, seed=4, strata="source")
    assert [i.id for i in a.items] == [i.id for i in b.items]  # input order does not matter
    assert a.manifest == b.manifest
    assert [i.id for i in a.items] != [i.id for i in c.items]
    assert len({i.id for i in a.items}) == 80


def test_strata_follow_the_source_distribution():
    batch = select_calibration_batch(source(), 80, seed=0, strata="source")
    counts = Counter(m.stratum for m in batch.manifest.items)
    assert counts == {"web": 48, "app": 24, "mail": 8}  # 60/30/10 of 80
    assert batch.manifest.strata_counts["source"] == {"app": 180, "mail": 60, "web": 360}
    assert batch.findings == ()


def test_length_and_field_strata():
    items = source()
    labels = stratum_labels(items, "length")
    assert set(labels.values()) == {"short", "medium", "long"}
    assert set(stratum_labels(items, "meta.lang").values()) == {"en"}
    assert set(stratum_labels(items, "missing_field").values()) == {"(missing)"}
    batch = select_calibration_batch(items, 60, seed=1, strata="length")
    counts = Counter(m.stratum for m in batch.manifest.items)
    assert all(18 <= n <= 22 for n in counts.values()), counts


def test_every_edge_case_with_candidates_is_in_the_batch():
    cat = load_catalogue(CATALOGUE)
    batch = select_calibration_batch(source(), 50, seed=0, edge_cases=cat, per_case=2)
    ids = {i.id for i in batch.items}
    assert {"r17", "r333", "r250"} <= ids  # both sarcasm candidates (per_case 2), the short one
    assert set(batch.manifest.edge_cases["sarcasm"]) == {"r17", "r333"}
    assert "r250" in batch.manifest.edge_cases["very-short"]
    tagged = {m.id: m.edge_cases for m in batch.manifest.items}
    assert "sarcasm" in tagged["r17"]
    # edge cases are spread through the batch, not all first
    positions = [i for i, it in enumerate(batch.items) if it.id in ("r17", "r333", "r250")]
    assert positions != [0, 1, 2]


@pytest.mark.parametrize("size", [10, 49, 101, 150])
def test_sizes_outside_50_to_100_warn(size):
    batch = select_calibration_batch(source(), size, seed=0)
    assert len(batch.items) == size
    [f] = batch.findings
    assert f.check == "calibration_size" and f.severity == "warning"
    assert f"Batch size {size} is outside 50-100" in f.message and "--size" in f.fix


def test_size_above_the_source_uses_everything_and_says_so():
    batch = select_calibration_batch(source(70), 80, seed=0)
    assert len(batch.items) == 70
    assert any("fewer than --size 80" in f.message for f in batch.findings)
    with pytest.raises(UsageError, match="--size"):
        select_calibration_batch(source(70), 0)


def test_manifest_round_trip_reproduces_the_batch(tmp_path):
    cat = load_catalogue(CATALOGUE)
    items = source()
    batch = select_calibration_batch(
        items, 80, seed=7, strata="source", edge_cases=cat, guideline_version="1.0", source="s"
    )
    path = tmp_path / "m.json"
    write_manifest(batch.manifest, path)
    again = read_manifest(path)
    assert again == batch.manifest
    assert again.guideline_version == "1.0" and again.seed == 7 and again.strata == "source"
    assert [m.hash for m in again.items] == [it.hash for it in batch.items]
    assert [it.id for it in batch_items(items, again)] == [it.id for it in batch.items]
    assert verify_manifest(items, again, cat)
    first = path.read_bytes()
    write_manifest(
        select_calibration_batch(
            items, 80, seed=7, strata="source", edge_cases=cat, guideline_version="1.0", source="s"
        ).manifest,
        path,
    )
    assert path.read_bytes() == first  # byte-identical
    assert not verify_manifest(items[:-50], again, cat)  # a changed source gives another batch


def test_batch_items_names_what_the_source_lacks(tmp_path):
    items = source()
    m = select_calibration_batch(items, 60, seed=0).manifest
    changed = [SourceItem(i.id, i.text + "!", i.meta) for i in items]
    with pytest.raises(InputError, match=r"lacks 60 item\(s\) of batch cal-"):
        batch_items(changed, m)


def test_bad_manifests_are_named(tmp_path):
    p = tmp_path / "m.json"
    p.write_text('{"aqt_manifest": 99}')
    with pytest.raises(InputError, match="not an aqt calibration manifest"):
        read_manifest(p)
    p.write_text("{nope")
    with pytest.raises(InputError, match="not valid JSON"):
        read_manifest(p)
    with pytest.raises(InputError, match="aqt calibrate select"):
        read_manifest(tmp_path / "missing.json")
    with pytest.raises(InputError, match="malformed"):
        Manifest.from_dict({"aqt_manifest": 1, "items": [{"id": 1}]})


def test_core_modules_import_no_front_end():
    import subprocess
    import sys

    code = (
        "import sys, aqt.calibration, aqt.calibration_gate, aqt.calibration_report, "
        "aqt.guidelines, aqt.edgecases, aqt.monitoring\n"
        "bad = [m for m in ('prodigy', 'label_studio_sdk', 'fastapi', 'click') if m in sys.modules]\n"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
