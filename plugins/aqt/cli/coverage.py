"""``aqt coverage``: production coverage of an annotated set, or synthetic data against real data."""

from __future__ import annotations

import json
from pathlib import Path

import click

from aqt.cli.common import AqtCommand

__all__ = ["coverage"]

_FILE = click.Path(path_type=Path, dir_okay=False)


@click.command(cls=AqtCommand)
@click.option(
    "--production",
    type=_FILE,
    metavar="FILE",
    help="Production sample (JSONL/JSON/CSV with text; label optional).",
)
@click.option(
    "--dataset",
    type=_FILE,
    metavar="FILE",
    help="Annotated set (same formats; an aqt export dataset.jsonl works).",
)
@click.option(
    "--synthetic", type=_FILE, metavar="FILE", help="Synthetic items to validate against --real."
)
@click.option("--real", type=_FILE, metavar="FILE", help="Held-out real items for --synthetic.")
@click.option(
    "--clusters",
    "n_clusters",
    type=click.IntRange(min=2),
    default=None,
    metavar="K",
    help="k-means clusters (default from the data size).",
)
@click.option(
    "--collect",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Write the targeted-collection list (JSONL with text and meta) to FILE.",
)
@click.option(
    "--max-collect",
    type=click.IntRange(min=1),
    default=200,
    show_default=True,
    help="Items in the list.",
)
@click.option(
    "--min-score",
    type=click.FloatRange(0, 1),
    default=0.7,
    show_default=True,
    help="A coverage score under this exits 3.",
)
@click.option(
    "--auc-max",
    type=click.FloatRange(0.5, 1),
    default=0.75,
    show_default=True,
    help="Synthetic: a two-sample AUC above this exits 3.",
)
@click.option("--json", "json_out", is_flag=True, help="Print the report as JSON.")
@click.option(
    "--html",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Also write a self-contained HTML report (gaps, feature bars, findings) to FILE.",
)
@click.option(
    "--seed", type=int, default=0, show_default=True, help="Seed of SVD, k-means and folds."
)
@click.pass_context
def coverage(
    ctx,
    production,
    dataset,
    synthetic,
    real,
    n_clusters,
    collect,
    max_collect,
    min_score,
    auc_max,
    json_out,
    html,
    seed,
) -> None:
    """Compare a production sample with the annotated set (text clusters, length, language,
    metadata, labels): ranked gaps, rare cases, a coverage score and a targeted-collection list.
    With --synthetic and --real: distribution shift, a classifier two-sample test (AUC) and
    near-copies. Exits 3 on an error-severity finding.

    Example: aqt coverage --production prod.jsonl --dataset v1/dataset.jsonl --html coverage.html
    """
    from aqt.cli import EXIT_CHECK_FAILED
    from aqt.cli.export import echo_findings
    from aqt.edgecases import read_source_items
    from aqt.errors import UsageError
    from aqt.findings import has_errors, sort_findings

    pair = production is not None or dataset is not None
    synth = synthetic is not None or real is not None
    if (
        pair == synth
        or (pair and (production is None or dataset is None))
        or (synth and (synthetic is None or real is None))
    ):
        raise UsageError(
            "Give either --production and --dataset, or --synthetic and --real.",
            fix="e.g. aqt coverage --production prod.jsonl --dataset data/v1/dataset.jsonl",
        )
    if synth and html is not None:
        raise UsageError(
            "--html writes the production coverage report; --synthetic has none.",
            fix="Drop --html, or use --json to keep the synthetic report.",
        )
    if synth:
        from aqt.validate import find_synthetic_problems

        s_items, r_items = read_source_items(synthetic), read_source_items(real)
        summary, findings = find_synthetic_problems(
            [i.text for i in s_items],
            [i.text for i in r_items],
            synthetic_ids=[i.id for i in s_items],
            auc_max=auc_max,
            seed=seed,
        )
        findings = sort_findings(findings)
        if json_out:
            click.echo(
                json.dumps(
                    {**summary, "findings": [f.to_dict() for f in findings]},
                    indent=2,
                    sort_keys=True,
                )
            )
        else:
            click.echo(
                f"Synthetic {summary['n_synthetic']} vs real {summary['n_real']}: two-sample AUC "
                f"{summary['auc']:.3f}, {summary['n_near_copies']} near-copies"
            )
            for name, f in summary["features"].items():
                click.echo(
                    f"  {name:<17} synthetic {f['synthetic_median']:<10} real "
                    f"{f['real_median']:<10} KS {f['ks']:.3f}"
                )
            echo_findings(findings)
    else:
        from aqt.coverage import coverage_report, render_coverage_text, write_collection_list
        from aqt.validate.inputs import item_meta

        def flat(items):
            from aqt.edgecases import SourceItem

            return [
                SourceItem(i.id, i.text, {k: v for k, v in item_meta(i).items() if k != "text"})
                for i in items
            ]

        report = coverage_report(
            flat(read_source_items(production)),
            flat(read_source_items(dataset)),
            n_clusters=n_clusters,
            min_score=min_score,
            max_collection=max_collect,
            seed=seed,
        )
        findings = list(report.findings)
        if json_out:
            click.echo(json.dumps(report.to_dict(), indent=2, sort_keys=True))
        else:
            click.echo(render_coverage_text(report.to_dict()), nl=False)
            echo_findings(findings)
        if collect is not None:
            n = write_collection_list(report, collect)
            click.echo(f"Wrote {n} production items from the gaps to {collect}", err=True)
        if html is not None:
            _write_html(report, html, collect)
    if has_errors(findings):
        ctx.exit(EXIT_CHECK_FAILED)


def _write_html(report, path: Path, collect: Path | None) -> None:
    """Write the HTML report atomically; an unwritable path is an error that names the fix."""
    from aqt.errors import InputError
    from aqt.report.coverage_html import write_coverage_html

    try:
        write_coverage_html(
            report.to_dict(),
            path,
            collection=report.collection,
            collect_file=None if collect is None else str(collect),
        )
    except OSError as exc:
        raise InputError(
            f"Cannot write the HTML report to {str(path)!r}: {exc.strerror or exc}.",
            fix="Pass --html a path in a writable directory with free space.",
        ) from exc
    click.echo(f"Wrote HTML report to {path}", err=True)
