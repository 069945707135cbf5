"""Errors a user can act on.

Every error aqt raises for bad input is an :class:`AqtError`. Its message says what is wrong, shows
the offending values (truncated), and names the fix. Front ends turn it into one line (CLI, exit 1),
a 4xx JSON body (backend) or Prodigy's error display (recipes); a traceback reaching a user is a bug.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "AqtError",
    "ConfigError",
    "FormatError",
    "InputError",
    "MissingExtraError",
    "UsageError",
    "collect_problems",
    "truncate",
]


class AqtError(Exception):
    """Base class for every error aqt raises on purpose."""

    exit_code = 1

    def __init__(self, message: str, *, fix: str | None = None) -> None:
        self.message = message
        self.fix = fix
        super().__init__(self.one_line())

    def one_line(self) -> str:
        if self.fix:
            return f"{self.message} Fix: {self.fix}"
        return self.message


class InputError(AqtError, ValueError):
    """The data given to aqt is wrong (empty, malformed, inconsistent)."""


class FormatError(InputError):
    """A file is not in the format that was asked for or detected."""


class ConfigError(AqtError, ValueError):
    """A configuration file or ``--set`` value is wrong (unknown key, bad type)."""


class UsageError(AqtError, ValueError):
    """Options that do not go together; the CLI exits 2 for these."""

    exit_code = 2


class MissingExtraError(AqtError, ImportError):
    """An optional dependency is missing; the message names the extra to install."""


def truncate(values: Iterable[object], limit: int = 5) -> str:
    """Show at most ``limit`` values, then how many more there are.

    >>> truncate(["a", "b", "c"], limit=2)
    "'a', 'b' (+1 more)"
    """
    items = list(values)
    shown = ", ".join(repr(v) for v in items[:limit])
    if len(items) > limit:
        shown += f" (+{len(items) - limit} more)"
    return shown


def collect_problems(problems: list[str], what: str, fix: str, limit: int = 10) -> None:
    """Raise one :class:`InputError` listing every collected problem (with locations), if any."""
    if not problems:
        return
    shown = "; ".join(problems[:limit])
    more = f" (+{len(problems) - limit} more)" if len(problems) > limit else ""
    raise InputError(f"{what}: {len(problems)} problem(s): {shown}{more}.", fix=fix)
