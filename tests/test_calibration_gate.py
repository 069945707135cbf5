"""The calibration gate on simulated annotators of known reliability: clear guidelines (true alpha
about 0.85) pass; two labels the annotators confuse fail, and the gate names that pair, its items,
the guideline section and edge cases, and asks a revision question. Renderers and the sheet."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from aqt.agreement import agreement_report
from aqt.calibration import select_calibration_batch
from aqt.calibration_gate import calibration_gate, gold_labels
from aqt.calibration_report import (
    discussion_sheet,
    render_gate_html,
    render_gate_json,
    render_gate_markdown,
    render_gate_text,
)
from aqt.config import Thresholds
from aqt.edgecases import SourceItem, load_catalogue
from aqt.errors import InputError
from aqt.guidelines import read_guidelines
from aqt.records import Annotation, AnnotationTable

ROOT = Path(__file__).resolve().parent.parent
GUIDE = read_guidelines(ROOT / "configs" / "guidelines.example.md")
CATALOGUE = load_catalogue(ROOT / "configs" / "edge_cases.example.toml")
LABELS = ["Positive", "Negative", "Neutral"]
TEAM = ["alice", "bob", "carol"]


def source(n: int = 400) -> list[SourceItem]:
    texts = {5: "Oh great, the update broke it again.", 9: "meh"}
    return [
        SourceItem(
            f"r{i}", texts.get(i, f"A product review, number {i}."), {"truth": LABELS[i % 3]}
        )
        for i in range(n)
    ]


def truth(item: SourceItem) -> str:
    return item.meta["truth"]


def simulate(batch, seed=0, noise=0.12, confuse=0.0, who=TEAM, skip=None):
    """Each annotator gives the true label except with probability ``noise`` a uniformly random
    one (true alpha about (1 - 2 noise / 3)^2 = 0.85 for noise 0.12); with ``confuse``, a
    Positive or Neutral item gets a coin flip between the two."""
    rng = np.random.default_rng(seed)
    recs = []
    for it in batch.items:
        for a in who:
            if skip and a in skip and it.id in skip[a]:
                continue
            v = truth(it)
            if v in ("Positive", "Neutral") and rng.random() < confuse:
                v = ["Positive", "Neutral"][int(rng.integers(2))]
            elif rng.random() < noise:
                v = LABELS[int(rng.integers(3))]
            recs.append(Annotation(it.id, a, v, text=it.text, guideline_version="1.0"))
    return AnnotationTable.from_records(recs)


@pytest.fixture(scope="module")
def batch():
    return select_calibration_batch(source(), 80, seed=0, edge_cases=CATALOGUE)


def gate(batch, table, **kw):
    kw.setdefault("ci", 300)
    return calibration_gate(
        table, batch.manifest, TEAM, edge_cases=CATALOGUE, guidelines=GUIDE, items=batch.items, **kw
    )


@pytest.mark.parametrize("seed", range(5))
def test_clear_guidelines_pass(batch, seed):
    g = gate(batch, simulate(batch, seed=seed))
    assert 0.72 < g.overall["value"] < 0.95, g.overall  # around the true 0.85
    assert g.status == "PASS" and g.exit_code == 0
    assert all(r["status"] == "PASS" for r in g.per_label.values()), g.per_label
    lo, hi = g.overall["ci95"]
    assert lo < g.overall["value"] < hi
    assert not [f for f in g.findings if f.severity == "error"]
    assert "start full-scale annotation" in g.next_step


@pytest.mark.parametrize("seed", range(5))
def test_confused_labels_fail_and_the_pair_and_items_are_named(batch, seed):
    table = simulate(batch, seed=seed, noise=0.03, confuse=0.5)
    g = gate(batch, table)
    assert g.status == "FAIL" and g.exit_code == 3
    top = g.confused_pairs[0]
    assert top["labels"] == ["Neutral", "Positive"]
    # exactly the items where someone said Positive and someone else Neutral
    by_item: dict[str, set] = {}
    for r in table.records:
        by_item.setdefault(r.item, set()).add(r.value)
    expected = sorted(
        (i for i, v in by_item.items() if {"Positive", "Neutral"} <= v),
        key=lambda s: int(s[1:]),
    )
    assert top["items"] == expected and len(expected) > 10
    assert top["sections"][0] == "Mixed reviews"
    assert "Neutral" in top["question"] and "Positive" in top["question"]
    statuses = {lab: r["status"] for lab, r in g.per_label.items()}
    assert statuses["Neutral"] == statuses["Positive"] == "FAIL"
    assert statuses["Negative"] == "PASS"
    checks = {f.check for f in g.findings if f.severity == "error"}
    assert {"calibration_label"} <= checks
    assert "Do not start full-scale annotation" in g.next_step
    assert "Neutral/Positive" in g.next_step
    worst = g.worst_items[0]
    assert set(worst["values"]) == set(TEAM) and worst["text"]


def test_per_label_values_are_the_engines(batch):
    table = simulate(batch, seed=1)
    g = gate(batch, table, ci=0)
    report = agreement_report(table).to_dict()
    assert g.overall["value"] == report["metrics"]["krippendorff_alpha"]["value"]
    for lab in LABELS:
        assert g.per_label[lab]["value"] == report["per_label"][lab]["krippendorff_alpha"]
        assert g.per_label[lab]["ci95"] is None


def test_edge_cases_touching_a_pair_are_named(batch):
    """The sarcasm item (expected Negative) split between Negative and Positive."""
    table = simulate(batch, seed=0, noise=0.0)
    recs = [
        Annotation(r.item, r.annotator, "Positive" if r.item == "r5" and r.annotator == "bob" else
                   ("Negative" if r.item == "r5" else r.value), text=r.text)
        for r in table.records
    ]  # fmt: skip
    g = gate(batch, table.with_records(recs), ci=0)
    pair = next(p for p in g.confused_pairs if p["labels"] == ["Negative", "Positive"])
    assert pair["items"] == ["r5"] and pair["edge_cases"] == ["sarcasm"]
    assert "Sarcasm and irony" in pair["sections"]
    assert "Edge case 'sarcasm'" in pair["question"] and "should be Negative" in pair["question"]


def test_unfinished_and_other_annotators(batch):
    missing = [it.id for it in batch.items[:7]]
    table = simulate(batch, who=[*TEAM, "dave"], skip={"carol": set(missing)})
    g = gate(batch, table, ci=0)
    assert g.other_annotators == ("dave",)
    [u] = g.unfinished
    assert (u["annotator"], u["done"], u["total"]) == ("carol", 73, 80)
    assert u["missing"] == missing
    assert g.status == "FAIL" and "Wait for carol" in g.next_step
    kinds = {f.check: f.severity for f in g.findings}
    assert kinds["calibration_incomplete"] == "error" and kinds["other_annotators"] == "info"
    assert "dave" not in g.to_dict()["annotators"]


def test_threshold_option_and_guideline_mismatch(batch):
    table = simulate(batch, seed=2)
    g = gate(batch, table, ci=0, threshold=0.99)
    assert g.status == "FAIL" and g.threshold == 0.99
    g2 = gate(batch, table, ci=0, thresholds=Thresholds(alpha_gate=0.5))
    assert g2.threshold == 0.5 and g2.status == "PASS"
    other = read_guidelines(ROOT / "configs" / "guidelines.example.md")
    from dataclasses import replace

    from aqt.guidelines import GuidelineVersion

    newer = replace(other, version=GuidelineVersion("sha256:000000000000", "1.1"))
    g3 = calibration_gate(table, batch.manifest, TEAM, guidelines=newer, ci=0)
    assert any(f.check == "guideline_version_mismatch" for f in g3.findings)


def test_items_matched_by_text_hash_and_outsiders_counted(batch):
    table = simulate(batch, seed=0)
    renamed = [
        Annotation(f"h{abs(hash(r.text))}", r.annotator, r.value, text=r.text)
        for r in table.records
    ] + [Annotation("zzz", "alice", "Positive", text="not in the batch")]
    g = gate(batch, table.with_records(renamed), ci=0)
    assert g.overall["n_items"] == 80
    assert g.overall["value"] == gate(batch, table, ci=0).overall["value"]
    assert any(f.check == "items_outside_batch" for f in g.findings)


def test_no_answers_by_the_named_annotators_is_an_error(batch):
    with pytest.raises(InputError, match="No answers by"):
        calibration_gate(simulate(batch, who=["x"]), batch.manifest, TEAM)
    with pytest.raises(InputError, match="No annotators"):
        calibration_gate(simulate(batch), batch.manifest, [])


def test_gold_items_are_the_unanimous_ones(batch):
    table = simulate(batch, seed=3)
    g = gate(batch, table, ci=0)
    gold = {x["id"]: x["label"] for x in g.to_dict()["gold"]}
    assert gold == gold_labels(table)
    for r in table.records:
        if r.item in gold:
            assert r.value == gold[r.item]
    assert 40 < len(gold) < 80
    assert all(x["text"] for x in g.to_dict()["gold"])


def test_renderers_and_sheet(batch):
    g = gate(batch, simulate(batch, seed=0, noise=0.03, confuse=0.5), ci=100)
    d = g.to_dict()
    assert json.loads(render_gate_json(d)) == json.loads(json.dumps(d))
    assert render_gate_json(d) == render_gate_json(gate(batch, simulate(
        batch, seed=0, noise=0.03, confuse=0.5), ci=100).to_dict())  # fmt: skip
    text = render_gate_text(d)
    assert "Result                FAIL" in text and text.rstrip().endswith(d["next_step"])
    md = render_gate_markdown(d)
    assert md.startswith("# Calibration gate: FAIL") and "| Neutral / Positive |" in md
    html = render_gate_html(d)
    assert html.startswith("<!DOCTYPE html>") and "per-label-bars" in html and "<script" not in html
    sheet = discussion_sheet(d)
    assert sheet.startswith(f"# Calibration meeting: batch {d['batch']['id']}")
    assert "## 1. Neutral or Positive?" in sheet
    pair_items = d["confused_pairs"][0]["items"]
    rows = [ln for ln in sheet.splitlines() if ln.startswith("| r")]
    listed = [ln.split("|")[1].strip() for ln in rows]
    assert len(listed) == len(set(listed))  # each item once
    assert set(pair_items) <= set(listed)
    assert set(listed) == {w["item"] for w in d["disagreements"]}
    assert "| alice | bob | carol | Decision |" in sheet


def test_span_batches_gate_on_token_alpha():
    from aqt.records import Span

    items = [SourceItem(f"s{i}", f"Alice met Bob in Paris on day {i}.", {}) for i in range(60)]
    b = select_calibration_batch(items, 60, seed=0)
    recs = []
    for it in b.items:
        for a in TEAM:
            spans = [Span(0, 5, "PER"), Span(10, 13, "PER")]
            if a == "carol" and it.id.endswith("7"):
                spans = [Span(17, 22, "LOC")]
            recs.append(Annotation(it.id, a, tuple(spans), kind="spans", text=it.text))
    g = calibration_gate(AnnotationTable.from_records(recs), b.manifest, TEAM, ci=0)
    d = g.to_dict()
    assert d["metric"] == "token_alpha" and 0.667 < d["overall"]["value"] < 1
    assert g.status == "PASS" and d["gold"] == []
    assert set(d["per_label"]) == {"LOC", "PER"}
    assert {r["status"] for r in d["per_label"].values()} == {"n/a"}
    assert "Token-level alpha" in render_gate_text(d)
