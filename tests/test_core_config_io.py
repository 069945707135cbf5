import json
import subprocess
import sys

import pytest
from aqt.config import Thresholds, load_thresholds, parse_set_options
from aqt.errors import ConfigError
from aqt.fileio import append_jsonl, atomic_write, atomic_write_text


def test_shipped_thresholds_file_mirrors_the_defaults():
    assert load_thresholds("configs/thresholds.toml") == Thresholds()


def test_overrides_and_type_checks(tmp_path):
    t = load_thresholds(None, parse_set_options(["alpha_gate=0.7", "min_shared_items=20"]))
    assert t.alpha_gate == 0.7 and t.min_shared_items == 20
    with pytest.raises(ConfigError, match="must be a int"):
        load_thresholds(None, {"min_shared_items": "2.5"})
    with pytest.raises(ConfigError, match="Unknown threshold key"):
        load_thresholds(None, {"alpha": 1})
    with pytest.raises(ConfigError, match="key=value"):
        parse_set_options(["alpha_gate"])
    bad = tmp_path / "bad.toml"
    bad.write_text("[thresholds]\nalpha_gate = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_thresholds(bad)
    other = tmp_path / "other.toml"
    other.write_text("[gate]\nx = 1\n")
    with pytest.raises(ConfigError, match="unknown table"):
        load_thresholds(other)


def test_atomic_write_keeps_old_content_when_writing_fails(tmp_path):
    target = tmp_path / "report.json"
    atomic_write_text(target, "old")
    with pytest.raises(RuntimeError), atomic_write(target) as fh:
        fh.write("half")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_append_jsonl_appends_one_line_per_record(tmp_path):
    log = tmp_path / "log" / "adjudication.jsonl"
    append_jsonl(log, {"item": "1", "decision": "pos"})
    append_jsonl(log, {"item": "2", "decision": "neg"})
    lines = log.read_text().splitlines()
    assert [json.loads(line)["item"] for line in lines] == ["1", "2"]


def test_core_imports_no_platform_or_web_framework():
    """`aqt` and every core module import without prodigy, label_studio_sdk or a web framework."""
    code = (
        "import importlib, pkgutil, sys, aqt\n"
        "for m in pkgutil.walk_packages(aqt.__path__, 'aqt.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = [n for n in ('prodigy', 'label_studio_sdk', 'fastapi', 'starlette', 'flask', 'uvicorn')"
        " if n in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_atomic_write_gives_the_mode_a_plain_open_would(tmp_path):
    import os

    umask = os.umask(0o022)
    try:
        target = tmp_path / "out.txt"
        atomic_write_text(target, "x")
        assert (target.stat().st_mode & 0o777) == 0o644
    finally:
        os.umask(umask)
