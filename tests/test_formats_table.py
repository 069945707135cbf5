"""Table reader and writer: column options, kinds, and round trips table <-> frame <-> files."""

from __future__ import annotations

import json

import pytest
from aqt.errors import InputError
from aqt.formats import read_annotations, read_table, write_table
from aqt.records import Annotation, AnnotationTable, Span
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SUFFIXES = [".csv", ".tsv", ".jsonl", ".parquet"]


def mixed_table() -> AnnotationTable:
    return AnnotationTable.from_records(
        [
            Annotation(
                "007",
                "alice",
                "Positive",
                "choice",
                "sentiment",
                1717236000.5,
                "v1",
                "shop-A",
                "11",
                'She said "fine",\nthen left.',
            ),
            Annotation("007", "bob", frozenset({"a", "b, c"}), "multichoice", "topics"),
            Annotation("8", "bob", frozenset(), "multichoice", "topics"),
            Annotation("8", "alice", (Span(0, 4, "ORG"), Span(5, 9, "PER")), "spans", "ents"),
            Annotation("8", "carol", (), "spans", "ents"),
            Annotation("9", "carol", 4.0, "rating", "stars", None, None, None, None, "ünïcødé"),
            Annotation("9", "dave", 2.5, "number", "n"),
            Annotation("10", "dave", "left", "pairwise", "cmp"),
            Annotation("10", "erin", "accept", "binary", "FINANCE"),
            Annotation("11", "erin", "free text, with comma", "text", "comment"),
            Annotation("12", "NA", "null", "choice", ""),
        ]
    )


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_round_trip_every_kind(tmp_path, suffix):
    table = mixed_table()
    path = tmp_path / f"t{suffix}"
    write_table(table, path)
    back = read_table(path)
    assert back.records == table.records
    assert back == read_annotations(path)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_round_trip_through_the_frame(tmp_path, suffix):
    table = mixed_table()
    frame = table.to_frame()
    again = AnnotationTable.from_frame(frame)
    path = tmp_path / f"f{suffix}"
    write_table(again, path)
    assert AnnotationTable.from_frame(read_table(path).to_frame()).records == table.records


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_write_is_atomic_and_leaves_no_temp_files(tmp_path, suffix):
    path = tmp_path / f"out{suffix}"
    path.write_text("old")
    write_table(mixed_table(), path)
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    assert path.read_text() != "old"


def test_write_unknown_extension_names_the_fix(tmp_path):
    with pytest.raises(InputError) as err:
        write_table(mixed_table(), tmp_path / "out.xlsx")
    assert str(err.value) == (
        "Cannot tell the table format from 'out.xlsx'. "
        "Fix: End the file name with .csv, .tsv, .jsonl or .parquet."
    )


def test_jsonl_values_are_native_json(tmp_path):
    path = tmp_path / "t.jsonl"
    write_table(mixed_table(), path)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[1]["label"] == ["a", "b, c"]
    assert lines[3]["label"] == [
        {"start": 0, "end": 4, "label": "ORG"},
        {"start": 5, "end": 9, "label": "PER"},
    ]
    assert lines[5]["label"] == 4.0


def test_renamed_columns_and_kind_option(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("doc,rater,score\nd1,r1,4\nd1,r2,5\nd2,r1,\n")
    t = read_table(path, item_col="doc", annotator_col="rater", label_col="score")
    assert [(r.item, r.annotator, r.value, r.kind) for r in t] == [
        ("d1", "r1", "4", "choice"),
        ("d1", "r2", "5", "choice"),
    ]
    rated = read_annotations(
        path, item_col="doc", annotator_col="rater", label_col="score", kind="rating"
    )
    assert [r.value for r in rated] == [4.0, 5.0]


def test_value_column_stands_in_for_label_and_iso_timestamps(tmp_path):
    path = tmp_path / "v.csv"
    path.write_text(
        "item,annotator,value,timestamp\n1,a,x,2024-06-01T10:00:00Z\n1,b,y,1717236000\n"
    )
    t = read_table(path)
    assert [(r.value, r.timestamp) for r in t] == [("x", 1717236000.0), ("y", 1717236000.0)]


def test_jsonl_infers_sets_and_spans_without_kind_column(tmp_path):
    path = tmp_path / "k.jsonl"
    path.write_text(
        '{"item": 1, "annotator": "a", "label": ["x", "y"]}\n'
        '{"item": 2, "annotator": "a", "label": [{"start": 0, "end": 2, "label": "P"}]}\n'
        '{"item": 3, "annotator": "a", "label": 5}\n'
        '{"item": 4, "annotator": "a", "label": 5.0}\n'
    )
    t = read_table(path)
    assert [(r.item, r.kind, r.value) for r in t] == [
        ("1", "multichoice", frozenset({"x", "y"})),
        ("2", "spans", (Span(0, 2, "P"),)),
        ("3", "choice", "5"),
        ("4", "choice", "5"),
    ]


def test_json_list_of_rows_is_a_table(tmp_path):
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([{"item": "i", "annotator": "a", "label": "L"}]))
    assert [r.value for r in read_annotations(path)] == ["L"]


def test_parquet_written_by_pandas_with_native_types(tmp_path):
    import pandas as pd

    path = tmp_path / "p.parquet"
    pd.DataFrame({"item": [1, 1], "annotator": ["a", "b"], "label": [3, 4]}).to_parquet(path)
    t = read_annotations(path, kind="rating")
    assert [(r.item, r.value) for r in t] == [("1", 3.0), ("1", 4.0)]


def test_bad_rows_are_listed_with_line_numbers(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(
        "item,annotator,label,kind\n1,a,x,choice\n,b,y,choice\n2,c,high,rating\n3,d,z,colour\n"
    )
    with pytest.raises(InputError) as err:
        read_table(path)
    msg = str(err.value)
    assert msg.startswith("bad.csv has bad rows: 3 problem(s): line 3: empty item; ")
    assert "line 4: rating value 'high'" in msg
    assert "line 5: colour value 'z': unknown kind" in msg
    assert msg.endswith("Fix: Fix or delete those rows.")


# any text but NUL (a NUL byte makes a file binary) and lone surrogates (not encodable)
names = st.text(
    alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)),
    min_size=1,
    max_size=8,
)
values = st.one_of(
    st.tuples(st.just("multichoice"), st.frozensets(names, max_size=3)),
    st.tuples(st.sampled_from(["choice", "binary", "pairwise", "text"]), names),
    st.tuples(st.sampled_from(["rating", "number"]), st.floats(allow_nan=False)),
    st.tuples(
        st.just("spans"),
        st.lists(st.tuples(st.integers(0, 99), st.integers(0, 99), names), max_size=3).map(
            lambda xs: tuple(sorted(Span(a, a + b, c) for a, b, c in xs))
        ),
    ),
)
optional = st.one_of(st.none(), names)
records = st.builds(
    lambda item, ann, kv, control, ts, gv, source, aid, text: Annotation(
        item, ann, kv[1], kv[0], control, ts, gv, source, aid, text
    ),
    names,
    names,
    values,
    st.one_of(st.just(""), names),
    st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False)),
    optional,
    optional,
    optional,
    optional,
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(records, min_size=1, max_size=8), st.sampled_from(SUFFIXES))
def test_round_trip_property(tmp_path, recs, suffix):
    table = AnnotationTable.from_records(recs)
    path = tmp_path / f"h{suffix}"
    write_table(table, path)
    assert read_table(path).records == table.records


def test_fast_record_constructor_gives_equal_records():
    from aqt.formats._common import fast_annotation

    make = fast_annotation()
    args = ("i", "a", frozenset({"x"}), "multichoice", "c", 1.5, "v1", "s", "id", "t")
    fast, slow = make(*args), Annotation(*args)
    assert fast == slow and hash(fast) == hash(slow) and fast.to_dict() == slow.to_dict()
    assert make("i", "a", "x") == Annotation("i", "a", "x")
    with pytest.raises(AttributeError):
        fast.item = "other"


def test_table_jsonl_reports_progress(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"item": "1", "annotator": "a", "label": "x"}\n' * 30000)
    calls = []
    read_annotations(path, progress=lambda done, total: calls.append((done, total)))
    assert calls[-1] == (path.stat().st_size, path.stat().st_size) and len(calls) >= 2


def test_jsonl_table_with_only_bad_lines_reports_them(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text('{"item": 1,\n{"item": 2,\n')
    with pytest.raises(InputError) as err:
        read_table(path)
    assert str(err.value).startswith("t.jsonl is not valid JSON Lines: 2 problem(s): line 1: ")


def test_readers_restore_the_garbage_collector_state(tmp_path):
    import gc

    good = tmp_path / "t.csv"
    good.write_text("item,annotator,label\n1,a,x\n")
    bad = tmp_path / "b.csv"
    bad.write_text("item,annotator,label\n,a,x\n")
    assert gc.isenabled()
    read_table(good)
    with pytest.raises(InputError):
        read_table(bad)
    assert gc.isenabled()
    gc.disable()
    try:
        read_table(good)
        assert not gc.isenabled()
    finally:
        gc.enable()
