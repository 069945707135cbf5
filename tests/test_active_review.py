"""Selection review checks on real review snippets with planted junk: each check catches its planted
cases and leaves clean items (almost) alone."""

from __future__ import annotations

import numpy as np
import pytest
from aqt.active.dedup import DuplicateIndex, minhash_signatures, normalize_text
from aqt.active.review import (
    find_duplicates,
    find_empty_text,
    find_garbled_text,
    find_language_mismatch,
    find_length_outliers,
    find_off_task,
)
from aqt.active.reviewer import SelectionReview, SkipModel, review_selection
from aqt.findings import Finding, has_errors, sort_findings, worst_severity
from test_active_helpers import EMPTY, foreign, garbled, language_samples, plots, reviews


def flagged(findings: list[Finding]) -> set[str]:
    return {i for f in findings for i in f.items}


def clean_texts(n: int = 400) -> list[str]:
    return reviews()["text"].tolist()[:n]


def test_finding_is_frozen_and_serialises() -> None:
    f = Finding("empty_text", "warning", ("b", "a"), "2 items are empty.", "drop them.")
    assert f.to_dict() == {
        "check": "empty_text",
        "severity": "warning",
        "items": ["b", "a"],
        "message": "2 items are empty.",
        "fix": "drop them.",
    }
    with pytest.raises(AttributeError):
        f.check = "x"  # type: ignore[misc]
    with pytest.raises(ValueError, match="severity"):
        Finding("x", "fatal")
    e = Finding("gate", "error", (), "failed", "fix it")
    assert worst_severity([f, e]) == "error" and has_errors([f, e]) and not has_errors([f])
    assert sort_findings([f, e])[0] is e
    assert worst_severity([]) is None


def test_empty_text_catches_planted_and_keeps_short_real_reviews() -> None:
    texts = clean_texts() + EMPTY + ["Eh.", "Great!", "Crummy"]
    ids = [f"r{i}" for i in range(400)] + [f"e{i}" for i in range(len(EMPTY))] + ["s1", "s2", "s3"]
    got = flagged(find_empty_text(texts, ids))
    assert got == {f"e{i}" for i in range(len(EMPTY))}


def test_garbled_text_catches_planted_and_few_false_flags() -> None:
    clean = clean_texts()
    bad = garbled(12)
    texts = clean + bad
    ids = [f"r{i}" for i in range(len(clean))] + [f"g{i}" for i in range(len(bad))]
    got = flagged(find_garbled_text(texts, ids, reference=clean))
    assert {f"g{i}" for i in range(len(bad))} <= got
    false = [i for i in got if i.startswith("r")]
    assert len(false) <= 0.02 * len(clean)


def test_language_mismatch_with_identifier_names_the_language() -> None:
    clean = clean_texts()
    fr = foreign(10)
    texts = clean + fr["de"] + fr["es"] + fr["nl"]
    ids = [f"r{i}" for i in range(len(clean))] + [
        f"{lang}{i}" for lang in ("de", "es", "nl") for i in range(10)
    ]
    findings = find_language_mismatch(
        texts, ids, reference=clean, other_languages=language_samples()
    )
    by_lang = {f.message.split("'")[1]: set(f.items) for f in findings}
    for lang in ("de", "es", "nl"):
        assert len(by_lang.get(lang, set()) & {f"{lang}{i}" for i in range(10)}) >= 9
    false = [i for f in findings for i in f.items if i.startswith("r")]
    assert len(false) <= 0.02 * len(clean)


def test_language_mismatch_without_samples_uses_the_pool_model() -> None:
    clean = clean_texts()
    fr = foreign(10)
    planted = fr["de"] + fr["nl"]
    texts = clean + planted
    ids = [f"r{i}" for i in range(len(clean))] + [f"f{i}" for i in range(len(planted))]
    got = flagged(find_language_mismatch(texts, ids, reference=clean))
    assert len(got & {f"f{i}" for i in range(len(planted))}) >= 0.9 * len(planted)
    assert len([i for i in got if i.startswith("r")]) <= 0.03 * len(clean)


def test_duplicates_exact_near_and_against_sent() -> None:
    clean = clean_texts(200)
    base = clean[:3]
    texts = clean + [
        base[0].upper(),
        base[1] + " !",
        base[2].replace(" the ", " a ", 1) + " Really.",
    ]
    ids = [f"r{i}" for i in range(len(clean))] + ["d0", "d1", "d2"]
    findings = find_duplicates(texts, ids)
    assert {"d0", "d1", "d2"} <= flagged(findings)
    assert not [i for i in flagged(findings) if i.startswith("r")]
    sent = find_duplicates(clean[10:12], ["n0", "n1"], sent_texts=[clean[10]], sent_ids=["s0"])
    assert flagged(sent) == {"n0"}
    assert sent[0].check == "exact_duplicate" and "s0" in sent[0].message


def test_minhash_similarity_tracks_shingle_overlap() -> None:
    a = "a thoughtful, beautifully acted film about grief and the families we choose"
    sig = minhash_signatures(
        [a, a + " indeed", "completely unrelated words about cars and weather"], 64
    )
    assert np.mean(sig[0] == sig[1]) > 0.6 and np.mean(sig[0] == sig[2]) < 0.2
    assert normalize_text("  Hello,   WORLD! ") == "hello world"
    idx = DuplicateIndex()
    idx.add(["x"], [a])
    assert idx.query([a.upper(), a + " indeed", "nothing"]) == [("exact", "x"), ("near", "x"), None]


def test_length_outliers_flag_long_synopses_only() -> None:
    clean = clean_texts()
    long_plots = [p for p in plots(40) if len(p) > 400][:10]
    texts = clean + long_plots
    ids = [f"r{i}" for i in range(len(clean))] + [f"p{i}" for i in range(len(long_plots))]
    got = flagged(find_length_outliers(texts, ids, reference=clean))
    plots_flagged = {f"p{i}" for i in range(len(long_plots))}
    assert plots_flagged <= got
    # the limit is the reference's 99.5th percentile: at most ~0.5% of real reviews go to review
    assert len(got - plots_flagged) <= 0.01 * len(clean)


def test_off_task_flags_foreign_and_garbled_vectors() -> None:
    from sklearn.feature_extraction.text import TfidfVectorizer

    clean = clean_texts()
    fr = foreign(10)["de"]
    vec = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(clean)
    ref = vec.transform(clean[:300])
    cand = vec.transform(clean[300:] + fr)
    ids = [f"r{i}" for i in range(100)] + [f"f{i}" for i in range(len(fr))]
    got = flagged(find_off_task(cand, ref, ids))
    assert len(got & {f"f{i}" for i in range(len(fr))}) >= 8
    assert len([i for i in got if i.startswith("r")]) <= 5


def test_selection_review_demotes_flagged_items_with_reasons() -> None:
    clean = clean_texts(300)
    fr = foreign(5)
    junk = EMPTY[:3] + garbled(4) + fr["de"][:3] + [clean[0]]
    texts = clean + junk
    order = list(range(len(clean), len(texts))) + list(range(20))
    out = review_selection(
        [texts[i] for i in order],
        [str(i) for i in order],
        reference_texts=clean,
        other_languages=language_samples(),
    )
    ids = [i for i, _ in out]
    assert sorted(ids) == sorted(str(i) for i in order)  # nothing silently dropped
    reasons = dict(out)
    junk_ids = [str(i) for i in range(len(clean), len(texts) - 1)]
    assert all(reasons[j] for j in junk_ids)  # every junk item flagged, with a reason
    # the copy of item 0 comes first in the order, so it is kept and item 0 is the duplicate
    assert not reasons[str(len(texts) - 1)]
    assert any(r.startswith("exact_duplicate") for r in reasons["0"])
    kept = [i for i, r in out if not r]
    assert ids[: len(kept)] == kept  # kept first, in the order given
    assert len(kept) >= 18


def test_skip_model_learns_from_skipped_items() -> None:
    clean = clean_texts(300)
    junk = plots(40)
    rev = SelectionReview(clean + junk)
    train = list(range(200)) + list(range(300, 320))
    skip = SkipModel().fit(
        [rev.texts[i] for i in train], rev.lm_scores[train], [i >= 300 for i in train]
    )
    test = list(range(200, 300)) + list(range(320, 340))
    p = skip.predict_skip([rev.texts[i] for i in test], rev.lm_scores[test])
    assert p[100:].mean() > 0.5 > p[:100].mean()
    assert (p[:100] >= 0.5).mean() <= 0.05
    untrained = SkipModel().fit(clean[:5], rev.lm_scores[:5], [False] * 5)
    assert not untrained.predict_skip(clean[:3], rev.lm_scores[:3]).any()


def test_language_reason_without_samples_reads_as_plain_text() -> None:
    # without other-language samples the check can only say "other"; the reason is plain text
    clean = clean_texts(300)
    fr = foreign(20)
    texts = clean[:100] + fr["de"][:10] + fr["es"][:10]
    out = review_selection(texts, [str(i) for i in range(len(texts))], reference_texts=clean)
    lang = [r for _, rs in out for r in rs if r.startswith("language_mismatch")]
    assert lang
    assert all(r == "language_mismatch: looks like 'other'" for r in lang)


def test_reviewer_kept_items_get_duplicate_checks_only() -> None:
    clean = clean_texts()
    long_plot = next(p for p in plots(40) if len(p) > 400)
    texts = [*clean, long_plot, clean[0]]  # a long synopsis, then an exact copy of clean[0]
    rev = SelectionReview(texts, reference_texts=clean)
    plot_i, copy_i = len(clean), len(clean) + 1
    sent = DuplicateIndex()
    sent.add(["0"], [clean[0]], keys=[rev.keys[0]], signatures=rev.signatures[:1])
    plain = rev.review([plot_i, copy_i], sent=sent)
    assert any(r.startswith("length_outlier") for r in plain.flagged[plot_i])
    kept = rev.review([plot_i, copy_i], sent=sent, approved={plot_i, copy_i})
    assert kept.kept == (plot_i,)  # the reviewer's decision stands for the length check ...
    assert [r.split(":")[0] for r in kept.flagged[copy_i]] == [
        "exact_duplicate"
    ]  # ... not for copies


def test_short_synopses_are_flagged_like_the_long_ones() -> None:
    """Length catches long plot synopses; a skip model seeded with them catches short ones."""
    clean = reviews(1500)["text"].tolist()
    synopses = plots(300, seed=1)
    texts = clean + synopses
    rev = SelectionReview(texts)
    rev.update_reference(np.arange(400))  # 400 labelled reviews
    assert rev.like_outliers is not None
    out = rev.review(range(len(texts)))
    short = [len(clean) + j for j, t in enumerate(synopses) if len(t) <= rev.length_limit]
    assert len(short) >= 10
    caught = [
        i for i in short if any("like the length outliers" in r for r in out.flagged.get(i, ()))
    ]
    assert len(caught) >= 0.6 * len(short)
    unlabelled_reviews = range(400, len(clean))
    false = [i for i in unlabelled_reviews if i in out.flagged]
    assert len(false) <= 0.04 * len(unlabelled_reviews)
    # a clean pool has no more length outliers than the percentile allows: nothing to learn from
    rev_clean = SelectionReview(clean)
    rev_clean.update_reference(np.arange(400))
    assert rev_clean.like_outliers is None
