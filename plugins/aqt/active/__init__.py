"""Active learning with selection review (pure core).

Models (:mod:`~aqt.active.models`), uncertainty scores and batch selection
(:mod:`~aqt.active.strategies`), recalibration on a random exploration share
(:mod:`~aqt.active.recalibration`), selection-review checks (:mod:`~aqt.active.review`,
:mod:`~aqt.active.reviewer`), the simulation loop behind ``aqt al simulate``
(:mod:`~aqt.active.simulate`) and learning curves behind ``aqt curve`` (:mod:`~aqt.active.curve`).
scikit-learn and spaCy are imported only inside the functions that need them.

What aqt recommends (strategy ``default``): margin scores, every candidate through selection review
(flagged items go to a reviewer with the reason, skips teach the skip model), and 10% of each batch
drawn at random, on which the scores are recalibrated (Platt scaling on out-of-fold predictions).
"""

from aqt.active.models import MODELS, SklearnTextModel, SpacyTextModel, make_model
from aqt.active.recalibration import Recalibrator, expected_calibration_error, fit_recalibrator
from aqt.active.review import (
    ReviewConfig,
    find_duplicates,
    find_empty_text,
    find_garbled_text,
    find_language_mismatch,
    find_length_outliers,
    find_off_task,
)
from aqt.active.reviewer import ReviewOutcome, SelectionReview, SkipModel, review_selection
from aqt.active.simulate import (
    SimulationResult,
    StrategyRun,
    batch_schedule,
    labels_to_match,
    simulate,
)
from aqt.active.strategies import (
    STRATEGIES,
    score_committee,
    score_entropy,
    score_least_confidence,
    score_margin,
    select_cold_start,
    select_diverse,
    select_random,
    select_top,
)

__all__ = [
    "MODELS",
    "STRATEGIES",
    "Recalibrator",
    "ReviewConfig",
    "ReviewOutcome",
    "SelectionReview",
    "SimulationResult",
    "SkipModel",
    "SklearnTextModel",
    "SpacyTextModel",
    "StrategyRun",
    "batch_schedule",
    "expected_calibration_error",
    "find_duplicates",
    "find_empty_text",
    "find_garbled_text",
    "find_language_mismatch",
    "find_length_outliers",
    "find_off_task",
    "fit_recalibrator",
    "labels_to_match",
    "make_model",
    "review_selection",
    "score_committee",
    "score_entropy",
    "score_least_confidence",
    "score_margin",
    "select_cold_start",
    "select_diverse",
    "select_random",
    "select_top",
    "simulate",
]
