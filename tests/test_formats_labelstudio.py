"""Label Studio readers: JSON export, API read-back, JSON_MIN and CSV.

``ls_min.json``, ``ls.csv`` and the pairwise JSON_MIN/CSV fixtures were produced from
``ls_export.json`` by label-studio-sdk's own converter (the code the server runs for exports).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aqt.errors import FormatError, InputError, UsageError
from aqt.formats import (
    detect_format,
    parse_label_config,
    read_annotations,
    read_labelstudio_csv,
    read_labelstudio_json,
    read_labelstudio_min,
    read_labelstudio_tasks,
)
from aqt.records import Span

FIX = Path(__file__).parent / "fixtures" / "formats"
CONFIG = (FIX / "ls_config.xml").read_text()

EXPECTED = [
    ("101", "1", "comment", "text", "late delivery\nworks"),
    ("101", "1", "entities", "spans", (Span(0, 4, "ORG"), Span(5, 10, "PRODUCT"))),
    ("101", "1", "helpfulness", "rating", 4.0),
    ("101", "1", "sentiment", "choice", "Positive"),
    ("101", "1", "stars", "number", 5.0),
    ("101", "1", "topics", "multichoice", frozenset({"delivery", "quality"})),
    ("101", "2", "entities", "spans", (Span(0, 4, "ORG"),)),
    ("101", "2", "helpfulness", "rating", 3.0),
    ("101", "2", "sentiment", "choice", "Neutral"),
    ("101", "2", "topics", "multichoice", frozenset({"delivery"})),
    ("102", "1", "entities", "spans", (Span(4, 16, "PRODUCT"),)),
    ("102", "1", "sentiment", "choice", "Negative"),
    ("102", "1", "topics", "multichoice", frozenset({"price"})),
    ("102", "3", "entities", "spans", ()),
    ("102", "3", "sentiment", "choice", "Negative"),
]


def key(table):
    return sorted(((r.item, r.annotator, r.control, r.kind, r.value) for r in table), key=repr)


def test_json_export_every_result_type_and_cancelled_counted():
    t = read_labelstudio_json(FIX / "ls_export.json", label_config=CONFIG)
    assert key(t) == sorted(EXPECTED, key=repr)
    assert dict(t.skipped) == {"cancelled": 1, "ignored": 0}
    first = t.records[0]
    assert first.annotation_id == "1"
    assert first.text == "Acme phone arrived late but works great."
    assert first.timestamp == 1717236000.0  # 2024-06-01T10:00:00Z


def test_json_export_without_config_infers_the_same_kinds():
    with_config = read_labelstudio_json(FIX / "ls_export.json", label_config=CONFIG)
    assert key(read_annotations(FIX / "ls_export.json")) == key(with_config)


def test_config_says_multiple_even_when_every_answer_has_one_choice():
    tasks = json.loads((FIX / "ls_export.json").read_text())
    for task in tasks:
        for ann in task["annotations"]:
            for res in ann["result"]:
                if res["from_name"] == "topics":
                    res["value"]["choices"] = res["value"]["choices"][:1]
    no_config = read_labelstudio_tasks(tasks).select_control("topics")
    assert no_config.kinds() == ["choice"]
    configured = read_labelstudio_tasks(tasks, label_config=CONFIG).select_control("topics")
    assert configured.kinds() == ["multichoice"]
    assert [r.value for r in configured] == [frozenset({"delivery"})] * 2 + [frozenset({"price"})]


def test_users_map_gives_emails_for_int_ids():
    t = read_labelstudio_tasks(
        json.loads((FIX / "ls_export.json").read_text()),
        users={1: "ann@example.com", 2: "ben@x.org"},
    )
    assert t.annotators() == ["3", "ann@example.com", "ben@x.org"]


def test_api_read_back_shape_with_completed_by_objects():
    assert detect_format(FIX / "ls_api_tasks.json") == "labelstudio"
    t = read_annotations(FIX / "ls_api_tasks.json")
    assert t.annotators() == ["user1@example.com", "user2@example.com"]
    assert len(t) == 10


@pytest.mark.parametrize("name", ["ls_min.json", "ls.csv"])
def test_flat_exports_match_the_json_export(name):
    t = read_annotations(FIX / name)
    assert key(t) == sorted(EXPECTED, key=repr)
    assert dict(t.skipped) == {"cancelled": 0, "ignored": 0}
    by_id = {r.annotation_id: r for r in t}
    assert by_id["5"].text == "The Zento kettle is overpriced."
    assert by_id["5"].timestamp == 1717236000.0


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("ls_pairwise.json", "labelstudio"),
        ("ls_pairwise_min.json", "labelstudio-min"),
        ("ls_pairwise.csv", "labelstudio-csv"),
    ],
)
def test_pairwise_in_every_label_studio_format(name, fmt):
    assert detect_format(FIX / name) == fmt
    t = read_annotations(FIX / name)
    assert [(r.item, r.annotator, r.value, r.kind, r.control) for r in t] == [
        ("201", "1", "left", "pairwise", "comparison"),
        ("201", "2", "right", "pairwise", "comparison"),
    ]


def test_json_min_string_columns_told_apart_by_variation_within_a_task():
    rows = [
        {"text": "a", "lang": "en", "id": 1, "label_a": "X", "annotator": 1, "annotation_id": 1},
        {"text": "a", "lang": "en", "id": 1, "label_a": "Y", "annotator": 2, "annotation_id": 2},
        {"text": "b", "lang": "en", "id": 2, "annotator": 1, "annotation_id": 3},
    ]
    t = read_labelstudio_min(rows)
    assert [(r.item, r.annotator, r.value, r.control) for r in t] == [
        ("1", "1", "X", "label_a"),
        ("1", "2", "Y", "label_a"),
    ]


def test_json_min_one_annotator_per_task_uses_the_few_valued_column():
    rows = [
        {
            "text": f"review number {i}",
            "id": i,
            "sentiment": ["Pos", "Neg"][i % 2],
            "annotator": 1,
            "annotation_id": i,
        }
        for i in range(6)
    ]
    assert read_labelstudio_min(rows).controls() == ["sentiment"]


def test_json_min_ambiguous_columns_ask_for_the_hint():
    rows = [
        {
            "lang": ["en", "de"][i % 2],
            "id": i,
            "sentiment": ["Pos", "Neg"][i % 3 == 0],
            "annotator": 1,
            "annotation_id": i,
        }
        for i in range(6)
    ]
    with pytest.raises(UsageError) as err:
        read_labelstudio_min(rows)
    assert "'lang', 'sentiment' could be either" in str(err.value)
    assert "--label-col" in str(err.value)
    assert read_labelstudio_min(rows, controls=["sentiment"]).controls() == ["sentiment"]


def test_label_col_names_the_control_columns_of_a_flat_export(tmp_path):
    t = read_annotations(FIX / "ls.csv", label_col="sentiment,helpfulness")
    assert t.controls() == ["helpfulness", "sentiment"]
    with pytest.raises(UsageError) as err:
        read_annotations(FIX / "ls.csv", label_col="mood")
    assert "No column 'mood' in ls.csv; columns found: 'annotation_id'" in str(err.value)


def test_kind_option_forces_the_value_kind():
    rows = [
        {"id": 1, "q": "4", "annotator": 1, "annotation_id": 1},
        {"id": 1, "q": "5", "annotator": 2, "annotation_id": 2},
    ]
    t = read_labelstudio_min(rows, kind="rating")
    assert [r.value for r in t] == [4.0, 5.0] and t.kinds() == ["rating"]
    with pytest.raises(InputError, match="is not a rating"):
        read_labelstudio_min([dict(rows[0], q="good"), rows[1]], kind="rating")


def test_csv_colliding_data_column_is_task_data(tmp_path):
    path = tmp_path / "c.csv"
    path.write_text(
        '"_data_text","annotation_id","annotator","created_at","id","lead_time","text","updated_at"\n'
        '"hello",1,"1","2024-06-01T10:00:00Z",5,1.0,"a note","2024-06-01T10:00:00Z"\n'
        '"hello",2,"2","2024-06-01T10:00:00Z",5,1.0,"another","2024-06-01T10:00:00Z"\n'
    )
    t = read_labelstudio_csv(path)
    assert [(r.control, r.value, r.text) for r in t] == [
        ("text", "a note", "hello"),
        ("text", "another", "hello"),
    ]


def test_parse_label_config_and_bad_xml():
    assert parse_label_config(CONFIG) == {
        "sentiment": ("choices", "single"),
        "topics": ("choices", "multiple"),
        "entities": ("labels", "single"),
        "helpfulness": ("rating", "single"),
        "stars": ("number", "single"),
        "comment": ("textarea", "single"),
    }
    with pytest.raises(FormatError, match="labeling config is not valid XML"):
        parse_label_config("<View><Choices></View>")


def test_tasks_that_are_not_tasks_are_listed():
    with pytest.raises(InputError) as err:
        read_labelstudio_tasks(
            [{"id": 1, "data": {}}, "x", {"id": 3, "annotations": [{"result": []}]}]
        )
    msg = str(err.value)
    assert "task 0: not a task with 'annotations'" in msg
    assert "task 1: not a task" in msg
    assert "task 3 annotation 0: no completed_by" in msg


def test_export_with_no_annotations_says_so(tmp_path):
    path = tmp_path / "none.json"
    path.write_text(json.dumps([{"id": 1, "data": {"text": "x"}, "annotations": []}]))
    with pytest.raises(InputError, match=r"holds no annotations \(1 task\(s\)\)"):
        read_annotations(path)


def test_flat_export_of_a_project_without_annotations(tmp_path):
    path = tmp_path / "min.json"
    rows = [
        {
            "text": t,
            "id": i,
            "annotator": None,
            "annotation_id": None,
            "created_at": None,
            "updated_at": None,
            "lead_time": None,
        }
        for i, t in enumerate(["a", "b"], 1)
    ]
    path.write_text(json.dumps(rows))
    assert detect_format(path) == "labelstudio-min"
    with pytest.raises(InputError) as err:
        read_annotations(path)
    assert str(err.value) == (
        "min.json holds no annotations (2 task(s), none annotated). "
        "Fix: Annotate some tasks, then export again."
    )


def test_flat_rows_whose_controls_are_all_empty(tmp_path):
    rows = [
        {"id": 1, "sentiment": "", "annotator": 1, "annotation_id": 1},
        {"id": 1, "annotator": 2, "annotation_id": 2},
    ]
    with pytest.raises(InputError) as err:
        read_labelstudio_min(rows, controls=["sentiment"])
    assert str(err.value).startswith(
        "records holds no judgements (2 row(s), 1 task(s)): no control column 'sentiment' has a value."
    )


def test_task_list_without_annotations_is_read_as_label_studio(tmp_path):
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps([{"id": 1, "data": {"text": "x"}}]))
    assert detect_format(path) == "labelstudio"
    with pytest.raises(InputError) as err:
        read_annotations(path)
    assert "task 0: not a task with 'annotations'" in str(err.value)
    assert "Fix: Export the project again as JSON" in str(err.value)


def test_only_unsupported_result_types_are_named():
    res = {
        "from_name": "box",
        "to_name": "img",
        "type": "rectanglelabels",
        "value": {"x": 1, "y": 2, "width": 3, "height": 4, "rectanglelabels": ["Car"]},
    }
    tasks = [
        {
            "id": 1,
            "data": {"image": "a.jpg"},
            "annotations": [{"id": 1, "completed_by": 1, "result": [res]}],
        }
    ]
    with pytest.raises(InputError) as err:
        read_labelstudio_tasks(tasks)
    assert str(err.value) == (
        "tasks has only results of type 'rectanglelabels', which aqt does not read; it reads "
        "choices, labels, rating, number, pairwise, textarea. "
        "Fix: Compute agreement on a project with one of those control tags."
    )
    tasks[0]["annotations"].append(
        {
            "id": 2,
            "completed_by": 2,
            "result": [dict(res, from_name="q", type="choices", value={"choices": ["A"]})],
        }
    )
    assert [r.value for r in read_labelstudio_tasks(tasks)] == ["A"]


def test_csv_cells_with_line_breaks_and_unicode_separators(tmp_path):
    path = tmp_path / "e.csv"
    text = "line one\nline two\u2028still the same cell"
    path.write_text(
        '"annotation_id","annotator","id","sentiment","text"\n'
        f'1,"1",1,"Positive","{text}"\n'
        f'2,"2",1,"Negative","{text}"\n',
        encoding="utf-8",
    )
    t = read_labelstudio_csv(path)
    assert [(r.annotator, r.value, r.text) for r in t] == [
        ("1", "Positive", text),
        ("2", "Negative", text),
    ]
