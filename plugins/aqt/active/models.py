"""Text classifiers behind one small interface for active learning.

Every model has ``fit(texts, labels)``, ``predict_proba(texts)`` (rows follow ``classes_``, sorted)
and ``classes_``; ``vectorize(texts)`` gives the L2-normalised sparse vectors that diversity
sampling and the off-task check use. The scikit-learn model also has a fast path on precomputed
vectors (``fit_vectors`` / ``predict_proba_vectors``) that the simulation loop uses, with the
vectoriser fitted once on the unlabelled pool.

scikit-learn and spaCy are imported inside the functions, so ``import aqt`` works without them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from aqt.errors import InputError, MissingExtraError

__all__ = ["MODELS", "SklearnTextModel", "SpacyTextModel", "TextModel", "make_model"]

MODELS = ("sklearn", "sklearn-hashing", "spacy")


class TextModel(Protocol):
    classes_: np.ndarray

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> TextModel: ...

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray: ...

    def vectorize(self, texts: Sequence[str]) -> Any: ...


def _need(module: str, extra: str) -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingExtraError(
            f"this model needs {module.split('.')[0]}, which is not installed.",
            fix=f"pip install 'aqt[{extra}]'",
        ) from exc


def _check_labels(texts: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    y = np.asarray([str(v) for v in labels], dtype=object)
    if len(texts) != len(y):
        raise InputError(
            f"got {len(texts)} texts but {len(y)} labels.", fix="pass one label per text."
        )
    if len(set(y.tolist())) < 2:
        raise InputError(
            f"training needs at least two classes, got {sorted(set(y.tolist()))}.",
            fix="label more items (the cold start picks varied ones) before training.",
        )
    return y


class SklearnTextModel:
    """TF-IDF (word 1-2 grams seen twice or more, sublinear tf) or hashing features + logistic regression (liblinear).

    Parameters
    ----------
    features : {"tfidf", "hashing"}
        TF-IDF is fitted on the texts passed to :meth:`fit_vectorizer` (the unlabelled pool) or, if
        that was not called, on the training texts. Hashing needs no fitting (2**18 features).
    C : float
        Inverse regularisation strength of the logistic regression (3 fits Rotten Tomatoes best from
        200 to 10,000 labels).
    class_weight : {None, "balanced"}
        ``None`` (the default) is plain logistic regression, the data reference's active-learning
        model. On Rotten Tomatoes, balanced weights lifted *random* sampling by about 0.02 accuracy
        at 1,000 labels but left margin sampling where it was (uncertainty sampling already draws
        near-balanced batches); use them for a model trained on a randomly drawn, skewed set.
    """

    def __init__(
        self,
        features: str = "tfidf",
        C: float = 3.0,
        class_weight: str | None = None,
        seed: int = 0,
    ) -> None:
        if features not in ("tfidf", "hashing"):
            raise InputError(f"unknown features {features!r}.", fix="use 'tfidf' or 'hashing'.")
        self.features = features
        self.C = C
        self.class_weight = class_weight
        self.seed = seed
        self.vectorizer_: Any = None
        self.clf_: Any = None
        self.classes_ = np.array([], dtype=object)

    # -- vectors -------------------------------------------------------------------------------
    def _new_vectorizer(self) -> Any:
        fe = _need("sklearn.feature_extraction.text", "dev")
        if self.features == "hashing":
            return fe.HashingVectorizer(
                ngram_range=(1, 2),
                n_features=1 << 18,
                alternate_sign=False,
                norm="l2",
                lowercase=True,
            )
        return fe.TfidfVectorizer(
            ngram_range=(1, 2), sublinear_tf=True, min_df=2, lowercase=True, dtype=np.float32
        )

    def fit_vectorizer(self, texts: Sequence[str]) -> SklearnTextModel:
        """Fit the vectoriser on unlabelled texts (the pool); a no-op for hashing."""
        self.vectorizer_ = self._new_vectorizer()
        if self.features == "tfidf":
            self.vectorizer_.fit(list(texts))
        return self

    def vectorize(self, texts: Sequence[str]) -> Any:
        """L2-normalised sparse vectors, shape (n_texts, n_features)."""
        if self.vectorizer_ is None:
            self.fit_vectorizer(texts)
        return self.vectorizer_.transform(list(texts))

    # -- training ------------------------------------------------------------------------------
    def fit_vectors(self, X: Any, labels: Sequence[str]) -> SklearnTextModel:
        lm = _need("sklearn.linear_model", "dev")
        y = _check_labels(range(X.shape[0]), labels)
        self.clf_ = lm.LogisticRegression(
            C=self.C,
            solver="liblinear",
            dual=True,  # the dual problem is faster while n_samples < n_features
            class_weight=self.class_weight,
            random_state=self.seed,
            max_iter=200,
        )
        self.clf_.fit(X, y)
        self.classes_ = np.asarray(self.clf_.classes_, dtype=object)
        return self

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> SklearnTextModel:
        _check_labels(texts, labels)
        return self.fit_vectors(self.vectorize(texts), labels)

    def decision_vectors(self, X: Any) -> np.ndarray:
        return self.clf_.decision_function(X)

    def predict_proba_vectors(self, X: Any) -> np.ndarray:
        if self.clf_ is None:
            raise RuntimeError("predict_proba called before fit")
        return self.clf_.predict_proba(X)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        return self.predict_proba_vectors(self.vectorize(texts))


class SpacyTextModel:
    """spaCy blank ``en`` pipeline with a ``textcat`` component (``spacy.TextCatBOW.v3``).

    The natural choice on the Prodigy side; no model downloads. Exclusive classes; ``epochs``
    passes of minibatch training with a fixed seed.
    """

    def __init__(
        self, epochs: int = 5, ngram_size: int = 2, seed: int = 0, batch_size: int = 64
    ) -> None:
        self.epochs = epochs
        self.ngram_size = ngram_size
        self.seed = seed
        self.batch_size = batch_size
        self.nlp_: Any = None
        self.classes_ = np.array([], dtype=object)
        self._hasher: Any = None

    def fit(self, texts: Sequence[str], labels: Sequence[str]) -> SpacyTextModel:
        spacy = _need("spacy", "spacy")
        from spacy.training import Example

        y = _check_labels(texts, labels)
        spacy.util.fix_random_seed(self.seed)
        classes = sorted(set(y.tolist()))
        nlp = spacy.blank("en")
        config = {
            "model": {
                "@architectures": "spacy.TextCatBOW.v3",
                "exclusive_classes": True,
                "ngram_size": self.ngram_size,
                "no_output_layer": False,
                "length": 262144,
            }
        }
        textcat = nlp.add_pipe("textcat", config=config)
        for c in classes:
            textcat.add_label(c)
        docs = [nlp.make_doc(t) for t in texts]
        examples = [
            Example.from_dict(d, {"cats": {c: float(c == lab) for c in classes}})
            for d, lab in zip(docs, y)
        ]
        optimizer = nlp.initialize(lambda: examples)
        rng = np.random.default_rng(self.seed)
        for _ in range(self.epochs):
            order = rng.permutation(len(examples))
            for start in range(0, len(order), self.batch_size):
                nlp.update(
                    [examples[i] for i in order[start : start + self.batch_size]],
                    sgd=optimizer,
                    drop=0.0,
                )
        self.nlp_ = nlp
        self.classes_ = np.asarray(classes, dtype=object)
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        if self.nlp_ is None:
            raise RuntimeError("predict_proba called before fit")
        out = np.zeros((len(texts), len(self.classes_)))
        for i, doc in enumerate(self.nlp_.pipe(list(texts), batch_size=1000)):
            out[i] = [doc.cats[c] for c in self.classes_]
        out /= np.maximum(out.sum(axis=1, keepdims=True), 1e-12)
        return out

    def vectorize(self, texts: Sequence[str]) -> Any:
        if self._hasher is None:
            fe = _need("sklearn.feature_extraction.text", "dev")
            self._hasher = fe.HashingVectorizer(
                ngram_range=(1, 2), n_features=1 << 18, alternate_sign=False, norm="l2"
            )
        return self._hasher.transform(list(texts))


def make_model(name: str = "sklearn", **kwargs: Any) -> TextModel:
    """Build a model by name: ``sklearn`` (TF-IDF), ``sklearn-hashing`` or ``spacy``."""
    if name == "sklearn":
        return SklearnTextModel(features="tfidf", **kwargs)
    if name == "sklearn-hashing":
        return SklearnTextModel(features="hashing", **kwargs)
    if name == "spacy":
        return SpacyTextModel(**kwargs)
    raise InputError(f"unknown model {name!r}.", fix=f"use one of {', '.join(MODELS)}.")
