"""``aqt export``: a validated training set with its datasheet, or exit 3 with the failed checks."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from aqt.cli.common import AqtCommand, input_options

if TYPE_CHECKING:
    from aqt.adjudication import Decision
    from aqt.export import ExportOptions
    from aqt.records import AnnotationTable

__all__ = ["echo_findings", "export", "export_options", "export_settings", "run_export"]

_FILE = click.Path(path_type=Path, dir_okay=False)


def echo_findings(findings, *, err: bool = False) -> None:
    """One block per finding: ``SEVERITY check: message`` and an indented ``fix:`` line."""
    for f in findings:
        click.echo(f"{f.severity.upper():7} {f.check}: {f.message}", err=err)
        if f.items and f.severity != "info":
            shown = ", ".join(f.items[:8]) + (
                f" (+{len(f.items) - 8} more)" if len(f.items) > 8 else ""
            )
            click.echo(f"        items: {shown}", err=err)
        if f.fix:
            click.echo(f"        fix: {f.fix}", err=err)


def _formats(ctx, param, value: str) -> tuple[str, ...]:
    from aqt.export import EXPORT_FORMATS

    parts = tuple(p.strip() for p in value.split(",") if p.strip())
    bad = [p for p in parts if p not in EXPORT_FORMATS]
    if bad or not parts:
        raise click.BadParameter(
            f"{value!r}: use some of {', '.join(EXPORT_FORMATS)}.", ctx=ctx, param=param
        )
    return parts


_EXPORT_OPTIONS = [
    click.option(
        "--adjudication-log",
        type=_FILE,
        metavar="FILE",
        help="Adjudication log (JSONL); its decisions come first.",
    ),
    click.option(
        "--edge-cases",
        type=_FILE,
        metavar="FILE",
        help="Edge-case catalogue; each case needs --edge-case-min items.",
    ),
    click.option(
        "--edge-case-min",
        type=click.IntRange(min=1),
        default=3,
        show_default=True,
        metavar="K",
        help="Items each edge case must have.",
    ),
    click.option(
        "--target-balance",
        metavar="L=S,...",
        help="Target label shares, e.g. fresh=0.5,rotten=0.5.",
    ),
    click.option(
        "--production",
        type=_FILE,
        metavar="FILE",
        help="Labelled production sample: its label shares are the target.",
    ),
    click.option(
        "--meta",
        "meta_path",
        type=_FILE,
        metavar="FILE",
        help="Item metadata (JSONL/CSV with id and text): split, adversarial flag, group fields.",
    ),
    click.option(
        "--predictions",
        type=_FILE,
        metavar="FILE",
        help="Earlier model's predictions (item, prediction).",
    ),
    click.option(
        "--split",
        default="0.8,0.1,0.1",
        show_default=True,
        metavar="TRAIN,DEV,TEST",
        help="Split shares (ignored when --meta gives every item a split, which is then checked).",
    ),
    click.option(
        "--group-col",
        metavar="NAME",
        help="Keep items sharing this field in one split (e.g. source).",
    ),
    click.option(
        "--method",
        type=click.Choice(["dawid_skene", "majority"]),
        default="dawid_skene",
        show_default=True,
        help="Aggregate for items neither adjudicated nor unanimous.",
    ),
    click.option(
        "--min-confidence",
        type=click.FloatRange(0, 1),
        default=0.7,
        show_default=True,
        help="Aggregated items under this confidence are left out and listed.",
    ),
    click.option(
        "--format",
        "formats",
        default="jsonl,csv,parquet,spacy",
        show_default=True,
        callback=_formats,
        help="Files to write: jsonl, csv, parquet, spacy.",
    ),
    click.option(
        "--allow-failures",
        metavar="REASON",
        help="Export despite failed checks; the reason goes into the datasheet.",
    ),
    click.option("--force", is_flag=True, help="Replace --out if it exists."),
    click.option(
        "--config",
        "config_path",
        type=_FILE,
        metavar="FILE",
        help="Thresholds TOML (alpha_gate, alpha_target).",
    ),
    click.option(
        "--set", "set_options", multiple=True, metavar="KEY=VALUE", help="Override a threshold."
    ),
    click.option(
        "--ci",
        type=click.IntRange(min=0),
        default=200,
        show_default=True,
        metavar="N",
        help="Bootstrap resamples for the agreement intervals.",
    ),
    click.option(
        "--seed",
        type=int,
        default=0,
        show_default=True,
        help="Seed of splits, models and bootstrap.",
    ),
]


def export_options(f: Callable | None = None, *, exclude: Sequence[str] = ()) -> Callable:
    """The options of a validated export (adjudication log, checks, splits, aggregation, formats,
    --allow-failures, --force, thresholds, --ci, --seed), shared by ``aqt export`` and
    ``aqt ls export --validated``; the command receives them as keyword arguments for
    :func:`run_export`. ``exclude`` leaves out options by parameter name (e.g. ``"formats"`` for a
    command whose ``--format`` means something else)."""

    def decorate(func: Callable) -> Callable:
        for option in reversed(_EXPORT_OPTIONS):
            probe = option(lambda: None)
            if probe.__click_params__[0].name not in exclude:
                func = option(func)
        return func

    return decorate(f) if f is not None else decorate


@click.command(cls=AqtCommand)
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(path_type=Path, file_okay=False),
    metavar="DIR",
    help="Output directory (created; must not exist unless --force).",
)
@input_options
@export_options
def export(
    input_path: Path,
    out_dir: Path,
    fmt: str | None,
    item_col: str,
    annotator_col: str,
    label_col: str,
    control: str | None,
    **options: Any,
) -> None:
    """Export annotations as a validated training set: final labels (adjudicated, unanimous, then
    Dawid-Skene), every dataset check, JSONL/CSV/Parquet/.spacy files, a datasheet and an HTML
    report. Exits 3 when a check fails, unless --allow-failures "REASON".

    Example: aqt export annotations.jsonl --out v1 --adjudication-log adj.jsonl --group-col source
    """
    from aqt.formats import detect_format, read_annotations
    from aqt.validate.inputs import table_columns

    settings = export_settings(**options)
    table = read_annotations(
        input_path, fmt, item_col=item_col, annotator_col=annotator_col, label_col=label_col
    )
    table = table.select_control(control)
    meta: dict = {}
    if (fmt or detect_format(input_path)) == "table":
        meta = table_columns(input_path, item_col, skip=(annotator_col, label_col))
    run_export(table, out_dir, input_path=input_path, meta=meta, settings=settings, **options)


def export_settings(
    *,
    split: str,
    target_balance: str | None,
    config_path: Path | None,
    set_options: tuple[str, ...],
    method: str,
    min_confidence: float,
    group_col: str | None,
    ci: int,
    edge_case_min: int,
    seed: int,
    **_: Any,
) -> ExportOptions:
    """The :class:`aqt.export.ExportOptions` of the parsed :func:`export_options` (thresholds from
    ``--config``/``--set``, split shares, target balance); bad values raise before any input is
    read."""
    from aqt.config import load_thresholds, parse_set_options
    from aqt.export import ExportOptions
    from aqt.validate import parse_ratios
    from aqt.validate.inputs import parse_balance

    thresholds = load_thresholds(config_path, parse_set_options(set_options))
    ratios = parse_ratios(split)
    balance = parse_balance(target_balance)
    return ExportOptions(
        method=method,
        min_confidence=min_confidence,
        split=ratios,
        group_key=group_col,
        iaa_threshold=thresholds.alpha_gate,
        iaa_target=thresholds.alpha_target,
        ci=ci,
        target_balance=balance,
        edge_case_min=edge_case_min,
        seed=seed,
    )


def run_export(
    table: AnnotationTable,
    out_dir: Path,
    *,
    input_path: Path | None = None,
    meta: Mapping[str, Mapping[str, Any]] | None = None,
    decisions: Sequence[Decision] | None = None,
    provenance: Mapping[str, Any] | None = None,
    settings: ExportOptions | None = None,
    **options: Any,
) -> None:
    """Run a validated export with the :func:`export_options` values and print the findings and
    a summary line; the body of ``aqt export`` and ``aqt ls export --validated``.

    ``meta`` (item metadata) is completed by ``--meta``'s file (the file wins per field);
    ``decisions`` are adjudication decisions besides ``--adjudication-log`` (the log wins per item);
    ``provenance`` goes into the datasheet; ``settings`` are :func:`export_settings` of
    ``options`` when already parsed. Raises :class:`aqt.export.ExportRefused` (exit 3) when a
    check fails without ``--allow-failures``.
    """
    from aqt.export import EXPORT_FORMATS, ExportRefused, export_dataset
    from aqt.validate.inputs import load_meta

    if settings is None:
        settings = export_settings(**options)
    merged: dict[str, dict[str, Any]] = {k: dict(v) for k, v in (meta or {}).items()}
    if options.get("meta_path") is not None:
        for k, v in load_meta(options["meta_path"]).items():
            merged.setdefault(k, {}).update(v)
    allow_failures = options.get("allow_failures")
    try:
        plan, sheet = export_dataset(
            table,
            out_dir,
            input_path=input_path,
            adjudication_log=options.get("adjudication_log"),
            decisions=decisions,
            provenance=provenance,
            edge_cases=options.get("edge_cases"),
            meta=merged,
            production=options.get("production"),
            predictions=options.get("predictions"),
            options=settings,
            formats=options.get("formats") or EXPORT_FORMATS,
            allow_failures=allow_failures,
            force=bool(options.get("force")),
        )
    except ExportRefused as exc:
        echo_findings(exc.findings)
        raise
    echo_findings(plan.findings)
    c = sheet["counts"]
    splits = ", ".join(f"{k} {v}" for k, v in c["by_split"].items())
    click.echo(
        f"Wrote {out_dir}: {c['final']} items ({splits}), {c['unresolved']} unresolved left out; "
        f"files: {', '.join(sheet['files'])}, datasheet.json, datasheet.md, report.html"
    )
    if allow_failures is not None and not sheet["passed"]:
        click.echo(f"Checks failed; exported anyway: {allow_failures}", err=True)
