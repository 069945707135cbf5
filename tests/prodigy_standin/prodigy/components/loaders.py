"""``prodigy.components.loaders`` of the stand-in: legacy loaders and ``get_stream``."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from pathlib import Path


def JSONL(path: str | Path) -> Iterator[dict]:
    """Yield one task per non-empty line of a JSONL file."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def JSON(path: str | Path) -> Iterator[dict]:
    with open(path, encoding="utf-8") as fh:
        yield from json.load(fh)


def CSV(path: str | Path) -> Iterator[dict]:
    with open(path, encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            yield {k.lower() if k.lower() == "text" else k: v for k, v in row.items()}


def TXT(path: str | Path) -> Iterator[dict]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield {"text": line.strip()}


LOADERS = {"jsonl": JSONL, "json": JSON, "csv": CSV, "txt": TXT}


def get_stream(*args, **kwargs):  # re-exported like Prodigy 1.12+
    from .stream import get_stream as _get_stream

    return _get_stream(*args, **kwargs)
