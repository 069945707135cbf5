"""The ``aqt`` command line.

Subcommands live in modules of this package (one per command family) and are imported lazily, so
``aqt --help`` stays fast and ``aqt ls`` can say how to install the Label Studio extra when it is
missing. Every command turns :class:`aqt.errors.AqtError` into one line on stderr and exit code 1
(2 for usage errors); a failed check or gate exits 3.
"""

from __future__ import annotations

import importlib
import sys

import click

from aqt import __version__
from aqt.errors import AqtError

__all__ = ["EXIT_CHECK_FAILED", "EXIT_ERROR", "EXIT_OK", "EXIT_USAGE", "cli", "main"]

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_CHECK_FAILED = 0, 1, 2, 3

#: command name -> (module, attribute, help shown in ``aqt --help``)
LAZY_COMMANDS: dict[str, tuple[str, str, str]] = {
    "agreement": ("aqt.cli.agreement", "agreement", "Inter-annotator agreement on an export."),
    "al": (
        "aqt.cli.al",
        "al",
        "Active learning: simulate selection strategies against known labels.",
    ),
    "curve": ("aqt.cli.al", "curve", "Learning curve on an annotated set: do we have enough data?"),
    "calibrate": ("aqt.cli.calibrate", "calibrate", "Calibration batch and gate before full-scale work."),
    "guidelines": ("aqt.cli.guidelines", "guidelines", "Edge-case catalogue check; record IAA in the guidelines."),
    "export": ("aqt.cli.export", "export", "Validated training-set export with datasheet; exit 3 on failed checks."),
    "coverage": ("aqt.cli.coverage", "coverage", "Coverage of production by the annotated set; synthetic-data validation."),
    "ls": ("aqt_labelstudio.cli", "ls", "Label Studio: agreement, export and connect on a live project."),
}

MISSING_EXTRA = {
    "ls": "pip install 'aqt[labelstudio]'",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(LAZY_COMMANDS))

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in LAZY_COMMANDS:
            module_name, attr, _ = LAZY_COMMANDS[name]
            try:
                module = importlib.import_module(module_name)
            except ImportError as exc:
                if name in MISSING_EXTRA and _is_missing_dependency(exc, module_name):
                    return _missing_extra_command(name, MISSING_EXTRA[name], exc)
                raise
            return getattr(module, attr)
        return super().get_command(ctx, name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, LAZY_COMMANDS[name][2]) for name in sorted(LAZY_COMMANDS)]
        rows += [
            (name, cmd.get_short_help_str(60))
            for name, cmd in sorted(self.commands.items())
            if name not in LAZY_COMMANDS
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AqtError as exc:
            click.echo(f"Error: {exc.one_line()}", err=True)
            ctx.exit(exc.exit_code)


def _is_missing_dependency(exc: ImportError, module_name: str) -> bool:
    missing = getattr(exc, "name", None) or ""
    top = module_name.split(".")[0]
    return missing.split(".")[0] in {top, "label_studio_sdk", "fastapi", "uvicorn", "httpx", "requests"}


def _missing_extra_command(name: str, install: str, exc: ImportError) -> click.Command:
    @click.command(name=name, context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
                   add_help_option=False)
    @click.pass_context
    def missing(ctx: click.Context) -> None:
        click.echo(
            f"Error: 'aqt {name}' needs an optional dependency that is not installed "
            f"({getattr(exc, 'name', None) or exc}). Fix: {install}",
            err=True,
        )
        ctx.exit(EXIT_ERROR)

    return missing


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="aqt")
def cli() -> None:
    """aqt: annotation quality for teams on Label Studio and Prodigy.

    Example: aqt agreement examples/sentiment_labelstudio.json
    """


def main(argv: list[str] | None = None) -> None:
    """Console entry point."""
    try:
        cli.main(args=argv, prog_name="aqt", standalone_mode=True)
    except AqtError as exc:  # errors raised while building lazy commands
        click.echo(f"Error: {exc.one_line()}", err=True)
        sys.exit(exc.exit_code)
