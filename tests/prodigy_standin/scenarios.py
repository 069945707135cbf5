"""A labelling scenario shared by the recipe tests: three annotators label sentiment with a
textcat.manual-style choice recipe (feed_overlap true); their answers are functions of the task."""

from __future__ import annotations

from .harness import SimulatedAnnotator, load_prodigy

load_prodigy()
from prodigy.components.stream import get_stream
from prodigy.core import Arg, Controller, recipe

LABELS = ["NEG", "NEU", "POS"]
N_ITEMS = 30


@recipe(
    "test.sentiment",
    dataset=Arg(help="Dataset to save answers to"),
    overlap=Arg("--overlap", help="Everyone sees every task"),
)
def sentiment(dataset: str, overlap: bool = True) -> dict:
    """Label sentiment with one choice per text (a textcat.manual-style recipe for the tests)."""
    tasks = [
        {
            "text": f"review number {i}",
            "meta": {"i": i},
            "options": [{"id": lab, "text": lab} for lab in LABELS],
        }
        for i in range(N_ITEMS)
    ]
    return {
        "dataset": dataset,
        "stream": get_stream(tasks),
        "view_id": "choice",
        "config": {"feed_overlap": overlap, "choice_style": "single", "batch_size": 4},
    }


def truth(i: int) -> str:
    return LABELS[(i * 7) % 3]


def answer_of(name: str, i: int) -> str | None:
    """The label ``name`` gives to item ``i`` (None: the annotator hits ignore)."""
    if name == "alice":
        return truth(i)
    if name == "bob":
        return LABELS[(i + 1) % 3] if i % 4 == 0 else truth(i)
    if i % 10 == 9:
        return None
    return LABELS[(i + 2) % 3] if i % 5 == 0 else truth(i)


ANNOTATORS = ("alice", "bob", "carol")


def responder(name: str):
    def respond(task: dict):
        label = answer_of(name, task["meta"]["i"])
        return "ignore" if label is None else {"answer": "accept", "accept": [label]}

    return respond


def label_dataset(dataset: str = "sentiment") -> None:
    ctrl = Controller.from_components("test.sentiment", sentiment(dataset))
    for name in ANNOTATORS:
        SimulatedAnnotator(name, responder(name)).annotate(ctrl)


def disagreements() -> set[int]:
    """Items whose (non-ignored) answers differ, computed from the answer functions."""
    out = set()
    for i in range(N_ITEMS):
        labels = {answer_of(n, i) for n in ANNOTATORS} - {None}
        if len(labels) > 1:
            out.add(i)
    return out
