import pytest
from aqt.errors import InputError, UsageError
from aqt.records import (
    Annotation,
    AnnotationTable,
    Span,
    natural_key,
    normalize_value,
    value_to_json,
)


def _table():
    return AnnotationTable.from_records(
        [
            Annotation("1", "alice", "pos", control="sentiment"),
            Annotation("1", "bob", "neg", control="sentiment"),
            Annotation("10", "alice", frozenset({"a", "b"}), kind="multichoice", control="topics"),
            Annotation("2", "bob", (Span(0, 4, "PER"),), kind="spans", control="ner"),
            Annotation("2", "carol", 4.0, kind="rating", control="stars", timestamp=1700000000.0),
        ],
        {"cancelled": 2},
    )


def test_natural_order_of_items_and_annotators():
    t = _table()
    assert t.items() == ["1", "2", "10"]
    assert t.annotators() == ["alice", "bob", "carol"]
    assert sorted(["item10", "item9", "item1"], key=natural_key) == ["item1", "item9", "item10"]


def test_skipped_counts_keep_both_keys():
    assert dict(_table().skipped) == {"cancelled": 2, "ignored": 0}


def test_select_control_requires_a_choice_and_names_the_controls():
    t = _table()
    with pytest.raises(UsageError) as err:
        t.select_control()
    assert "4 controls" in str(err.value) and "--control" in str(err.value)
    with pytest.raises(UsageError) as err:
        t.select_control("nope")
    assert "'sentiment'" in str(err.value)
    one = t.select_control("sentiment")
    assert len(one) == 2 and one.controls() == ["sentiment"]
    assert one.select_control() is one


def test_frame_round_trip_keeps_values_and_skipped():
    t = _table()
    frame = t.to_frame()
    assert list(frame.columns)[:3] == ["item", "annotator", "value"]
    back = AnnotationTable.from_frame(frame)
    assert back == t


def test_from_frame_accepts_json_strings_for_sets_and_spans():
    import pandas as pd

    frame = pd.DataFrame(
        {
            "item": [1, 2],
            "annotator": ["a", "b"],
            "value": ['["x", "y"]', '[{"start": 0, "end": 3, "label": "ORG"}]'],
            "kind": ["multichoice", "spans"],
        }
    )
    t = AnnotationTable.from_frame(frame)
    assert t.records[0].value == frozenset({"x", "y"})
    assert t.records[1].value == (Span(0, 3, "ORG"),)
    assert t.records[0].item == "1"


def test_from_frame_names_missing_columns():
    import pandas as pd

    with pytest.raises(InputError) as err:
        AnnotationTable.from_frame(pd.DataFrame({"id": [1], "who": ["a"]}))
    assert "'item'" in str(err.value) and "'id'" in str(err.value)


def test_normalize_value_by_kind():
    assert normalize_value("rating", "4") == 4.0
    assert normalize_value("multichoice", ["b", "a"]) == frozenset({"a", "b"})
    assert normalize_value("spans", [{"start": 5, "end": 9, "label": "X"}, (0, 2, "Y")]) == (
        Span(0, 2, "Y"),
        Span(5, 9, "X"),
    )
    assert value_to_json(frozenset({"b", "a"})) == ["a", "b"]
    with pytest.raises(InputError):
        normalize_value("rating", float("nan"))
    with pytest.raises(InputError) as err:
        normalize_value("bogus", 1)
    assert "choice" in str(err.value)


def test_select_control_on_data_without_control_names():
    t = AnnotationTable.from_records([Annotation("1", "a", "x"), Annotation("1", "b", "y")])
    with pytest.raises(UsageError) as err:
        t.select_control("sentiment")
    assert "no control names" in str(err.value) and "Leave out --control" in str(err.value)
