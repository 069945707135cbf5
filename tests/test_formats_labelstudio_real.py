"""The readers on exports saved from a real Label Studio 1.23.2 server (tests/fixtures/labelstudio_real).

The project (see that folder's README): one single-choice control ``sentiment``; annotators with
user ids 2, 3, 4; tasks 1-14 labelled by all three, 15-18 by two, 19 by one, 20 by none; user 4
skipped task 15.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from aqt.formats import (
    detect_format,
    read_annotations,
    read_labelstudio_json,
    read_labelstudio_tasks,
)

REAL = Path(__file__).parent / "fixtures" / "labelstudio_real"
FILES = {
    "export.json": "labelstudio",
    "export_min.json": "labelstudio-min",
    "export.csv": "labelstudio-csv",
}


def key(table):
    return sorted((r.item, r.annotator, r.control, r.kind, r.value, r.annotation_id) for r in table)


@pytest.mark.parametrize(("name", "fmt"), sorted(FILES.items()))
def test_real_export_detected_and_read(name, fmt):
    assert detect_format(REAL / name) == fmt
    t = read_annotations(REAL / name)
    assert t.annotators() == ["2", "3", "4"]
    assert t.controls() == ["sentiment"] and t.kinds() == ["choice"]
    per_item = Counter(r.item for r in t)
    assert [per_item[str(i)] for i in range(1, 21)] == [3] * 14 + [2] * 4 + [1, 0]
    assert "20" not in t.items()  # the task nobody labelled (an empty row in the flat exports)
    assert {r.value for r in t} <= {"Positive", "Negative", "Neutral"}
    assert all(r.text and r.text.startswith("review ") for r in t)
    assert all(r.timestamp and r.timestamp > 1.7e9 for r in t)


def test_real_exports_agree_record_for_record():
    tables = {name: read_annotations(REAL / name) for name in FILES}
    assert key(tables["export.json"]) == key(tables["export_min.json"]) == key(tables["export.csv"])
    assert len(tables["export.json"]) == 51


def test_real_json_counts_the_skipped_annotation_and_flat_exports_drop_it():
    t = read_labelstudio_json(
        REAL / "export.json", label_config=(REAL / "label_config.xml").read_text()
    )
    assert dict(t.skipped) == {"cancelled": 1, "ignored": 0}
    assert sorted(r.annotator for r in t if r.item == "15") == ["2", "3"]
    assert read_annotations(REAL / "export.csv").skipped["cancelled"] == 0


def test_real_json_with_a_users_map_names_annotators_by_email():
    tasks = json.loads((REAL / "export.json").read_text())
    users = {2: "ann1@example.com", 3: "ann2@example.com", 4: "ann3@example.com"}
    t = read_labelstudio_tasks(tasks, users=users)
    assert t.annotators() == sorted(users.values())
