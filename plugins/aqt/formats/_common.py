"""Shared helpers for the readers: file sniffing, JSON and JSON Lines parsing, timestamps.

Every helper raises :class:`aqt.errors.FormatError` / :class:`aqt.errors.InputError` with the file
name, the location (line numbers) and the fix, never a bare ``json`` or ``UnicodeDecodeError``.
"""

from __future__ import annotations

import functools
import gc
import json
import math
import os
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from aqt.errors import FormatError, InputError, collect_problems, truncate
from aqt.records import TABLE_COLUMNS, Annotation

__all__ = [
    "PARQUET_MAGIC",
    "Progress",
    "annotation_from_base",
    "check_file",
    "is_missing",
    "iter_jsonl",
    "load_json_document",
    "parse_timestamp",
    "read_head",
    "read_text",
]

#: ``progress(bytes_read, total_bytes)``, called now and then during long reads
Progress = Callable[[int, int], None]

PARQUET_MAGIC = b"PAR1"
_PROGRESS_EVERY = 1 << 20  # bytes between progress calls
_MAX_PROBLEMS = 10
_KEEP_PROBLEMS = 1000  # problem messages kept in full; the rest are counted


def check_file(path: str | os.PathLike) -> Path:
    """``path`` as a :class:`Path`, or an :class:`InputError` if it is missing, a folder or empty."""
    p = Path(path)
    if not p.exists():
        raise InputError(f"No such file: {str(p)!r}.", fix="Check the path.")
    if p.is_dir():
        raise InputError(f"{str(p)!r} is a folder, not a file.", fix="Pass the export file itself.")
    if p.stat().st_size == 0:
        raise FormatError(
            f"{p.name} is empty (0 bytes).",
            fix="Export the project again; an export with no annotations still holds '[]'.",
        )
    return p


def read_head(path: Path, size: int = 65536) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(size)


def looks_binary(head: bytes) -> bool:
    """True for data that is not text: NUL bytes, or many control bytes (text in another
    encoding than UTF-8 is still text; :func:`read_text` names the line to fix)."""
    if b"\x00" in head:
        return True
    try:
        head.decode("utf-8")
    except UnicodeDecodeError:
        controls = sum(1 for b in head if b < 9 or 13 < b < 32 or b == 127)
        return controls > len(head) // 20
    return False


def binary_error(path: Path) -> FormatError:
    return FormatError(
        f"{path.name} is binary data, not a text export (first bytes {read_head(path, 8)!r}).",
        fix="Pass a Label Studio JSON/CSV export, Prodigy db-out JSONL, or a table "
        "(.csv, .jsonl, .parquet).",
    )


def read_text(path: Path) -> str:
    """The whole file as text (UTF-8, BOM stripped), or a :class:`FormatError` for binary data."""
    data = path.read_bytes()
    if looks_binary(data[:65536]):
        raise binary_error(path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FormatError(
            f"{path.name} line {line}: bytes that are not UTF-8 ({data[exc.start : exc.start + 4]!r}).",
            fix="Save the file as UTF-8.",
        ) from None
    if not text.strip():
        raise FormatError(f"{path.name} holds only whitespace.", fix="Export the project again.")
    return text


def load_json_document(path: Path, text: str | None = None) -> Any:
    """Parse a whole JSON file; a syntax error names the line and column."""
    if text is None:
        text = read_text(path)
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise FormatError(
            f"{path.name} is not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}.",
            fix="Export the file again (it may be truncated), or pass --from to pick another format.",
        ) from None


def iter_jsonl(
    path: Path, progress: Progress | None = None, what: str = "JSON Lines file"
) -> Iterator[tuple[int, dict]]:
    """Yield ``(line_number, object)`` for each non-blank line of a JSON Lines file.

    Malformed lines and lines that are not JSON objects are collected; after the last line one
    :class:`InputError` lists them all with their line numbers. ``progress(bytes_read, total)`` is
    called about every megabyte and once at the end.

    Lines are parsed a megabyte at a time as one JSON array (one C-level parse instead of one
    ``json.loads`` call per line); a chunk that does not parse line for line is parsed again one
    line at a time, which finds the bad lines.
    """
    total = path.stat().st_size
    loads = json.loads
    problems: list[str] = []
    done = 0
    if looks_binary(read_head(path, 65536)):
        raise binary_error(path)
    with open(path, "rb") as fh:
        lineno = 0
        while True:
            lines = fh.readlines(_PROGRESS_EVERY)
            if not lines:
                break
            first = lineno + 1
            lineno += len(lines)
            done += sum(map(len, lines))
            try:
                objs = loads(b"[" + b",".join(lines) + b"]")
            except ValueError:
                objs = None
            if objs is not None and len(objs) == len(lines):
                if set(map(type, objs)) == {dict}:  # the usual case, checked at C speed
                    yield from zip(range(first, lineno + 1), objs)
                    if progress is not None:
                        progress(done, total)
                    continue
                for i, obj in enumerate(objs, first):
                    if type(obj) is dict:
                        yield i, obj
                    else:
                        problems.append(
                            f"line {i}: expected a JSON object, got {type(obj).__name__}"
                        )
            else:
                yield from _parse_lines(lines, first, problems)
            if progress is not None:
                progress(done, total)
    if progress is not None and done != total:
        progress(total, total)
    collect_problems(
        problems,
        f"{path.name} is not valid {what}",
        fix="Repair or delete those lines (each line must be one JSON object).",
        limit=_MAX_PROBLEMS,
    )


def _parse_lines(lines: list[bytes], first: int, problems: list[str]) -> Iterator[tuple[int, dict]]:
    for lineno, line in enumerate(lines, first):
        if not line.strip():
            continue
        if lineno == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        try:
            obj = json.loads(line)
        except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError
            if len(problems) >= _KEEP_PROBLEMS:  # only counted from here on
                problems.append("")
                continue
            msg = getattr(exc, "msg", None) or "not UTF-8 text"
            problems.append(f"line {lineno}: {msg} ({_snippet(line)})")
            continue
        if type(obj) is dict:
            yield lineno, obj
        else:
            problems.append(f"line {lineno}: expected a JSON object, got {type(obj).__name__}")


def _snippet(line: bytes, limit: int = 40) -> str:
    text = line.decode("utf-8", "replace").strip()
    return repr(text[:limit] + ("..." if len(text) > limit else ""))


def parse_timestamp(value: Any) -> float | None:
    """Unix seconds from a number or an ISO 8601 string (``Z`` accepted); ``None`` when missing."""
    if is_missing(value):
        return None
    if isinstance(value, bool):
        raise TypeError(f"not a timestamp: {value!r}")
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    try:
        return float(text)
    except ValueError:
        pass
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def is_missing(value: Any) -> bool:
    """``None``, NaN or an empty string."""
    if value is None:
        return True
    if isinstance(value, float):
        return math.isnan(value)
    if isinstance(value, str):
        return value == ""
    return False


def columns_error(path_name: str, found: list[str], missing: list[str], fix: str) -> InputError:
    return InputError(
        f"{path_name} has no column {truncate(missing)}; columns found: {truncate(found, 12)}.",
        fix=fix,
    )


def fast_annotation() -> Callable[..., Annotation]:
    """A constructor for :class:`Annotation` taking the fields positionally, for hot loops.

    The frozen dataclass ``__init__`` sets each field through ``object.__setattr__``; filling the
    instance ``__dict__`` in one step is about three times faster and gives an equal object. Falls
    back to the class itself if ``Annotation`` ever gains slots, validation or other fields.
    """
    import dataclasses

    names = tuple(f.name for f in dataclasses.fields(Annotation))
    if (
        names != TABLE_COLUMNS
        or hasattr(Annotation, "__post_init__")
        or hasattr(Annotation, "__slots__")
    ):
        return Annotation
    new = object.__new__
    set_dict = object.__setattr__

    def make(
        item: str,
        annotator: str,
        value: Any,
        kind: str = "choice",
        control: str = "",
        timestamp: float | None = None,
        guideline_version: str | None = None,
        source: str | None = None,
        annotation_id: str | None = None,
        text: str | None = None,
    ) -> Annotation:
        a = new(Annotation)
        set_dict(
            a,
            "__dict__",
            {
                "item": item,
                "annotator": annotator,
                "value": value,
                "kind": kind,
                "control": control,
                "timestamp": timestamp,
                "guideline_version": guideline_version,
                "source": source,
                "annotation_id": annotation_id,
                "text": text,
            },
        )
        return a

    return make


def gc_paused(func: Callable) -> Callable:
    """Run ``func`` with the cyclic garbage collector paused (restored afterwards).

    A reader creates millions of small acyclic objects; without the pause the collector runs over
    the growing heap again and again, which costs about a third of the reading time.
    """

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        was_enabled = gc.isenabled()
        gc.disable()
        try:
            return func(*args, **kwargs)
        finally:
            if was_enabled:
                gc.enable()

    return wrapper


def annotation_from_base(base: tuple, value: Any, kind: str, control: str) -> Annotation:
    """One record from a Label Studio reader's ``(item, annotator, timestamp, annotation id,
    text)`` tuple and one control's value (shared by the JSON and the flat readers)."""
    item, annotator, ts, aid, text = base
    return Annotation(
        item=item,
        annotator=annotator,
        value=value,
        kind=kind,
        control=control,
        timestamp=ts,
        annotation_id=aid,
        text=text,
    )
