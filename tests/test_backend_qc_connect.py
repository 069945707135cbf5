"""``aqt ls connect --overlap-share`` against a real Label Studio."""

from __future__ import annotations

import json

import pytest
from test_ls_connect import SECRET, backend, client, ls_cli, project  # noqa: F401  (fixtures)

pytestmark = pytest.mark.labelstudio


def connect(server, project: int, backend, *extra: str):  # noqa: F811
    return ls_cli(
        server,
        "connect",
        "--project",
        project,
        "--backend-url",
        backend.url,
        "--webhook-secret",
        SECRET,
        "--json",
        *extra,
    )


def test_overlap_share_sets_the_cohort_and_two_annotators_idempotently(
    ls_server,
    client,  # noqa: F811
    project,  # noqa: F811
    backend,  # noqa: F811
) -> None:
    before = client.project(project)
    first = connect(ls_server, project, backend, "--overlap-share", "0.15")
    assert first.exit_code == 0, (first.output, first.exception)
    settings = client.project(project)
    assert settings["overlap_cohort_percentage"] == 15
    assert settings["maximum_annotations"] == max(2, before["maximum_annotations"])
    assert any(
        "overlap_cohort_percentage=15" in thing and action == "updated"
        for thing, action in json.loads(first.stdout)["changes"]
    )

    again = connect(ls_server, project, backend, "--overlap-share", "0.15")
    assert again.exit_code == 0, (again.output, again.exception)
    assert {a for _, a in json.loads(again.stdout)["changes"]} == {"unchanged"}

    # without the option the overlap is left as it is
    plain = connect(ls_server, project, backend)
    assert plain.exit_code == 0, (plain.output, plain.exception)
    assert client.project(project)["overlap_cohort_percentage"] == 15

    # an explicit annotations-per-task above 2 is kept
    more = connect(
        ls_server, project, backend, "--overlap-share", "0.1", "--annotations-per-task", "3"
    )
    assert more.exit_code == 0, (more.output, more.exception)
    settings = client.project(project)
    assert (settings["overlap_cohort_percentage"], settings["maximum_annotations"]) == (10, 3)


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (("--overlap-share", "1.5"), ["between 0 and 1", "1.5", "--overlap-share 0.1"]),
        (
            ("--overlap-share", "0.2", "--annotations-per-task", "1"),
            ["at least 2 annotations per task", "--annotations-per-task 2"],
        ),
    ],
)
def test_bad_overlap_share_is_one_line_naming_the_fix(
    ls_server,
    project,  # noqa: F811
    backend,  # noqa: F811
    extra,
    words,
) -> None:
    result = connect(ls_server, project, backend, *extra)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    for w in words:
        assert w in result.output, result.output
