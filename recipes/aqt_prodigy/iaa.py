"""The ``aqt.iaa`` recipe: the ``aqt agreement`` report on a Prodigy dataset."""
# ruff: noqa: UP045  (Optional keeps the typed arguments readable by every radicli version)

from typing import Optional

from aqt.errors import AqtError

from aqt_prodigy._compat import Arg, fail, recipe

__all__ = ["ARGS", "iaa"]


#: the recipe's arguments (their help is the --help text)
ARGS = {
    "dataset": Arg(
        help="Prodigy dataset holding every annotator's answers (sessions DATASET-NAME)"
    ),
    "level": Arg(
        "--level",
        "-L",
        help="Level of measurement for Krippendorff's alpha: nominal, ordinal, interval or ratio",
    ),
    "weights": Arg(
        "--weights",
        "-w",
        help="Gwet's weights for the kappa family, AC2 and percent "
        "agreement: identity, linear, quadratic, ordinal, radical, ratio, circular, bipolar",
    ),
    "categories": Arg(
        "--categories",
        "-c",
        help="Comma-separated category domain and order, unused "
        "categories included (default: observed, sorted)",
    ),
    "label": Arg(
        "--label",
        "-l",
        help="The question to report on when the dataset holds several: "
        "a classification label or an interface (_view_id)",
    ),
    "json_out": Arg("--json", help="Print the report as JSON"),
    "md_out": Arg("--md", help="Print the report as Markdown"),
    "html": Arg("--html", help="Also write a self-contained HTML report with plots to this file"),
    "ci": Arg("--ci", help="Bootstrap resamples over items for 95% intervals (0: off)"),
    "seed": Arg("--seed", help="Seed of the bootstrap"),
}


@recipe("aqt.iaa", **ARGS)
def iaa(
    dataset: str,
    level: str = "nominal",
    weights: str = "identity",
    categories: Optional[str] = None,
    label: Optional[str] = None,
    json_out: bool = False,
    md_out: bool = False,
    html: Optional[str] = None,
    ci: int = 0,
    seed: int = 0,
) -> None:
    """Report inter-annotator agreement on a Prodigy dataset, the same report as `aqt agreement`
    on its db-out export: nine coefficients, per label, per annotator pair, worst items. Annotators
    are the session names (?session=NAME). Example: prodigy aqt.iaa sentiment --level ordinal --md
    """
    try:
        _run(dataset, level, weights, categories, label, json_out, md_out, html, ci, seed)
    except AqtError as exc:
        fail(exc)


def _run(dataset, level, weights, categories, label, json_out, md_out, html, ci, seed) -> None:
    import sys

    from aqt.agreement import agreement_report
    from aqt.cli.common import emit_agreement
    from aqt.errors import UsageError

    from aqt_prodigy._common import check_one_view, load_examples, to_table

    if dataset.startswith("dataset:"):  # the source syntax of Prodigy's metric.iaa.* recipes
        dataset = dataset.split(":", 1)[1]
    examples = load_examples(dataset)
    picked = check_one_view(examples, dataset, label)
    table = to_table(picked, dataset, None if picked is not examples else label)
    cats = [c.strip() for c in categories.split(",")] if categories else None
    if cats is not None and (not all(cats) or len(set(cats)) != len(cats)):
        raise UsageError(
            f"--categories {categories!r} has an empty or repeated category.",
            fix="Give each category once, e.g. --categories neg,neu,pos.",
        )
    report = agreement_report(
        table, level=level, weights=weights, categories=cats, ci=int(ci), seed=int(seed)
    )
    annotators = table.annotators()
    print(f"Using {len(annotators)} annotator IDs: {', '.join(annotators)}", file=sys.stderr)
    emit_agreement(report.to_dict(), json_out=json_out, md_out=md_out, html=html)
