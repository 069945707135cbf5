"""A test-only stand-in for Prodigy's public recipe API (never shipped with aqt).

It implements the parts of Prodigy 1.12-1.17 that aqt's recipes use, following
``/work/shared/reference/prodigy.md``; tests use it only when a real ``prodigy`` is not importable.
"""

from .components.stream import get_stream
from .core import Arg, Controller, recipe
from .util import set_hashes

__version__ = "0.0.0+standin"
IS_STANDIN = True

__all__ = ["Arg", "Controller", "get_stream", "recipe", "set_hashes"]
