"""Both models behind the one interface, on real snippets; aqt imports without sklearn or spaCy."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from aqt.active.models import SklearnTextModel, SpacyTextModel, make_model
from aqt.errors import InputError
from test_active_helpers import reviews


@pytest.mark.parametrize("name", ["sklearn", "sklearn-hashing", "spacy"])
def test_model_interface_on_real_snippets(name: str) -> None:
    df = reviews(600)
    train, test = df.iloc[:450], df.iloc[450:]
    model = make_model(name)
    model.fit(train["text"].tolist(), train["label"].tolist())
    assert model.classes_.tolist() == ["fresh", "rotten"]
    proba = model.predict_proba(test["text"].tolist())
    assert proba.shape == (len(test), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    acc = np.mean(model.classes_[proba.argmax(axis=1)] == test["label"].to_numpy())
    majority = test["label"].value_counts(normalize=True).max()
    assert acc > majority - 0.02  # learns something on 450 labels without collapsing to one class
    assert model.vectorize(test["text"].tolist()[:3]).shape[0] == 3


def test_spacy_model_is_seeded() -> None:
    df = reviews(300)
    a = SpacyTextModel(epochs=2).fit(df["text"].tolist(), df["label"].tolist())
    b = SpacyTextModel(epochs=2).fit(df["text"].tolist(), df["label"].tolist())
    texts = df["text"].tolist()[:20]
    np.testing.assert_allclose(a.predict_proba(texts), b.predict_proba(texts), atol=1e-6)


def test_bad_input_names_the_fix() -> None:
    with pytest.raises(InputError, match="at least two classes"):
        SklearnTextModel().fit(["a b", "c d"], ["x", "x"])
    with pytest.raises(InputError, match="labels"):
        SklearnTextModel().fit(["a b", "c d"], ["x"])
    with pytest.raises(InputError, match="use one of"):
        make_model("bert")


def test_core_imports_without_sklearn_or_spacy() -> None:
    code = (
        "import sys, aqt, aqt.active, aqt.findings, aqt.cli.al;"
        "print(any(m in sys.modules for m in ('sklearn', 'spacy', 'prodigy', 'label_studio_sdk')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
