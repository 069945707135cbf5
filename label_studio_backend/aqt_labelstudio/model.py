"""Text classification for ``/predict``: TF-IDF + logistic regression on the project's labels.

The training target of a task is its ground-truth (adjudicated) choice when there is one, else the
majority of its annotators' choices; tasks whose vote is tied are left out (no label to learn).
With fewer than two classes the model is the smoothed label frequency (a prior), and with no labels
at all every choice is equally likely. The prediction ``score`` is the top class probability, so an
ascending sort in the Data Manager is uncertainty (least-confidence) sampling.
"""

from __future__ import annotations

import functools
import pickle
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aqt.fileio import atomic_write
from aqt.records import natural_key

__all__ = [
    "ChoicesControl",
    "TextModel",
    "choices_controls",
    "majority_labels",
    "task_text",
    "train_model",
]


@dataclass(frozen=True)
class ChoicesControl:
    """A single-choice ``<Choices>`` tag: its name, ``toName``, options and the data key of its text."""

    name: str
    to_name: str
    choices: tuple[str, ...]
    text_key: str | None


@functools.lru_cache(maxsize=128)
def choices_controls(label_config: str | None) -> tuple[ChoicesControl, ...]:
    """Single-choice ``<Choices>`` controls of a labeling config, in document order (cached)."""
    if not label_config:
        return ()
    try:
        root = ET.fromstring(label_config)
    except ET.ParseError:
        return ()
    objects = {
        el.get("name"): el.get("value", "")
        for el in root.iter()
        if el.get("value")
        and el.get("name")
        and el.tag.lower() in ("text", "hypertext", "paragraphs")
    }
    out = []
    for el in root.iter():
        if el.tag.lower() != "choices" or not el.get("name"):
            continue
        if el.get("choice", "single") != "single":
            continue
        to_name = (el.get("toName") or "").split(",")[0]
        ref = objects.get(to_name, "")
        key = ref[1:] if ref.startswith("$") else None
        choices = tuple(
            c.get("value")
            for c in el.iter()
            if c.tag.lower() == "choice" and c.get("value") is not None
        )
        out.append(ChoicesControl(el.get("name"), to_name, choices, key))
    return tuple(out)


def task_text(data: Mapping[str, Any], key: str | None) -> str:
    """The text a model reads from task ``data``: ``data[key]``, else the first string field."""
    if key and isinstance(data.get(key), str):
        return data[key]
    for k in sorted(data):
        if isinstance(data[k], str) and not k.startswith("aqt_"):
            return data[k]
    return ""


def majority_labels(votes: Mapping[Any, Sequence[str]], gold: Mapping[Any, str]) -> dict[Any, str]:
    """Per task: the gold label if any, else the strict majority of ``votes`` (ties dropped)."""
    out: dict[Any, str] = {}
    for task in set(votes) | set(gold):
        if task in gold:
            out[task] = gold[task]
            continue
        counts = Counter(votes[task]).most_common()
        if not counts or (len(counts) > 1 and counts[0][1] == counts[1][1]):
            continue
        out[task] = counts[0][0]
    return out


@dataclass
class TextModel:
    """A trained (or prior-only) classifier for one Choices control."""

    control: ChoicesControl
    labels: tuple[str, ...]
    prior: np.ndarray
    pipeline: Any = None
    revision: int = 0
    n_train: int = 0
    label_seq: int = 0
    meta: dict = field(default_factory=dict)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Shape ``(len(texts), len(labels))``; rows sum to 1."""
        if self.pipeline is None:
            return np.tile(self.prior, (len(texts), 1))
        return self.pipeline.predict_proba(list(texts))

    def predictions(self, texts: Sequence[str], model_version: str) -> list[dict[str, Any]]:
        """One Label Studio prediction per text: top choice, ``score`` = its probability."""
        out = []
        if not self.labels:
            uniform = 1.0 / max(len(self.control.choices), 1)
            return [{"model_version": model_version, "score": uniform, "result": []} for _ in texts]
        probs = self.predict_proba(texts)
        for row in probs:
            k = int(np.argmax(row))  # ties: the first label in natural order
            score = float(row[k])
            out.append(
                {
                    "model_version": model_version,
                    "score": score,
                    "result": [
                        {
                            "from_name": self.control.name,
                            "to_name": self.control.to_name,
                            "type": "choices",
                            "value": {"choices": [self.labels[k]]},
                            "score": score,
                        }
                    ],
                }
            )
        return out

    def save(self, path) -> None:
        with atomic_write(path, "wb", encoding=None) as fh:
            pickle.dump(self, fh, protocol=pickle.HIGHEST_PROTOCOL)

    @staticmethod
    def load(path) -> TextModel:
        with open(path, "rb") as fh:
            return pickle.load(fh)  # our own file in AQT_DATA_DIR


def train_model(
    control: ChoicesControl, texts: Sequence[str], labels: Sequence[str], *, seed: int = 0
) -> TextModel:
    """Fit TF-IDF (word 1-2 grams, sublinear tf) + logistic regression; a prior below 2 classes."""
    classes = sorted(set(labels), key=natural_key)
    if not classes:
        return TextModel(control, (), np.zeros(0))
    counts = Counter(labels)
    prior = np.array([counts[c] + 1.0 for c in classes])
    prior /= prior.sum()
    if len(classes) < 2:
        return TextModel(control, tuple(classes), prior, n_train=len(labels))
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    pipeline = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1),
        LogisticRegression(max_iter=1000, C=4.0, random_state=seed),
    )
    pipeline.fit(list(texts), list(labels))
    fitted = [str(c) for c in pipeline.classes_]
    order = [fitted.index(c) for c in classes]
    model = TextModel(control, tuple(classes), prior, pipeline, n_train=len(labels))
    model.meta["order"] = order
    if order != list(range(len(classes))):  # keep columns in natural label order
        model.pipeline = _Reordered(pipeline, order)
    return model


class _Reordered:
    """A fitted pipeline whose probability columns are permuted into natural label order."""

    def __init__(self, pipeline: Any, order: list[int]) -> None:
        self.pipeline = pipeline
        self.order = order

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        return self.pipeline.predict_proba(texts)[:, self.order]
