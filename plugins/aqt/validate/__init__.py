"""Dataset validation before export: one check per module, each ``find_*`` returning findings.

* :func:`find_low_agreement` (``final_iaa``): agreement behind the final labels vs the threshold;
* :func:`find_class_imbalance` (``class_balance``): label shares vs a target or production;
* :func:`find_edge_case_gaps` (``edge_case_coverage``): each catalogue case has >= k items;
* :func:`find_missing_adversarial` (``adversarial_coverage``): contrast pairs, flagged items,
  earlier-model confusions;
* :func:`find_label_errors` (``label_errors``): out-of-fold model disagreeing confidently;
* :func:`find_leakage` (``leakage``): exact and near duplicates across splits;
* :func:`find_split_problems` (``split_grouping``, ``split_stratification``) and the split maker
  :func:`make_splits`;
* :func:`find_synthetic_problems`: synthetic data against held-out real data.
"""

from aqt.validate.adversarial import contrast_pairs, find_missing_adversarial
from aqt.validate.balance import find_class_imbalance, label_shares
from aqt.validate.edge_coverage import find_edge_case_gaps
from aqt.validate.iaa import find_low_agreement
from aqt.validate.label_errors import find_label_errors, out_of_fold_proba
from aqt.validate.leakage import find_leakage
from aqt.validate.splits import (
    SPLIT_NAMES,
    SplitPlan,
    find_split_problems,
    make_splits,
    parse_ratios,
)
from aqt.validate.synthetic import find_synthetic_problems, surface_features

__all__ = [
    "SPLIT_NAMES",
    "SplitPlan",
    "contrast_pairs",
    "find_class_imbalance",
    "find_edge_case_gaps",
    "find_label_errors",
    "find_leakage",
    "find_low_agreement",
    "find_missing_adversarial",
    "find_split_problems",
    "find_synthetic_problems",
    "label_shares",
    "make_splits",
    "out_of_fold_proba",
    "parse_ratios",
    "surface_features",
]
