"""Readers on exports that a real Label Studio 1.23.2 wrote (``tests/fixtures/labelstudio_real``).

The three files are the same project exported three ways; aqt must read the same annotations and
the same agreement from each (skipped annotations exist only in the JSON export).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from aqt.agreement import agreement_report
from aqt.formats import detect_format, read_annotations, read_labelstudio_json

FIXTURES = Path(__file__).parent / "fixtures" / "labelstudio_real"
FILES = {
    "labelstudio": "export.json",
    "labelstudio-min": "export_min.json",
    "labelstudio-csv": "export.csv",
}


@pytest.mark.parametrize(("fmt", "name"), sorted(FILES.items()))
def test_real_exports_are_detected(fmt: str, name: str) -> None:
    assert detect_format(FIXTURES / name) == fmt


def _records(fmt: str) -> set[tuple[str, str, str]]:
    table = read_annotations(FIXTURES / FILES[fmt])
    return {(r.item, r.annotator, r.value) for r in table}


def test_real_exports_hold_the_same_annotations() -> None:
    raw = json.loads((FIXTURES / "export.json").read_text(encoding="utf-8"))
    expected = {
        (str(task["id"]), str(a["completed_by"]), a["result"][0]["value"]["choices"][0])
        for task in raw
        for a in task["annotations"]
        if not a["was_cancelled"]
    }
    assert len(expected) == 51
    for fmt in FILES:
        assert _records(fmt) == expected, fmt


def test_real_json_export_counts_the_skipped_annotation() -> None:
    table = read_labelstudio_json(FIXTURES / "export.json")
    assert table.skipped["cancelled"] == 1
    assert table.annotators() == ["2", "3", "4"]
    assert len(table.items()) == 19  # the unlabelled task has no records


def test_real_exports_give_the_same_report() -> None:
    reports = {
        fmt: agreement_report(read_annotations(FIXTURES / name)).to_dict()
        for fmt, name in FILES.items()
    }
    for d in reports.values():
        d.pop("skipped")
    assert reports["labelstudio"] == reports["labelstudio-min"] == reports["labelstudio-csv"]
    assert reports["labelstudio"]["n_items"] == 19
    assert reports["labelstudio"]["categories"] == ["Negative", "Neutral", "Positive"]
