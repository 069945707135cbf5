"""The edge-case catalogue: known hard cases, the label they should get, and how to find them.

A catalogue is a TOML file (or YAML when PyYAML is installed) with an optional ``labels`` list and
one ``[[case]]`` table per case::

    labels = ["Positive", "Negative", "Neutral"]

    [[case]]
    id = "sarcasm"
    description = "Praise words used ironically to complain."
    expected = "Negative"
    section = "Sarcasm and irony"          # a heading of the guidelines
    examples = ["Oh great, the app crashed again."]
    [case.rule]
    keywords = ["oh great", "yeah right"]  # any of them, whole words, any case
    regex = "thanks a lot"                 # re.search, case-insensitive
    min_length = 10                        # characters of the text
    max_length = 400
    field = "meta.platform"                # a field of the item (dotted path into meta)...
    in = ["twitter", "reddit"]             # ...equal to one of these (or equals = "x")

Every condition a rule gives must hold (keywords and regex are each one condition). Items come from
a data source read by :func:`aqt.sources.read_source_items` (re-exported here).

Examples
--------
>>> cat = catalogue_from_dict({"case": [{"id": "short", "description": "One word.",
...     "expected": "Neutral", "rule": {"max_length": 5}}]})
>>> items = [SourceItem("1", "ok", {}), SourceItem("2", "a long review", {})]
>>> find_candidates(cat, items)
{'short': ['1']}
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aqt.errors import InputError, collect_problems, truncate
from aqt.findings import Finding
from aqt.records import natural_key
from aqt.sources import SourceItem, field_value, read_source_items, text_hash

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

__all__ = [
    "Catalogue",
    "EdgeCase",
    "Rule",
    "SourceItem",
    "catalogue_from_dict",
    "check_catalogue",
    "field_value",
    "find_candidates",
    "load_catalogue",
    "read_source_items",
    "text_hash",
]

CASE_KEYS = {"id", "description", "expected", "section", "examples", "rule"}
RULE_KEYS = {"keywords", "regex", "min_length", "max_length", "field", "equals", "in"}
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_FIX = "Correct the listed entries; see configs/edge_cases.example.toml for the layout."


@dataclass(frozen=True)
class Rule:
    """How to find candidate items; every given condition must hold."""

    keywords: tuple[str, ...] = ()
    regex: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    field: str | None = None
    equals: Any = None
    in_: tuple[Any, ...] | None = None

    def matches(self, item: SourceItem) -> bool:
        text = item.text
        if self.keywords and not any(
            re.search(rf"(?<!\w){re.escape(k)}(?!\w)", text, re.IGNORECASE) for k in self.keywords
        ):
            return False
        if self.regex is not None and not re.search(self.regex, text, re.IGNORECASE):
            return False
        if self.min_length is not None and len(text) < self.min_length:
            return False
        if self.max_length is not None and len(text) > self.max_length:
            return False
        if self.field is not None:
            value = field_value(item, self.field)
            if self.in_ is not None:
                return value in self.in_
            return value == self.equals
        return True

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        if self.keywords:
            d["keywords"] = list(self.keywords)
        for k in ("regex", "min_length", "max_length", "field", "equals"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        if self.in_ is not None:
            d["in"] = list(self.in_)
        return d


@dataclass(frozen=True)
class EdgeCase:
    """A catalogued hard case."""

    id: str
    description: str
    expected: str
    rule: Rule
    section: str | None = None
    examples: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "description": self.description,
            "expected": self.expected,
            "section": self.section,
            "examples": list(self.examples),
            "rule": self.rule.to_dict(),
        }


@dataclass(frozen=True)
class Catalogue:
    """The cases of a catalogue, in file order; ``labels`` when the file lists them."""

    cases: tuple[EdgeCase, ...]
    labels: tuple[str, ...] = ()
    path: str | None = None

    def get(self, case_id: str) -> EdgeCase | None:
        return next((c for c in self.cases if c.id == case_id), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "labels": list(self.labels),
            "cases": [c.to_dict() for c in self.cases],
        }


def _rule(raw: Any, where: str, problems: list[str]) -> Rule | None:
    if not isinstance(raw, Mapping):
        problems.append(f"{where}: rule is missing; give at least one of {sorted(RULE_KEYS)}")
        return None
    unknown = sorted(set(raw) - RULE_KEYS)
    if unknown:
        problems.append(
            f"{where}.rule: unknown key(s) {truncate(unknown)}; use {sorted(RULE_KEYS)}"
        )
    if not set(raw) & RULE_KEYS:
        problems.append(f"{where}.rule: no condition; give keywords, regex, length or field")
    kws = raw.get("keywords", [])
    if isinstance(kws, str):
        kws = [kws]
    if not isinstance(kws, list) or not all(isinstance(k, str) and k.strip() for k in kws):
        problems.append(f"{where}.rule.keywords: must be a list of non-empty strings, got {kws!r}")
        kws = []
    regex = raw.get("regex")
    if regex is not None:
        try:
            re.compile(str(regex))
        except re.error as exc:
            problems.append(f"{where}.rule.regex: {regex!r} does not compile ({exc})")
    lengths = {}
    for k in ("min_length", "max_length"):
        v = raw.get(k)
        if v is not None and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
            problems.append(f"{where}.rule.{k}: must be a whole number >= 0, got {v!r}")
            v = None
        lengths[k] = v
    lo, hi = lengths["min_length"], lengths["max_length"]
    if lo is not None and hi is not None and lo > hi:
        problems.append(f"{where}.rule: min_length {lo} > max_length {hi}")
    fld, has_eq, has_in = raw.get("field"), "equals" in raw, "in" in raw
    if fld is not None and not (isinstance(fld, str) and fld.strip()):
        problems.append(f"{where}.rule.field: must be a field name such as 'meta.source'")
    if fld is not None and not (has_eq or has_in):
        problems.append(f"{where}.rule: field {fld!r} needs equals = VALUE or in = [VALUES]")
    if fld is not None and has_eq and has_in:
        problems.append(f"{where}.rule: give either equals or in for field {fld!r}, not both")
    if (has_eq or has_in) and fld is None:
        problems.append(f"{where}.rule: equals/in need field = NAME")
    in_ = raw.get("in")
    if has_in and not isinstance(in_, list):
        problems.append(f"{where}.rule.in: must be a list, got {in_!r}")
        in_ = None
    return Rule(
        keywords=tuple(kws),
        regex=str(regex) if regex is not None else None,
        min_length=lo,
        max_length=hi,
        field=fld if isinstance(fld, str) else None,
        equals=raw.get("equals"),
        in_=tuple(in_) if isinstance(in_, list) else None,
    )


def catalogue_from_dict(
    data: Mapping[str, Any], *, path: str | None = None, labels: Sequence[str] | None = None
) -> Catalogue:
    """Build and validate a catalogue; every problem is collected before one :class:`InputError`.

    ``labels`` (or the file's ``labels`` list) fixes the label set expected labels must belong to.
    """
    where0 = path or "catalogue"
    problems: list[str] = []
    if not isinstance(data, Mapping):
        raise InputError(f"{where0}: expected a table with [[case]] entries.", fix=_FIX)
    unknown = sorted(set(data) - {"labels", "case"})
    if unknown:
        problems.append(f"unknown top-level key(s) {truncate(unknown)}; use labels and [[case]]")
    file_labels = data.get("labels") or []
    if not isinstance(file_labels, list) or not all(isinstance(x, str) for x in file_labels):
        problems.append(f"labels: must be a list of strings, got {file_labels!r}")
        file_labels = []
    allowed = list(labels) if labels else list(file_labels)
    raw_cases = data.get("case")
    if not isinstance(raw_cases, list) or not raw_cases:
        problems.append("no cases: add [[case]] tables (TOML) or a 'case:' list (YAML)")
        raw_cases = []
    cases, seen = [], {}
    for i, raw in enumerate(raw_cases):
        cid = raw.get("id") if isinstance(raw, Mapping) else None
        where = f"case[{i}]" + (f" (id {cid!r})" if isinstance(cid, str) else "")
        if not isinstance(raw, Mapping):
            problems.append(f"{where}: expected a table, got {type(raw).__name__}")
            continue
        bad = sorted(set(raw) - CASE_KEYS)
        if bad:
            problems.append(f"{where}: unknown key(s) {truncate(bad)}; use {sorted(CASE_KEYS)}")
        if not isinstance(cid, str) or not _ID_RE.match(cid):
            problems.append(f"{where}.id: {cid!r} is not an id (letters, digits, _ . -)")
        elif cid in seen:
            problems.append(f"{where}.id: {cid!r} repeats case[{seen[cid]}]")
        else:
            seen[cid] = i
        desc = raw.get("description")
        if not isinstance(desc, str) or not desc.strip():
            problems.append(f"{where}.description: missing; say what makes the case hard")
        expected = raw.get("expected")
        if not isinstance(expected, str) or not expected.strip():
            problems.append(f"{where}.expected: missing; give the label the case should get")
        elif allowed and expected not in allowed:
            problems.append(f"{where}.expected: {expected!r} is not a label ({', '.join(allowed)})")
        examples = raw.get("examples", [])
        if not isinstance(examples, list) or not all(isinstance(e, str) for e in examples):
            problems.append(f"{where}.examples: must be a list of example texts")
            examples = []
        section = raw.get("section")
        if section is not None and not isinstance(section, str):
            problems.append(f"{where}.section: must be a guideline heading, got {section!r}")
            section = None
        rule = _rule(raw.get("rule"), where, problems)
        if rule is not None and isinstance(cid, str) and isinstance(expected, str):
            cases.append(
                EdgeCase(
                    cid, str(desc or ""), expected, rule, section, tuple(str(e) for e in examples)
                )
            )
    collect_problems(problems, f"Edge-case catalogue {where0} is invalid", _FIX, limit=20)
    return Catalogue(tuple(cases), tuple(allowed), path)


def load_catalogue(path: str | Path, *, labels: Sequence[str] | None = None) -> Catalogue:
    """Read and validate a TOML (``.toml``) or YAML (``.yaml``/``.yml``) catalogue."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"No edge-case catalogue at {str(p)!r}.", fix="Check the path.")
    text = p.read_text(encoding="utf-8")
    if p.suffix.lower() in (".yaml", ".yml"):
        try:
            import yaml
        except ImportError:
            raise InputError(
                f"{p} is YAML, and PyYAML is not installed.",
                fix="pip install pyyaml, or write the catalogue as TOML.",
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InputError(f"{p}: not valid YAML ({exc}).", fix="Fix the syntax.") from None
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"{p}: not valid TOML ({exc}).", fix="Fix the syntax.") from None
    return catalogue_from_dict(data or {}, path=str(p), labels=labels)


def find_candidates(catalogue: Catalogue, items: Iterable[SourceItem]) -> dict[str, list[str]]:
    """For each case, the ids of matching items (natural order); cases without any are left out."""
    items = list(items)
    out = {}
    for case in catalogue.cases:
        hits = sorted((it.id for it in items if case.rule.matches(it)), key=natural_key)
        if hits:
            out[case.id] = hits
    return out


def check_catalogue(
    catalogue: Catalogue,
    items: Iterable[SourceItem] | None = None,
    guidelines: Any = None,
) -> tuple[dict[str, Any], list[Finding]]:
    """Which cases have candidates in ``items``, and findings on the catalogue.

    Findings: ``edge_case_no_candidates`` (info) for a case with no candidate in the source;
    ``edge_case_example_unmatched`` (warning) when an example text does not satisfy its own rule;
    ``edge_case_section`` (warning) when ``guidelines`` (:class:`aqt.guidelines.Guidelines`) has
    no heading named like the case's ``section``.

    Returns
    -------
    summary : ``{"cases": [{"id", "expected", "section", "n_candidates", "candidates"}], ...}``
    findings : list of :class:`~aqt.findings.Finding`
    """
    findings: list[Finding] = []
    items = list(items) if items is not None else None
    cands = find_candidates(catalogue, items) if items is not None else {}
    rows = []
    for case in catalogue.cases:
        hits = cands.get(case.id, [])
        rows.append(
            {
                "id": case.id,
                "expected": case.expected,
                "section": case.section,
                "n_candidates": len(hits),
                "candidates": hits[:20],
            }
        )
        if items is not None and not hits:
            findings.append(
                Finding(
                    "edge_case_no_candidates",
                    "info",
                    (),
                    f"Edge case {case.id!r} matches no item of the source.",
                    "Widen the rule if such items exist, or keep the case for later sources.",
                )
            )
        for n, ex in enumerate(case.examples):
            if not case.rule.matches(SourceItem("example", ex, {})) and case.rule.field is None:
                findings.append(
                    Finding(
                        "edge_case_example_unmatched",
                        "warning",
                        (),
                        f"Edge case {case.id!r}: examples[{n}] {ex[:60]!r} does not match its rule.",
                        "Make the rule find its own examples, or replace the example.",
                    )
                )
        if guidelines is not None and case.section and guidelines.section(case.section) is None:
            titles = [s.title for s in guidelines.sections]
            findings.append(
                Finding(
                    "edge_case_section",
                    "warning",
                    (),
                    f"Edge case {case.id!r} names section {case.section!r}, which the guidelines "
                    f"do not have (headings: {truncate(titles, 8)}).",
                    "Use a heading of the guidelines, or add that section.",
                )
            )
    summary = {
        "n_cases": len(catalogue.cases),
        "n_items": None if items is None else len(items),  # type: ignore[arg-type]
        "cases": rows,
    }
    return summary, findings
