"""``aqt ls``: agreement, export and connect on a live Label Studio project.

Attached lazily to the ``aqt`` command line (``aqt/cli/__init__.py``); without the ``labelstudio``
extra, ``aqt ls`` says how to install it. Connection options sit on the group::

    aqt ls --url http://localhost:8080 --api-key $TOKEN agreement --project 3
    LABEL_STUDIO_URL=... LABEL_STUDIO_API_KEY=... aqt ls export --project 3 --out labels.parquet
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
from aqt.cli.common import AqtCommand, agreement_options, emit_agreement
from aqt.cli.export import export_options
from aqt.errors import AqtError, InputError, UsageError

from aqt_labelstudio.client import DEFAULT_URL, ENV_API_KEY, ENV_URL, LabelStudioClient, connect

__all__ = ["ls"]

EXPORT_FORMATS = ("table", "labelstudio")


class _LsGroup(click.Group):
    """Turns :class:`AqtError` into one line on stderr when the group is used on its own."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AqtError as exc:
            if ctx.parent is not None:  # inside `aqt`: the parent group reports it
                raise
            click.echo(f"Error: {exc.one_line()}", err=True)
            ctx.exit(exc.exit_code)


class _Connection:
    """Connects on first use, so ``--help`` never touches the network."""

    def __init__(self, url: str | None, api_key: str | None) -> None:
        self.url, self.api_key = url, api_key
        self._client: LabelStudioClient | None = None

    def client(self) -> LabelStudioClient:
        if self._client is None:
            self._client = connect(self.url, self.api_key)
        return self._client


project_option = click.option(
    "--project",
    "project",
    type=click.IntRange(min=1),
    required=True,
    metavar="ID",
    help="Label Studio project id (the number in the project's URL).",
)


def _format(ctx, param, value: str) -> str | tuple[str, ...]:
    """``table`` or ``labelstudio`` as is; otherwise the export files (``jsonl,csv``...)."""
    if value in EXPORT_FORMATS:
        return value
    from aqt.export import EXPORT_FORMATS as FILES

    parts = tuple(p.strip() for p in value.split(",") if p.strip())
    if not parts or any(p not in FILES for p in parts):
        raise click.BadParameter(
            f"{value!r}: use {' or '.join(EXPORT_FORMATS)}, or with --validated some of "
            f"{','.join(FILES)}.",
            ctx=ctx,
            param=param,
        )
    return parts


@click.group(cls=_LsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--url",
    envvar=ENV_URL,
    default=None,
    metavar="URL",
    help=f"Label Studio address [env {ENV_URL}; default {DEFAULT_URL}].",
)
@click.option(
    "--api-key",
    envvar=ENV_API_KEY,
    default=None,
    metavar="KEY",
    help=f"Personal access token or legacy token [env {ENV_API_KEY}].",
)
@click.pass_context
def ls(ctx: click.Context, url: str | None, api_key: str | None) -> None:
    """Label Studio: agreement, export and connect on a live project.

    Example: aqt ls --url http://localhost:8080 --api-key $TOKEN agreement --project 3
    """
    ctx.obj = _Connection(url, api_key)


@ls.command(cls=AqtCommand)
@project_option
@click.option(
    "--control",
    default=None,
    metavar="NAME",
    help="Control tag (from_name) to score when the project has several.",
)
@agreement_options
@click.pass_obj
def agreement(
    conn: _Connection,
    project: int,
    control: str | None,
    level: str,
    weights: str,
    categories: list[str] | None,
    json_out: bool,
    md_out: bool,
    html: Path | None,
    ci: int,
    seed: int,
) -> None:
    """Inter-annotator agreement on a live project: the same report as `aqt agreement`, with
    annotators shown by email and skipped (cancelled) annotations left out and counted.

    Example: aqt ls agreement --project 3 --control sentiment --html report.html
    """
    from aqt.agreement import agreement_report

    table = conn.client().table(project).select_control(control)
    report = agreement_report(
        table, level=level, weights=weights, categories=categories, ci=ci, seed=seed
    )
    emit_agreement(report.to_dict(), json_out=json_out, md_out=md_out, html=html)


@ls.command(cls=AqtCommand)
@project_option
@click.option(
    "--out",
    "out",
    required=True,
    metavar="FILE",
    type=click.Path(path_type=Path),
    help="Output file; for --format table its extension picks CSV, TSV, JSONL or Parquet. With "
    "--validated, the output directory.",
)
@click.option(
    "--format",
    "fmt",
    default="table",
    show_default=True,
    callback=_format,
    metavar="[table|labelstudio|FILES]",
    help="table: the annotation table; labelstudio: Label Studio's JSON export, as is. With "
    "--validated: the files to write, some of jsonl,csv,parquet,spacy (default: all).",
)
@click.option(
    "--validated",
    is_flag=True,
    help="Export a validated training set into the directory --out, as `aqt export` does: "
    "ground-truth annotations are the adjudicated labels, task data the item metadata.",
)
@click.option(
    "--control",
    default=None,
    metavar="NAME",
    help="With --validated: the control tag (from_name) to export when the project has several.",
)
@export_options(exclude=("formats",))
@click.pass_obj
def export(
    conn: _Connection,
    project: int,
    out: Path,
    fmt: str | tuple[str, ...],
    validated: bool,
    control: str | None,
    **options: Any,
) -> None:
    """Export a project's annotations: the annotation table (one row per annotator, item and
    control; for notebooks and pipelines), Label Studio's own JSON export of every task, or with
    --validated a validated training set (the files, datasheet and report of `aqt export`; exit 3
    when a check fails, unless --allow-failures "REASON").

    Example: aqt ls export --project 3 --out labels.parquet

    Example: aqt ls export --project 3 --out v1 --validated --group-col source
    """
    ctx = click.get_current_context()
    if validated:
        _export_validated(conn, project, out, fmt, ctx, control, options)
        return
    given = [
        param.opts[0]
        for param in ctx.command.params
        if (param.name in options or param.name in ("fmt", "control"))
        and ctx.get_parameter_source(param.name) != click.core.ParameterSource.DEFAULT
        and not (param.name == "fmt" and isinstance(fmt, str))
    ]
    if given:
        raise UsageError(
            f"{', '.join(given)} only work(s) with --validated"
            + (f" (--format {','.join(fmt)})" if not isinstance(fmt, str) else "")
            + ".",
            fix="Add --validated for a validated training set, or leave those options out.",
        )
    if out.is_dir():
        raise UsageError(
            f"--out {str(out)!r} is a directory; without --validated it names a file.",
            fix="Pass a file name, or add --validated for a training-set directory.",
        )
    from aqt.fileio import atomic_write

    suffix = out.suffix.lower()
    if fmt == "table" and suffix not in (".csv", ".tsv", ".jsonl", ".ndjson", ".parquet", ".pq"):
        raise UsageError(
            f"Cannot tell the table format from {out.name!r} (extension {suffix or 'none'}).",
            fix="End --out with .csv, .tsv, .jsonl or .parquet.",
        )
    client = conn.client()
    if fmt == "table":
        from aqt.formats import write_table

        table = client.table(project)
        _write(lambda: write_table(table, out), out)
        click.echo(
            f"Wrote {len(table)} annotations ({table.skipped.get('cancelled', 0)} "
            f"cancelled left out) of project {project} to {out}",
            err=True,
        )
    else:
        data = client.export(project, "JSON", download_all_tasks=True)
        tasks = json.loads(data)

        def write() -> None:
            with atomic_write(out, "wb", encoding=None) as fh:
                fh.write(data)

        _write(write, out)
        click.echo(f"Wrote {len(tasks)} tasks of project {project} to {out}", err=True)


def _export_validated(
    conn: _Connection,
    project: int,
    out: Path,
    fmt: str | tuple[str, ...],
    ctx: click.Context,
    control: str | None,
    options: dict[str, Any],
) -> None:
    """``aqt ls export --validated``: read the project, then the body of ``aqt export``."""
    from aqt.cli.export import export_settings, run_export

    from aqt_labelstudio.validated import fetch_validated

    if isinstance(fmt, str):
        if ctx.get_parameter_source("fmt") != click.core.ParameterSource.DEFAULT:
            raise UsageError(
                f"--format {fmt} writes one file; --validated writes a training-set directory.",
                fix="Leave out --format (or give the files, e.g. --format jsonl,spacy), or leave "
                "out --validated.",
            )
        fmt = ()
    options = {**options, "formats": fmt or None}
    settings = export_settings(**options)
    if out.exists() and not options.get("force"):
        raise UsageError(
            f"The output directory {str(out)!r} already exists.",
            fix="Pass a new directory, or --force to replace it.",
        )
    src = fetch_validated(
        conn.client(),
        project,
        control=control,
        has_log=options.get("adjudication_log") is not None,
    )
    click.echo(
        f"Project {project}: {len(src.table)} annotations, {len(src.decisions)} ground-truth "
        "decision(s).",
        err=True,
    )
    run_export(
        src.table,
        out,
        meta=src.meta,
        decisions=src.decisions,
        provenance=src.provenance,
        settings=settings,
        **options,
    )


def _write(do, out: Path) -> None:
    try:
        do()
    except OSError as exc:
        raise InputError(
            f"Cannot write {str(out)!r}: {exc.strerror or exc}.",
            fix="Pass --out a path in a writable directory.",
        ) from exc


@ls.command("connect", cls=AqtCommand)
@project_option
@click.option(
    "--backend-url",
    required=True,
    metavar="URL",
    help="Where Label Studio reaches the aqt backend, e.g. http://localhost:9090.",
)
@click.option(
    "--annotations-per-task",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Annotators per task (Label Studio's maximum_annotations).",
)
@click.option(
    "--webhook-secret",
    envvar="AQT_WEBHOOK_SECRET",
    default=None,
    metavar="S",
    help="Sent as X-Aqt-Secret on the webhook; give the backend the same "
    "AQT_WEBHOOK_SECRET [env AQT_WEBHOOK_SECRET].",
)
@click.option(
    "--basic-auth-user",
    envvar="AQT_BASIC_AUTH_USER",
    default=None,
    metavar="USER",
    help="User Label Studio sends to a backend that requires basic auth [env AQT_BASIC_AUTH_USER].",
)
@click.option(
    "--basic-auth-password",
    envvar="AQT_BASIC_AUTH_PASSWORD",
    default=None,
    metavar="PASSWORD",
    help="Its password [env AQT_BASIC_AUTH_PASSWORD].",
)
@click.option(
    "--overlap-share",
    type=float,
    default=None,
    metavar="F",
    help="Share of tasks (0-1) that get more than one annotator (Label Studio's "
    "overlap_cohort_percentage = round(F*100), with maximum_annotations >= 2); "
    "default: left as it is.",
)
@click.option("--json", "json_out", is_flag=True, help="Print what was done as JSON.")
@click.pass_obj
def connect_cmd(
    conn: _Connection,
    project: int,
    backend_url: str,
    annotations_per_task: int | None,
    webhook_secret: str | None,
    basic_auth_user: str | None,
    basic_auth_password: str | None,
    overlap_share: float | None,
    json_out: bool,
) -> None:
    """Connect a project to the aqt backend: the ML backend, one webhook with the secret header,
    uncertainty sampling, annotations per task, and the Data Manager views
    "aqt: needs adjudication" and "aqt: selection review". Running it again changes nothing.

    With --overlap-share 0.1, a tenth of the tasks go to a second annotator, so the backend can
    follow each annotator's agreement with peers (GET /agreement/PROJECT, "annotators").

    Example: aqt ls connect --project 3 --backend-url http://localhost:9090 --annotations-per-task 3
    """
    from aqt_labelstudio.project_setup import connect_project

    result = connect_project(
        conn.client(),
        project,
        backend_url,
        annotations_per_task=annotations_per_task,
        webhook_secret=webhook_secret,
        basic_auth=(
            (basic_auth_user or "", basic_auth_password or "")
            if basic_auth_user or basic_auth_password
            else None
        ),
        overlap_share=overlap_share,
    )
    if json_out:
        click.echo(json.dumps(result.to_dict(), indent=2, sort_keys=True))
    else:
        for thing, action in result.changes:
            click.echo(f"{action:>17}  {thing}")
    if not webhook_secret:
        click.echo(
            "Warning: no --webhook-secret; the backend cannot tell Label Studio's webhook "
            "calls from anyone else's. Fix: pass --webhook-secret (or set "
            "AQT_WEBHOOK_SECRET) here and on the backend.",
            err=True,
        )


from aqt_labelstudio import calibrate as _calibrate  # noqa: F401  (registers `aqt ls calibrate`)
