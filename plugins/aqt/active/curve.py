"""Learning curves on an annotated set: "do we have enough data?" (``aqt curve``).

The model is trained on growing shares of the labelled items (stratified random subsets, several
seeds) and scored by cross-validation on held-out folds. The curve has flattened when the gain over
the last doubling of the data is below ``flat_gain`` (accuracy points) — more labels of the same
kind would then add little.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from aqt.errors import InputError

__all__ = ["LearningCurve", "learning_curve", "render_curve_svg"]

SHARES = (0.1, 0.2, 0.3, 0.5, 0.7, 1.0)


@dataclass(frozen=True)
class LearningCurve:
    """Accuracy (mean, std over folds and seeds) per number of training labels."""

    points: tuple[tuple[int, float, float], ...]
    gain_last_doubling: float
    flattened: bool
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "points": [[n, round(a, 5), round(s, 5)] for n, a, s in self.points],
            "gain_last_doubling": round(self.gain_last_doubling, 5),
            "flattened": self.flattened,
            "message": self.message,
        }


def learning_curve(
    texts: Sequence[str],
    labels: Sequence[str],
    *,
    shares: Sequence[float] = SHARES,
    folds: int = 5,
    seeds: int = 2,
    flat_gain: float = 0.01,
    C: float = 3.0,
) -> LearningCurve:
    """Cross-validated accuracy of TF-IDF + logistic regression on growing shares of the data.

    Parameters
    ----------
    flat_gain : float
        The curve counts as flattened when accuracy rose by less than this between half the data
        and all of it.
    """
    from sklearn.model_selection import StratifiedKFold

    from aqt.active.models import SklearnTextModel

    y = np.asarray([str(v) for v in labels], dtype=object)
    texts = list(texts)
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2 or counts.min() < folds:
        raise InputError(
            f"a learning curve needs at least two classes with {folds}+ items each; got "
            f"{dict(zip(classes.tolist(), counts.tolist()))}.",
            fix="annotate more items or check --label-col.",
        )
    base = SklearnTextModel(C=C).fit_vectorizer(texts)
    X = base.vectorize(texts)
    scores: dict[float, list[float]] = {s: [] for s in shares}
    sizes: dict[float, int] = {}
    for seed in range(seeds):
        skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        rng = np.random.default_rng(seed)
        for train, test in skf.split(np.zeros(len(y)), y):
            order = rng.permutation(train)
            for s in shares:
                sub = order[: max(2, round(s * len(train)))]
                if len(set(y[sub].tolist())) < 2:
                    continue
                m = SklearnTextModel(C=C).fit_vectors(X[sub], y[sub])
                pred = m.classes_[m.predict_proba_vectors(X[test]).argmax(axis=1)]
                scores[s].append(float(np.mean(pred == y[test])))
                sizes[s] = len(sub)
    points = tuple(
        (sizes[s], float(np.mean(scores[s])), float(np.std(scores[s]))) for s in shares if scores[s]
    )
    half = min(points, key=lambda p: abs(p[0] - points[-1][0] / 2))
    gain = points[-1][1] - half[1]
    flat = gain < flat_gain
    msg = f"accuracy rose {gain * 100:.1f} points from {half[0]} to {points[-1][0]} labels: " + (
        "the curve has flattened; more labels of the same kind add little."
        if flat
        else "still rising; more labels should help."
    )
    return LearningCurve(points=points, gain_last_doubling=float(gain), flattened=flat, message=msg)


def render_curve_svg(curve: LearningCurve, title: str = "Learning curve") -> str:
    """A self-contained SVG line plot (no network, no plotting library) with a ±1 std band."""
    w, h, pad = 480, 300, 48
    pts = curve.points
    xs = np.array([p[0] for p in pts], dtype=float)
    ys = np.array([p[1] for p in pts])
    sd = np.array([p[2] for p in pts])
    x0, x1 = 0.0, float(xs.max())
    y0 = float(max(0.0, np.floor((ys - sd).min() * 20) / 20))
    y1 = float(min(1.0, np.ceil((ys + sd).max() * 20) / 20))
    y1 = y1 if y1 > y0 else y0 + 0.05

    def px(x: float) -> float:
        return pad + (x - x0) / max(x1 - x0, 1) * (w - 2 * pad)

    def py(y: float) -> float:
        return h - pad - (y - y0) / (y1 - y0) * (h - 2 * pad)

    line = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in zip(xs, ys))
    band = " ".join(f"{px(x):.1f},{py(y + s):.1f}" for x, y, s in zip(xs, ys, sd))
    band += " " + " ".join(
        f"{px(x):.1f},{py(y - s):.1f}" for x, y, s in zip(xs[::-1], ys[::-1], sd[::-1])
    )
    ticks = "".join(
        f'<text x="{pad - 6}" y="{py(v) + 4:.1f}" text-anchor="end" font-size="11">{v:.2f}</text>'
        for v in np.linspace(y0, y1, 5)
    )
    xt = "".join(
        f'<text x="{px(x):.1f}" y="{h - pad + 16}" text-anchor="middle" font-size="11">'
        f"{int(x)}</text>"
        for x in xs
    )
    dots = "".join(
        f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3" fill="#1f77b4"/>' for x, y in zip(xs, ys)
    )
    verdict = "flattened" if curve.flattened else "still rising"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif">'
        f'<rect width="{w}" height="{h}" fill="white"/>'
        f'<text x="{w / 2}" y="20" text-anchor="middle" font-size="14">{title} ({verdict})</text>'
        f'<line x1="{pad}" y1="{h - pad}" x2="{w - pad}" y2="{h - pad}" stroke="black"/>'
        f'<line x1="{pad}" y1="{pad}" x2="{pad}" y2="{h - pad}" stroke="black"/>'
        f'<polygon points="{band}" fill="#1f77b4" fill-opacity="0.2"/>'
        f'<polyline points="{line}" fill="none" stroke="#1f77b4" stroke-width="2"/>{dots}{ticks}{xt}'
        f'<text x="{w / 2}" y="{h - 8}" text-anchor="middle" font-size="12">training labels</text>'
        f'<text x="14" y="{h / 2}" transform="rotate(-90 14 {h / 2})" text-anchor="middle" '
        f'font-size="12">accuracy</text></svg>\n'
    )
