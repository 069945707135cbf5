"""``python -m prodigy RECIPE [args] [-F file.py]`` for the stand-in.

Loads recipes from ``-F`` files and the ``prodigy_recipes`` entry points, prints ``--help`` from the
recipe's docstring and argument help, or calls the recipe. A recipe that returns components would
start the web server in Prodigy; the stand-in prints the component names instead.
"""

from __future__ import annotations

import argparse
import importlib.util
import inspect
import sys
from pathlib import Path

from .core import get_recipe
from .errors import RecipeError


def _load_file(path: str) -> None:
    for one in path.split(","):
        spec = importlib.util.spec_from_file_location(Path(one).stem, one)
        if spec is None or spec.loader is None:
            raise SystemExit(f"Can't load recipe file {one}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module
        spec.loader.exec_module(module)


def build_parser(name: str, func) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=f"prodigy {name}",
        description=inspect.cleandoc(func.__doc__ or ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    for spec in func.recipe_args:
        conv = spec.converter or str
        if spec.kind == "positional":
            parser.add_argument(
                spec.name,
                help=spec.help.replace("%", "%%"),
                type=conv,
                nargs="?" if spec.default is not None else None,
                default=spec.default,
            )
        elif spec.kind == "flag":
            parser.add_argument(
                *spec.flags, dest=spec.name, help=spec.help.replace("%", "%%"), action="store_true"
            )
        else:
            parser.add_argument(
                *spec.flags,
                dest=spec.name,
                help=spec.help.replace("%", "%%"),
                type=conv,
                default=spec.default,
            )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "-F" in argv:
        i = argv.index("-F")
        _load_file(argv[i + 1])
        del argv[i : i + 2]
    if not argv:
        print("usage: prodigy RECIPE [args] [-F file.py]")
        return 1
    name, rest = argv[0], argv[1:]
    func = get_recipe(name)
    if func is None:
        print(f"✘ Can't find recipe or command '{name}'")
        return 1
    args = build_parser(name, func).parse_args(rest)
    try:
        result = func(**vars(args))
    except RecipeError as exc:
        print(f"✘ {exc}")
        return 1
    if isinstance(result, dict):
        print(f"✔ Would serve '{name}' with components: {', '.join(sorted(result))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
