"""``aqt coverage``: a production sample with a planted gap (plot synopses the annotated set lacks)
names that gap first; the targeted-collection list is a data source the other workflows read."""

from __future__ import annotations

import json

import pytest
from aqt.cli import cli
from aqt.coverage import coverage_report, guess_language
from aqt.edgecases import SourceItem, read_source_items
from click.testing import CliRunner
from test_export_data import review_sample, rotten_tomatoes_full


def items(df, prefix=""):
    return [SourceItem(r.id, r.text, {"label": r.label}) for r in df.itertuples()]


@pytest.fixture(scope="module")
def samples():
    _, plots = rotten_tomatoes_full()
    prod_reviews = review_sample(1000, seed=1)
    data_reviews = review_sample(1000, seed=1, offset=1000)
    synopses = [SourceItem(f"plot{i}", t, {}) for i, t in enumerate(plots["text"][:100])]
    return items(prod_reviews) + synopses, items(data_reviews)


@pytest.fixture(scope="module")
def gap_report(samples):
    production, dataset = samples
    return coverage_report(production, dataset, seed=0)


def test_the_planted_gap_is_named_first(gap_report):
    first = gap_report.clusters[0]
    assert first["status"] == "under_covered"
    members = [row for row in gap_report.collection if row["meta"]["cluster"] == first["cluster"]]
    synopses = [row for row in members if row["meta"]["id"].startswith("plot")]
    assert len(synopses) / len(members) > 0.7
    assert first["production_share"] > 2.5 * first["dataset_share"]
    gap = [f for f in gap_report.findings if f.check == "coverage_gap"]
    assert gap and f"Cluster {first['cluster']} " in gap[0].message
    # most synopses are in the gaps, and the list holds them
    listed = {row["meta"]["id"] for row in gap_report.collection}
    assert sum(i.startswith("plot") for i in listed) >= 70


def test_without_the_gap_coverage_is_higher_and_nothing_is_under_covered(samples, gap_report):
    production, dataset = samples
    reviews_only = [it for it in production if not it.id.startswith("plot")]
    report = coverage_report(reviews_only, dataset, seed=0)
    assert report.score > gap_report.score
    assert not [c for c in report.clusters if c["status"] == "under_covered"]
    assert not [f for f in report.findings if f.severity != "info"]


def test_features_compare_length_language_and_labels(gap_report):
    f = gap_report.features
    assert f["length"]["production_median"] >= f["length"]["dataset_median"]
    assert f["language"]["production"]["en"] > 0.9
    assert set(f["label"]["production"]) == {"fresh", "rotten"}
    d = gap_report.to_dict()
    assert 0 <= d["coverage_score"] <= 1
    assert json.loads(json.dumps(d)) == d


def test_languages_from_parlspeech_are_told_apart():
    from aqt.active.datasets import parlspeech

    for lang in ("de", "es", "nl"):
        texts = [t for t in parlspeech(lang) if len(t.split()) >= 8][:50]
        assert sum(guess_language(t) == lang for t in texts) >= 48, lang
    assert guess_language("") == "unknown"


def test_rare_but_present_and_metadata_fields():
    production = [
        SourceItem(str(i), t, {"platform": p})
        for i, (t, p) in enumerate(
            [("great film, loved the acting", "web")] * 60
            + [("terrible plot and awful acting", "web")] * 60
            + [("Der Film war nicht gut und wir sind enttäuscht", "app")] * 2
        )
    ]
    dataset = [
        SourceItem(f"d{i}", t, {"platform": "web"})
        for i, t in enumerate(
            ["great film, loved the acting"] * 50 + ["terrible plot and awful acting"] * 50
        )
    ]
    report = coverage_report(production, dataset, n_clusters=3, seed=0)
    rare = [c for c in report.clusters if c["status"] == "rare_but_present"]
    assert len(rare) == 1 and rare[0]["n_production"] == 2 and rare[0]["n_dataset"] == 0
    assert report.features["platform"]["missing"] == ["app"]
    assert report.features["language"]["missing"] == ["de"]


def test_cli_writes_a_collection_list_that_other_workflows_read(samples, tmp_path):
    production, dataset = samples
    prod, data = tmp_path / "prod.jsonl", tmp_path / "data.jsonl"
    prod.write_text(
        "".join(
            json.dumps({"id": it.id, "text": it.text, "meta": dict(it.meta)}) + "\n"
            for it in production
        )
    )
    data.write_text(
        "".join(json.dumps({"id": it.id, "text": it.text, **it.meta}) + "\n" for it in dataset)
    )
    collect = tmp_path / "collect.jsonl"
    result = CliRunner().invoke(
        cli,
        [
            "coverage",
            "--production",
            str(prod),
            "--dataset",
            str(data),
            "--collect",
            str(collect),
            "--max-collect",
            "50",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("Coverage score ")
    assert "under_covered" in result.stdout.splitlines()[3]
    assert "WARNING coverage_gap" in result.stdout
    listed = read_source_items(collect)  # the data-source reader of calibration and edge cases
    assert len(listed) == 50
    assert all(it.meta["meta"]["reason"] in ("under_covered", "rare_but_present") for it in listed)
    assert [it.id for it in listed] == [
        json.loads(x)["meta"]["id"] for x in collect.read_text().splitlines()
    ]
    as_json = CliRunner().invoke(
        cli, ["coverage", "--production", str(prod), "--dataset", str(data), "--json"]
    )
    assert json.loads(as_json.stdout)["clusters"][0]["status"] == "under_covered"


def test_cli_low_score_exits_3_and_bad_options_exit_2(samples, tmp_path):
    production, _ = samples
    prod = tmp_path / "prod.jsonl"
    prod.write_text(
        "".join(json.dumps({"id": it.id, "text": it.text}) + "\n" for it in production[:400])
    )
    synopses = tmp_path / "syn.jsonl"
    synopses.write_text(
        "".join(
            json.dumps({"id": it.id, "text": it.text}) + "\n"
            for it in production
            if it.id.startswith("plot")
        )
    )
    result = CliRunner().invoke(
        cli, ["coverage", "--production", str(prod), "--dataset", str(synopses)]
    )
    assert result.exit_code == 3, result.output
    assert "ERROR   coverage_score" in result.output
    bad = CliRunner().invoke(cli, ["coverage", "--production", str(prod)])
    assert bad.exit_code == 2 and bad.output.startswith("Error: Give either")
