"""Shared fixtures: a live Label Studio for the integration tests (``@pytest.mark.labelstudio``).

``ls_server`` starts one Label Studio 1.23.2 per test session from ``.ls-venv`` (installed by
``scripts/test.sh`` through ``bash scripts/labelstudio.sh install``), on 127.0.0.1, with SQLite in a
temporary directory copied from a migrated template, seeds an admin and three annotators, and stops
it by PID at the end. These tests run in CI and are not optional: without ``.ls-venv`` the fixture
fails with the command that installs it.
"""

from __future__ import annotations

import lsserver
import pytest

_TIMINGS: dict[str, float | None] = {}


def pytest_configure(config: pytest.Config) -> None:
    # label-studio-sdk 2.1.2 still calls pydantic's parse_obj when it refreshes a PAT
    config.addinivalue_line(
        "filterwarnings", "ignore:The `parse_obj` method is deprecated:DeprecationWarning"
    )


@pytest.fixture(scope="session")
def ls_server(tmp_path_factory: pytest.TempPathFactory) -> lsserver.SeededServer:
    """A running, seeded Label Studio: ``.url``, ``.admin`` and ``.annotators`` (three
    :class:`lsserver.User` with ``id``, ``email``, ``password``, legacy ``token`` and ``pat``)."""
    exe = lsserver.LS_VENV / "bin" / "label-studio"
    if not exe.exists():
        pytest.fail(
            f"Label Studio is not installed ({exe} is missing); the labelstudio tests need it. "
            "Fix: run `bash scripts/labelstudio.sh install` (scripts/test.sh does this).",
            pytrace=False,
        )
    try:
        seeded = lsserver.start_seeded_server(tmp_path_factory.mktemp("labelstudio"))
    except lsserver.LabelStudioUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    _TIMINGS.update(seeded.timings)
    try:
        yield seeded
    finally:
        seeded.server.stop()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    if not _TIMINGS:
        return
    parts = []
    for key, label in (
        ("cold_start_s", "cold start"),
        ("template_start_s", "start from template"),
        ("seed_s", "seeding"),
    ):
        value = _TIMINGS.get(key)
        parts.append(f"{label} {value:.1f} s" if value is not None else f"{label} -")
    terminalreporter.write_line("Label Studio " + lsserver.LS_VERSION + ": " + ", ".join(parts))
