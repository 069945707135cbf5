"""``aqt.teach`` and ``aqt.review-selection`` end to end with the Prodigy stand-in: simulated
annotators label Rotten Tomatoes snippets with planted junk (empty, garbled, foreign, duplicates)."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys

import numpy as np
import pytest
from prodigy_standin.harness import SimulatedAnnotator, fresh_home, load_prodigy, python_path

load_prodigy()
from aqt.active.dedup import normalize_text
from aqt_prodigy.review_selection import review_selection
from aqt_prodigy.teach import components, read_pool
from prodigy.components.db import connect
from prodigy.core import Controller
from test_active_helpers import EMPTY, foreign, garbled, language_samples, reviews

LABELS = ["fresh", "rotten"]


@pytest.fixture
def prodigy_home(tmp_path, monkeypatch):
    return fresh_home(tmp_path, monkeypatch)


@functools.cache
def pool_rows() -> tuple[list[dict], list[dict]]:
    """(source rows with planted junk, holdout reviews). Junk ids say their kind."""
    rev = reviews(2500)
    pool, holdout = rev.iloc[:1500], rev.iloc[1500:]
    rows = [{"id": f"r{i}", "text": t, "meta": {"truth": lab}}
            for i, (t, lab) in enumerate(zip(pool["text"], pool["label"]))]  # fmt: skip
    junk = [("empty", t) for t in EMPTY] + [("garbled", t) for t in garbled(12)]
    junk += [("foreign", t) for texts in foreign(6).values() for t in texts]
    junk += [("dup", pool["text"].iloc[j]) for j in range(0, 60, 6)]
    rows += [{"id": f"{kind}{j}", "text": t, "meta": {}} for j, (kind, t) in enumerate(junk)]
    order = np.random.default_rng(1).permutation(len(rows))
    holdout_rows = [{"text": t, "label": lab} for t, lab in zip(holdout["text"], holdout["label"])]
    return [rows[i] for i in order], holdout_rows


def write_source(tmp_path) -> str:
    rows, _ = pool_rows()
    path = tmp_path / "pool.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def write_languages(tmp_path) -> str:
    path = tmp_path / "languages.jsonl"
    rows = [{"text": t, "lang": lang} for lang, texts in language_samples().items() for t in texts]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def annotator(task: dict):
    """Labels reviews correctly; skips anything else (junk teaches nothing)."""
    truth = task["meta"].get("truth")
    return {"answer": "accept", "accept": [truth]} if truth else "ignore"


def holdout_accuracy(loop) -> float:
    _, holdout = pool_rows()
    X = loop._vec.vectorize([r["text"] for r in holdout])
    pred = loop.model.clf_.predict(X)
    return float(np.mean(pred == np.array([r["label"] for r in holdout])))


def run_teach(tmp_path, n_answers: int, **kwargs):
    kwargs.setdefault("languages", write_languages(tmp_path))
    comps, loop = components("sent", write_source(tmp_path), ",".join(LABELS), **kwargs)
    ctrl = Controller.from_components("aqt.teach", comps)
    ann = SimulatedAnnotator("ann", annotator)
    curve = []
    while len(ann.answered) < n_answers:
        got = ann.annotate(ctrl, max_answers=kwargs.get("batch_size", 10))
        if not got:
            break
        curve.append((len(loop.answers), holdout_accuracy(loop) if loop.fitted else None))
    return loop, ann, curve


def test_teach_learns_serves_no_junk_and_queues_it(prodigy_home, tmp_path):
    loop, ann, curve = run_teach(tmp_path, 600, batch_size=50)
    seen_ids = [t["meta"]["aqt_item"] for t in ann.seen]
    assert len(seen_ids) == len(set(seen_ids)) >= 600  # never served twice
    texts = [normalize_text(t["text"]) for t in ann.seen]
    assert len(texts) == len(set(texts))  # no exact duplicates served
    assert not [i for i in seen_ids if i.startswith(("empty", "garbled", "foreign"))]
    queue = connect().get_dataset_examples("sent_review")
    queued = {eg["meta"]["aqt_item"]: eg["meta"]["aqt_reason"] for eg in queue}
    kinds = {"empty": "empty_text", "garbled": "garbled_text", "foreign": "language_mismatch"}
    for kind, check in kinds.items():
        got = [r for i, r in queued.items() if i.startswith(kind)]
        assert got and all(r.startswith(check) for r in got), (kind, got)
    dup_flags = [r for r in queued.values() if "duplicate" in r]
    assert dup_flags
    for r in dup_flags:  # the reason names the copy that was served
        assert r.split("of item ")[1].split(" (")[0] in seen_ids, r
    false_flags = [i for i, r in queued.items() if i.startswith("r") and "duplicate" not in r]
    assert len(false_flags) <= 0.04 * len(seen_ids)  # the bound on false flags
    # every planted junk item left in the pool would be flagged too
    junk = [
        i for i, item in enumerate(loop.ids) if item.startswith(("empty", "garbled", "foreign"))
    ]
    assert loop.review.review(junk, sent=loop.sent).kept == ()
    # the model improves over the batches
    first = next(acc for _, acc in curve if acc is not None)
    assert curve[-1][1] > first + 0.04, curve
    # every answer carries the score, the pick and the strategy
    saved = connect().get_dataset_examples("sent")
    assert {eg["meta"]["aqt_strategy"] for eg in saved} == {"default"}
    picks = {eg["meta"]["aqt_pick"] for eg in saved}
    assert {"cold-start", "uncertain", "explore"} <= picks
    assert all(0 <= eg["meta"]["aqt_score"] <= 1 for eg in saved if "aqt_score" in eg["meta"])
    assert loop.recalibrator is not None and loop.recalibrator.n_fit >= 20


def test_without_review_junk_reaches_annotators(prodigy_home, tmp_path):
    _, ann, _ = run_teach(tmp_path, 100, batch_size=20, review=False)
    seen_ids = [t["meta"]["aqt_item"] for t in ann.seen]
    assert [i for i in seen_ids if not i.startswith("r")]  # uncertainty loves junk
    assert connect().get_dataset_examples("sent_review") == []


def test_skips_teach_the_skip_model(prodigy_home, tmp_path):
    """Annotators skip reviews that mention a film's cast: the skip model learns it."""
    comps, loop = components("sent", write_source(tmp_path), ",".join(LABELS), batch_size=20)
    ctrl = Controller.from_components("aqt.teach", comps)

    def picky(task):
        return "ignore" if len(task["text"]) < 60 else annotator(task)

    ann = SimulatedAnnotator("ann", picky)
    ann.annotate(ctrl, max_answers=200)
    skipped = [i for i, a in loop.answers.items() if a is None]
    kept = [i for i, a in loop.answers.items() if a is not None]
    assert len(skipped) >= 3 and loop.skip_model.clf_ is not None
    p = loop.skip_model.predict_skip_features(loop.review.skip_features)
    assert p[skipped].mean() > p[kept].mean() + 0.2
    queue = connect().get_dataset_examples("sent_review")
    assert any("skip_model" in eg["meta"]["aqt_reason"] for eg in queue)


def test_review_selection_keep_returns_drop_never(prodigy_home, tmp_path):
    run_teach(tmp_path, 60, batch_size=20)
    comps = review_selection("sent_review", "sent")
    ctrl = Controller.from_components("aqt.review-selection", comps)
    cards = []

    def reviewer(task):
        cards.append(task)
        keep = len(cards) % 3 == 1  # keeps the 1st, 4th, ... card
        return {"answer": "accept", "accept": ["keep" if keep else "drop"]}

    SimulatedAnnotator("lead", reviewer).annotate(ctrl)
    assert len(cards) >= 3 and all(c["meta"]["reason"] for c in cards)
    assert all(c["options"][0]["id"] == "keep" for c in cards)
    kept = {c["meta"]["aqt_item"] for n, c in enumerate(cards, 1) if n % 3 == 1}
    dropped = {c["meta"]["aqt_item"] for c in cards} - kept
    # a second review session has nothing left
    again = review_selection("sent_review", "sent")
    assert list(again["stream"]) == []
    # the next teach run serves kept items first and never dropped ones
    comps, loop = components("sent", write_source(tmp_path), ",".join(LABELS), batch_size=20)
    # a kept item whose exact copy was answered meanwhile is not served (no duplicate goes twice)
    servable = {loop.ids[i] for i in loop.approved}
    assert servable <= kept and len(servable) >= len(kept) - 1
    for item in kept - servable:
        j = loop.ids.index(item)
        assert any(loop.review.keys[j] == loop.review.keys[i] for i in loop.answers)
    ann = SimulatedAnnotator("ann", annotator)
    ann.annotate(Controller.from_components("aqt.teach", comps), max_answers=100)
    served = [t["meta"]["aqt_item"] for t in ann.seen]
    # compared by text: a kept copy may go out under its twin's id (same text, same task hash)
    key = {item: loop.review.keys[loop.pos[item]] for item in loop.ids}
    assert {key[i] for i in served[: len(servable)]} == {key[i] for i in servable}
    saved = connect().get_dataset_examples("sent")
    assert {eg["meta"]["aqt_pick"] for eg in saved if eg["meta"]["aqt_item"] in servable} == {
        "reviewed-keep"
    }
    assert not dropped & set(served)
    before = {eg["meta"]["aqt_item"] for eg in connect().get_dataset_examples("sent")}
    assert len(before) == len(set(served)) + 60  # earlier answers are not served again


def test_bad_options_name_the_fix(prodigy_home, tmp_path, capsys):
    from aqt_prodigy.teach import teach

    src = write_source(tmp_path)
    with pytest.raises(SystemExit):
        teach("sent", src, label="fresh,rotten", strategy="committee")
    assert "aqt al simulate" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        teach("sent", src, label="")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": 1, "text": "a"}\n{"id": 1, "text": "b"}\n')
    with pytest.raises(Exception, match="repeats"):
        read_pool(bad)
    with pytest.raises(SystemExit):
        review_selection("nothing_review", "nothing")


def test_one_label_serves_classification(prodigy_home, tmp_path):
    comps, loop = components("bin", write_source(tmp_path), "fresh", batch_size=20)
    assert comps["view_id"] == "classification"
    ctrl = Controller.from_components("aqt.teach", comps)

    def binary(task):
        truth = task["meta"].get("truth")
        return ("accept" if truth == "fresh" else "reject") if truth else "ignore"

    SimulatedAnnotator("ann", binary).annotate(ctrl, max_answers=60)
    assert loop.fitted and set(loop.model.classes_) == {"fresh", "__reject__"}


@pytest.mark.parametrize("name", ["aqt.teach", "aqt.review-selection"])
def test_help_text(name):
    env = dict(os.environ)
    extra = python_path()
    if extra:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (extra, env.get("PYTHONPATH")) if p)
    out = subprocess.run([sys.executable, "-m", "prodigy", name, "--help"], capture_output=True,
                         text=True, env=env, check=False, timeout=120)  # fmt: skip
    assert out.returncode == 0, out.stderr[-2000:]
    text = " ".join(out.stdout.split())
    assert f"Example: prodigy {name}" in text
    for option in (["--label", "--model", "--strategy", "--no-review", "--review-dataset"]
                   if name == "aqt.teach" else ["REVIEW_DATASET", "--batch-size"]):  # fmt: skip
        assert option.lower().strip("-") in text.lower()


def test_spacy_model_updates_with_nlp_update(prodigy_home, tmp_path):
    comps, loop = components("sp", write_source(tmp_path), ",".join(LABELS), model="spacy",
                             batch_size=20, languages=write_languages(tmp_path))  # fmt: skip
    ctrl = Controller.from_components("aqt.teach", comps)
    ann = SimulatedAnnotator("ann", annotator)
    ann.annotate(ctrl, max_answers=20)
    assert loop.fitted
    nlp = loop.model.nlp_
    probe = [r["text"] for r in pool_rows()[1][:50]]
    before = loop.model.predict_proba(probe)
    ann.annotate(ctrl, max_answers=40)
    assert loop.model.nlp_ is nlp and loop.n_trained_on >= 55  # updated in place, not refitted
    assert len(loop.trained) == loop.n_trained_on
    assert np.abs(loop.model.predict_proba(probe) - before).max() > 0.01  # and it learnt
    seen = [t["meta"]["aqt_item"] for t in ann.seen]
    assert len(seen) == len(set(seen)) and not [i for i in seen if i.startswith("empty")]
    assert all("aqt_score" in t["meta"] for t in ann.seen if t["meta"]["aqt_pick"] == "uncertain")


@pytest.mark.parametrize("strategy", ["margin", "least-confidence", "entropy", "diverse", "random"])
def test_every_strategy_serves_reviewed_batches(prodigy_home, tmp_path, strategy):
    loop, ann, _ = run_teach(tmp_path, 100, batch_size=25, strategy=strategy)
    seen = [t["meta"]["aqt_item"] for t in ann.seen]
    assert len(seen) == len(set(seen)) == 100
    assert not [i for i in seen if i.startswith(("empty", "garbled", "foreign"))]
    assert {t["meta"]["aqt_strategy"] for t in ann.seen} == {strategy}
    picks = {t["meta"]["aqt_pick"] for t in ann.seen}
    assert picks == ({"random"} if strategy == "random" else {"cold-start", "uncertain"})
    if strategy != "random":  # served items are more uncertain than the pool left behind
        from aqt.active.strategies import uncertainty_scores

        served = [t["meta"]["aqt_score"] for t in ann.seen if "aqt_score" in t["meta"]]
        cand = loop.candidates()
        left = uncertainty_scores(strategy, loop.proba(cand))
        assert len(served) == 75 and np.mean(served) > np.quantile(left, 0.75)
