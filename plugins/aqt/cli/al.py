"""``aqt al simulate`` and ``aqt curve``: active learning against known labels, learning curves."""

from __future__ import annotations

import json
from pathlib import Path

import click

from aqt.errors import InputError, UsageError, truncate

__all__ = ["al", "curve", "simulate_cmd"]


def _read_table(path: str, columns: list[str]):
    import pandas as pd

    p = Path(path)
    if not p.exists():
        raise InputError(
            f"no such file: {path}.", fix="pass an existing CSV, JSONL or Parquet file to --data."
        )
    suffix = p.suffix.lower()
    try:
        if suffix == ".csv":
            df = pd.read_csv(p, keep_default_na=False, dtype=str)
        elif suffix in (".jsonl", ".ndjson"):
            df = pd.read_json(p, lines=True, dtype=False)
        elif suffix == ".parquet":
            df = pd.read_parquet(p)
        else:
            raise InputError(
                f"cannot read {p.name!r}: unknown extension {suffix!r}.",
                fix="use a .csv, .jsonl or .parquet file.",
            )
    except (ValueError, OSError) as exc:
        raise InputError(f"cannot read {path}: {exc}.", fix="check the file format.") from exc
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            f"{p.name}: missing column(s) {truncate(missing)}; columns are "
            f"{truncate(list(df.columns), 10)}.",
            fix="name the right ones with --text-col / --label-col / --kind-col / --split-col.",
        )
    df = df.copy()
    for c in columns:
        df[c] = df[c].where(df[c].notna(), "").astype(str)
    return df


@click.group("al")
def al() -> None:
    """Active learning: compare selection strategies against known labels.

    Example: aqt al simulate --data reviews.csv --strategy margin --strategy default --budget 1000
    """


@al.command("simulate")
@click.option(
    "--data",
    "data",
    required=True,
    type=click.Path(dir_okay=False),
    help="CSV, JSONL or Parquet with a text and a label column.",
)
@click.option("--text-col", default="text", show_default=True)
@click.option(
    "--label-col",
    default="label",
    show_default=True,
    help="Known labels; an empty label marks a junk item (a label is spent, nothing learnt).",
)
@click.option("--kind-col", default=None, help="Item kinds, for the labels-spent-per-kind report.")
@click.option("--split-col", default=None, help="Rows whose value is 'test' form the test set.")
@click.option(
    "--test-size",
    type=int,
    default=None,
    help="Size of a stratified random test set (seed 0); default 20% of labelled rows.",
)
@click.option(
    "--strategy",
    "strategies",
    multiple=True,
    help="random, least-confidence, margin, entropy, committee, diverse, default (repeatable).",
)
@click.option("--budget", type=int, default=1000, show_default=True)
@click.option("--seeds", type=int, default=3, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def simulate_cmd(
    data, text_col, label_col, kind_col, split_col, test_size, strategies, budget, seeds, as_json
) -> None:
    """Run active learning against known labels, with random sampling as the baseline.

    Example: aqt al simulate --data reviews.csv --kind-col kind --budget 1000 --seeds 3 --json
    """
    import numpy as np

    from aqt.active.simulate import simulate
    from aqt.active.strategies import STRATEGIES

    if split_col and test_size is not None:
        raise UsageError(
            "--split-col and --test-size do not go together.", fix="pass only one of them."
        )
    bad = [s for s in strategies if s not in STRATEGIES]
    if bad:
        raise UsageError(
            f"unknown strategy {truncate(bad)}.", fix=f"use one of {', '.join(STRATEGIES)}."
        )
    if budget < 20 or seeds < 1:
        raise UsageError(
            f"--budget must be >= 20 and --seeds >= 1 (got {budget}, {seeds}).", fix="raise them."
        )
    cols = [text_col, label_col] + [c for c in (kind_col, split_col) if c]
    df = _read_table(data, cols)
    labelled = df[label_col].str.strip() != ""
    if split_col:
        is_test = (df[split_col].str.strip().str.lower() == "test") & labelled
        if not is_test.any():
            raise InputError(
                f"no rows have {split_col} == 'test'.", fix="mark test rows or use --test-size."
            )
    else:
        from sklearn.model_selection import train_test_split

        idx = np.flatnonzero(labelled.values)
        n_test = test_size if test_size is not None else max(1, round(0.2 * len(idx)))
        if not 0 < n_test < len(idx):
            raise UsageError(
                f"--test-size {n_test} must be between 1 and {len(idx) - 1}.",
                fix="choose a smaller test set.",
            )
        _, test_idx = train_test_split(
            idx, test_size=n_test, random_state=0, stratify=df[label_col].values[idx]
        )
        is_test = np.zeros(len(df), dtype=bool)
        is_test[test_idx] = True
    pool, test = df[~np.asarray(is_test)], df[np.asarray(is_test)]
    res = simulate(
        pool[text_col].tolist(),
        pool[label_col].tolist(),
        test_texts=test[text_col].tolist(),
        test_labels=test[label_col].tolist(),
        kinds=pool[kind_col].tolist() if kind_col else None,
        strategies=list(strategies) or ["margin", "default"],
        budget=budget,
        seeds=seeds,
    )
    d = res.to_dict()
    if as_json:
        click.echo(json.dumps(d, indent=2, sort_keys=True))
        return
    click.echo(
        f"pool {d['n_pool']}, test {d['n_test']}, full-pool accuracy {d['full_pool_accuracy']:.3f}"
    )
    for name, run in d["strategies"].items():
        m = d["labels_to_match_random"][name]
        fm = {k: ("-" if v is None else f"{v:.0f}") for k, v in m.items()}
        click.echo(
            f"\n{name}: labels to match random at 1000: {fm['1000']}, at 4000: {fm['4000']}; "
            f"ECE {run['ece']:.3f}; duplicates sent {run['duplicates_sent']:g}"
        )
        click.echo("  spent: " + ", ".join(f"{k} {v:g}" for k, v in run["spent_by_kind"].items()))
        click.echo("  curve: " + "  ".join(f"{n}:{a:.3f}" for n, a, _ in run["curve"]))


@click.command("curve")
@click.option(
    "--data",
    "data",
    required=True,
    type=click.Path(dir_okay=False),
    help="CSV, JSONL or Parquet with a text and a label column.",
)
@click.option("--text-col", default="text", show_default=True)
@click.option("--label-col", default="label", show_default=True)
@click.option(
    "--plot",
    "plot",
    type=click.Path(dir_okay=False),
    default=None,
    help="Write the curve as an SVG file.",
)
@click.option("--seeds", type=int, default=2, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def curve(data, text_col, label_col, plot, seeds, as_json) -> None:
    """Train on growing shares of an annotated set and say whether the curve has flattened.

    Example: aqt curve --data annotated.csv --plot curve.svg
    """
    from aqt.active.curve import learning_curve, render_curve_svg
    from aqt.fileio import atomic_write_text

    if plot and not plot.lower().endswith(".svg"):
        raise UsageError(
            f"--plot {plot!r}: only SVG output is supported.", fix="use a .svg file name."
        )
    df = _read_table(data, [text_col, label_col])
    df = df[df[label_col].str.strip() != ""]
    lc = learning_curve(df[text_col].tolist(), df[label_col].tolist(), seeds=seeds)
    if plot:
        atomic_write_text(plot, render_curve_svg(lc))
    if as_json:
        click.echo(json.dumps(lc.to_dict(), indent=2, sort_keys=True))
        return
    for n, a, s in lc.points:
        click.echo(f"{n:>7d} labels  accuracy {a:.3f} ± {s:.3f}")
    click.echo(lc.message)
    if plot:
        click.echo(f"plot written to {plot}")
