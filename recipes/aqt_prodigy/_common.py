"""Loading a Prodigy dataset into an annotation table, shared by the aqt recipes."""

from __future__ import annotations

from collections import Counter
from typing import Any

from aqt.errors import InputError, UsageError, truncate
from aqt.records import AnnotationTable

from aqt_prodigy._compat import connect

__all__ = ["check_one_view", "load_examples", "to_table"]


def load_examples(dataset: str) -> list[dict[str, Any]]:
    """The saved examples of ``dataset``; an :class:`InputError` naming the datasets if missing."""
    db = connect()
    if dataset not in db:
        raise InputError(
            f"No dataset {dataset!r} in the Prodigy database; it has {truncate(db.datasets, 10)}.",
            fix="Check the name with `prodigy stats -l`.",
        )
    examples = db.get_dataset_examples(dataset)
    if not examples:
        raise InputError(
            f"Dataset {dataset!r} holds no examples.",
            fix="Annotate first, or pass the dataset that holds the answers.",
        )
    return examples


def check_one_view(
    examples: list[dict[str, Any]], dataset: str, pick: str | None = None
) -> list[dict[str, Any]]:
    """The examples of one interface; a dataset mixing ``_view_id``s needs ``pick``."""
    views = Counter(str(eg.get("_view_id") or "(none)") for eg in examples)
    if len(views) <= 1:
        return examples
    if pick is not None and pick in views:
        return [eg for eg in examples if str(eg.get("_view_id") or "(none)") == pick]
    shown = ", ".join(f"{v} ({n} answers)" for v, n in sorted(views.items()))
    raise UsageError(
        f"Dataset {dataset!r} mixes {len(views)} interfaces (_view_id): {shown}.",
        fix="Keep one interface per dataset, or pick one with --label VIEW_ID.",
    )


def to_table(
    examples: list[dict[str, Any]], dataset: str, label: str | None = None
) -> AnnotationTable:
    """Read the examples (annotators from session names) and pick one control."""
    from aqt.formats.prodigy import read_prodigy_examples

    table = read_prodigy_examples(examples, dataset=dataset)
    controls = table.controls()
    if label is not None and label in controls:
        return table.select_control(label)
    if label is None and len(controls) <= 1:
        return table
    if label is None:
        raise UsageError(
            f"Dataset {dataset!r} holds {len(controls)} questions: {truncate(controls, 10)}.",
            fix="Pick one with --label NAME.",
        )
    raise UsageError(
        f"No label or interface {label!r} in dataset {dataset!r}; it has {truncate(controls, 10)}.",
        fix="Pass one of those to --label.",
    )
