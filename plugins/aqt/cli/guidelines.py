"""``aqt guidelines``: check the edge-case catalogue, record calibration results in the guidelines."""

from __future__ import annotations

import json
from pathlib import Path

import click

from aqt.cli.common import AqtCommand

__all__ = ["guidelines"]


@click.group()
def guidelines() -> None:
    """Guidelines and the edge-case catalogue.

    Example: aqt guidelines check --catalogue configs/edge_cases.example.toml --source reviews.jsonl
    """


@guidelines.command("check", cls=AqtCommand)
@click.option(
    "--catalogue",
    "catalogue_path",
    required=True,
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Edge-case catalogue (TOML, or YAML with PyYAML installed).",
)
@click.option(
    "--source",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Data source (JSONL, JSON or CSV with a text column) to find candidates in.",
)
@click.option(
    "--guidelines",
    "guidelines_path",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Guidelines Markdown; each case's section must be one of its headings.",
)
@click.option("--labels", metavar="A,B,C", help="Label set the expected labels must belong to.")
@click.option("--json", "json_out", is_flag=True, help="Print the result as JSON.")
def check(catalogue_path, source, guidelines_path, labels, json_out) -> None:
    """Validate an edge-case catalogue (every problem with its location) and show how many
    candidate items each case has in a data source. Exits 1 on an invalid catalogue.

    Example: aqt guidelines check --catalogue edge_cases.toml --source reviews.jsonl
    """
    from aqt.edgecases import check_catalogue, load_catalogue, read_source_items
    from aqt.guidelines import read_guidelines

    labs = [x.strip() for x in labels.split(",")] if labels else None
    cat = load_catalogue(catalogue_path, labels=labs)
    items = read_source_items(source) if source else None
    guide = read_guidelines(guidelines_path) if guidelines_path else None
    summary, findings = check_catalogue(cat, items, guide)
    if json_out:
        out = dict(summary, findings=[f.to_dict() for f in findings])
        click.echo(json.dumps(out, indent=2, ensure_ascii=False))
        return
    n_with = sum(1 for c in summary["cases"] if c["n_candidates"])
    head = f"Catalogue {catalogue_path}: {summary['n_cases']} case(s) valid"
    if items is not None:
        head += f"; {n_with} with candidates among {summary['n_items']} items of {source}"
    click.echo(head)
    width = max(len(c["id"]) for c in summary["cases"])
    for c in summary["cases"]:
        n = "" if items is None else f"{c['n_candidates']:>6} candidate(s)"
        click.echo(f"  {c['id']:<{width}}  -> {c['expected']:<12}{n}")
    for f in findings:
        click.echo(f"{f.severity}: {f.message} Fix: {f.fix}")


@guidelines.command("record", cls=AqtCommand)
@click.argument("guidelines_path", metavar="GUIDELINES", type=click.Path(path_type=Path))
@click.option(
    "--report",
    "report_path",
    required=True,
    type=click.Path(path_type=Path),
    metavar="GATE.json",
    help="The gate result: the output of `aqt calibrate gate --json`.",
)
@click.option(
    "--decision",
    "decisions",
    multiple=True,
    metavar="TEXT",
    help="A decision of the calibration meeting (repeat the option for several).",
)
@click.option("--date", metavar="YYYY-MM-DD", help="Date of the entry (default: today, UTC).")
def record(guidelines_path, report_path, decisions, date) -> None:
    """Append a calibration result (date, batch, IAA overall and per label, confused pairs,
    decisions) to the guidelines, so the document carries its own IAA history. The content hash
    of the rules does not change.

    Example: aqt guidelines record guidelines.md --report gate.json --decision "Sarcasm is Negative"
    """
    from aqt.errors import InputError
    from aqt.guidelines import record_validation

    try:
        gate = json.loads(report_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(
            f"No gate report at {str(report_path)!r}.",
            fix="Write one with `aqt calibrate gate ... --json > gate.json`.",
        ) from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{report_path} is not JSON ({exc.msg}, line {exc.lineno}).",
            fix="Pass the output of `aqt calibrate gate --json`.",
        ) from None
    if not isinstance(gate, dict) or gate.get("check") != "calibration_gate":
        raise InputError(
            f"{report_path} is not a calibration gate report.",
            fix="Pass the output of `aqt calibrate gate --json`.",
        )
    block = record_validation(guidelines_path, gate, list(decisions), date)
    click.echo(f"Recorded in {guidelines_path}:\n\n{block}", nl=False)
