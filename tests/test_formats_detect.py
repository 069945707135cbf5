"""Format detection by content, bad input messages, and the shipped examples."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from aqt.errors import AqtError, FormatError, InputError, UsageError
from aqt.formats import FORMATS, detect_format, read_annotations, write_table

FIX = Path(__file__).parent / "fixtures" / "formats"
EXAMPLES = Path(__file__).parent.parent / "examples"


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("ls_export.json", "labelstudio"),
        ("ls_api_tasks.json", "labelstudio"),
        ("ls_min.json", "labelstudio-min"),
        ("ls.csv", "labelstudio-csv"),
        ("prodigy_ner_manual.jsonl", "prodigy"),
        ("prodigy_textcat_binary.jsonl", "prodigy"),
    ],
)
def test_detect_fixtures(name, fmt):
    assert detect_format(FIX / name) == fmt


@pytest.mark.parametrize("suffix", [".txt", ".data", ""])
def test_detection_ignores_the_extension(tmp_path, suffix):
    for src, fmt in [
        ("ls_export.json", "labelstudio"),
        ("ls.csv", "labelstudio-csv"),
        ("prodigy_choice_multi.jsonl", "prodigy"),
        ("ls_min.json", "labelstudio-min"),
    ]:
        dst = tmp_path / f"{Path(src).stem}{suffix}"
        shutil.copy(FIX / src, dst)
        assert detect_format(dst) == fmt


def test_detect_tables_in_every_file_type(tmp_path):
    table = read_annotations(EXAMPLES / "ratings.csv")
    for suffix in (".csv", ".jsonl", ".parquet", ".tsv"):
        path = tmp_path / f"t{suffix}"
        write_table(table, path)
        assert detect_format(path) == "table"
    parquet = tmp_path / "t.parquet"
    renamed = tmp_path / "no_extension"
    shutil.copy(parquet, renamed)
    assert detect_format(renamed) == "table"
    assert read_annotations(renamed).records == table.records


def test_examples_read_as_documented():
    ls = read_annotations(EXAMPLES / "sentiment_labelstudio.json")
    assert detect_format(EXAMPLES / "sentiment_labelstudio.json") == "labelstudio"
    assert (len(ls.items()), ls.annotators()) == (
        30,
        ["alice@example.com", "bob@example.com", "carol@example.com"],
    )
    assert dict(ls.skipped) == {"cancelled": 1, "ignored": 0}
    assert {r.value for r in ls} == {"Positive", "Negative", "Neutral"}
    pg = read_annotations(EXAMPLES / "sentiment_prodigy.jsonl")
    assert detect_format(EXAMPLES / "sentiment_prodigy.jsonl") == "prodigy"
    assert pg.annotators() == ["alice", "bob", "carol"]
    assert dict(pg.skipped) == {"cancelled": 0, "ignored": 1}
    # the same judgements in both files
    by_text_ls = {(r.text, r.annotator.split("@")[0]): r.value for r in ls}
    by_text_pg = {(r.text, r.annotator): r.value for r in pg}
    assert by_text_ls == by_text_pg and len(by_text_ls) == 89
    ratings = read_annotations(EXAMPLES / "ratings.csv")
    assert detect_format(EXAMPLES / "ratings.csv") == "table"
    assert {r.value for r in ratings} <= {"1", "2", "3", "4", "5"}
    assert (len(ratings.items()), len(ratings.annotators())) == (20, 4)


def test_examples_have_the_export_field_sets():
    tasks = json.loads((EXAMPLES / "sentiment_labelstudio.json").read_text())
    ann = tasks[0]["annotations"][0]
    assert {
        "id",
        "completed_by",
        "result",
        "was_cancelled",
        "ground_truth",
        "lead_time",
        "created_at",
        "updated_at",
        "prediction",
        "parent_prediction",
        "parent_annotation",
        "last_action",
        "unique_id",
    } <= set(ann)
    assert ann["result"][0]["type"] == "choices"
    line = json.loads((EXAMPLES / "sentiment_prodigy.jsonl").read_text().splitlines()[0])
    assert {
        "_input_hash",
        "_task_hash",
        "_view_id",
        "answer",
        "accept",
        "options",
        "_timestamp",
        "_annotator_id",
        "_session_id",
    } <= set(line)


# ---------------------------------------------------------------- bad input: one line, with a fix


def one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg
    assert "Fix: " in msg
    return msg


def test_empty_file(tmp_path):
    path = tmp_path / "export.json"
    path.write_bytes(b"")
    with pytest.raises(FormatError) as err:
        read_annotations(path)
    assert one_line(err) == (
        "export.json is empty (0 bytes). Fix: Export the project again; an export with no "
        "annotations still holds '[]'."
    )


def test_whitespace_only_file(tmp_path):
    path = tmp_path / "export.jsonl"
    path.write_text("\n\n  \n")
    with pytest.raises(FormatError) as err:
        detect_format(path)
    assert one_line(err) == "export.jsonl holds only whitespace. Fix: Export the project again."


def test_empty_json_list(tmp_path):
    path = tmp_path / "export.json"
    path.write_text("[]\n")
    with pytest.raises(FormatError) as err:
        read_annotations(path)
    assert one_line(err).startswith("export.json is an empty list: no tasks or annotations.")


def test_missing_file_and_folder(tmp_path):
    with pytest.raises(InputError) as err:
        read_annotations(tmp_path / "nope.json")
    assert one_line(err).startswith("No such file: ")
    with pytest.raises(InputError) as err:
        read_annotations(tmp_path)
    assert "is a folder, not a file" in one_line(err)


def test_wrong_columns_list_what_was_found_and_the_option(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("doc,rater,sentiment\n1,a,pos\n")
    with pytest.raises(InputError) as err:
        read_annotations(path)
    assert one_line(err) == (
        "t.csv has no column 'item', 'annotator', 'label'; columns found: 'doc', 'rater', "
        "'sentiment'. Fix: Name the columns with --item-col, --annotator-col and --label-col "
        "(perhaps --item-col doc --annotator-col rater --label-col sentiment)."
    )
    assert (
        len(read_annotations(path, item_col="doc", annotator_col="rater", label_col="sentiment"))
        == 1
    )


def test_wrong_columns_without_a_guess(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("item,annotator,x,y\n1,a,p,q\n")
    with pytest.raises(InputError) as err:
        read_annotations(path)
    assert one_line(err) == (
        "t.csv has no column 'label'; columns found: 'item', 'annotator', 'x', 'y'. "
        "Fix: Name the columns with --item-col, --annotator-col and --label-col."
    )


def test_malformed_json_lines_say_which_lines(tmp_path):
    good = (FIX / "prodigy_textcat_binary.jsonl").read_text().splitlines()
    path = tmp_path / "db.jsonl"
    path.write_text("\n".join([good[0], '{"text": "cut off', good[1], "[1, 2]", good[2], ""]))
    with pytest.raises(InputError) as err:
        read_annotations(path)
    msg = one_line(err)
    assert msg.startswith("db.jsonl is not valid Prodigy JSONL: 2 problem(s): line 2: ")
    assert "line 4: expected a JSON object, got list" in msg
    assert msg.endswith("Fix: Repair or delete those lines (each line must be one JSON object).")


def test_malformed_json_document_gives_line_and_column(tmp_path):
    path = tmp_path / "export.json"
    path.write_text('[\n {"id": 1,\n  "annotations": [}\n]')
    with pytest.raises(FormatError) as err:
        read_annotations(path)
    assert one_line(err).startswith("export.json is not valid JSON: line 3 column 19: ")


def test_unknown_format_lists_the_valid_ones():
    with pytest.raises(UsageError) as err:
        read_annotations(FIX / "ls.csv", "excel")
    assert one_line(err) == (
        "Unknown format 'excel'; valid formats: " + ", ".join(FORMATS) + ". "
        "Fix: Pass one of those to --from, or leave --from out to detect it."
    )
    assert err.value.exit_code == 2


def test_binary_junk(tmp_path):
    path = tmp_path / "export.json"
    path.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    with pytest.raises(FormatError) as err:
        read_annotations(path)
    assert one_line(err).startswith("export.json is binary data, not a text export (first bytes ")
    assert "Fix: Pass a Label Studio JSON/CSV export, Prodigy db-out JSONL" in str(err.value)


def test_unreadable_parquet(tmp_path):
    path = tmp_path / "t.parquet"
    path.write_bytes(b"PAR1" + b"\x00garbage" * 20)
    with pytest.raises(FormatError) as err:
        read_annotations(path)
    msg = one_line(err)
    assert msg.startswith("t.parquet is not a readable Parquet file (")
    assert msg.endswith(
        "Fix: Write it again (e.g. pandas DataFrame.to_parquet) or pass a CSV/JSONL table."
    )


def test_not_utf8_text(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes("item,annotator,label\n1,a,caf\xe9\n".encode("latin-1") * 3)
    with pytest.raises(FormatError) as err:
        read_annotations(path)
    assert one_line(err) == (
        "t.csv line 2: bytes that are not UTF-8 (b'\\xe9\\nit'). Fix: Save the file as UTF-8."
    )


def test_header_only_csv(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("item,annotator,label\n")
    with pytest.raises(InputError) as err:
        read_annotations(path)
    assert one_line(err) == (
        "t.csv has a header ('item', 'annotator', 'label') but no rows. "
        "Fix: Add one row per judgement."
    )


def test_wrong_explicit_format_points_at_the_detected_one():
    with pytest.raises(AqtError) as err:
        read_annotations(FIX / "ls_export.json", "prodigy")
    msg = one_line(err)
    assert "(The content looks like 'labelstudio'.)" in msg
    assert msg.endswith("Fix: Pass --from labelstudio, or leave --from out.")


def test_formats_import_no_front_end_library():
    code = (
        "import sys, aqt.formats; "
        "print(sorted(m for m in ('prodigy', 'label_studio_sdk', 'fastapi', 'click') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_csv_read_as_prodigy_counts_every_bad_line(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text("item,annotator,label\n" + "1,a,x\n" * 1500)
    with pytest.raises(InputError) as err:
        read_annotations(path, "prodigy")
    msg = one_line(err)
    assert msg.startswith("t.jsonl is not valid Prodigy JSONL: 1501 problem(s): line 1: ")
    assert "(+1491 more)" in msg
    assert "(The content looks like 'table'.)" in msg


def test_api_tasks_on_one_line_are_label_studio(tmp_path):
    doc = json.loads((FIX / "ls_api_tasks.json").read_text())
    path = tmp_path / "tasks.json"
    path.write_text(json.dumps(doc))
    assert detect_format(path) == "labelstudio"
    assert len(read_annotations(path)) == 10


def test_prodigy_lines_longer_than_the_sniffed_head(tmp_path):
    eg = json.loads((FIX / "prodigy_ner_manual.jsonl").read_text().splitlines()[0])
    eg["meta"] = {"note": "x" * 100_000}
    path = tmp_path / "long.jsonl"
    path.write_text(json.dumps(eg) + "\n" + json.dumps(eg) + "\n")
    assert detect_format(path) == "prodigy"
    assert len(read_annotations(path)) == 2


def test_jsonl_with_a_bad_first_line_is_still_detected(tmp_path):
    good = (FIX / "prodigy_textcat_binary.jsonl").read_text().splitlines()
    path = tmp_path / "db.jsonl"
    path.write_text('{"broken": \n' + "\n".join(good) + "\n")
    assert detect_format(path) == "prodigy"
    with pytest.raises(InputError) as err:
        read_annotations(path)
    assert one_line(err).startswith("db.jsonl is not valid Prodigy JSONL: 1 problem(s): line 1: ")
