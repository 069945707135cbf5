"""``aqt calibrate``: select a calibration batch, then gate on the team's answers to it."""

from __future__ import annotations

import json
from pathlib import Path

import click

from aqt.cli.common import AqtCommand, parse_categories
from aqt.formats import FORMATS

__all__ = ["calibrate"]


@click.group()
def calibrate() -> None:
    """Calibration batches: every annotator labels the same items before full-scale work.

    Example: aqt calibrate select reviews.jsonl --size 80 --seed 0 --out batch.json
    """


@calibrate.command("select", cls=AqtCommand)
@click.argument("source", type=click.Path(path_type=Path))
@click.option("--size", type=int, default=80, show_default=True, help="Items in the batch.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample.")
@click.option(
    "--edge-cases",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Edge-case catalogue; each case with candidates gets --per-case items.",
)
@click.option("--per-case", type=int, default=1, show_default=True, help="Items per edge case.")
@click.option(
    "--strata",
    metavar="FIELD",
    help="Stratify by 'length', 'source' or a field (meta.genre, a predicted label field).",
)
@click.option(
    "--guidelines",
    "guidelines_path",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Guidelines; their version goes into the manifest.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    metavar="MANIFEST",
    help="Where to write the manifest (JSON).",
)
@click.option(
    "--tasks",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Also write the batch's tasks as JSONL (to import into the annotation tool).",
)
def select(source, size, seed, edge_cases, per_case, strata, guidelines_path, out, tasks) -> None:
    """Select a seeded, stratified calibration batch (50-100 items) with every catalogued edge
    case that has candidates, and write a manifest that reproduces it.

    Example: aqt calibrate select reviews.jsonl --size 80 --seed 0 --strata source --out batch.json
    """
    from aqt.calibration import select_calibration_batch, write_manifest
    from aqt.edgecases import load_catalogue, read_source_items
    from aqt.fileio import atomic_write_text
    from aqt.guidelines import guideline_version_of

    items = read_source_items(source)
    cat = load_catalogue(edge_cases) if edge_cases else None
    version = guideline_version_of(guidelines_path) if guidelines_path else None
    batch = select_calibration_batch(
        items,
        size,
        seed,
        strata=strata,
        edge_cases=cat,
        per_case=per_case,
        guideline_version=version,
        source=Path(source).name,
    )
    write_manifest(batch.manifest, out)
    if tasks:
        lines = [
            json.dumps({"text": it.text, "id": it.id, **dict(it.meta)}, ensure_ascii=False)
            for it in batch.items
        ]
        atomic_write_text(tasks, "\n".join(lines) + "\n")
    m = batch.manifest
    click.echo(
        f"Batch {m.batch_id}: {len(m.items)} items from {len(items)}, seed {m.seed}"
        + (f", strata {m.strata} {dict(m.strata_counts['batch'])}" if m.strata else "")
    )
    if m.edge_cases:
        click.echo("Edge cases: " + ", ".join(f"{k} ({len(v)})" for k, v in m.edge_cases.items()))
    for f in batch.findings:
        click.echo(f"{f.severity}: {f.message} Fix: {f.fix}", err=True)
    click.echo(f"Wrote manifest to {out}", err=True)


@calibrate.command("gate", cls=AqtCommand)
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.option("--manifest", required=True, type=click.Path(path_type=Path), metavar="M")
@click.option(
    "--annotators",
    required=True,
    callback=parse_categories,
    metavar="A,B,C",
    help="The named annotators; only their answers count.",
)
@click.option("--threshold", type=float, help="Alpha gate (default: alpha_gate, 0.667).")
@click.option("--from", "fmt", type=click.Choice(FORMATS), help="Reader for INPUT.")
@click.option("--control", metavar="NAME", help="Control to gate on when INPUT has several.")
@click.option("--edge-cases", type=click.Path(path_type=Path), metavar="FILE")
@click.option("--guidelines", "guidelines_path", type=click.Path(path_type=Path), metavar="FILE")
@click.option(
    "--source",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Data source of the batch, for item texts.",
)
@click.option("--json", "json_out", is_flag=True, help="Print the gate as JSON.")
@click.option("--md", "md_out", is_flag=True, help="Print the gate as Markdown.")
@click.option("--html", type=click.Path(path_type=Path), metavar="FILE", help="Write HTML.")
@click.option(
    "--sheet", type=click.Path(path_type=Path), metavar="FILE", help="Write the discussion sheet."
)
@click.option(
    "--gold",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="On PASS, write the unanimous items as gold (JSONL) for aqt.annotate --gold.",
)
@click.option("--ci", type=click.IntRange(min=0), default=1000, show_default=True, metavar="N")
@click.option("--seed", type=int, default=0, show_default=True)
def gate(
    input_path, manifest, annotators, threshold, fmt, control, edge_cases, guidelines_path,
    source, json_out, md_out, html, sheet, gold, ci, seed,
) -> None:  # fmt: skip
    """Gate a calibration batch: Krippendorff's alpha of the named annotators overall and per
    label against the threshold, confused pairs with guideline sections, edge cases and a
    revision question, the worst items. Exits 3 on FAIL, with the next step.

    Example: aqt calibrate gate export.jsonl --manifest batch.json --annotators alice,bob,carol
    """
    from aqt.calibration import batch_items, read_manifest
    from aqt.calibration_gate import calibration_gate
    from aqt.edgecases import load_catalogue, read_source_items
    from aqt.errors import UsageError
    from aqt.formats import read_annotations
    from aqt.guidelines import read_guidelines

    if json_out and md_out:
        raise UsageError("--json and --md cannot be used together.", fix="Pick one.")
    m = read_manifest(manifest)
    table = read_annotations(input_path, fmt).select_control(control)
    items = batch_items(read_source_items(source), m) if source else None
    result = calibration_gate(
        table,
        m,
        annotators,
        edge_cases=load_catalogue(edge_cases) if edge_cases else None,
        guidelines=read_guidelines(guidelines_path) if guidelines_path else None,
        threshold=threshold,
        items=items,
        ci=ci,
        seed=seed,
    )
    texts = {it.id: it.text for it in items or ()}
    emit_gate(
        result, json_out=json_out, md_out=md_out, html=html, sheet=sheet, gold=gold, texts=texts
    )


def emit_gate(
    result,
    *,
    json_out: bool,
    md_out: bool,
    html: Path | None,
    sheet: Path | None,
    gold: Path | None,
    texts: dict[str, str] | None = None,
) -> None:
    """Present a gate result: write the HTML report, the discussion sheet and (on PASS) the gold
    items atomically, print the chosen format, and exit 3 with the next step on FAIL. Shared by
    ``aqt calibrate gate`` and ``aqt ls calibrate --report``."""
    from aqt.calibration_report import (
        discussion_sheet,
        render_gate_html,
        render_gate_json,
        render_gate_markdown,
        render_gate_text,
    )
    from aqt.fileio import atomic_write_text

    d = result.to_dict()
    if html:
        atomic_write_text(html, render_gate_html(d))
    if sheet:
        atomic_write_text(sheet, discussion_sheet(d, texts))
    if gold and result.status == "PASS":
        atomic_write_text(
            gold, "".join(json.dumps(g, ensure_ascii=False) + "\n" for g in d["gold"])
        )
    if json_out:
        click.echo(render_gate_json(d))
    elif md_out:
        click.echo(render_gate_markdown(d), nl=False)
    else:
        click.echo(render_gate_text(d), nl=False)
    for path, what in ((html, "HTML report"), (sheet, "discussion sheet"), (gold, "gold items")):
        if path and (what != "gold items" or result.status == "PASS"):
            click.echo(f"Wrote {what} to {path}", err=True)
    if result.exit_code:
        click.echo(f"Gate FAIL. Next step: {result.next_step}", err=True)
        click.get_current_context().exit(result.exit_code)
