"""Near duplicates in the bulk scoring-and-review path (``aqt.active.bulk.score_and_review``) and
the numpy pieces behind it (``aqt.active.dedup.byte_minhash``, ``earlier_near_duplicates``), on
real Rotten Tomatoes review snippets with planted copies."""

from __future__ import annotations

import functools
import re

import numpy as np
import pytest
from aqt.active.bulk import FLAG_BITS, score_and_review
from aqt.active.datasets import rotten_tomatoes
from aqt.active.dedup import (
    byte_minhash,
    earlier_near_duplicates,
    minhash_signatures,
    normalize_text,
)
from aqt.active.review import DEFAULT_REVIEW
from aqt.active.textstats import encode_texts

NEAR, EXACT = FLAG_BITS["near_duplicate"], FLAG_BITS["exact_duplicate"]


def shingles(text: str, k: int = 5) -> set[bytes]:
    b = normalize_text(text).encode("utf-8")
    return {b[i : i + k] for i in range(max(1, len(b) - k + 1))} if b else set()


def jaccard(a: str, b: str) -> float:
    sa, sb = shingles(a), shingles(b)
    return len(sa & sb) / len(sa | sb)


@functools.cache
def distinct_reviews(n: int = 300, min_len: int = 120) -> tuple[str, ...]:
    """``n`` long real reviews, no two of them sharing more than a tenth of their shingles."""
    rev, _ = rotten_tomatoes()
    texts = [t for t in rev["text"].drop_duplicates().tolist() if len(t) >= min_len]
    out: list[str] = []
    sets: list[set[bytes]] = []
    for t in texts:
        s = shingles(t)
        if all(len(s & o) / len(s | o) < 0.1 for o in sets):
            out.append(t)
            sets.append(s)
        if len(out) == n:
            break
    return tuple(out)


@functools.cache
def model():
    from sklearn.feature_extraction.text import HashingVectorizer
    from sklearn.linear_model import LogisticRegression

    rev, _ = rotten_tomatoes()
    sample = rev.sample(2000, random_state=0)
    hv = HashingVectorizer(ngram_range=(1, 2), n_features=1 << 16, alternate_sign=False)
    clf = LogisticRegression(max_iter=200).fit(hv.transform(sample["text"]), sample["label"])
    return hv, clf, rev["text"].tolist()[:2000]


def review(texts: list[str], **kw):
    hv, clf, ref = model()
    return score_and_review(texts, hv, clf, reference_texts=ref, **kw)


def change_word(text: str) -> str:
    """Replace the longest word of ``text`` with another word."""
    words = text.split(" ")
    i = max(range(len(words)), key=lambda j: len(words[j]))
    words[i] = "zebra"
    return " ".join(words)


def change_punctuation(text: str) -> str:
    """Drop commas and full stops, turn other punctuation into exclamation marks, upper-case."""
    return re.sub(r"[^\w\s]", "!", text.replace(",", "").replace(".", " ")).upper()


def signature_agreement(a: str, b: str) -> float:
    sig = byte_minhash(encode_texts([a, b]))
    return float(np.mean(sig[0] == sig[1]))


def brute_force_near(texts: list[str], exact: np.ndarray, threshold: float) -> np.ndarray:
    """Every pair compared: flagged if some earlier non-exact, non-empty item agrees enough."""
    sig = byte_minhash(encode_texts(texts))
    need = int(np.ceil(threshold * sig.shape[1] - 1e-9))
    ok = ~exact & ~(sig == np.iinfo(sig.dtype).max).all(axis=1)
    agree = (sig[:, None, :] == sig[None, :, :]).sum(axis=2) >= need
    agree &= ok[:, None] & ok[None, :]
    return np.tril(agree, -1).any(axis=1)


@pytest.fixture(scope="module")
def planted():
    """Distinct reviews, then planted copies of the first 60: a word changed (rows 300-319),
    punctuation and case changed (320-339), case and spacing only (340-359, exact copies)."""
    base = list(distinct_reviews())
    texts = (
        base
        + [change_word(t) for t in base[:20]]
        + [change_punctuation(t) for t in base[20:40]]
        + ["  " + t.upper().replace(" ", "   ") for t in base[40:60]]
    )
    return base, texts, review(texts, n_jobs=2, chunk=128)


def test_planted_near_copies_are_flagged_and_first_copies_are_not(planted) -> None:
    base, texts, res = planted
    near = (res.flags & NEAR) > 0
    exact = (res.flags & EXACT) > 0
    # the originals: distinct texts, nothing flagged as a duplicate
    assert not near[:300].any() and not exact[:300].any()
    # a word changed in a long review: high true similarity; flagged near (not exact) whenever the
    # 16-value estimate reaches the threshold, which it does for most of them
    assert min(jaccard(t, c) for t, c in zip(base[:20], texts[300:320])) > 0.75
    agreement = np.array([signature_agreement(t, c) for t, c in zip(base[:20], texts[300:320])])
    np.testing.assert_array_equal(near[300:320], agreement >= DEFAULT_REVIEW.near_duplicate)
    assert near[300:320].sum() >= 16 and not exact[300:320].any()
    # punctuation (and case) changed: the same normalised text, flagged near, not exact
    assert near[320:340].all() and not exact[320:340].any()
    # case and spacing only: exact duplicates, carrying only the exact bit
    assert exact[340:360].all() and not near[340:360].any()
    assert res.reasons(320) == ["near_duplicate"] and res.reasons(340) == ["exact_duplicate"]
    assert res.counts()["near_duplicate"] == 20 + int(near[300:320].sum())


def test_word_change_flag_follows_signature_agreement() -> None:
    """Shorter reviews with one word changed: flagged exactly when the estimated similarity
    (share of equal signature values) reaches the threshold; most of them do."""
    rev, _ = rotten_tomatoes()
    base = [t for t in rev["text"].drop_duplicates().tolist()[:400] if 60 <= len(t) < 120][:100]
    copies = [change_word(t) for t in base]
    res = review(base + copies, n_jobs=1)
    near = (res.flags & NEAR) > 0
    exact = (res.flags & EXACT) > 0
    expected = brute_force_near(base + copies, exact, DEFAULT_REVIEW.near_duplicate)
    np.testing.assert_array_equal(near, expected)
    agreement = np.array([signature_agreement(t, c) for t, c in zip(base, copies)])
    assert (agreement >= DEFAULT_REVIEW.near_duplicate).mean() > 0.5
    assert near[len(base) :][agreement >= DEFAULT_REVIEW.near_duplicate].all()


def test_unrelated_texts_are_not_flagged() -> None:
    res = review(list(distinct_reviews()), n_jobs=1)
    assert res.counts()["near_duplicate"] == 0
    assert res.counts()["exact_duplicate"] == 0


def test_only_the_later_item_of_a_pair_is_flagged() -> None:
    base = list(distinct_reviews())[:30]
    # item 3 matches only item 25 (a later, edited copy put in place of another review)
    texts = base[:25] + [change_punctuation(base[3])] + base[26:]
    res = review(texts, n_jobs=1)
    assert not res.flags[3] & NEAR
    assert res.flags[25] & NEAR
    assert np.flatnonzero(res.flags & NEAR).tolist() == [25]


def test_empty_texts_never_match_as_near() -> None:
    base = list(distinct_reviews())[:20]
    texts = base[:10] + ["", "!!!", "?!", "   ", "...", "- -"] + base[10:]
    res = review(texts, n_jobs=1)
    assert not (res.flags & NEAR).any()


def test_results_do_not_depend_on_jobs_or_chunks(planted) -> None:
    _, texts, res = planted
    for n_jobs, chunk in ((1, 20_000), (2, 20_000), (1, 37), (2, 101)):
        other = review(texts, n_jobs=n_jobs, chunk=chunk)
        np.testing.assert_array_equal(other.flags, res.flags)
        np.testing.assert_allclose(other.scores, res.scores)


def test_byte_minhash_normalises_like_normalize_text_and_rows_are_chunk_free() -> None:
    rev, _ = rotten_tomatoes()
    texts = rev["text"].tolist()[:3000] + ["Don’t — stop… “now”", "ÉTÉ, déjà!", "a\u00a0b", ""]
    sig = byte_minhash(encode_texts(texts))
    assert sig.dtype == np.uint32 and sig.shape == (len(texts), 16)
    assert (sig[-1] == np.iinfo(np.uint32).max).all()
    assert not (sig[:-1] == np.iinfo(np.uint32).max).all(axis=1).any()
    # the same rows from any split of the texts
    np.testing.assert_array_equal(byte_minhash(encode_texts(texts[1000:1500])), sig[1000:1500])
    # texts with the same normalised form get the same row
    variants = [normalize_text(t) for t in texts[:500]] + [t.upper() + " !" for t in texts[:500]]
    vs = byte_minhash(encode_texts(variants))
    np.testing.assert_array_equal(vs[:500], sig[:500])
    np.testing.assert_array_equal(vs[500:], sig[:500])
    np.testing.assert_array_equal(
        byte_minhash(encode_texts(["dont stop now", "ete deja", "a b"])),
        byte_minhash(encode_texts(["Dont, stop... now!", "ete -- deja", "a   b"])),
    )
    assert (byte_minhash(encode_texts(texts[-4:-1])) == sig[-4:-1]).all()
    assert (byte_minhash(encode_texts(["don t stop now"]))[0] == sig[len(texts) - 4]).all()


def test_byte_minhash_estimates_jaccard() -> None:
    """Pairs of real texts sharing one half: the share of equal values tracks the true Jaccard
    similarity of the 5-gram sets (no bias beyond sampling error, 16 values)."""
    rev, _ = rotten_tomatoes()
    texts = rev["text"].tolist()[:400]
    rng = np.random.default_rng(1)
    a, b, c = (rng.integers(0, len(texts), 600) for _ in range(3))
    left = [texts[i][: len(texts[i]) // 2] + texts[j][len(texts[j]) // 2 :] for i, j in zip(a, b)]
    right = [texts[i][: len(texts[i]) // 2] + texts[j][len(texts[j]) // 2 :] for i, j in zip(a, c)]
    sig = byte_minhash(encode_texts(left + right))
    est = (sig[:600] == sig[600:]).mean(axis=1)
    true = np.array([jaccard(x, y) for x, y in zip(left, right)])
    assert abs(float(np.mean(est - true))) < 0.02
    rmse = float(np.sqrt(np.mean((est - true) ** 2)))
    assert rmse < 0.13
    # no worse than the 16 independent hashes of minhash_signatures on the same pairs
    ref = minhash_signatures(left + right)
    ref_est = (ref[:600] == ref[600:]).mean(axis=1)
    assert rmse < 1.1 * float(np.sqrt(np.mean((ref_est - true) ** 2)))


def test_earlier_near_duplicates_on_hand_made_signatures() -> None:
    rng = np.random.default_rng(0)
    sig = rng.integers(0, 1 << 32, size=(8, 16), dtype=np.uint64).astype(np.uint32)
    sig[5] = sig[1]
    sig[5, :4] += 1  # 12 of 16 equal: at the threshold 0.75
    sig[6] = sig[2]
    sig[6, :5] += 1  # 11 of 16 equal
    sig[7] = np.iinfo(np.uint32).max
    sig[3] = np.iinfo(np.uint32).max  # two empty rows: never matched
    assert np.flatnonzero(earlier_near_duplicates(sig, 0.75)).tolist() == [5]
    assert np.flatnonzero(earlier_near_duplicates(sig, 0.65)).tolist() == [5, 6]
    no_row_1 = earlier_near_duplicates(sig, 0.65, eligible=np.arange(8) != 1)
    assert np.flatnonzero(no_row_1).tolist() == [6]
    # a near copy behind more than ``window`` loosely related rows in every bucket it shares with
    # its original is found only with a wider window
    p = rng.integers(0, 1 << 32, size=16, dtype=np.uint64).astype(np.uint32)
    q = p.copy()
    q[[9, 11, 13, 15]] += 1  # 12 of 16 equal; bands 0-3 shared with p
    rows = []
    for rep in range(11):
        for band in range(4):
            g = rng.integers(0, 1 << 32, size=16, dtype=np.uint64).astype(np.uint32)
            g[2 * band : 2 * band + 2] = p[2 * band : 2 * band + 2]  # shares one band with p
            rows.append(g)
        if rep == 0:
            rows.append(p)
    rows.append(q)
    bucket = np.array(rows)
    assert earlier_near_duplicates(bucket, 0.7).nonzero()[0].tolist() == [len(rows) - 1]
    assert not earlier_near_duplicates(bucket, 0.7, window=4).any()
    with pytest.raises(ValueError, match="multiple of bands"):
        earlier_near_duplicates(sig, 0.7, bands=5)


def test_earlier_near_duplicates_without_bitwise_count(monkeypatch) -> None:
    """numpy < 2.0 has no bitwise_count: the byte-table fallback gives the same rows."""
    rev, _ = rotten_tomatoes()
    texts = rev["text"].tolist()[:300]
    texts += [change_punctuation(t) for t in texts[:50]] + [change_word(t) for t in texts[50:100]]
    sig = byte_minhash(encode_texts(texts))
    expected = earlier_near_duplicates(sig, 0.7)
    assert expected[300:].sum() >= 60
    if hasattr(np, "bitwise_count"):
        monkeypatch.delattr(np, "bitwise_count")
    np.testing.assert_array_equal(earlier_near_duplicates(sig, 0.7), expected)
