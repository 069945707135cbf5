"""The adjudication core (``aqt.adjudication``): review items, decisions, the log, resume logic."""

from __future__ import annotations

import json

import pytest
from aqt.adjudication import (
    AUTO_ADJUDICATOR,
    AdjudicationLog,
    Decision,
    Version,
    auto_decisions,
    build_review_items,
    final_decisions,
    guideline_version_of,
    pending_items,
)
from aqt.errors import InputError, UsageError
from aqt.records import Annotation, AnnotationTable, Span


def table(*rows, kind="choice", control="choice"):
    return AnnotationTable.from_records(
        Annotation(item, ann, value, kind=kind, control=control, timestamp=ts)
        for item, ann, value, ts in rows
    )


def test_review_items_group_answers_into_versions_by_majority():
    t = table(
        ("10", "a", "POS", 1),
        ("10", "b", "NEG", 1),
        ("10", "c", "POS", 1),
        ("2", "a", "NEU", 1),
        ("2", "b", "NEU", 1),
    )
    items = build_review_items(t)
    assert [r.item for r in items] == ["2", "10"]  # natural order
    r = items[1]
    assert r.values == {"a": "POS", "b": "NEG", "c": "POS"}
    assert [v.to_dict() for v in r.versions] == [
        {"value": "POS", "annotators": ["a", "c"]},
        {"value": "NEG", "annotators": ["b"]},
    ]
    assert r.agreement == pytest.approx(2 / 6) and not r.unanimous and r.majority == "POS"
    assert items[0].unanimous and items[0].agreement == 1.0
    assert r.to_dict()["n_annotators"] == 3


def test_latest_judgement_of_an_annotator_counts():
    t = table(("1", "a", "POS", 5), ("1", "a", "NEG", 9), ("1", "b", "NEG", 1))
    (r,) = build_review_items(t)
    assert r.values == {"a": "NEG", "b": "NEG"} and r.unanimous


def test_filters_min_annotators_and_only_disagreements():
    t = table(
        ("1", "a", "X", 1),
        ("2", "a", "X", 1),
        ("2", "b", "Y", 1),
        ("3", "a", "X", 1),
        ("3", "b", "X", 1),
    )
    assert [r.item for r in build_review_items(t, min_annotators=2)] == ["2", "3"]
    assert [r.item for r in build_review_items(t, only_disagreements=True)] == ["2"]
    with pytest.raises(UsageError, match="at least 1"):
        build_review_items(t, min_annotators=0)


def test_sets_and_spans_compare_by_content():
    sets = AnnotationTable.from_records(
        [
            Annotation("1", "a", frozenset({"A", "B"}), kind="multichoice"),
            Annotation("1", "b", frozenset({"B", "A"}), kind="multichoice"),
        ]
    )
    assert build_review_items(sets)[0].unanimous
    spans = AnnotationTable.from_records(
        [
            Annotation("1", "a", (Span(0, 5, "PER"),), kind="spans"),
            Annotation("1", "b", (Span(0, 5, "PER"), Span(6, 9, "LOC")), kind="spans"),
        ]
    )
    (r,) = build_review_items(spans)
    assert len(r.versions) == 2 and r.agreement == 0.0


def test_several_controls_are_refused():
    t = AnnotationTable.from_records(
        [Annotation("1", "a", "X", control="c1"), Annotation("1", "b", "X", control="c2")]
    )
    with pytest.raises(UsageError, match="2 controls"):
        build_review_items(t)


def test_decision_round_trips_through_the_log(tmp_path):
    log = AdjudicationLog(tmp_path / "sub" / "log.jsonl")
    assert log.read() == []
    d1 = Decision(
        "1",
        "spans",
        (Span(0, 5, "PER"),),
        "lead",
        1_700_000_000,
        versions_seen=(Version((Span(0, 5, "PER"),), ("a", "b")),),
        reason="rule 3",
        guideline_version="2.1",
        guideline_note="add example",
    )
    d2 = Decision("2", "choice", None, "lead", 1_700_000_001, outcome="reject", reason="spam")
    log.append(d1)
    log.append(d2)
    assert log.read() == [d1, d2]
    assert log.decided_items() == {"1", "2"}
    line = json.loads((tmp_path / "sub" / "log.jsonl").read_text().splitlines()[0])
    assert line["decision"] == [{"start": 0, "end": 5, "label": "PER"}]
    assert line["versions_seen"] == [
        {"value": [{"start": 0, "end": 5, "label": "PER"}], "annotators": ["a", "b"]}
    ]


def test_a_torn_last_line_is_left_out_but_a_bad_middle_line_is_an_error(tmp_path):
    path = tmp_path / "log.jsonl"
    log = AdjudicationLog(path)
    log.append(Decision("1", "choice", "X", "lead", 1))
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('{"item": "2", "kind": "cho')  # the process died mid-write
    assert [d.item for d in log.read()] == ["1"]
    path.write_text(
        path.read_text() + "\n" + json.dumps(Decision("3", "choice", "Y", "l", 2).to_dict()) + "\n"
    )
    with pytest.raises(InputError, match="line 2"):
        log.read()


def test_unknown_outcome_is_refused():
    with pytest.raises(InputError, match="maybe"):
        Decision("1", "choice", "X", "lead", 1, outcome="maybe")


def test_pending_keeps_order_and_final_takes_the_last_decision():
    t = table(*[(str(i), a, "X" if i % 2 else "Y", 1) for i in range(1, 6) for a in "ab"])
    items = build_review_items(t)
    assert [r.item for r in pending_items(items, {"2", "4"})] == ["1", "3", "5"]
    first = Decision("3", "choice", "X", "lead", 1)
    second = Decision("3", "choice", "Y", "other", 2)
    assert final_decisions([first, Decision("10", "choice", "X", "lead", 1), second]) == {
        "3": second,
        "10": Decision("10", "choice", "X", "lead", 1),
    }
    assert list(final_decisions([Decision("10", "c", "X", "l", 1), first])) == ["3", "10"]


def test_auto_decisions_take_unanimous_items_only():
    t = table(
        ("1", "a", "X", 1),
        ("1", "b", "X", 1),
        ("2", "a", "X", 1),
        ("2", "b", "Y", 1),
        ("3", "a", "Z", 1),
    )
    auto = auto_decisions(build_review_items(t), time=42, guideline_version="v1")
    assert [(d.item, d.decision, d.adjudicator, d.time, d.guideline_version) for d in auto] == [
        ("1", "X", AUTO_ADJUDICATOR, 42, "v1")
    ]
    assert auto[0].versions_seen[0].annotators == ("a", "b")


def test_guideline_version_from_a_version_line_or_the_content_hash(tmp_path):
    with_version = tmp_path / "g.md"
    with_version.write_text("# Guidelines\n\nversion: 3.0-rc1\n")
    assert guideline_version_of(with_version) == "3.0-rc1"
    toml = tmp_path / "g.toml"
    toml.write_text('title = "x"\nversion = "7"\n')
    assert guideline_version_of(toml) == "7"
    plain = tmp_path / "plain.txt"
    plain.write_text("Mixed reviews are neutral.\n")
    version = guideline_version_of(plain)
    assert version.startswith("sha256:") and len(version) == len("sha256:") + 12
    plain.write_text("Mixed reviews are negative.\n")
    assert guideline_version_of(plain) != version
    with pytest.raises(InputError, match="--guidelines"):
        guideline_version_of(tmp_path / "missing.md")


def test_the_core_module_imports_no_front_end():
    import subprocess
    import sys

    code = (
        "import sys, aqt.adjudication\n"
        "bad = [m for m in ('prodigy', 'label_studio_sdk', 'fastapi', 'click') if m in sys.modules]\n"
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
