"""Selection review in the Label Studio backend, against an in-memory Label Studio: after a retrain
the unlabelled tasks are reviewed and flagged tasks carry the reason in ``data.aqt_review``."""

from __future__ import annotations

import json

import pytest
from aqt_labelstudio.project_setup import SELECTION_REVIEW_VIEW, VIEWS
from aqt_labelstudio.selection import (
    language_samples,
    review_project,
    review_reasons,
    short_reason,
)
from aqt_labelstudio.service import Backend
from aqt_labelstudio.settings import Settings
from aqt_labelstudio.worker import reconcile, train_project
from test_active_helpers import foreign, garbled, reviews
from test_active_helpers import language_samples as samples
from test_backend_payloads import FakeLabelStudio, annotation_obj

LABEL = {"fresh": "Positive", "rotten": "Negative"}
N_LABELLED = 60


def planted_project(fake: FakeLabelStudio) -> dict[int, str]:
    """Reviews (the first N_LABELLED labelled) plus junk; returns task id -> expected reason."""
    rev = reviews(500, seed=3)
    # Rotten Tomatoes holds a few Spanish and Portuguese reviews, which the review rightly flags
    rev = rev[~rev["text"].str.contains("[áéíóúñãçõ¿¡]", regex=True)].iloc[:400]
    rev = rev.reset_index(drop=True)
    tid = 0
    for i, (text, label) in enumerate(zip(rev["text"], rev["label"])):
        tid += 1
        anns = [annotation_obj(1000 + tid, tid, 2, LABEL[label], t=tid)] if i < N_LABELLED else []
        fake.add_task(tid, text, anns)
    expected: dict[int, str] = {}

    def plant(text: str, reason: str) -> None:
        nonlocal tid
        tid += 1
        fake.add_task(tid, text)
        expected[tid] = reason

    for text in ("", "   ", "..."):
        plant(text, "empty text")
    for k, text in enumerate(garbled(12, seed=5)):
        if k % 4 == 0:  # keyboard mash (every kind of garble: tests/test_active_review.py)
            plant(text, "garbled text")
    fr = foreign(6, seed=4)
    for lang in ("de", "es", "nl"):
        plant(max(fr[lang], key=len), f"language: {lang}")
    plant(rev["text"][N_LABELLED + 5], f"duplicate of task {N_LABELLED + 6}")  # unlabelled one
    plant(rev["text"][3], "duplicate of task 4")  # of a labelled task
    return expected


@pytest.fixture
def lang_file(tmp_path, monkeypatch):
    path = tmp_path / "languages.jsonl"
    rows = [{"text": t, "lang": lang} for lang, texts in samples().items() for t in texts]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    monkeypatch.setenv("AQT_LANGUAGE_SAMPLES", str(path))
    return path


def test_retrain_flags_exactly_the_planted_junk_with_reasons(tmp_path, lang_file):
    fake = FakeLabelStudio()
    expected = planted_project(fake)
    backend = Backend(Settings(data_dir=tmp_path / "d", background=False), api=fake)
    reconcile(backend, 1)
    assert train_project(backend, 1)
    got = {t: d["data"]["aqt_review"] for t, d in fake.tasks.items() if "aqt_review" in d["data"]}
    assert got == expected
    # predictions carry scores; the junk sorts among the least confident too
    scores = {p["task"]: p["score"] for p in fake.preds.values()}
    assert sorted(scores) == sorted(fake.tasks) and all(0 < s <= 1 for s in scores.values())
    # the store holds what Label Studio holds
    assert backend.store.task_data(min(expected))["aqt_review"] == "empty text"
    # nothing changed: a second review writes nothing
    n_calls = len([c for c in fake.calls if c[0] == "set_task_data"])
    assert review_project(backend, 1) == {"flagged": len(expected), "set": 0, "cleared": 0}
    assert len([c for c in fake.calls if c[0] == "set_task_data"]) == n_calls


def test_labelling_a_flagged_task_clears_its_reason(tmp_path, lang_file):
    fake = FakeLabelStudio()
    expected = planted_project(fake)
    backend = Backend(Settings(data_dir=tmp_path / "d", background=False), api=fake)
    reconcile(backend, 1)
    train_project(backend, 1)
    dup = max(expected)  # the duplicate of a labelled task: somebody labels it anyway
    fake.tasks[dup]["annotations"] = [annotation_obj(5000, dup, 3, "Negative", t=5000)]
    reconcile(backend, 1)
    out = review_project(backend, 1)
    assert out == {"flagged": len(expected) - 1, "set": 0, "cleared": 1}
    assert "aqt_review" not in fake.tasks[dup]["data"]
    assert fake.tasks[dup]["data"]["text"]  # the rest of the data is kept


def test_without_language_samples_foreign_text_is_language_other(monkeypatch):
    monkeypatch.delenv("AQT_LANGUAGE_SAMPLES", raising=False)
    rev = reviews(600, seed=2)["text"].tolist()
    fr = foreign(3, seed=6)
    planted = fr["de"] + fr["nl"] + fr["es"]
    texts = rev + planted
    got = review_reasons(list(range(1, len(texts) + 1)), texts, [False] * len(texts))
    other = {t for t in range(len(rev) + 1, len(texts) + 1) if got.get(t) == "language: other"}
    assert len(other) >= 6  # of 9; naming the language needs samples (see the test above)
    assert len([t for t in got if t <= len(rev)]) <= 0.03 * len(rev)


def test_skipped_tasks_teach_the_skip_model():
    rev = reviews(300, seed=2)["text"].tolist()
    short = [t for t in rev if len(t) < 50][:12]
    long = [t for t in rev if len(t) >= 50]
    texts = long[:60] + short
    ids = list(range(1, len(texts) + 1))
    labelled = [True] * 40 + [False] * 20 + [False] * len(short)
    skipped = [False] * 60 + [True] * 6 + [False] * (len(short) - 6)
    got = review_reasons(ids, texts, labelled, skipped)
    unskipped_short = set(ids[66:])
    assert unskipped_short & set(got)
    assert all(got[t].startswith("like skipped tasks") for t in unskipped_short & set(got))


def test_reasons_read_like_the_data_manager_shows_them():
    assert short_reason("language_mismatch: looks like 'de'") == "language: de"
    assert short_reason("language_mismatch: looks like np.str_('other')") == "language: other"
    assert short_reason("exact_duplicate: of item 12 (already sent)") == "duplicate of task 12"
    assert short_reason("off_task: like the length outliers (p=0.83)") == (
        "like the length outliers (p=0.83)"
    )
    assert short_reason("near_duplicate: of item 7 (earlier)") == "near duplicate of task 7"
    assert short_reason("empty_text: fewer than 2 letters") == "empty text"
    assert short_reason("length_outlier: 900 characters > 400") == "length outlier: 900 chars"
    assert short_reason("something new") == "something new"


def test_language_samples_file_errors_name_the_fix(tmp_path, monkeypatch):
    from aqt.errors import InputError

    monkeypatch.setenv("AQT_LANGUAGE_SAMPLES", str(tmp_path / "missing.jsonl"))
    with pytest.raises(InputError, match="AQT_LANGUAGE_SAMPLES"):
        language_samples()
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "hallo"}\n')
    with pytest.raises(InputError, match="line 1"):
        language_samples(bad)


def test_selection_review_view_filters_on_the_reason_field():
    view = VIEWS[SELECTION_REVIEW_VIEW]
    assert view["filters"]["items"] == [
        {"filter": "filter:tasks:data.aqt_review", "operator": "empty", "type": "String",
         "value": False}
    ]  # fmt: skip
    assert view["ordering"] == ["tasks:predictions_score"]


def test_clearing_a_reason_keeps_a_pending_agreement_flag(tmp_path, lang_file):
    """The review writes the whole data object: a low-agreement flag not yet synced is kept."""
    fake = FakeLabelStudio()
    expected = planted_project(fake)
    backend = Backend(Settings(data_dir=tmp_path / "d", background=False), api=fake)
    reconcile(backend, 1)
    train_project(backend, 1)
    dup = max(expected)
    fake.tasks[dup]["annotations"] = [
        annotation_obj(5000, dup, 3, "Negative", t=5000),
        annotation_obj(5001, dup, 4, "Positive", t=5001),
    ]
    reconcile(backend, 1)  # the flag is set in the store; sync_flags has not run yet
    assert "aqt_status" not in fake.tasks[dup]["data"]
    review_project(backend, 1)
    data = fake.tasks[dup]["data"]
    assert data.get("aqt_status") == "needs_adjudication" and "aqt_review" not in data
