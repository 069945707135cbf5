"""The ``aqt.status`` recipe: where full-scale annotation stands (the status file of aqt.annotate)."""
# ruff: noqa: UP045  (Optional keeps the typed arguments readable by every radicli version)

import json
from pathlib import Path
from typing import Any, Optional

from aqt.errors import AqtError

from aqt_prodigy._compat import Arg, fail, recipe

__all__ = ["ARGS", "render_status", "status"]

#: the recipe's arguments (their help is the --help text)
ARGS = {
    "dataset": Arg(help="Dataset that aqt.annotate saves to"),
    "status_file": Arg("--status", help="Status file (default DATASET.status.json)"),
    "json_out": Arg("--json", help="Print the status file as JSON"),
}


def _num(v: Any) -> str:
    return "n/a" if v is None else f"{float(v):.3f}"


def render_status(s: dict) -> str:
    """The status as aligned text: one row per annotator, then the queues."""
    head = (
        f"Dataset {s.get('dataset')}: {s['items']} items, {s['double_annotated']} double-annotated, "
        f"alpha {_num(s.get('alpha'))}; guideline version {s.get('guideline_version') or 'n/a'}"
    )
    cols = (
        "Annotator",
        "Answers",
        "Peer kappa",
        "Peer items",
        "Gold kappa",
        "Gold BP (last)",
        "Flag",
    )
    rows = []
    for name, a in s["annotators"].items():
        flag = (
            f"FLAGGED at answer {a['flag']['at_answer']}: {a['flag']['reason']}"
            if a["flagged"]
            else ""
        )
        rows.append(
            (
                name,
                str(a["answers"]),
                _num(a["peers"].get("cohen_kappa")),
                str(a["peers"].get("n_items", 0)),
                _num(a["gold"]["kappa"]),
                f"{_num(a['gold']['window_bp_kappa'])} ({a['gold']['window_n']})",
                flag,
            )
        )
    widths = [
        max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(cols)
    ]
    lines = [head, ""]
    lines.append("  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip())
    lines.append("  ".join("-" * w for w in widths))
    lines += ["  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip() for r in rows]
    lines.append("")
    queue = s.get("queue") or []
    lines.append(
        f"Re-annotation queue: {len(queue)} item(s); {s.get('left_queue', 0)} re-annotated and "
        f"left it; {len(s.get('adjudication') or [])} for adjudication; {s.get('resolved', 0)} "
        "settled."
    )
    for q in queue[:10]:
        lines.append(f"  {q['item']}: {q['reason']} (not {', '.join(q['exclude'])})")
    return "\n".join(lines) + "\n"


@recipe("aqt.status", **ARGS)
def status(dataset: str, status_file: Optional[str] = None, json_out: bool = False) -> None:
    """Show where full-scale annotation stands: per annotator the answers, kappa with peers and
    with gold (cumulative and over the recent window), drift flags, and the re-annotation and
    adjudication queues, from the status file aqt.annotate keeps. Example: prodigy aqt.status
    reviews
    """
    from aqt.errors import InputError

    path = Path(status_file or f"{dataset}.status.json")
    try:
        s = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        fail(
            InputError(
                f"No status file at {str(path)!r}.",
                fix=f"Run prodigy aqt.annotate {dataset} ... first, or pass --status FILE.",
            )
        )
    except (json.JSONDecodeError, AqtError) as exc:
        fail(InputError(f"{path} is not a status file ({exc}).", fix="Pass --status FILE."))
    if json_out:
        print(json.dumps(s, indent=2, ensure_ascii=False))
    else:
        print(render_status(s), end="")
