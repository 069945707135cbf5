"""``prodigy.components.stream`` of the stand-in: ``Stream`` and ``get_stream``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from ..util import TASK_HASH_ATTR, set_hashes
from .loaders import LOADERS


class Stream:
    """An iterator of task dicts that wrappers can be applied to in place."""

    def __init__(self, iterable: Iterable[dict]) -> None:
        self._source = iterable
        self._iter: Iterator[dict] = iter(iterable)

    @classmethod
    def from_iterable(cls, iterable: Iterable[dict]) -> Stream:
        return cls(iterable)

    def __iter__(self) -> Stream:
        return self

    def __next__(self) -> dict:
        return next(self._iter)

    def apply(self, func: Callable[..., Iterable[dict]], *args: Any, **kwargs: Any) -> Stream:
        """Wrap the stream: it goes in as ``stream=`` if named, replaces itself among the
        positional arguments, or else is passed first."""
        current = self._iter
        if "stream" in kwargs:
            kwargs["stream"] = current
        elif any(a is self for a in args):
            args = tuple(current if a is self else a for a in args)
        else:
            args = (current, *args)
        self._iter = iter(func(*args, **kwargs))
        return self


def _source_is_dataset(source: Any, loader: str | None) -> bool:
    return isinstance(source, str) and source.startswith("dataset:")


def get_stream(
    source: Any,
    *,
    loader: str | None = None,
    rehash: bool = False,
    dedup: bool = False,
    input_key: str = "text",
    is_binary: bool = False,
    **kwargs: Any,
) -> Stream:
    """A Stream from a file path, ``dataset:NAME[:answer]``, or an iterable of dicts."""
    if _source_is_dataset(source, loader):
        from .db import connect

        parts = source.split(":")
        examples = connect().get_dataset_examples(parts[1])
        if len(parts) > 2:
            examples = [eg for eg in examples if eg.get("answer") == parts[2]]
        items: Iterable[dict] = examples
    elif isinstance(source, (str, Path)):
        ext = loader or Path(source).suffix.lstrip(".").lower()
        if ext not in LOADERS:
            raise ValueError(f"No loader for {source!r}; known: {sorted(LOADERS)}")
        items = LOADERS[ext](source)
    else:
        items = source

    def generate() -> Iterator[dict]:
        seen: set[int] = set()
        for task in items:
            task = dict(task)
            if input_key != "text" and input_key in task and "text" not in task:
                task["text"] = task[input_key]
            task = set_hashes(task, overwrite=rehash)
            if dedup:
                if task[TASK_HASH_ATTR] in seen:
                    continue
                seen.add(task[TASK_HASH_ATTR])
            yield task

    return Stream(generate())
