"""Published worked examples reproduced by the agreement engine.

Tolerance: half a unit in the last printed decimal.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from aqt.agreement import agreement_report, krippendorff_alpha
from aqt.records import Annotation, AnnotationTable
from irrCAC.datasets import (
    raw_4raters,
    raw_5observers,
    raw_ben_gerry,
    raw_g1g2,
    raw_gender,
    table_cont3x3abstractors,
    table_cont4x4diagnosis,
)

nan = math.nan

# Krippendorff (2011), Computing Krippendorff's alpha-reliability: 4 observers x 12 units.
KRIPP_2011 = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
    [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan],
]

# Krippendorff, Content Analysis / Wikipedia "Krippendorff's alpha": 3 coders x 15 units.
WIKI_3x15 = [
    [nan, nan, nan, nan, nan, 3, 4, 1, 2, 1, 1, 3, 3, nan, 3],
    [1, nan, 2, 1, 3, 3, 4, 3, nan, nan, nan, nan, nan, nan, nan],
    [nan, nan, 2, 1, 3, 4, 4, nan, 2, 1, 1, 3, 3, nan, 4],
]

# Hayes & Krippendorff (2007), Communication Methods and Measures 1:77-89: 40 units x 5 observers.
_HK = """1 1 2 . 2|1 1 0 1 .|2 3 3 3 .|. 0 0 . 0|0 0 0 . 0|0 0 0 . 0|1 0 2 . 1|1 . 2 0 .|2 2 2 . 2|
2 1 1 1 .|. 1 0 0 .|0 0 0 0 .|1 2 2 2 .|3 3 2 2 3|1 1 1 . 1|1 1 1 . 1|2 1 2 . 2|1 2 3 3 .|
1 1 0 1 .|0 0 0 . 0|0 0 1 1 .|0 0 . 0 0|2 3 3 3 .|0 0 0 0 .|1 2 . 2 2|0 1 1 1 .|0 0 0 1 0|
1 2 1 2 .|1 1 2 2 .|1 1 2 . 2|1 1 0 . 0|2 1 2 1 .|2 2 . 2 2|3 2 2 2 .|2 2 2 . 2|2 2 3 . 2|
2 2 2 . 2|2 2 . 1 2|2 2 2 2 .|1 1 1 . 1"""
HAYES_2007 = np.array(
    [
        [nan if v == "." else float(v) for v in unit.split()]
        for unit in _HK.replace("\n", "").split("|")
    ]
).T  # observers x units


def table_from_matrix(units_by_raters, names=None, kind="rating") -> AnnotationTable:
    m = np.asarray(units_by_raters, dtype=object)
    names = names or [f"r{g + 1}" for g in range(m.shape[1])]
    recs = []
    for i in range(m.shape[0]):
        for g in range(m.shape[1]):
            v = m[i, g]
            if v is None or (isinstance(v, float) and math.isnan(v)):
                continue
            recs.append(Annotation(str(i + 1), names[g], v, kind=kind))
    return AnnotationTable.from_records(recs)


def table_from_contingency(t) -> AnnotationTable:
    """Two raters from a contingency table (rows = rater A, columns = rater B)."""
    t = np.asarray(t)
    rows = []
    for k in range(t.shape[0]):
        for el in range(t.shape[1]):
            rows += [(k, el)] * int(t[k, el])
    return rows


def metric(report, name):
    return report.to_dict()["metrics"][name]["value"]


@pytest.mark.parametrize(
    "level, published",
    [("nominal", 0.743), ("ordinal", 0.815), ("interval", 0.849), ("ratio", 0.797)],
)
def test_krippendorff_2011_all_levels(level, published):
    assert krippendorff_alpha(KRIPP_2011, level) == pytest.approx(published, abs=5e-4)
    table = table_from_matrix(np.array(KRIPP_2011, dtype=float).T)
    assert metric(agreement_report(table, level=level), "krippendorff_alpha") == pytest.approx(
        published, abs=5e-4
    )


@pytest.mark.parametrize("level, published", [("nominal", 0.691358), ("interval", 0.810845)])
def test_wikipedia_3x15(level, published):
    assert krippendorff_alpha(WIKI_3x15, level_of_measurement=level) == pytest.approx(
        published, abs=5e-7
    )


def test_wikipedia_string_labels_with_ordered_domain():
    words = {1: "very low", 2: "low", 3: "mid", 4: "high", 5: "very high"}
    data = np.array(
        [[None if math.isnan(v) else words[int(v)] for v in row] for row in KRIPP_2011],
        dtype=object,
    )
    alpha = krippendorff_alpha(data, "ordinal", value_domain=list(words.values()))
    assert alpha == pytest.approx(0.815, abs=5e-4)


def test_gwet_2015_reanalysis_of_krippendorff_data():
    # Gwet (2015), On Krippendorff's alpha coefficient, p. 16 (as asserted in prodigy-iaa's tests)
    report = agreement_report(table_from_matrix(np.array(KRIPP_2011, dtype=float).T))
    assert metric(report, "percent_agreement") == pytest.approx(0.8182, abs=5e-5)
    assert metric(report, "krippendorff_alpha") == pytest.approx(0.7434, abs=5e-5)
    assert metric(report, "gwet_ac2") == pytest.approx(0.7754, abs=5e-5)


def test_hayes_krippendorff_2007():
    report = agreement_report(table_from_matrix(HAYES_2007.T))
    assert report.n_items == 40
    assert metric(report, "percent_agreement") == pytest.approx(0.6250, abs=5e-5)
    assert metric(report, "krippendorff_alpha") == pytest.approx(0.4765, abs=5e-5)
    assert metric(report, "gwet_ac2") == pytest.approx(0.5093, abs=5e-5)
    # Hayes & Krippendorff (2007) report alpha = .7598 at the ordinal level
    assert krippendorff_alpha(HAYES_2007, "ordinal") == pytest.approx(0.7598, abs=5e-5)


# Gwet's raw4raters (Krippendorff's data with unit 12's lone rating by Rater3), values as printed
# by irrCAC (R README and the Python package's unit tests), 3 dp.
RAW4 = {
    "identity": {"percent_agreement": 0.818, "gwet_ac2": 0.775, "conger_kappa": 0.763},
    "linear": {"percent_agreement": 0.939, "gwet_ac2": 0.859, "conger_kappa": 0.814},
    "quadratic": {"percent_agreement": 0.975, "gwet_ac2": 0.914, "conger_kappa": 0.858},
    "ordinal": {"percent_agreement": 0.968, "gwet_ac2": 0.899, "conger_kappa": 0.844},
    "radical": {"percent_agreement": 0.897, "gwet_ac2": 0.820, "conger_kappa": 0.788},
    "ratio": {"percent_agreement": 0.954, "gwet_ac2": 0.857, "conger_kappa": 0.812},
    "circular": {"percent_agreement": 0.902, "gwet_ac2": 0.830, "conger_kappa": 0.805},
    "bipolar": {"percent_agreement": 0.968, "gwet_ac2": 0.900, "conger_kappa": 0.845},
}


@pytest.mark.parametrize("weights", sorted(RAW4))
def test_irrcac_raw4raters_every_weight(weights):
    df = raw_4raters()
    report = agreement_report(table_from_matrix(df.to_numpy(), list(df.columns)), weights=weights)
    for name, published in RAW4[weights].items():
        assert metric(report, name) == pytest.approx(published, abs=5e-4), name


@pytest.mark.parametrize(
    "loader, pa, ac1, conger",
    [
        (raw_5observers, 0.616, 0.497, 0.469),
        (raw_g1g2, 0.744, 0.685, 0.659),
        (raw_gender, 0.456, 0.208, 0.166),
        (raw_ben_gerry, 0.727, 0.661, 0.657),
    ],
)
def test_irrcac_raw_datasets(loader, pa, ac1, conger):
    df = loader()
    values = df.to_numpy(dtype=object)
    report = agreement_report(
        table_from_matrix(values, [str(c) for c in df.columns], kind="choice")
    )
    assert metric(report, "percent_agreement") == pytest.approx(pa, abs=5e-4)
    assert metric(report, "gwet_ac1") == pytest.approx(ac1, abs=5e-4)
    assert metric(report, "conger_kappa") == pytest.approx(conger, abs=5e-4)


def _two_rater_table(t, labels):
    pairs = table_from_contingency(t)
    recs = []
    for i, (k, el) in enumerate(pairs):
        recs.append(Annotation(str(i), "A", labels[k]))
        recs.append(Annotation(str(i), "B", labels[el]))
    return AnnotationTable.from_records(recs)


@pytest.mark.parametrize(
    "weights, published",
    [
        ("identity", 0.796),
        ("linear", 0.843),
        ("quadratic", 0.892),
        ("ordinal", 0.872),
        ("radical", 0.819),
        ("ratio", 0.927),
        ("circular", 0.796),
        ("bipolar", 0.872),
    ],
)
def test_irrcac_cont3x3abstractors_cohen(weights, published):
    df = table_cont3x3abstractors()
    labels = list(df.columns)
    report = agreement_report(
        _two_rater_table(df.to_numpy(), labels), weights=weights, categories=labels
    )
    assert metric(report, "cohen_kappa") == pytest.approx(published, abs=5e-4)
    assert report.to_dict()["pairwise"][0]["cohen_kappa"] == pytest.approx(published, abs=5e-4)


@pytest.mark.parametrize(
    "weights, published", [("identity", 0.432), ("linear", 0.407), ("quadratic", 0.383)]
)
def test_irrcac_cont4x4diagnosis_cohen(weights, published):
    df = table_cont4x4diagnosis()
    labels = [str(c) for c in df.columns]
    report = agreement_report(
        _two_rater_table(df.to_numpy(), labels), weights=weights, categories=labels
    )
    assert metric(report, "cohen_kappa") == pytest.approx(published, abs=5e-4)


def _from_count_table(counts) -> AnnotationTable:
    """Fleiss' layout (subjects x categories counts) as judgements; rater columns are arbitrary."""
    recs = []
    for i, row in enumerate(np.asarray(counts, dtype=int)):
        g = 0
        for k, c in enumerate(row):
            for _ in range(c):
                recs.append(Annotation(str(i), f"slot{g}", f"c{k}"))
                g += 1
    return AnnotationTable.from_records(recs)


def test_fleiss_1971_diagnoses():
    # Fleiss (1971): 30 patients x 6 psychiatrists x 5 diagnoses; kappa = 0.4302445 (R irr)
    from statsmodels.stats.inter_rater import aggregate_raters
    from statsmodels.stats.tests.test_inter_rater import diagnoses

    counts, _ = aggregate_raters(diagnoses)
    report = agreement_report(_from_count_table(counts))
    assert metric(report, "fleiss_kappa") == pytest.approx(0.4302445, abs=5e-8)


def test_wikipedia_fleiss_example():
    # Wikipedia "Fleiss' kappa": 10 subjects x 14 raters x 5 categories, P = 0.378, Pe = 0.213, kappa = 0.210
    counts = [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
    report = agreement_report(_from_count_table(counts))
    assert metric(report, "percent_agreement") == pytest.approx(0.378, abs=5e-4)
    assert metric(report, "fleiss_kappa") == pytest.approx(0.210, abs=5e-4)


def test_cohen_statsmodels_sas_table():
    # the SAS 3x3 table embedded in statsmodels' tests; statsmodels reproduces SAS's printout
    from statsmodels.stats.inter_rater import cohens_kappa

    table10 = [[0, 4, 1], [0, 8, 0], [0, 1, 5]]
    labels = ["a", "b", "c"]
    report = agreement_report(_two_rater_table(table10, labels), categories=labels)
    assert metric(report, "cohen_kappa") == pytest.approx(
        cohens_kappa(table10, return_results=False), abs=1e-12
    )
    lin = agreement_report(_two_rater_table(table10, labels), categories=labels, weights="linear")
    assert metric(lin, "cohen_kappa") == pytest.approx(
        cohens_kappa(table10, weights=[0, 1, 2], return_results=False), abs=1e-12
    )


def test_irrcac_readme_cont3x3abstractors_all_coefficients():
    # R irrCAC README (kgwet/irrCAC), printed to 7 decimals
    df = table_cont3x3abstractors()
    labels = list(df.columns)
    d = agreement_report(_two_rater_table(df.to_numpy(), labels), categories=labels).to_dict()
    m = {k: v["value"] for k, v in d["metrics"].items()}
    assert m["cohen_kappa"] == pytest.approx(0.7964094, abs=5e-8)
    assert m["scott_pi"] == pytest.approx(0.7962397, abs=5e-8)
    assert m["gwet_ac1"] == pytest.approx(0.8493305, abs=5e-8)
    assert m["brennan_prediger"] == pytest.approx(0.835, abs=5e-8)
    assert m["krippendorff_alpha"] == pytest.approx(0.7972585, abs=5e-8)
    assert m["percent_agreement"] == pytest.approx(0.89, abs=5e-8)


def test_irrcac_readme_distrib_6raters():
    # 15 of Fleiss's (1971) patients as a subjects x categories count table (R irrCAC README)
    from irrCAC.datasets import distrib_6raters

    d = agreement_report(_from_count_table(distrib_6raters().to_numpy())).to_dict()
    m = {k: v["value"] for k, v in d["metrics"].items()}
    assert m["percent_agreement"] == pytest.approx(0.5511111, abs=5e-8)
    assert m["gwet_ac1"] == pytest.approx(0.4448007, abs=5e-8)
    assert m["fleiss_kappa"] == pytest.approx(0.4139265, abs=5e-8)
    assert m["krippendorff_alpha"] == pytest.approx(0.4204384, abs=5e-8)
    assert m["brennan_prediger"] == pytest.approx(0.4388889, abs=5e-8)


def test_irrcac_readme_raw4raters_unweighted():
    df = raw_4raters()
    d = agreement_report(table_from_matrix(df.to_numpy(), list(df.columns))).to_dict()
    m = {k: v["value"] for k, v in d["metrics"].items()}
    assert m["percent_agreement"] == pytest.approx(0.8181818, abs=5e-8)
    assert m["gwet_ac1"] == pytest.approx(0.77544, abs=5e-6)
    assert m["fleiss_kappa"] == pytest.approx(0.76117, abs=5e-6)
    assert m["krippendorff_alpha"] == pytest.approx(0.74342, abs=5e-6)
    assert m["conger_kappa"] == pytest.approx(0.76282, abs=5e-6)
    assert m["brennan_prediger"] == pytest.approx(0.77273, abs=5e-6)
