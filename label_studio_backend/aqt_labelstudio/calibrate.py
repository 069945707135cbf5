"""``aqt ls calibrate``: a calibration batch as its own Label Studio project, and the gate on it.

Label Studio Community cannot assign tasks to people, and its API does not enforce annotations per
task. So the batch becomes a new project with the source project's labeling config and
``maximum_annotations`` equal to the number of named annotators, so that each of them can label
every task. The gate then counts exactly the named annotators, reports anyone else who annotated
the batch, and reports the named annotators who have not finished.

Each calibration task keeps its source item id (``data.aqt_item``), the batch id and the guideline
version, so the gate matches answers to the manifest.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from aqt.cli.common import AqtCommand, parse_categories
from aqt.errors import InputError, UsageError, truncate

from aqt_labelstudio.cli import _Connection, ls, project_option

__all__ = ["calibrate", "calibration_gate_for_project", "create_calibration_project", "text_key"]

_TEXT_RE = re.compile(r"<(?:Text|HyperText|Paragraphs)\b[^>]*\bvalue=\"\$(\w+)\"", re.IGNORECASE)


def text_key(label_config: str) -> str:
    """The task data key the labeling config shows as text (``<Text value="$text"/>``)."""
    m = _TEXT_RE.search(label_config or "")
    if not m:
        raise InputError(
            'The project\'s labeling config has no <Text value="$..."> tag.',
            fix="Calibrate a text project (Text, HyperText or Paragraphs).",
        )
    return m.group(1)


def _source_items(client: Any, project: int, key: str) -> list:
    from aqt.edgecases import SourceItem

    items = []
    for t in client.tasks(project):
        data = t.get("data") or {}
        text = data.get(key)
        if isinstance(text, str) and text.strip():
            meta = {k: v for k, v in data.items() if k != key}
            items.append(SourceItem(str(t["id"]), text, meta))
    if not items:
        raise InputError(
            f"Project {project} has no tasks with text in data.{key}.", fix="Import tasks first."
        )
    return items


def _check_annotators(client: Any, annotators: list[str]) -> None:
    known = set(client.users().values())
    unknown = [a for a in annotators if a not in known]
    if unknown:
        raise UsageError(
            f"Not members of the organisation: {truncate(unknown)}; members are "
            f"{truncate(sorted(known), 10)}.",
            fix="Name annotators by their Label Studio email, or invite them first.",
        )


def create_calibration_project(
    client: Any,
    project: int,
    annotators: list[str],
    *,
    size: int = 80,
    seed: int = 0,
    strata: str | None = None,
    catalogue: Any = None,
    guidelines: Any = None,
    title: str | None = None,
) -> tuple[int, Any, list]:
    """Select a batch from ``project`` and create the calibration project.

    Returns ``(new project id, manifest, findings)``.
    """
    from aqt.calibration import select_calibration_batch

    if len(annotators) < 2:
        raise UsageError("Calibration needs at least two annotators.", fix="Name them all.")
    _check_annotators(client, annotators)
    src = client.project(project)
    key = text_key(src.get("label_config", ""))
    gversion = guidelines.version.id if guidelines is not None else None
    batch = select_calibration_batch(
        _source_items(client, project, key),
        size,
        seed,
        strata=strata,
        edge_cases=catalogue,
        guideline_version=gversion,
        source=f"project {project}",
    )
    m = batch.manifest
    created = client.request(
        "POST",
        "api/projects/",
        json_body={
            "title": (title or f"{src.get('title') or project} · calibration {m.batch_id}")[:50],
            "label_config": src["label_config"],
            "maximum_annotations": len(annotators),
            "description": (
                f"aqt calibration batch {m.batch_id} of project {project} for "
                f"{', '.join(annotators)}; guideline version {gversion or 'n/a'}."
            ),
        },
        doing="creating the calibration project",
    )
    new_id = int(created["id"])
    tasks = [
        {
            "data": {
                **{k: v for k, v in dict(it.meta).items() if not k.startswith("aqt_")},
                key: it.text,
                "aqt_item": it.id,
                "aqt_batch": m.batch_id,
                "guideline_version": gversion,
            }
        }
        for it in batch.items
    ]
    client.request(
        "POST",
        f"api/projects/{new_id}/import",
        json_body=tasks,
        doing="importing the calibration batch",
        project=new_id,
    )
    return new_id, m, list(batch.findings)


def calibration_gate_for_project(
    client: Any, project: int, manifest: Any, annotators: list[str], **gate_kwargs: Any
):
    """The gate on a calibration project's annotations (items mapped back through
    ``data.aqt_item``)."""
    from aqt.calibration_gate import calibration_gate
    from aqt.edgecases import SourceItem

    tasks = client.tasks(project)
    key = text_key(client.project(project).get("label_config", ""))
    to_item = {str(t["id"]): str((t.get("data") or {}).get("aqt_item", t["id"])) for t in tasks}
    items = [
        SourceItem(to_item[str(t["id"])], str((t.get("data") or {}).get(key, "")), {})
        for t in tasks
    ]
    table = client.table(project).select_control(gate_kwargs.pop("control", None))
    table = table.with_records(replace(r, item=to_item.get(r.item, r.item)) for r in table.records)
    return calibration_gate(table, manifest, annotators, items=items, **gate_kwargs)


@ls.command("calibrate", cls=AqtCommand)
@project_option
@click.option(
    "--annotators",
    required=True,
    callback=parse_categories,
    metavar="A@X,B@X",
    help="The named annotators (Label Studio emails); each labels every batch item.",
)
@click.option("--report", is_flag=True, help="Run the gate on the calibration project --project.")
@click.option(
    "--manifest",
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="Manifest to write (default calibration-project-NEW_ID.json) or, with --report, to read "
    "(default calibration-project-ID.json).",
)
@click.option("--size", type=int, default=80, show_default=True, help="Items in the batch.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the sample.")
@click.option("--strata", metavar="FIELD", help="Stratify by 'length', 'source' or a data field.")
@click.option("--edge-cases", type=click.Path(path_type=Path), metavar="FILE")
@click.option("--guidelines", "guidelines_path", type=click.Path(path_type=Path), metavar="FILE")
@click.option("--title", metavar="TEXT", help="Title of the calibration project.")
@click.option("--threshold", type=float, help="Alpha gate (default 0.667).")
@click.option("--control", metavar="NAME", help="Control to gate on when there are several.")
@click.option("--json", "json_out", is_flag=True, help="Print the gate as JSON.")
@click.option("--md", "md_out", is_flag=True, help="Print the gate as Markdown.")
@click.option("--html", type=click.Path(path_type=Path), metavar="FILE", help="Write HTML.")
@click.option("--sheet", type=click.Path(path_type=Path), metavar="FILE")
@click.option("--gold", type=click.Path(path_type=Path), metavar="FILE")
@click.option("--ci", type=click.IntRange(min=0), default=1000, show_default=True, metavar="N")
@click.pass_obj
def calibrate(
    conn: _Connection, project, annotators, report, manifest, size, seed, strata, edge_cases,
    guidelines_path, title, threshold, control, json_out, md_out, html, sheet, gold, ci,
) -> None:  # fmt: skip
    """Calibration on Label Studio: create a project holding a seeded, stratified batch of
    --project's tasks that each named annotator labels in full; then, with --report, gate on it
    (exit 3 on FAIL, with the next step).

    Example: aqt ls calibrate --project 3 --size 80 --annotators a@x.org,b@x.org,c@x.org
    """
    from aqt.calibration import read_manifest, write_manifest
    from aqt.cli.calibrate import emit_gate
    from aqt.edgecases import load_catalogue
    from aqt.guidelines import read_guidelines

    client = conn.client()
    catalogue = load_catalogue(edge_cases) if edge_cases else None
    guide = read_guidelines(guidelines_path) if guidelines_path else None
    if not report:
        new_id, m, findings = create_calibration_project(
            client, project, annotators, size=size, seed=seed, strata=strata,
            catalogue=catalogue, guidelines=guide, title=title,
        )  # fmt: skip
        path = manifest or Path(f"calibration-project-{new_id}.json")
        write_manifest(m, path)
        for f in findings:
            click.echo(f"{f.severity}: {f.message} Fix: {f.fix}", err=True)
        click.echo(
            f"Created calibration project {new_id} with {len(m.items)} items (batch "
            f"{m.batch_id}, maximum_annotations {len(annotators)}); manifest {path}.\n"
            f"Each of {', '.join(annotators)} labels every task; then run: "
            f"aqt ls calibrate --project {new_id} --report --annotators {','.join(annotators)}"
        )
        return
    if json_out and md_out:
        raise UsageError("--json and --md cannot be used together.", fix="Pick one.")
    m = read_manifest(manifest or Path(f"calibration-project-{project}.json"))
    result = calibration_gate_for_project(
        client, project, m, annotators, edge_cases=catalogue, guidelines=guide,
        threshold=threshold, ci=ci, control=control,
    )  # fmt: skip
    emit_gate(result, json_out=json_out, md_out=md_out, html=html, sheet=sheet, gold=gold)
