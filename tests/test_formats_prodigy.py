"""Prodigy readers on db-out shaped fixtures."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest
from aqt.errors import InputError, UsageError
from aqt.formats import read_annotations, read_prodigy_examples, read_prodigy_jsonl
from aqt.formats.prodigy import strip_dataset_prefix
from aqt.records import Span

FIX = Path(__file__).parent / "fixtures" / "formats"


def rows(table):
    return [(r.item, r.annotator, r.value, r.kind, r.control) for r in table]


def test_choice_multiple_by_config_keeps_sets_and_counts_ignore_and_reject():
    t = read_prodigy_jsonl(FIX / "prodigy_choice_multi.jsonl")
    assert rows(t) == [
        ("-1181104631", "alice", frozenset({"delivery", "price"}), "multichoice", "choice"),
        ("-1181104631", "bob", frozenset({"delivery"}), "multichoice", "choice"),
        ("732851217", "alice", frozenset({"quality"}), "multichoice", "choice"),
        ("55012", "bob", frozenset(), "multichoice", "choice"),
    ]
    assert dict(t.skipped) == {"cancelled": 0, "ignored": 1, "rejected": 1}
    first = t.records[0]
    assert first.timestamp == 1717236000.0
    assert (first.source, first.guideline_version) == ("shop-B", "v2")
    assert first.text == "Arrived late and cost too much."


def test_choice_is_multiple_when_any_answer_has_two_ids_without_config():
    egs = [
        json.loads(line) for line in (FIX / "prodigy_choice_multi.jsonl").read_text().splitlines()
    ]
    for eg in egs:
        del eg["config"]
    t = read_prodigy_examples(egs)
    assert t.kinds() == ["multichoice"]
    for eg in egs:  # now no answer has two ids: single choice
        eg["accept"] = eg["accept"][:1]
    single = read_prodigy_examples(egs)
    assert single.kinds() == ["choice"]
    assert [r.value for r in single] == ["delivery", "delivery", "quality"]


def test_single_choice_with_timestamp_sessions_keeps_the_session_names():
    t = read_prodigy_jsonl(FIX / "prodigy_unnamed_sessions.jsonl")
    assert t.annotators() == ["2024-06-01_10-01-00", "2024-06-01_10-02-00"]
    assert [r.value for r in t] == ["POS", "POS", "NEG", "POS"]
    assert t.kinds() == ["choice"]


def test_binary_classification_groups_by_task_hash_with_label_as_control():
    t = read_prodigy_jsonl(FIX / "prodigy_textcat_binary.jsonl")
    assert rows(t) == [
        ("9001", "ann1", "accept", "binary", "FINANCE"),
        ("9002", "ann1", "reject", "binary", "SPORTS"),
        ("9001", "ann2", "accept", "binary", "FINANCE"),
        ("9002", "ann2", "accept", "binary", "SPORTS"),
        ("9003", "ann1", "accept", "binary", "SPORTS"),
    ]
    assert t.skipped["ignored"] == 1
    assert [r.item for r in t.select_control("SPORTS")] == ["9002", "9002", "9003"]


def test_ner_manual_gives_char_offset_spans_and_drops_manual_reject():
    t = read_prodigy_jsonl(FIX / "prodigy_ner_manual.jsonl")
    a1 = t.records[0]
    assert a1.kind == "spans" and a1.annotator == "annotator1"
    assert a1.value == (Span(0, 12, "PERSON"), Span(25, 40, "PERSON"), Span(44, 50, "GPE"))
    assert a1.text[25:40] == "Charles Babbage"
    assert [(r.item, r.annotator, r.value) for r in t.records[1:]] == [
        ("71", "annotator2", (Span(0, 12, "PERSON"), Span(44, 50, "GPE"))),
        ("81", "annotator1", ()),
    ]
    assert t.skipped["rejected"] == 1


def test_mixed_views_are_kept_apart_by_control():
    t = read_prodigy_jsonl(FIX / "prodigy_mixed_views.jsonl")
    assert t.controls() == ["FINANCE", "SPORTS", "ner_manual"]
    assert set(t.annotators()) == {"annotator1", "annotator2", "ann1"}
    with pytest.raises(UsageError, match="--control"):
        t.select_control()
    assert t.select_control("ner_manual").kinds() == ["spans"]


def test_dataset_prefix_given_or_inferred():
    assert strip_dataset_prefix(["ds-x-alice", "ds-x-bob"]) == {
        "ds-x-alice": "alice",
        "ds-x-bob": "bob",
    }
    assert strip_dataset_prefix(["ds-x-alice"], dataset="ds") == {"ds-x-alice": "x-alice"}
    assert strip_dataset_prefix(["alice", "ds-bob"]) == {"alice": "alice", "ds-bob": "ds-bob"}
    assert strip_dataset_prefix(["other-alice"], dataset="ds") == {"other-alice": "other-alice"}


def test_annotator_id_wins_over_session_id():
    eg = {
        "text": "t",
        "label": "A",
        "_input_hash": 1,
        "_task_hash": 2,
        "_view_id": "classification",
        "answer": "accept",
        "_annotator_id": "ds-carol",
        "_session_id": "ds-other",
    }
    assert read_prodigy_examples([eg], dataset="ds").records[0].annotator == "carol"
    eg2 = dict(eg, _annotator_id=None, _session_id=None)
    assert read_prodigy_examples([eg2]).records[0].annotator == "unknown"


def test_other_interfaces_group_by_input_hash():
    eg = {
        "image": "a.jpg",
        "_input_hash": 11,
        "_task_hash": 12,
        "_view_id": "image",
        "answer": "reject",
        "_session_id": "imgs-dana",
    }
    t = read_prodigy_examples([eg])
    assert rows(t) == [("11", "dana", "reject", "binary", "image")]


def test_bad_examples_are_all_listed_with_their_place():
    egs = [
        {"answer": "maybe", "_input_hash": 1, "_task_hash": 1, "_view_id": "classification"},
        {"answer": "accept", "_task_hash": 1, "_view_id": "image"},
        {
            "answer": "accept",
            "_input_hash": 1,
            "_task_hash": 1,
            "_view_id": "choice",
            "accept": "A",
        },
    ]
    with pytest.raises(InputError) as err:
        read_prodigy_examples(egs)
    msg = str(err.value)
    assert "3 problem(s)" in msg
    assert "example 1: answer is 'maybe', not accept/reject/ignore" in msg
    assert "example 2: no _input_hash" in msg
    assert "example 3: accept is 'A'" in msg
    assert "prodigy db-out" in msg


def test_json_list_of_examples_is_read_as_prodigy(tmp_path):
    lines = (FIX / "prodigy_textcat_binary.jsonl").read_text().splitlines()
    path = tmp_path / "dataset.json"
    path.write_text("[" + ",\n".join(lines) + "]")
    assert rows(read_annotations(path)) == rows(
        read_prodigy_jsonl(FIX / "prodigy_textcat_binary.jsonl")
    )


def test_progress_is_reported_up_to_the_file_size(tmp_path):
    src = (FIX / "prodigy_textcat_binary.jsonl").read_text()
    path = tmp_path / "big.jsonl"
    path.write_text(src * 4000)  # ~1.2 MB
    calls = []
    t = read_annotations(path, progress=lambda done, total: calls.append((done, total)))
    size = path.stat().st_size
    assert len(t) == 5 * 4000
    assert calls[-1] == (size, size)
    assert len(calls) >= 2
    assert all(a <= b for (a, _), (b, _) in itertools.pairwise(calls))


def test_older_examples_without_view_id_and_text_input():
    old = {
        "text": "t",
        "label": "SPORTS",
        "_input_hash": 1,
        "_task_hash": 2,
        "answer": "reject",
        "_session_id": None,
    }
    typed = {
        "text": "t",
        "_input_hash": 1,
        "_task_hash": 3,
        "_view_id": "text_input",
        "field_id": "summary",
        "summary": "short one",
        "answer": "accept",
        "_session_id": "ds-eve",
    }
    empty = dict(typed, summary=None)
    t = read_prodigy_examples([old, typed, empty])
    assert rows(t) == [
        ("2", "unknown", "reject", "binary", "SPORTS"),
        ("1", "eve", "short one", "text", "text_input"),
    ]
