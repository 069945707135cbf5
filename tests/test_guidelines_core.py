"""Guidelines (version, sections, validation history) and the edge-case catalogue (validation with
locations, YAML, candidates, findings), on the shipped examples and on hand-made bad files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aqt.edgecases import (
    SourceItem,
    catalogue_from_dict,
    check_catalogue,
    find_candidates,
    load_catalogue,
    read_source_items,
    text_hash,
)
from aqt.errors import InputError
from aqt.guidelines import (
    HISTORY_MARKER,
    guideline_version_from_text,
    guideline_version_of,
    parse_sections,
    read_guidelines,
    record_validation,
)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_GUIDE = ROOT / "configs" / "guidelines.example.md"
EXAMPLE_CATALOGUE = ROOT / "configs" / "edge_cases.example.toml"

GATE = {
    "check": "calibration_gate",
    "status": "FAIL",
    "threshold": 0.667,
    "batch": {"id": "cal-abc", "n_items": 80},
    "guideline_version": "1.0",
    "annotators": ["alice", "bob", "carol"],
    "overall": {"value": 0.61234, "ci95": [0.5, 0.7], "status": "FAIL", "n_items": 80},
    "per_label": {
        "Negative": {"value": 0.9, "ci95": [0.8, 0.95], "n_items": 30, "status": "PASS"},
        "Neutral": {"value": 0.41, "ci95": None, "n_items": 25, "status": "FAIL"},
    },
    "confused_pairs": [{"labels": ["Neutral", "Positive"], "count": 12.0}],
}


# ---------------------------------------------------------------------------------- versions


def test_version_label_and_hash():
    v = guideline_version_from_text("# G\nversion: 2.1\n\nrules\n")
    assert v.label == "2.1" and v.id == "2.1"
    assert v.hash.startswith("sha256:") and len(v.hash) == len("sha256:") + 12
    unlabelled = guideline_version_from_text("# G\n\nrules\n")
    assert unlabelled.label is None and unlabelled.id == unlabelled.hash


def test_any_change_to_the_rules_changes_the_hash_but_not_the_label():
    a = guideline_version_from_text("# G\nversion: 2.1\n\nSarcasm is Negative.\n")
    b = guideline_version_from_text("# G\nversion: 2.1\n\nSarcasm is Neutral.\n")
    assert a.label == b.label and a.hash != b.hash


def test_recording_history_keeps_the_version(tmp_path):
    guide = tmp_path / "g.md"
    guide.write_text(EXAMPLE_GUIDE.read_text(encoding="utf-8"), encoding="utf-8")
    guide.chmod(0o644)
    before = read_guidelines(guide).version
    block = record_validation(guide, GATE, ["Sarcasm is Negative"], date="2026-11-29")
    record_validation(guide, dict(GATE, status="PASS"), [], date="2026-11-30")
    text = guide.read_text(encoding="utf-8")
    assert read_guidelines(guide).version == before
    assert text.count(HISTORY_MARKER) == 1 and text.count("## Validation history") == 1
    assert text.index("2026-11-29") < text.index("2026-11-30")
    assert "### 2026-11-29 · batch cal-abc · FAIL" in block
    assert "Krippendorff's alpha: 0.612 [0.500, 0.700] against 0.667: FAIL" in block
    assert "| Neutral | 0.410 | n/a | 25 | FAIL |" in block
    assert "- Neutral / Positive: 12 disagreement(s)" in block
    assert "- Sarcasm is Negative" in block and "Decisions: none recorded" in text
    assert guide.stat().st_mode & 0o777 == 0o644  # the atomic write kept the file's mode
    # the rules themselves are untouched
    assert text.startswith(EXAMPLE_GUIDE.read_text(encoding="utf-8").rstrip("\n"))


def test_version_of_a_missing_file_names_the_fix(tmp_path):
    with pytest.raises(InputError, match="--guidelines"):
        guideline_version_of(tmp_path / "nope.md")


def test_adjudicate_reads_the_version_from_the_guidelines_module():
    src = (ROOT / "recipes" / "aqt_prodigy" / "adjudicate.py").read_text(encoding="utf-8")
    assert "from aqt.guidelines import guideline_version_of" in src


# ---------------------------------------------------------------------------------- sections


def test_sections_from_headings_skip_code_and_history():
    text = (
        "# Title\nintro\n## Mixed reviews\nPositive or Neutral?\n```\n# not a heading\n```\n"
        "## Mixed reviews\nagain\n" + HISTORY_MARKER + "\n## Validation history\n"
    )
    secs = parse_sections(text)
    assert [(s.title, s.level, s.line, s.id) for s in secs] == [
        ("Title", 1, 1, "title"),
        ("Mixed reviews", 2, 3, "mixed-reviews"),
        ("Mixed reviews", 2, 8, "mixed-reviews-2"),
    ]
    assert "# not a heading" in secs[1].text


def test_example_guidelines_sections_about_a_confused_pair():
    g = read_guidelines(EXAMPLE_GUIDE)
    assert g.version.label == "1.0"
    titles = [s.title for s in g.sections_about(["Positive", "Neutral"])]
    assert titles[0] == "Mixed reviews"  # names both labels
    assert "Product review sentiment: annotation guidelines" not in titles
    assert g.section("sarcasm and irony") is not None and g.section("Nope") is None


# ---------------------------------------------------------------------------------- catalogue


def test_example_catalogue_is_valid_and_its_sections_exist():
    cat = load_catalogue(EXAMPLE_CATALOGUE)
    assert cat.labels == ("Positive", "Negative", "Neutral")
    assert len(cat.cases) >= 6
    summary, findings = check_catalogue(cat, None, read_guidelines(EXAMPLE_GUIDE))
    assert findings == []  # every example matches its rule, every section exists
    assert summary["n_cases"] == len(cat.cases)


def test_validation_collects_every_problem_with_its_location():
    data = {
        "labels": ["Positive", "Negative", "Neutral"],
        "extra": 1,
        "case": [
            {"id": "ok", "description": "d", "expected": "Neutral", "rule": {"max_length": 5}},
            {"id": "ok", "description": "d", "expected": "Mixed", "rule": {"regex": "(unclosed"}},
            {"id": "bad id!", "expected": "Neutral", "rule": {"min_length": 9, "max_length": 2}},
            {"id": "f", "description": "d", "expected": "Neutral", "rule": {"field": "meta.x"}},
            {"id": "g", "description": "d", "expected": "Neutral", "colour": "red"},
            {"id": "h", "description": "d", "expected": "Neutral", "rule": {"keyword": ["x"]}},
        ],
    }
    with pytest.raises(InputError) as err:
        catalogue_from_dict(data, path="cases.toml")
    text = str(err.value)
    for needle in (
        "cases.toml is invalid",
        "unknown top-level key(s) 'extra'",
        "case[1] (id 'ok').id: 'ok' repeats case[0]",
        "case[1] (id 'ok').expected: 'Mixed' is not a label (Positive, Negative, Neutral)",
        "case[1] (id 'ok').rule.regex: '(unclosed' does not compile",
        "case[2] (id 'bad id!').id: 'bad id!' is not an id",
        "case[2] (id 'bad id!').description: missing",
        "case[2] (id 'bad id!').rule: min_length 9 > max_length 2",
        "case[3] (id 'f').rule: field 'meta.x' needs equals = VALUE or in = [VALUES]",
        "case[4] (id 'g'): unknown key(s) 'colour'",
        "case[4] (id 'g'): rule is missing",
        "case[5] (id 'h').rule: unknown key(s) 'keyword'",
        "Fix: Correct the listed entries",
    ):
        assert needle in text, (needle, text)
    assert "problem(s)" in text


def test_toml_syntax_error_and_missing_file(tmp_path):
    bad = tmp_path / "c.toml"
    bad.write_text("[[case]\nid = 1\n")
    with pytest.raises(InputError, match="not valid TOML"):
        load_catalogue(bad)
    with pytest.raises(InputError, match="No edge-case catalogue"):
        load_catalogue(tmp_path / "missing.toml")


def test_yaml_catalogue_loads_like_toml(tmp_path):
    import tomllib
    import yaml

    y = tmp_path / "c.yaml"
    y.write_text(yaml.safe_dump(tomllib.loads(EXAMPLE_CATALOGUE.read_text(encoding="utf-8"))))
    assert load_catalogue(y).cases == load_catalogue(EXAMPLE_CATALOGUE).cases
    y.write_text("case: [{id: x}]\n")
    with pytest.raises(InputError, match=r"case\[0\] \(id 'x'\).description: missing"):
        load_catalogue(y)


def test_rules_combine_conditions_and_match_fields():
    cat = catalogue_from_dict(
        {
            "case": [
                {
                    "id": "tw-sarcasm",
                    "description": "d",
                    "expected": "Negative",
                    "rule": {"keywords": ["oh great"], "field": "meta.platform", "in": ["tw"]},
                },
                {
                    "id": "long",
                    "description": "d",
                    "expected": "Neutral",
                    "rule": {"min_length": 20, "regex": r"\bbut\b"},
                },
                {
                    "id": "src",
                    "description": "d",
                    "expected": "Neutral",
                    "rule": {"field": "source", "equals": "app"},
                },
            ]
        }
    )
    items = [
        SourceItem("1", "Oh great, it broke", {"meta": {"platform": "tw"}}),
        SourceItem("2", "Oh greatness", {"meta": {"platform": "tw"}}),  # not the whole word
        SourceItem("3", "oh great again", {"meta": {"platform": "web"}}),
        SourceItem("4", "fine but slow, really slow", {"source": "app"}),
        SourceItem("5", "fine but slow", {"source": "web"}),
    ]
    assert find_candidates(cat, items) == {"tw-sarcasm": ["1"], "long": ["4"], "src": ["4"]}
    summary, findings = check_catalogue(cat, items)
    assert [c["n_candidates"] for c in summary["cases"]] == [1, 1, 1]
    assert findings == []


def test_check_reports_cases_without_candidates_and_bad_sections():
    cat = load_catalogue(EXAMPLE_CATALOGUE)
    items = [SourceItem("a", "Oh great, it broke again.", {}), SourceItem("b", "meh", {})]
    guide = read_guidelines(EXAMPLE_GUIDE)
    summary, findings = check_catalogue(cat, items, guide)
    by_id = {c["id"]: c for c in summary["cases"]}
    assert by_id["sarcasm"]["candidates"] == ["a"] and by_id["very-short"]["candidates"] == ["b"]
    none = {f.message.split("'")[1] for f in findings if f.check == "edge_case_no_candidates"}
    assert none == {c.id for c in cat.cases} - {"sarcasm", "very-short"}
    assert all(f.severity == "info" for f in findings)
    broken = catalogue_from_dict(
        {
            "case": [
                {
                    "id": "x",
                    "description": "d",
                    "expected": "Neutral",
                    "section": "No such heading",
                    "examples": ["a long text here"],
                    "rule": {"max_length": 3},
                }
            ]
        }
    )
    _, found = check_catalogue(broken, None, guide)
    assert sorted(f.check for f in found) == ["edge_case_example_unmatched", "edge_case_section"]


def test_source_items_from_jsonl_csv_json(tmp_path):
    jl = tmp_path / "s.jsonl"
    jl.write_text(
        json.dumps({"text": "a", "id": 1, "meta": {"source": "x"}})
        + "\n\n"
        + json.dumps({"text": "b"})
        + "\n"
    )
    items = read_source_items(jl)
    assert [(i.id, i.text) for i in items] == [("1", "a"), (text_hash("b"), "b")]
    assert items[0].meta["meta"] == {"source": "x"}
    csvf = tmp_path / "s.csv"
    csvf.write_text("id,text,source\n1,hello,app\n2,bye,web\n")
    assert [i.meta["source"] for i in read_source_items(csvf)] == ["app", "web"]
    js = tmp_path / "s.json"
    js.write_text(json.dumps([{"text": "x", "id": "q"}]))
    assert read_source_items(js)[0].id == "q"


def test_source_problems_are_listed_with_line_numbers(tmp_path):
    bad = tmp_path / "s.jsonl"
    bad.write_text('{"text": "a", "id": 1}\nnot json\n{"id": 2}\n{"text": "c", "id": 1}\n')
    with pytest.raises(InputError) as err:
        read_source_items(bad)
    msg = str(err.value)
    assert "line 2: not JSON" in msg and "line 3: no text" in msg
    assert "line 4: id '1' repeats line 1" in msg
    nocol = tmp_path / "s.csv"
    nocol.write_text("body\nx\n")
    with pytest.raises(InputError, match="no 'text' column"):
        read_source_items(nocol)


@pytest.mark.parametrize("ending", ["\n", "", "\n\n\n"])
def test_hash_equals_the_adjudication_hash_and_survives_recording(tmp_path, ending):
    from aqt.adjudication import guideline_version_of as adjudication_version

    guide = tmp_path / "g.md"
    guide.write_text("# Rules\n\nSarcasm is Negative." + ending, encoding="utf-8")
    assert guideline_version_of(guide) == adjudication_version(guide)  # no history: same bytes
    before = guideline_version_of(guide)
    record_validation(guide, GATE, date="2026-11-29")
    assert guideline_version_of(guide) == before
    assert guide.read_text(encoding="utf-8").startswith("# Rules\n\nSarcasm is Negative." + ending)
