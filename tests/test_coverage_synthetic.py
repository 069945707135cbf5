"""Synthetic data against held-out real data: shift per feature, classifier two-sample AUC,
near-copies; ``aqt coverage --synthetic --real`` exits 3 when synthetic data should not be used."""

from __future__ import annotations

import json

import numpy as np
import pytest
from aqt.cli import cli
from aqt.errors import InputError
from aqt.validate import find_synthetic_problems, surface_features
from click.testing import CliRunner
from test_export_data import review_sample


def templated(n: int, seed: int = 0) -> list[str]:
    """What a careless generator produces: one template, a few slot fillers."""
    rng = np.random.default_rng(seed)
    adj = ["amazing", "boring", "wonderful", "terrible", "delightful", "awful", "stunning", "dull"]
    noun = ["acting", "plot", "soundtrack", "cinematography", "script", "pacing"]
    return [
        f"This movie was {rng.choice(adj)} and the {rng.choice(noun)} was {rng.choice(adj)}!"
        for _ in range(n)
    ]


@pytest.fixture(scope="module")
def real():
    return list(review_sample(600, seed=7)["text"])


def checks(findings, severity="error"):
    return sorted({f.check for f in findings if f.severity == severity})


def test_real_looking_data_passes(real):
    other_real = list(review_sample(300, seed=7, offset=600)["text"])
    summary, findings = find_synthetic_problems(other_real, real)
    assert checks(findings) == []
    assert 0.35 < summary["auc"] < 0.65
    assert summary["n_near_copies"] == 0


def test_templated_data_is_told_apart(real):
    summary, findings = find_synthetic_problems(templated(300), real)
    assert "synthetic_distinguishable" in checks(findings)
    assert summary["auc"] > 0.95
    shifted = {f.message.split("'")[1] for f in findings if f.check == "synthetic_shift"}
    assert "chars" in shifted or "words" in shifted


def test_near_copies_of_real_items_are_named(real):
    other_real = list(review_sample(280, seed=7, offset=600)["text"])
    long = [t for t in real if len(t) >= 80]  # a short text changes too much with a few added words
    copies = long[:10] + [t.rstrip(".!") + ", really." for t in long[10:20]]
    ids = [f"s{n}" for n in range(len(other_real))] + [f"copy{n}" for n in range(20)]
    summary, findings = find_synthetic_problems(other_real + copies, real, synthetic_ids=ids)
    (f,) = [f for f in findings if f.check == "synthetic_near_copy"]
    assert f.severity == "error"
    assert set(f.items) == {f"copy{n}" for n in range(20)}
    assert {c["kind"] for c in summary["near_copies"]} == {"exact", "near"}


def test_surface_features_and_bad_input():
    f = surface_features(["Hello World 42!", ""])
    assert f["chars"].tolist() == [15, 0] and f["words"].tolist() == [3, 0]
    assert f["digit_share"][0] == pytest.approx(2 / 15)
    with pytest.raises(InputError, match="at least two"):
        find_synthetic_problems(["a"], ["b", "c"])


def test_cli_synthetic_exit_codes(real, tmp_path):
    def write(path, texts):
        path.write_text(
            "".join(json.dumps({"id": f"x{n}", "text": t}) + "\n" for n, t in enumerate(texts))
        )
        return str(path)

    r = write(tmp_path / "real.jsonl", real)
    bad = write(tmp_path / "synth.jsonl", templated(200))
    good = write(tmp_path / "good.jsonl", list(review_sample(200, seed=7, offset=600)["text"]))
    result = CliRunner().invoke(cli, ["coverage", "--synthetic", bad, "--real", r])
    assert result.exit_code == 3, result.output
    assert (
        "two-sample AUC" in result.output and "ERROR   synthetic_distinguishable" in result.output
    )
    result = CliRunner().invoke(cli, ["coverage", "--synthetic", good, "--real", r, "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["n_synthetic"] == 200
