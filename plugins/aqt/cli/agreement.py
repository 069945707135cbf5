"""``aqt agreement``: inter-annotator agreement on an export file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from aqt.cli.common import AqtCommand, agreement_options, emit_agreement, input_options

__all__ = ["agreement"]

#: files smaller than this read without a progress bar
MIN_BYTES = 1 << 20


class _Progress:
    """``progress(bytes_read, total_bytes)`` for the readers, drawn as a click progress bar on
    stderr. Only used when stderr is a terminal; the bar opens on the first call."""

    def __init__(self, label: str, file: Any = None) -> None:
        self.label = label
        self.file = file
        self.bar: Any = None
        self.done = 0

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None and total < MIN_BYTES:
            return  # a short read: no bar flashing by
        if self.bar is None:
            self.bar = click.progressbar(
                length=max(int(total), 1),
                label=self.label,
                file=self.file if self.file is not None else sys.stderr,
                show_eta=True,
            )
            self.bar.__enter__()
        if total and total != self.bar.length:
            self.bar.length = int(total)
        step = int(done) - self.done
        if step > 0:
            self.bar.update(step)
            self.done = int(done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


def _stderr_is_terminal() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


@click.command(cls=AqtCommand)
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@input_options
@agreement_options
@click.option(
    "--ci-method",
    type=click.Choice(["items", "pairs"]),
    default="items",
    show_default=True,
    help="Bootstrap for --ci: over items (every coefficient) or over pairs of values "
    "(Hayes & Krippendorff, alpha only, with q = P(alpha < alpha_min) in the JSON).",
)
@click.option(
    "--se", is_flag=True, help="Add Gwet's analytic standard error of every coefficient (JSON: se)."
)
def agreement(
    input_path: Path,
    fmt: str | None,
    item_col: str,
    annotator_col: str,
    label_col: str,
    control: str | None,
    level: str,
    weights: str,
    categories: list[str] | None,
    json_out: bool,
    md_out: bool,
    html: Path | None,
    ci: int,
    seed: int,
    ci_method: str,
    se: bool,
) -> None:
    """Inter-annotator agreement on an export: the nine coefficients with their interpretation,
    per label, per annotator pair, and the items annotators disagree on most.

    INPUT is a Label Studio export (JSON, JSON_MIN, CSV), Prodigy db-out JSONL, or a table (CSV,
    JSONL, Parquet with item, annotator and label columns).

    Example: aqt agreement export.json --control sentiment --html report.html
    """
    from aqt.agreement import agreement_report
    from aqt.formats import read_annotations

    progress = _Progress(f"Reading {input_path.name}") if _stderr_is_terminal() else None
    try:
        table = read_annotations(
            input_path,
            fmt,
            item_col=item_col,
            annotator_col=annotator_col,
            label_col=label_col,
            progress=progress,
        )
    finally:
        if progress is not None:
            progress.close()
    table = table.select_control(control)
    report = agreement_report(
        table,
        level=level,
        weights=weights,
        categories=categories,
        ci=ci,
        seed=seed,
        se=se,
        ci_method=ci_method,
    )
    emit_agreement(report.to_dict(), json_out=json_out, md_out=md_out, html=html)
