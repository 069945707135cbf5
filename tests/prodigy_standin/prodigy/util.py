"""``prodigy.util`` of the stand-in: hashing, argument helpers, the message printer, constants."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterable
from typing import Any

INPUT_HASH_ATTR = "_input_hash"
TASK_HASH_ATTR = "_task_hash"
SESSION_ID_ATTR = "_session_id"
ANNOTATOR_ID_ATTR = "_annotator_id"
VIEW_ID_ATTR = "_view_id"

DEFAULT_INPUT_KEYS = ("text", "image", "html", "input")
DEFAULT_TASK_KEYS = ("spans", "label", "options")

try:  # real Prodigy's msg is a wasabi Printer
    from wasabi import msg  # type: ignore
except ImportError:  # pragma: no cover - wasabi ships with spaCy

    class _Printer:
        def _p(self, kind: str, title: str = "", text: str = "", exits: int | None = None) -> None:
            print(f"[{kind}] {title}" + (f"\n{text}" if text else ""))
            if exits is not None:
                raise SystemExit(exits)

        def good(self, title: str = "", text: str = "", exits: int | None = None) -> None:
            self._p("+", title, text, exits)

        def fail(self, title: str = "", text: str = "", exits: int | None = None) -> None:
            self._p("x", title, text, exits)

        def warn(self, title: str = "", text: str = "", exits: int | None = None) -> None:
            self._p("!", title, text, exits)

        def info(self, title: str = "", text: str = "", exits: int | None = None) -> None:
            self._p("i", title, text, exits)

        def text(self, title: str = "", text: str = "", exits: int | None = None) -> None:
            self._p("", title, text, exits)

    msg = _Printer()


def _hash32(value: Any) -> int:
    """A stable signed 32-bit hash of a JSON-serialisable value (Prodigy uses murmurhash)."""
    data = json.dumps(value, sort_keys=True, ensure_ascii=False, default=str).encode("utf-8")
    number = int.from_bytes(hashlib.md5(data).digest()[:4], "little")
    return number - 2**32 if number >= 2**31 else number


def set_hashes(
    task: dict,
    input_keys: Iterable[str] = DEFAULT_INPUT_KEYS,
    task_keys: Iterable[str] = DEFAULT_TASK_KEYS,
    ignore: Iterable[str] = (
        "score",
        "rank",
        "model",
        "source",
        "_view_id",
        "_session_id",
        "_annotator_id",
        "answer",
    ),
    overwrite: bool = False,
) -> dict:
    """Add ``_input_hash`` (from the input keys) and ``_task_hash`` (input hash plus task keys)."""
    if not overwrite and INPUT_HASH_ATTR in task and TASK_HASH_ATTR in task:
        return task
    ignore = set(ignore)
    inputs = {k: task[k] for k in input_keys if k in task and k not in ignore}
    if not inputs:  # fall back to every non-underscore key, as Prodigy hashes the whole task
        inputs = {k: v for k, v in task.items() if not k.startswith("_") and k not in ignore}
    if overwrite or INPUT_HASH_ATTR not in task:
        task[INPUT_HASH_ATTR] = _hash32(inputs)
    question = {k: task[k] for k in task_keys if k in task and k not in ignore}
    if overwrite or TASK_HASH_ATTR not in task:
        task[TASK_HASH_ATTR] = _hash32([task[INPUT_HASH_ATTR], question])
    return task


def split_string(text: str | None) -> list[str]:
    """Split a comma-separated command-line value into stripped, non-empty parts."""
    if not text:
        return []
    return [part.strip() for part in str(text).split(",") if part.strip()]


def get_timestamp_session_id() -> str:
    """The id of an unnamed session: a timestamp like ``2023-10-27_16-50-06``."""
    return time.strftime("%Y-%m-%d_%H-%M-%S")


def log(message: str, details: Any = None) -> None:
    """Prodigy logs to stderr when PRODIGY_LOGGING is set; the stand-in stays quiet."""
