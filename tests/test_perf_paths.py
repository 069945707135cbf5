"""The columnar path (tables read column-wise, codes built on arrays) equals the record path."""

from __future__ import annotations

import json
import pickle

import aqt.formats.table
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from aqt.agreement import agreement_report
from aqt.agreement.encode import codes_from_columns, codes_matrix, domain
from aqt.errors import AqtError, UsageError
from aqt.formats import read_annotations
from aqt.records import Annotation, AnnotationTable, TableColumns

ITEMS = ["1", "2", "10", "007", "7", "a1", "a10", "ü-item", "日本", "x 2"]
ANNOTATORS = ["a1", "a2", "a10", "b", "Zoë"]
LABELS = ["1", "2", "10", "2.5", "-1", "é", "日本", "yes", "no", "01"]


def random_judgements(seed: int, n_items: int = 60, labels=LABELS) -> list[tuple[str, str, str]]:
    """Judgements in random order with missing ones and repeats (the last one counts)."""
    rng = np.random.default_rng(seed)
    items = ITEMS + [str(i) for i in range(100, 100 + n_items)]
    rows = []
    for item in items:
        for ann in ANNOTATORS:
            if rng.random() < 0.3:  # missing
                continue
            for _ in range(1 + int(rng.random() < 0.1)):  # sometimes judged twice
                rows.append((item, ann, labels[int(rng.integers(0, len(labels)))]))
    order = rng.permutation(len(rows))
    return [rows[i] for i in order]


def tables(rows):
    records = AnnotationTable.from_records(Annotation(i, a, v) for i, a, v in rows)
    items, anns, values = (list(col) for col in zip(*rows))
    arrow = AnnotationTable.from_columns(
        TableColumns(pa.array(items), pa.array(anns), pa.array(values))
    )
    lists = AnnotationTable.from_columns(TableColumns(items, anns, values))
    return records, arrow, lists


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"weights": "linear", "max_disagreements": 5},
        {"categories": ["no", "yes", "é", "日本", "-1", "1", "01", "2", "2.5", "10", "unused"]},
        {"ci": 20, "seed": 3},
    ],
)
def test_report_equal_on_both_paths(seed, options):
    records, arrow, lists = tables(random_judgements(seed))
    assert arrow.columns is not None and records.columns is None
    expected = agreement_report(records, **options).to_dict()
    assert agreement_report(arrow, **options).to_dict() == expected
    assert agreement_report(lists, **options).to_dict() == expected
    assert arrow.columns is not None  # the report built no records


@pytest.mark.parametrize("level", ["ordinal", "interval", "ratio"])
def test_numeric_levels_equal_on_both_paths(level):
    labels = ["1", "2", "3", "10", "4.5", "0"]
    records, arrow, _ = tables(random_judgements(11, 3000, labels))
    expected = agreement_report(records, level=level, weights="quadratic").to_dict()
    assert agreement_report(arrow, level=level, weights="quadratic").to_dict() == expected
    assert expected["categories"] == ["0", "1", "2", "3", "4.5", "10"]


def test_many_numeric_ids_rank_like_the_record_path():
    """More than a thousand all-digit ids take the vectorised ranking; '07' and '7' tie."""
    rng = np.random.default_rng(5)
    ids = [str(i) for i in rng.permutation(3000)] + ["07", "0", "00"]
    rows = [(i, f"a{k}", str(int(rng.integers(0, 3)))) for i in ids for k in range(3)]
    rows += [(ids[0], "a0", "9")]  # a repeat: the last judgement counts
    items, anns, labels = zip(*rows)
    dom = domain(labels)
    X, item_ids, ann_ids = codes_matrix(items, anns, labels, dom)
    X2, item_ids2, ann_ids2, dom2 = codes_from_columns(
        pa.array(items), pa.array(anns), pa.array(labels)
    )
    assert (dom2, item_ids2, ann_ids2) == (dom, item_ids, ann_ids)
    assert np.array_equal(X, X2)
    assert item_ids[:4] == ["0", "00", "1", "2"] or item_ids[:3] == ["00", "0", "1"]


def test_unknown_category_error_is_the_same():
    records, arrow, _ = tables(random_judgements(2))
    errors = []
    for table in (records, arrow):
        with pytest.raises(AqtError) as exc:
            agreement_report(table, categories=["yes", "no"])
        errors.append(str(exc.value))
    assert errors[0] == errors[1] and "not in the categories" in errors[0]


def test_columnar_table_api_matches_records():
    rows = random_judgements(4)
    records, arrow, lists = tables(rows)
    for table in (arrow, lists):
        assert len(table) == len(records)
        assert table.items() == records.items()
        assert table.annotators() == records.annotators()
        assert table.controls() == records.controls() == [""]
        assert table.kinds() == records.kinds() == ["choice"]
        assert table.select_control() is table
        assert table.select_control("") is table
        with pytest.raises(UsageError, match="no control names"):
            table.select_control("sentiment")
        assert pickle.loads(pickle.dumps(table)) == records
    assert arrow == records and lists == records
    assert arrow.to_frame().equals(records.to_frame())
    assert list(arrow) == list(records.records)
    assert arrow.columns is None  # iterating built the records
    assert records.with_records(records.records[:3]) == arrow.with_records(list(arrow)[:3])


def test_empty_columns_behave_like_no_records():
    table = AnnotationTable.from_columns(TableColumns([], [], []))
    empty = AnnotationTable.from_records([])
    assert table == empty and len(table) == 0
    assert table.controls() == empty.controls() == []
    assert agreement_report(table).to_dict() == agreement_report(empty).to_dict()


def test_columns_must_have_equal_length():
    with pytest.raises(ValueError, match="length"):
        TableColumns(["1"], ["a"], [])


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def test_jsonl_reads_column_wise_and_equals_the_line_reader(tmp_path, monkeypatch):
    rows = random_judgements(7)
    data = [{"item": i, "annotator": a, "label": v} for i, a, v in rows]
    data[3]["label"] = ""  # no judgement
    data[4]["label"] = None
    data[5] = {"item": "5", "annotator": "b"}  # no label key
    path = tmp_path / "t.jsonl"
    write_jsonl(path, data)
    blank = tmp_path / "blank.jsonl"  # blank lines and CRLF line ends
    text = path.read_text(encoding="utf-8")
    blank.write_bytes(("\n\n" + text.replace("\n", "\r\n", 5) + "\n  \n").encode("utf-8"))
    fast = read_annotations(path)
    fast_blank = read_annotations(blank)
    assert fast.columns is not None and fast_blank.columns is not None
    monkeypatch.setattr(aqt.formats.table, "jsonl_columnar", lambda *args, **kwargs: None)
    slow = read_annotations(path)
    assert slow.columns is None
    assert fast == slow and fast_blank == slow
    assert agreement_report(fast).to_dict() == agreement_report(slow).to_dict()


def test_jsonl_integer_ids_and_labels(tmp_path):
    path = tmp_path / "t.jsonl"
    write_jsonl(
        path,
        [
            {"item": 1, "annotator": 7, "label": 3},
            {"item": 2, "annotator": 7, "label": -4},
            {"item": 1, "annotator": 8, "label": 3},
        ],
    )
    table = read_annotations(path)
    assert table.columns is not None
    assert [(r.item, r.annotator, r.value) for r in table] == [
        ("1", "7", "3"),
        ("2", "7", "-4"),
        ("1", "8", "3"),
    ]


@pytest.mark.parametrize(
    "lines",
    [
        [
            '{"item": "1", "annotator": "a", "label": 1.0}',
            '{"item": "1", "annotator": "b", "label": "1"}',
        ],
        ['{"item": "1", "annotator": "a", "label": true}'],
        ['{"item": "1", "annotator": "a", "label": "x", "control": "c"}'],
        ['{"item": "1", "annotator": "a", "label": ["x", "y"]}'],
        ['{"item": 1.0, "annotator": "a", "label": "x"}'],
    ],
)
def test_jsonl_unusual_values_take_the_line_reader(tmp_path, lines):
    path = tmp_path / "t.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    table = read_annotations(path)
    assert table.columns is None
    assert all(r.item == "1" for r in table)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        (
            '{"item": "1", "annotator": "a", "label": "x"}{"item": "2", "annotator": "a", "label": "y"}\n',
            "line 2",
        ),
        ('{"item": "2", "annotator": "a", "label": "y"} {"item": "3"}\n', "line 2"),
        (
            '{"item": "2", "item": "3", "annotator": "a", "label": "y"}\n{"item": "", "annotator": "a", "label": "y"}\n',
            "line 3",
        ),
    ],
)
def test_jsonl_bad_lines_keep_the_line_reader_errors(tmp_path, text, where):
    path = tmp_path / "t.jsonl"
    path.write_text('{"item": "1", "annotator": "a", "label": "x"}\n' + text, encoding="utf-8")
    with pytest.raises(AqtError) as exc:
        read_annotations(path)
    assert where in str(exc.value)


def test_jsonl_invalid_utf8_keeps_the_line_reader_error(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_bytes(
        b'{"item": "1", "annotator": "a", "label": "x"}\n'
        b'{"item": "2", "annotator": "a", "label": "\xff"}\n'
    )
    with pytest.raises(AqtError, match="line 2"):
        read_annotations(path)


def test_csv_and_parquet_read_column_wise(tmp_path):
    rows = random_judgements(9)
    csv_path = tmp_path / "t.csv"
    lines = ["item,annotator,label"] + [f"{i},{a},{v}" for i, a, v in rows] + ["11,b,"]
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    expected = AnnotationTable.from_records(Annotation(i, a, v) for i, a, v in rows)
    from_csv = read_annotations(csv_path)
    assert from_csv.columns is not None and from_csv == expected

    pq_path = tmp_path / "t.parquet"
    items, anns, values = (list(c) for c in zip(*rows))
    pq.write_table(pa.table({"item": items, "annotator": anns, "label": values}), pq_path)
    from_parquet = read_annotations(pq_path)
    assert from_parquet.columns is not None and from_parquet == expected

    ints = tmp_path / "i.parquet"
    pq.write_table(pa.table({"item": [1, 2], "annotator": [5, 5], "label": [3, None]}), ints)
    table = read_annotations(ints)
    assert table.columns is not None
    assert [(r.item, r.annotator, r.value) for r in table] == [("1", "5", "3")]


def test_csv_with_a_missing_id_keeps_the_row_error(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("item,annotator,label\n1,a,x\n,b,y\n", encoding="utf-8")
    with pytest.raises(AqtError, match="line 3: empty item"):
        read_annotations(path)


def test_parquet_float_labels_take_the_row_reader(tmp_path):
    path = tmp_path / "f.parquet"
    pq.write_table(
        pa.table({"item": ["1", "1"], "annotator": ["a", "b"], "label": [2.0, 2.5]}), path
    )
    table = read_annotations(path)
    assert table.columns is None
    assert [r.value for r in table] == ["2", "2.5"]
