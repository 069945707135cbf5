"""Validated export: final labels, every dataset check, and the training files with a datasheet.

:func:`plan_export` computes everything (final labels, splits, agreement, findings) without
writing; :func:`write_export` writes the files into a temporary directory beside the output
directory and renames it into place only when every file is written, so a failed export leaves
nothing behind. An export with an error-severity finding is refused unless ``allow_failures``
gives a reason, which the datasheet records.

Files: ``dataset.jsonl``, ``dataset.csv``, ``dataset.parquet`` (one row per item with ``id``,
``text``, ``label``, ``split``, ``label_source`` (adjudicated, unanimous, single, dawid_skene or
majority), ``confidence``, ``n_annotators``, ``meta``), ``{split}.spacy`` (spaCy DocBin:
``doc.cats`` for classification, ``doc.spans["sc"]`` and, when they do not overlap, ``doc.ents``
for spans), ``datasheet.json``, ``datasheet.md`` and
``report.html``.

Modules: :mod:`aqt.export.plan` (options, plan, checks) and :mod:`aqt.export.write` (writers,
atomic write, :func:`export_dataset`, the one call behind the CLI and the recipe).
"""

from aqt.export.plan import EXPORT_FORMATS, ExportOptions, ExportPlan, ExportRefused, plan_export
from aqt.export.write import export_dataset, file_provenance, write_export

__all__ = [
    "EXPORT_FORMATS",
    "ExportOptions",
    "ExportPlan",
    "ExportRefused",
    "export_dataset",
    "file_provenance",
    "plan_export",
    "write_export",
]
