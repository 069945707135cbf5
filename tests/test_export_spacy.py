"""The ``.spacy`` files load with spaCy and train: a blank pipeline learns a text classifier from
``train.spacy`` in a few steps; span exports carry ``doc.spans["sc"]`` and ``doc.ents``."""

from __future__ import annotations

import random

import pytest
import spacy
from aqt.adjudication import Decision
from aqt.export import ExportOptions, plan_export, write_export
from aqt.records import Annotation, AnnotationTable, Span
from spacy.tokens import DocBin
from spacy.training import Example
from test_export_data import review_sample, simulate_annotations


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    df = review_sample(1000, seed=5)
    meta = {i: {"adversarial": True} for i in df["id"][:30]}
    plan = plan_export(simulate_annotations(df), meta=meta, options=ExportOptions(ci=0))
    out = tmp_path_factory.mktemp("spacy") / "v1"
    write_export(plan, out, formats=["jsonl", "spacy"])
    return out, plan


def load(path):
    nlp = spacy.blank("en")
    return nlp, list(DocBin().from_disk(path).get_docs(nlp.vocab))


def test_docbins_hold_every_item_with_one_hot_cats(exported):
    out, plan = exported
    by_id = {r["id"]: r for r in plan.rows}
    total = 0
    for split in ("train", "dev", "test"):
        _, docs = load(out / f"{split}.spacy")
        rows = [r for r in plan.rows if r["split"] == split]
        assert [d.text for d in docs] == [r["text"] for r in rows]
        for d, r in zip(docs, rows):
            assert d.cats == {
                "fresh": float(r["label"] == "fresh"),
                "rotten": float(r["label"] == "rotten"),
            }
        total += len(docs)
    assert total == len(by_id)


def test_train_spacy_trains_a_textcat_model(exported):
    out, _ = exported
    nlp, docs = load(out / "train.spacy")
    _, dev = load(out / "dev.spacy")
    textcat = nlp.add_pipe(
        "textcat",
        config={
            "model": {
                "@architectures": "spacy.TextCatBOW.v3",
                "exclusive_classes": True,
                "ngram_size": 1,
                "no_output_layer": False,
            }
        },
    )
    for label in ("fresh", "rotten"):
        textcat.add_label(label)
    examples = [Example(nlp.make_doc(d.text), d) for d in docs]
    optimizer = nlp.initialize(lambda: examples)
    rng = random.Random(0)
    losses_per_epoch = []
    for _ in range(4):
        rng.shuffle(examples)
        losses: dict = {}
        for i in range(0, len(examples), 64):
            nlp.update(examples[i : i + 64], sgd=optimizer, losses=losses)
        losses_per_epoch.append(losses["textcat"])
    assert losses_per_epoch[-1] < losses_per_epoch[0]
    train_acc = sum(
        max(p.cats, key=p.cats.get) == max(d.cats, key=d.cats.get)
        for p, d in zip(
            nlp.pipe([e.reference.text for e in examples]), [e.reference for e in examples]
        )
    ) / len(examples)
    assert train_acc > 0.9
    scores = nlp.evaluate([Example(nlp.make_doc(d.text), d) for d in dev])
    assert 0.5 < scores["cats_score"] <= 1.0


def test_span_exports_carry_spans_and_entities(tmp_path):
    texts = {
        "1": "Apple hired Tim Cook in Cupertino.",
        "2": "Berlin and Paris are capitals.",
        "3": "Nothing here.",
    }
    gold = {
        "1": (Span(0, 5, "ORG"), Span(12, 20, "PERSON"), Span(24, 33, "GPE")),
        "2": (Span(0, 6, "GPE"), Span(11, 16, "GPE")),
        "3": (),
    }
    recs = []
    for item, spans in gold.items():
        for ann in ("a", "b"):
            value = spans if ann == "a" or item != "2" else spans[:1]
            recs.append(Annotation(item, ann, value, kind="spans", text=texts[item]))
    table = AnnotationTable.from_records(recs)
    decisions = [Decision("2", "spans", gold["2"], "sam", 1)]
    plan = plan_export(
        table,
        decisions=decisions,
        meta={i: {"split": "train"} for i in gold},
        options=ExportOptions(ci=0, adversarial_min_share=0.0),
    )
    assert plan.kind == "spans"
    write_export(
        plan, tmp_path / "spans", formats=["jsonl", "spacy"], allow_failures="tiny fixture"
    )
    _, docs = load(tmp_path / "spans" / "train.spacy")
    by_text = {d.text: d for d in docs}
    for item, spans in gold.items():
        d = by_text[texts[item]]
        got = [(s.start_char, s.end_char, s.label_) for s in d.spans["sc"]]
        assert got == [tuple(s) for s in spans]
        assert [(e.start_char, e.end_char, e.label_) for e in d.ents] == got


def test_multichoice_exports_multi_label_cats(tmp_path):
    recs = []
    for i in range(30):
        value = frozenset(
            ["action", "comedy"] if i % 3 == 0 else ["action"] if i % 3 == 1 else ["drama"]
        )
        for ann in ("x", "y"):
            recs.append(Annotation(str(i), ann, value, kind="multichoice", text=f"film {i}"))
    plan = plan_export(
        AnnotationTable.from_records(recs),
        meta={str(i): {"split": "train"} for i in range(30)},
        options=ExportOptions(ci=0),
    )
    assert plan.categories == ("action", "comedy", "drama")
    write_export(plan, tmp_path / "mc", formats=["spacy"], allow_failures="fixture")
    _, docs = load(tmp_path / "mc" / "train.spacy")
    assert docs[0].text == "film 0" and docs[0].cats == {"action": 1.0, "comedy": 1.0, "drama": 0.0}
    assert docs[2].cats == {"action": 0.0, "comedy": 0.0, "drama": 1.0}
