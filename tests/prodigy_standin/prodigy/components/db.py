"""``prodigy.components.db`` of the stand-in: a Database on a real SQLite file.

The layout follows Prodigy's own (``dataset``, ``example``, ``link``): an example row is stored once
and linked to every dataset it belongs to, including the session dataset named after the session id.
``connect()`` opens ``prodigy.db`` in ``$PRODIGY_HOME`` (default ``~/.prodigy``) unless
``db_settings={"path": DIR, "name": FILE}`` says otherwise; one Database per file per process.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..util import INPUT_HASH_ATTR, TASK_HASH_ATTR, set_hashes

_CONNECTIONS: dict[str, Database] = {}

SCHEMA = """
CREATE TABLE IF NOT EXISTS dataset (
    id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL, created INTEGER NOT NULL,
    meta TEXT NOT NULL, session INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS example (
    id INTEGER PRIMARY KEY AUTOINCREMENT, input_hash INTEGER NOT NULL, task_hash INTEGER NOT NULL,
    content TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS link (
    id INTEGER PRIMARY KEY AUTOINCREMENT, example_id INTEGER NOT NULL REFERENCES example(id),
    dataset_id INTEGER NOT NULL REFERENCES dataset(id));
CREATE INDEX IF NOT EXISTS link_dataset ON link(dataset_id);
"""


def _home() -> Path:
    return Path(os.environ.get("PRODIGY_HOME") or Path.home() / ".prodigy")


def connect(db_id: str | None = None, db_settings: dict | None = None) -> Database:
    """The Database for the configured SQLite file (shared within the process)."""
    settings = dict(db_settings or {})
    if "sqlite" in settings and isinstance(settings["sqlite"], dict):
        settings = settings["sqlite"]
    name = settings.get("name", "prodigy.db")
    if name == ":memory:":
        return Database(":memory:")
    path = Path(settings.get("path") or _home()) / name
    key = str(path.resolve())
    if key not in _CONNECTIONS:
        _CONNECTIONS[key] = Database(key)
    return _CONNECTIONS[key]


class Database:
    """Datasets of examples in one SQLite file."""

    def __init__(self, path: str) -> None:
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.db_id = "sqlite"
        self.db_name = "SQLite"
        self._conn = sqlite3.connect(path)
        self._conn.executescript(SCHEMA)
        self._conn.commit()

    # -- datasets -------------------------------------------------------------------------
    def __contains__(self, name: str) -> bool:
        row = self._conn.execute("SELECT 1 FROM dataset WHERE name = ?", (name,)).fetchone()
        return row is not None

    def __len__(self) -> int:
        return len(self.datasets)

    @property
    def datasets(self) -> list[str]:
        """Dataset names, sessions excluded, in creation order."""
        rows = self._conn.execute("SELECT name FROM dataset WHERE session = 0 ORDER BY id")
        return [r[0] for r in rows]

    @property
    def sessions(self) -> list[str]:
        rows = self._conn.execute("SELECT name FROM dataset WHERE session = 1 ORDER BY id")
        return [r[0] for r in rows]

    def add_dataset(self, name: str, meta: dict | None = None, session: bool = False) -> list:
        """Create a dataset unless it exists; names with commas or spaces are refused."""
        if not name or "," in name or " " in name:
            raise ValueError(f"Invalid dataset name {name!r}: no commas or spaces allowed")
        if name not in self:
            self._conn.execute(
                "INSERT INTO dataset (name, created, meta, session) VALUES (?, ?, ?, ?)",
                (name, int(time.time()), json.dumps(meta or {}), int(bool(session))),
            )
            self._conn.commit()
        return self.get_dataset_examples(name)

    def drop_dataset(self, name: str) -> bool:
        row = self._conn.execute("SELECT id FROM dataset WHERE name = ?", (name,)).fetchone()
        if row is None:
            return False
        self._conn.execute("DELETE FROM link WHERE dataset_id = ?", (row[0],))
        self._conn.execute("DELETE FROM dataset WHERE id = ?", (row[0],))
        self._conn.execute("DELETE FROM example WHERE id NOT IN (SELECT example_id FROM link)")
        self._conn.commit()
        return True

    def get_meta(self, name: str) -> dict | None:
        row = self._conn.execute("SELECT meta FROM dataset WHERE name = ?", (name,)).fetchone()
        return json.loads(row[0]) if row else None

    # -- examples -------------------------------------------------------------------------
    def get_dataset_examples(self, name: str) -> list[dict[str, Any]]:
        """Every example linked to ``name``, in the order they were added ([] if none)."""
        rows = self._conn.execute(
            "SELECT e.content FROM link l JOIN dataset d ON d.id = l.dataset_id "
            "JOIN example e ON e.id = l.example_id WHERE d.name = ? ORDER BY l.id",
            (name,),
        )
        return [json.loads(r[0]) for r in rows]

    def get_dataset(self, name: str, default: Any = None) -> list[dict] | Any:
        """Legacy alias of :meth:`get_dataset_examples` (``default`` when the dataset is missing)."""
        return self.get_dataset_examples(name) if name in self else default

    def add_examples(self, examples: Iterable[dict], datasets: Iterable[str] = ()) -> None:
        """Store examples and link them to every named dataset (each must exist)."""
        names = [datasets] if isinstance(datasets, str) else list(datasets)
        ids = []
        for name in names:
            row = self._conn.execute("SELECT id FROM dataset WHERE name = ?", (name,)).fetchone()
            if row is None:
                raise ValueError(f"Dataset {name!r} does not exist; call add_dataset first")
            ids.append(row[0])
        with self._conn:
            for eg in examples:
                eg = set_hashes(dict(eg))
                cur = self._conn.execute(
                    "INSERT INTO example (input_hash, task_hash, content) VALUES (?, ?, ?)",
                    (eg[INPUT_HASH_ATTR], eg[TASK_HASH_ATTR], json.dumps(eg, ensure_ascii=False)),
                )
                for dataset_id in ids:
                    self._conn.execute(
                        "INSERT INTO link (example_id, dataset_id) VALUES (?, ?)",
                        (cur.lastrowid, dataset_id),
                    )

    def _hashes(self, column: str, names: tuple) -> set[int]:
        flat: list[str] = []
        for name in names:
            flat.extend([name] if isinstance(name, str) else list(name))
        result: set[int] = set()
        for name in flat:
            rows = self._conn.execute(
                f"SELECT e.{column} FROM link l JOIN dataset d ON d.id = l.dataset_id "
                "JOIN example e ON e.id = l.example_id WHERE d.name = ?",
                (name,),
            )
            result.update(r[0] for r in rows)
        return result

    def get_input_hashes(self, *names: str | Iterable[str]) -> set[int]:
        """Input hashes of the datasets, given as varargs or as one list."""
        return self._hashes("input_hash", names)

    def get_task_hashes(self, *names: str | Iterable[str]) -> set[int]:
        return self._hashes("task_hash", names)

    def close(self) -> None:
        self._conn.close()
        for key, value in list(_CONNECTIONS.items()):
            if value is self:
                del _CONNECTIONS[key]
