"""Annotation guidelines: their version, their sections, and the IAA history they carry.

Guidelines are a Markdown file. Their version is a content hash (``sha256:`` and 12 hex digits)
plus an optional human label: a ``version: X`` (or ``version = "X"``) line among the first 20
lines. The version *id* stamped on every answer is the label when there is one, else the hash
(the same string :func:`aqt.adjudication.guideline_version_of` has always returned).

The hash covers the document's bytes up to :data:`HISTORY_MARKER` (and the blank line written
before it): ``aqt guidelines record`` appends a validation-results block after that marker, so
recording a calibration result does not change the version of the rules themselves.

Examples
--------
>>> v = guideline_version_from_text("# Sentiment\\nversion: 1.2\\n\\n## Sarcasm\\nNegative.\\n")
>>> (v.id, v.label, v.hash.startswith("sha256:"), len(v.hash))
('1.2', '1.2', True, 19)
>>> [s.title for s in parse_sections("# A\\ntext\\n## B: mixed\\nmore\\n")]
['A', 'B: mixed']
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aqt.errors import InputError

__all__ = [
    "HISTORY_MARKER",
    "GuidelineVersion",
    "Guidelines",
    "Section",
    "guideline_version_from_text",
    "guideline_version_of",
    "parse_sections",
    "read_guidelines",
    "record_validation",
    "validation_block",
]

#: everything after this line is the validation history and is left out of the content hash
HISTORY_MARKER = "<!-- aqt:validation-history -->"
_VERSION_RE = re.compile(
    r"""^\s*(?:#+\s*)?version\s*[:=]\s*["']?([^"'\s]+)""", re.IGNORECASE | re.MULTILINE
)
_HEADING_RE = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE_RE = re.compile(r"^\s*(```|~~~)")
#: what record_validation writes between the rules and the history marker
_SEP = b"\n\n"


@dataclass(frozen=True)
class GuidelineVersion:
    """``hash`` is ``sha256:`` plus 12 hex digits of the rules; ``label`` the ``version:`` line."""

    hash: str
    label: str | None = None

    @property
    def id(self) -> str:
        """The label when there is one, else the hash: what answers are stamped with."""
        return self.label or self.hash

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "hash": self.hash, "label": self.label}


@dataclass(frozen=True)
class Section:
    """A Markdown heading and the text under it (up to the next heading of any level)."""

    id: str
    title: str
    level: int
    line: int
    text: str

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "level": self.level, "line": self.line}


@dataclass(frozen=True)
class Guidelines:
    """A parsed guidelines document."""

    path: str | None
    version: GuidelineVersion
    sections: tuple[Section, ...]
    text: str

    def section(self, title_or_id: str) -> Section | None:
        """The section with this title or slug (case-insensitive), else ``None``."""
        key = title_or_id.strip().lower()
        for s in self.sections:
            if s.title.lower() == key or s.id == _slug(key):
                return s
        return None

    def sections_about(self, labels: Sequence[str]) -> list[Section]:
        """Sections whose title or text names any of ``labels`` (whole word, any case).

        Sections naming more of the labels come first; ties keep document order. The top-level
        title section (the only level-1 heading) is left out unless nothing else matches.
        """
        scored = []
        for s in self.sections:
            body = f"{s.title}\n{s.text}"
            hits = sum(
                1
                for lab in labels
                if re.search(rf"(?<!\w){re.escape(lab)}(?!\w)", body, re.IGNORECASE)
            )
            if hits:
                scored.append((-hits, s.line, s))
        top = [s for s in self.sections if s.level == 1]
        if len(top) == 1 and len(scored) > 1:
            scored = [t for t in scored if t[2] is not top[0]]
        return [s for _, _, s in sorted(scored, key=lambda t: (t[0], t[1]))]

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path,
            "version": self.version.to_dict(),
            "sections": [s.to_dict() for s in self.sections],
        }


def _slug(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-") or "section"


def _rules_part(data: bytes) -> bytes:
    """The bytes before the history marker, without the blank line :func:`record_validation`
    puts before it; the whole file when there is no history (so the hash of a file without
    history is the hash of its bytes, as ``aqt.adjudication.guideline_version_of`` computes)."""
    marker = HISTORY_MARKER.encode("utf-8")
    at = data.find(marker)
    if at < 0:
        return data
    rules = data[:at]
    return rules.removesuffix(_SEP)


def guideline_version_from_text(text: str | bytes) -> GuidelineVersion:
    """The version of a guidelines document given as text or bytes (see the module docstring)."""
    data = text.encode("utf-8") if isinstance(text, str) else text
    rules = _rules_part(data)
    head = "\n".join(rules.decode("utf-8", errors="replace").splitlines()[:20])
    match = _VERSION_RE.search(head)
    digest = "sha256:" + hashlib.sha256(rules).hexdigest()[:12]
    return GuidelineVersion(hash=digest, label=match.group(1) if match else None)


def _read_bytes(path: str | Path) -> bytes:
    p = Path(path)
    if not p.is_file():
        raise InputError(
            f"No guidelines file at {str(p)!r}.",
            fix="Pass the guidelines file with --guidelines PATH, or leave it out.",
        )
    return p.read_bytes()


def guideline_version_of(path: str | Path) -> str:
    """The version id of a guidelines file: its ``version:`` label, else ``sha256:`` + 12 hex."""
    return guideline_version_from_text(_read_bytes(path)).id


def parse_sections(text: str) -> tuple[Section, ...]:
    """Sections from ATX Markdown headings (``#`` to ``######``), ignoring fenced code blocks and
    the validation history; ``line`` is 1-based; slugs are made unique with ``-2``, ``-3``..."""
    rules = text.split(HISTORY_MARKER, 1)[0]
    lines = rules.splitlines()
    heads: list[tuple[int, int, str]] = []
    fenced = False
    for i, line in enumerate(lines):
        if _FENCE_RE.match(line):
            fenced = not fenced
            continue
        m = None if fenced else _HEADING_RE.match(line)
        if m:
            heads.append((i, len(m.group(1)), m.group(2).strip()))
    out, seen = [], {}
    for n, (i, level, title) in enumerate(heads):
        end = heads[n + 1][0] if n + 1 < len(heads) else len(lines)
        slug = _slug(title)
        seen[slug] = seen.get(slug, 0) + 1
        if seen[slug] > 1:
            slug = f"{slug}-{seen[slug]}"
        body = "\n".join(lines[i + 1 : end]).strip()
        out.append(Section(slug, title, level, i + 1, body))
    return tuple(out)


def read_guidelines(path: str | Path) -> Guidelines:
    """Read a guidelines Markdown file: version and sections."""
    data = _read_bytes(path)
    text = data.decode("utf-8", errors="replace")
    return Guidelines(str(path), guideline_version_from_text(data), parse_sections(text), text)


_METRICS = {"krippendorff_alpha": "Krippendorff's alpha", "token_alpha": "Token-level alpha"}


def _fmt(v: Any) -> str:
    return "n/a" if v is None else f"{float(v):.3f}"


def _ci(ci: Any) -> str:
    return f" [{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci else ""


def validation_block(
    gate: Mapping[str, Any], decisions: Sequence[str] = (), date: str | None = None
) -> str:
    """The Markdown entry ``aqt guidelines record`` appends for one calibration gate result.

    Parameters
    ----------
    gate : the gate dict (:meth:`aqt.calibration.GateResult.to_dict`, the ``--json`` output)
    decisions : what the team decided (one line each), e.g. ``"Sarcasm is Negative"``
    date : ISO date; default today (UTC)
    """
    date = date or _dt.datetime.now(_dt.timezone.utc).date().isoformat()
    batch = gate.get("batch") or {}
    overall = gate.get("overall") or {}
    lines = [
        f"### {date} · batch {batch.get('id') or 'n/a'} · {gate.get('status', 'n/a')}",
        "",
        f"- Guideline version: {gate.get('guideline_version') or 'n/a'}",
        (
            f"- Annotators: {', '.join(gate.get('annotators') or []) or 'n/a'}; "
            f"items: {overall.get('n_items', 'n/a')}"
        ),
        (
            f"- {_METRICS.get(str(gate.get('metric', 'krippendorff_alpha')), 'Alpha')}: {_fmt(overall.get('value'))}"
            f"{_ci(overall.get('ci95'))} against {_fmt(gate.get('threshold'))}: "
            f"{overall.get('status', 'n/a')}"
        ),
        "",
        "| Label | Alpha | 95% interval | Items | Result |",
        "|---|---:|---|---:|---|",
    ]
    for label, row in (gate.get("per_label") or {}).items():
        ci = row.get("ci95")
        lines.append(
            f"| {label} | {_fmt(row.get('value'))} | "
            f"{_ci(ci).strip() or 'n/a'} | {row.get('n_items', 0)} | {row.get('status', 'n/a')} |"
        )
    pairs = gate.get("confused_pairs") or []
    lines.append("")
    if pairs:
        lines.append("Confused label pairs:")
        for p in pairs:
            a, b = p["labels"]
            count = p.get("count")
            shown = f"{count:g}" if isinstance(count, (int, float)) else count
            lines.append(f"- {a} / {b}: {shown} disagreement(s)")
    else:
        lines.append("Confused label pairs: none")
    lines.append("")
    if decisions:
        lines.append("Decisions:")
        lines += [f"- {d}" for d in decisions]
    else:
        lines.append("Decisions: none recorded")
    return "\n".join(lines) + "\n"


def record_validation(
    path: str | Path,
    gate: Mapping[str, Any],
    decisions: Sequence[str] = (),
    date: str | None = None,
) -> str:
    """Append :func:`validation_block` to the guidelines file, atomically; returns the block.

    The first entry adds :data:`HISTORY_MARKER` and a ``## Validation history`` heading; the
    rules above the marker, and so the content hash, stay as they were.
    """
    from aqt.fileio import atomic_write_text

    text = _read_bytes(path).decode("utf-8")
    block = validation_block(gate, decisions, date)
    if HISTORY_MARKER not in text:  # the rules' bytes stay exactly as they are
        text = text + _SEP.decode() + f"{HISTORY_MARKER}\n## Validation history\n"
    mode = Path(path).stat().st_mode & 0o7777
    atomic_write_text(path, text.rstrip("\n") + "\n\n" + block)
    Path(path).chmod(mode)  # the temp file of the atomic write is private; keep the old mode
    return block
