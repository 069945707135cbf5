"""The ``aqt.export`` recipe: the ``aqt export`` validated training set from a Prodigy dataset."""
# ruff: noqa: UP045  (Optional keeps the typed arguments readable by every radicli version)

from typing import Any, Optional

from aqt.errors import AqtError

from aqt_prodigy._compat import Arg, fail, msg, recipe

__all__ = ["ARGS", "export"]

#: the recipe's arguments (their help is the --help text)
ARGS = {
    "dataset": Arg(
        help="Prodigy dataset holding every annotator's answers (sessions DATASET-NAME)"
    ),
    "out_dir": Arg(
        help="Output directory for the training files, datasheet and report (must not exist)"
    ),
    "label": Arg("--label", "-l", help="The question to export when the dataset holds several"),
    "adjudication_log": Arg(
        "--adjudication-log",
        "-A",
        help="Adjudication log of aqt.adjudicate (JSONL); its decisions come first",
    ),
    "edge_cases": Arg(
        "--edge-cases",
        "-E",
        help="Edge-case catalogue (TOML); each case needs --edge-case-min items",
    ),
    "edge_case_min": Arg("--edge-case-min", help="Items each edge case must have"),
    "target_balance": Arg(
        "--target-balance", "-B", help="Target label shares, e.g. POS=0.4,NEG=0.4,NEU=0.2"
    ),
    "production": Arg(
        "--production",
        "-P",
        help="Labelled production sample (JSONL): its label shares are the target",
    ),
    "predictions": Arg(
        "--predictions",
        help="Earlier model's predictions (item, prediction) for the adversarial check",
    ),
    "split": Arg("--split", "-s", help="Train, dev and test shares, e.g. 0.8,0.1,0.1"),
    "group_col": Arg(
        "--group-col", "-g", help="Keep items sharing this meta field in one split (e.g. doc_id)"
    ),
    "method": Arg(
        "--method", help="Aggregate when not adjudicated or unanimous: dawid_skene or majority"
    ),
    "min_confidence": Arg(
        "--min-confidence", help="Aggregated items under this confidence are left out and listed"
    ),
    "formats": Arg(
        "--format", "-f", help="Files to write: jsonl, csv, parquet, spacy (comma-separated)"
    ),
    "allow_failures": Arg(
        "--allow-failures", help="Export despite failed checks; the reason goes into the datasheet"
    ),
    "force": Arg("--force", help="Replace OUT_DIR if it exists"),
    "seed": Arg("--seed", help="Seed of splits, models and bootstrap"),
}


@recipe("aqt.export", **ARGS)
def export(
    dataset: str,
    out_dir: str,
    label: Optional[str] = None,
    adjudication_log: Optional[str] = None,
    edge_cases: Optional[str] = None,
    edge_case_min: int = 3,
    target_balance: Optional[str] = None,
    production: Optional[str] = None,
    predictions: Optional[str] = None,
    split: str = "0.8,0.1,0.1",
    group_col: Optional[str] = None,
    method: str = "dawid_skene",
    min_confidence: float = 0.7,
    formats: str = "jsonl,csv,parquet,spacy",
    allow_failures: Optional[str] = None,
    force: bool = False,
    seed: int = 0,
) -> None:
    """Export a dataset as a validated training set, as `aqt export` does on its db-out export:
    final labels (adjudicated, unanimous, Dawid-Skene), every check, JSONL/CSV/Parquet/.spacy, a
    datasheet and an HTML report. Exits 3 on a failed check unless --allow-failures "REASON".
    Example: prodigy aqt.export sentiment ./data/v1 -A sentiment_final.adjudication.jsonl
    """
    from aqt.export import ExportRefused

    try:
        _run(
            dataset,
            out_dir,
            label,
            adjudication_log,
            edge_cases,
            edge_case_min,
            target_balance,
            production,
            predictions,
            split,
            group_col,
            method,
            min_confidence,
            formats,
            allow_failures,
            force,
            seed,
        )
    except ExportRefused as exc:
        _print_findings(exc.findings)
        msg.fail(exc.message, exc.fix or "", exits=3)
        raise SystemExit(3) from None
    except AqtError as exc:
        fail(exc)


def _print_findings(findings: Any) -> None:
    for f in findings:
        if f.severity == "info":
            continue
        show = msg.fail if f.severity == "error" else msg.warn
        show(f"{f.check}: {f.message}", f.fix)


def _meta(examples: list) -> dict:
    """``{_input_hash: meta}`` from the examples (text and meta fields of the first example)."""
    out: dict = {}
    for eg in examples:
        key = str(eg.get("_input_hash"))
        if key in out:
            continue
        fields = dict(eg.get("meta") or {})
        if "text" in eg:
            fields["text"] = eg["text"]
        out[key] = fields
    return out


def _run(
    dataset,
    out_dir,
    label,
    adjudication_log,
    edge_cases,
    edge_case_min,
    target_balance,
    production,
    predictions,
    split,
    group_col,
    method,
    min_confidence,
    formats,
    allow_failures,
    force,
    seed,
) -> None:
    from aqt.errors import UsageError
    from aqt.export import EXPORT_FORMATS, ExportOptions, export_dataset
    from aqt.validate import parse_ratios
    from aqt.validate.inputs import parse_balance

    from aqt_prodigy._common import check_one_view, load_examples, to_table

    fmts = tuple(f.strip() for f in str(formats).split(",") if f.strip())
    bad = [f for f in fmts if f not in EXPORT_FORMATS]
    if bad or not fmts:
        raise UsageError(
            f"--format {formats!r}: unknown {', '.join(bad) or 'empty'}.",
            fix=f"Use some of {', '.join(EXPORT_FORMATS)}.",
        )
    if method not in ("dawid_skene", "majority"):
        raise UsageError(f"--method {method!r} is unknown.", fix="Use dawid_skene or majority.")
    examples = load_examples(dataset)
    picked = check_one_view(examples, dataset, label)
    table = to_table(picked, dataset, None if picked is not examples else label)
    options = ExportOptions(
        method=method,
        min_confidence=float(min_confidence),
        split=parse_ratios(split),
        group_key=group_col,
        target_balance=parse_balance(target_balance),
        edge_case_min=int(edge_case_min),
        seed=int(seed),
    )
    plan, sheet = export_dataset(
        table,
        out_dir,
        adjudication_log=adjudication_log,
        edge_cases=edge_cases,
        meta=_meta(picked),
        production=production,
        predictions=predictions,
        options=options,
        formats=fmts,
        allow_failures=allow_failures,
        force=bool(force),
    )
    _print_findings(plan.findings)
    c = sheet["counts"]
    splits = ", ".join(f"{k} {v}" for k, v in c["by_split"].items())
    msg.good(
        f"Exported {c['final']} items to {out_dir} ({splits})",
        f"{c['unresolved']} unresolved left out; datasheet.md and report.html describe the set",
    )
