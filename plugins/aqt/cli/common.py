"""Options and output shared by every agreement front end on the command line.

``aqt agreement``, ``aqt ls agreement`` and the Prodigy ``aqt.iaa`` recipe take the same options and
print the same report; this module holds them so they cannot drift apart.

Example
-------
>>> import click
>>> @click.command(cls=AqtCommand)
... @agreement_options
... def cmd(level, weights, categories, json_out, md_out, html, ci, seed):
...     pass
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

from aqt.agreement import LEVELS, WEIGHTS
from aqt.errors import UsageError

__all__ = ["AqtCommand", "agreement_options", "emit_agreement", "parse_categories"]

F = TypeVar("F", bound=Callable[..., Any])


class AqtCommand(click.Command):
    """A click command whose usage errors are one line on stderr (exit 2), like every other error.

    Click's own usage errors print three lines (usage, hint, error); aqt prints
    ``Error: <what is wrong> Fix: <what to do>`` for every failure, so a pipeline log shows one line.
    """

    def make_context(self, info_name, args, parent=None, **extra):  # type: ignore[override]
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            ctx = exc.ctx
            path = ctx.command_path if ctx is not None else (info_name or self.name or "aqt")
            message = exc.format_message().strip()
            if not message.endswith((".", "?", "!")):
                message += "."
            raise UsageError(message, fix=f"See '{path} --help'.") from exc


def parse_categories(
    ctx: click.Context | None, param: click.Parameter | None, value: str | None
) -> list[str] | None:
    """``"A,B,C"`` -> ``["A", "B", "C"]`` (click callback); blanks and duplicates are usage errors."""
    if value is None:
        return None
    parts = [p.strip() for p in value.split(",")]
    if not value.strip() or any(not p for p in parts):
        raise click.BadParameter(
            f"{value!r} has an empty category; give a comma-separated list such as 'neg,neu,pos'.",
            ctx=ctx,
            param=param,
        )
    seen: set[str] = set()
    dupes = [p for p in parts if p in seen or seen.add(p)]  # type: ignore[func-returns-value]
    if dupes:
        raise click.BadParameter(
            f"{value!r} repeats {', '.join(repr(d) for d in dict.fromkeys(dupes))}; list each category once.",
            ctx=ctx,
            param=param,
        )
    return parts


def input_options(func: F) -> F:
    """Add the options that say how to read INPUT: ``--from``, ``--item-col``,
    ``--annotator-col``, ``--label-col`` and ``--control`` (the readers of :mod:`aqt.formats`)."""
    from aqt.formats import FORMATS

    options = [
        click.option(
            "--from",
            "fmt",
            type=click.Choice(FORMATS),
            default=None,
            help="Reader for INPUT (default: detected from the content).",
        ),
        click.option(
            "--item-col", default="item", show_default=True, help="Item id column (table format)."
        ),
        click.option(
            "--annotator-col",
            default="annotator",
            show_default=True,
            help="Annotator column (table format).",
        ),
        click.option(
            "--label-col", default="label", show_default=True, help="Label column (table format)."
        ),
        click.option(
            "--control",
            default=None,
            metavar="NAME",
            help="Control tag (Label Studio from_name) to use when the data has several.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def agreement_options(f: F) -> F:
    """Add the shared agreement options to a click command.

    The command receives ``level``, ``weights``, ``categories`` (list or ``None``), ``json_out``,
    ``md_out``, ``html`` (path or ``None``), ``ci`` and ``seed``. ``--json`` together with ``--md`` is
    a usage error (exit 2).
    """

    @functools.wraps(f)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("json_out") and kwargs.get("md_out"):
            raise UsageError(
                "--json and --md cannot be used together.",
                fix="Pick one output format for stdout (--html FILE combines with either).",
            )
        return f(*args, **kwargs)

    options = [
        click.option(
            "--level",
            type=click.Choice(LEVELS),
            default="nominal",
            show_default=True,
            help="Level of measurement for Krippendorff's alpha.",
        ),
        click.option(
            "--weights",
            type=click.Choice(WEIGHTS),
            default="identity",
            show_default=True,
            help="Gwet's weights for every coefficient except alpha (on category ranks).",
        ),
        click.option(
            "--categories",
            callback=parse_categories,
            metavar="A,B,C",
            help="Category domain and order, unused categories included (default: observed, sorted).",
        ),
        click.option("--json", "json_out", is_flag=True, help="Print the report as JSON."),
        click.option("--md", "md_out", is_flag=True, help="Print the report as Markdown."),
        click.option(
            "--html",
            type=click.Path(dir_okay=False, writable=True, path_type=Path),
            metavar="FILE",
            help="Also write a self-contained HTML report with plots to FILE.",
        ),
        click.option(
            "--ci",
            type=click.IntRange(min=0),
            default=0,
            show_default=True,
            metavar="N",
            help="Bootstrap resamples over items for 95% intervals (0: off).",
        ),
        click.option(
            "--seed", type=int, default=0, show_default=True, help="Seed of the bootstrap."
        ),
    ]
    for option in reversed(options):
        wrapper = option(wrapper)
    return wrapper  # type: ignore[return-value]


def emit_agreement(
    report_dict: Mapping[str, Any],
    *,
    json_out: bool = False,
    md_out: bool = False,
    html: Path | str | None = None,
) -> None:
    """Print the report in the chosen format and write the HTML file when asked.

    Text goes to stdout (JSON with ``json_out``, Markdown with ``md_out``, else aligned text); the
    HTML report is written atomically and its path is reported on stderr, so stdout stays parseable.
    """
    from aqt.fileio import atomic_write_text
    from aqt.report import render_html, render_json, render_markdown, render_text

    if json_out and md_out:
        raise UsageError("--json and --md cannot be used together.", fix="Pick one output format.")
    if html is not None:
        try:
            atomic_write_text(html, render_html(report_dict))
        except OSError as exc:
            from aqt.errors import InputError

            raise InputError(
                f"Cannot write the HTML report to {str(html)!r}: {exc.strerror or exc}.",
                fix="Pass --html a path in a writable directory.",
            ) from exc
    if json_out:
        click.echo(render_json(report_dict))
    elif md_out:
        click.echo(render_markdown(report_dict), nl=False)
    else:
        click.echo(render_text(report_dict), nl=False)
    if html is not None:
        click.echo(f"Wrote HTML report to {html}", err=True)
