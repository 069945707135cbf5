"""The Prodigy stand-in behaves as Prodigy's server does (the parts aqt's recipes rely on)."""

from __future__ import annotations

import json

import pytest
from prodigy_standin.harness import SimulatedAnnotator, fresh_home, load_prodigy

prodigy = load_prodigy()
from prodigy.components.db import connect
from prodigy.components.loaders import JSONL
from prodigy.components.stream import Stream, get_stream
from prodigy.core import Arg, Controller
from prodigy.util import (
    ANNOTATOR_ID_ATTR,
    INPUT_HASH_ATTR,
    SESSION_ID_ATTR,
    TASK_HASH_ATTR,
    set_hashes,
    split_string,
)

TASKS = [{"text": f"text {i}", "meta": {"i": i}} for i in range(25)]


@pytest.fixture
def prodigy_home(tmp_path, monkeypatch):
    return fresh_home(tmp_path, monkeypatch)


def make_components(dataset="ds", tasks=TASKS, calls=None, **config):
    calls = [] if calls is None else calls

    def update(answers):
        calls.append(("update", [a["meta"]["i"] for a in answers]))

    def before_db(answers):
        calls.append(("before_db", [a["meta"]["i"] for a in answers]))
        for a in answers:
            a["seen_by_before_db"] = True
        return answers

    return {
        "dataset": dataset,
        "stream": get_stream([dict(t) for t in tasks]),
        "view_id": "classification",
        "update": update,
        "before_db": before_db,
        "config": config,
    }


def answer_all(task):
    return "accept"


def test_batches_have_batch_size_and_drain_the_stream(prodigy_home):
    ctrl = Controller.from_components("test", make_components(batch_size=4))
    sid = ctrl.get_session_name("alice")
    sizes = []
    while batch := ctrl.get_questions(session_id=sid):
        sizes.append(len(batch))
        ctrl.receive_answers([dict(t, answer="accept") for t in batch], session_id=sid)
    assert sizes == [4, 4, 4, 4, 4, 4, 1]


def test_answers_are_stamped_like_db_out(prodigy_home):
    ctrl = Controller.from_components("test", make_components(batch_size=5))
    SimulatedAnnotator("alice", answer_all).annotate(ctrl, max_answers=5)
    saved = connect().get_dataset_examples("ds")
    assert len(saved) == 5
    for eg in saved:
        assert eg[SESSION_ID_ATTR] == "ds-alice" and eg[ANNOTATOR_ID_ATTR] == "ds-alice"
        assert isinstance(eg["_timestamp"], int) and eg["_timestamp"] > 1_600_000_000
        assert eg["_view_id"] == "classification"
        assert isinstance(eg[INPUT_HASH_ATTR], int) and isinstance(eg[TASK_HASH_ATTR], int)
    assert "ds-alice" in connect().sessions and "ds-alice" not in connect().datasets


def test_update_runs_before_before_db_and_before_db_edits_what_is_saved(prodigy_home):
    calls: list = []
    ctrl = Controller.from_components("test", make_components(calls=calls, batch_size=3))
    SimulatedAnnotator("alice", answer_all).annotate(ctrl, max_answers=6)
    assert calls == [
        ("update", [0, 1, 2]),
        ("before_db", [0, 1, 2]),
        ("update", [3, 4, 5]),
        ("before_db", [3, 4, 5]),
    ]
    assert all(eg["seen_by_before_db"] for eg in connect().get_dataset_examples("ds"))


def test_feed_overlap_true_everyone_sees_everything(prodigy_home):
    ctrl = Controller.from_components("test", make_components(feed_overlap=True, batch_size=7))
    people = [SimulatedAnnotator(n, answer_all) for n in ("alice", "bob", "carol")]
    for p in people:
        p.annotate(ctrl)
    for p in people:
        assert sorted(t["meta"]["i"] for t in p.seen) == list(range(25))
    assert len(connect().get_dataset_examples("ds")) == 75


def test_feed_overlap_false_each_task_to_one_session(prodigy_home):
    ctrl = Controller.from_components("test", make_components(feed_overlap=False, batch_size=4))
    alice, bob = SimulatedAnnotator("alice", answer_all), SimulatedAnnotator("bob", answer_all)
    alice.annotate(ctrl, max_answers=8)
    bob.annotate(ctrl)
    alice.annotate(ctrl)
    seen_a = [t["meta"]["i"] for t in alice.seen]
    seen_b = [t["meta"]["i"] for t in bob.seen]
    assert not set(seen_a) & set(seen_b)
    assert sorted(seen_a + seen_b) == list(range(25))


def test_annotations_per_task_routes_each_task_to_that_many_sessions(prodigy_home):
    ctrl = Controller.from_components("test", make_components(annotations_per_task=2, batch_size=5))
    people = [SimulatedAnnotator(n, answer_all) for n in ("a", "b", "c")]
    for _ in range(6):
        for p in people:
            p.annotate(ctrl, max_answers=5)
    counts = {}
    for eg in connect().get_dataset_examples("ds"):
        counts[eg["meta"]["i"]] = counts.get(eg["meta"]["i"], 0) + 1
    assert counts == {i: 2 for i in range(25)}


def test_annotations_per_task_with_feed_overlap_is_a_config_error(prodigy_home):
    with pytest.raises(ValueError, match="annotations_per_task"):
        Controller.from_components(
            "test", make_components(feed_overlap=True, annotations_per_task=2)
        )


def test_allowed_sessions_refuse_unknown_and_are_pre_registered(prodigy_home, monkeypatch):
    monkeypatch.setenv("PRODIGY_ALLOWED_SESSIONS", "alice,bob")
    ctrl = Controller.from_components("test", make_components())
    assert ctrl.session_ids == ["ds-alice", "ds-bob"]
    assert ctrl.get_questions(session_id="ds-alice")
    with pytest.raises(ValueError, match="mallory"):
        ctrl.get_questions(session_id="ds-mallory")


def test_restart_excludes_answered_hashes_per_session_with_overlap(prodigy_home):
    comps = make_components(feed_overlap=True, batch_size=5)
    ctrl = Controller.from_components("test", comps)
    SimulatedAnnotator("alice", answer_all).annotate(ctrl, max_answers=10)
    # a restart: a new controller over the same database and a fresh stream
    ctrl2 = Controller.from_components("test", make_components(feed_overlap=True, batch_size=5))
    alice, bob = SimulatedAnnotator("alice", answer_all), SimulatedAnnotator("bob", answer_all)
    alice.annotate(ctrl2)
    bob.annotate(ctrl2)
    assert sorted(t["meta"]["i"] for t in alice.seen) == list(range(10, 25))
    assert sorted(t["meta"]["i"] for t in bob.seen) == list(range(25))


def test_restart_without_overlap_excludes_hashes_answered_by_anyone(prodigy_home):
    ctrl = Controller.from_components("test", make_components(batch_size=5))
    SimulatedAnnotator("alice", answer_all).annotate(ctrl, max_answers=10)
    ctrl2 = Controller.from_components("test", make_components(batch_size=5))
    bob = SimulatedAnnotator("bob", answer_all)
    bob.annotate(ctrl2)
    assert sorted(t["meta"]["i"] for t in bob.seen) == list(range(10, 25))


def test_exclude_by_input_ignores_task_differences(prodigy_home):
    first = [{"text": "same", "label": "A"}]
    ctrl = Controller.from_components("t", make_components(tasks=[dict(first[0], meta={"i": 0})]))
    SimulatedAnnotator("alice", answer_all).annotate(ctrl)
    other = [{"text": "same", "label": "B", "meta": {"i": 1}}]
    by_task = Controller.from_components("t", make_components(tasks=other))
    assert len(by_task.get_questions(session_id=by_task.get_session_name("x"))) == 1
    by_input = Controller.from_components("t", make_components(tasks=other, exclude_by="input"))
    assert by_input.get_questions(session_id=by_input.get_session_name("x")) == []


def test_validate_answer_blocks_the_answer_and_serves_the_task_again(prodigy_home):
    comps = make_components(batch_size=3)

    def validate_answer(eg):
        if eg["answer"] == "reject" and not eg.get("note"):
            raise ValueError("A reject needs a note")

    comps["validate_answer"] = validate_answer
    ctrl = Controller.from_components("test", comps)
    sid = ctrl.get_session_name("alice")
    batch = ctrl.get_questions(session_id=sid)
    result = ctrl.receive_answers(
        [dict(batch[0], answer="reject"), dict(batch[1], answer="accept")], session_id=sid
    )
    assert result["errors"][0]["message"] == "A reject needs a note"
    assert [eg["meta"]["i"] for eg in connect().get_dataset_examples("ds")] == [1]
    again = ctrl.get_questions(session_id=sid)
    assert again[0]["meta"]["i"] == 0
    ctrl.receive_answers([dict(again[0], answer="reject", note="bad text")], session_id=sid)
    assert [eg["meta"]["i"] for eg in connect().get_dataset_examples("ds")] == [1, 0]


def test_on_load_and_on_exit_get_the_controller(prodigy_home):
    seen = []
    comps = make_components()
    comps["on_load"] = lambda ctrl: seen.append(("load", ctrl.dataset, "ds" in ctrl.db))
    comps["on_exit"] = lambda ctrl: seen.append(
        ("exit", len(ctrl.db.get_dataset_examples(ctrl.dataset)))
    )
    ctrl = Controller.from_components("test", comps)
    SimulatedAnnotator("alice", answer_all).annotate(ctrl, max_answers=3)
    ctrl.close()
    assert seen == [("load", "ds", True), ("exit", 3)]


def test_database_api(prodigy_home):
    db = connect()
    assert connect() is db
    db.add_dataset("a")
    db.add_dataset("b")
    db.add_examples(
        [{"text": "x", "answer": "accept"}, {"text": "y", "answer": "accept"}], datasets=["a"]
    )
    db.add_examples([{"text": "z", "answer": "accept"}], datasets=["b"])
    assert "a" in db and "c" not in db and db.datasets == ["a", "b"]
    hashes_a = db.get_input_hashes("a")
    assert len(hashes_a) == 2
    assert (
        db.get_input_hashes(["a", "b"])
        == db.get_input_hashes("a", "b")
        == (hashes_a | db.get_input_hashes("b"))
    )
    with pytest.raises(ValueError, match="does not exist"):
        db.add_examples([{"text": "q"}], datasets=["missing"])
    assert db.drop_dataset("a") and "a" not in db and db.get_dataset_examples("a") == []
    assert (prodigy_home / "prodigy.db").is_file()


def test_recipe_decorator_both_argument_styles():
    @prodigy.recipe(
        "test.plac",
        dataset=("Dataset", "positional", None, str),
        labels=("Labels", "option", "l", split_string),
        n=("Count", "option", "n", int),
        flag=("A flag", "flag", "f", bool),
    )
    def plac_recipe(dataset, labels=None, n=1, flag=False):
        return {"dataset": dataset, "labels": labels, "n": n, "flag": flag}

    @prodigy.core.recipe(
        "test.typed",
        dataset=Arg(help="Dataset"),
        label=Arg("--label", "-l", help="Label"),
        flag=Arg("--flag", help="F"),
    )
    def typed_recipe(dataset: str, label: str = "X", flag: bool = False):
        return {"dataset": dataset, "label": label, "flag": flag}

    assert plac_recipe("d", labels=["A"]) == {
        "dataset": "d",
        "labels": ["A"],
        "n": 1,
        "flag": False,
    }
    assert typed_recipe("d") == {"dataset": "d", "label": "X", "flag": False}
    if getattr(prodigy, "IS_STANDIN", False):
        from prodigy.__main__ import build_parser

        args = build_parser("test.plac", plac_recipe).parse_args(
            ["d", "-l", "A, B", "-n", "3", "-f"]
        )
        assert vars(args) == {"dataset": "d", "labels": ["A", "B"], "n": 3, "flag": True}
        args = build_parser("test.typed", typed_recipe).parse_args(["d", "--flag"])
        assert vars(args) == {"dataset": "d", "label": "X", "flag": True}


def test_stream_apply_accepts_every_call_style():
    def add(stream, key="k", value=1):
        for eg in stream:
            yield dict(eg, **{key: value})

    s = Stream.from_iterable([{"text": "a"}, {"text": "b"}])
    s.apply(add)
    s.apply(add, key="x", value=2)
    s.apply(add, s, "y", 3)
    s.apply(add, stream=s, key="z")
    assert list(s) == [{"text": t, "k": 1, "x": 2, "y": 3, "z": 1} for t in "ab"]


def test_get_stream_from_file_dataset_and_hashes(prodigy_home, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text("\n".join(json.dumps({"text": t}) for t in ["a", "b", "a"]) + "\n")
    assert [eg["text"] for eg in JSONL(path)] == ["a", "b", "a"]
    stream = get_stream(str(path), dedup=True)
    tasks = list(stream)
    assert [t["text"] for t in tasks] == ["a", "b"]
    assert tasks[0] == set_hashes({"text": "a"})
    db = connect()
    db.add_dataset("src")
    db.add_examples(
        [dict(tasks[0], answer="accept"), dict(tasks[1], answer="reject")], datasets=["src"]
    )
    assert [t["text"] for t in get_stream("dataset:src:accept")] == ["a"]
    with_label = set_hashes({"text": "a", "label": "X"})
    assert with_label[INPUT_HASH_ATTR] == tasks[0][INPUT_HASH_ATTR]
    assert with_label[TASK_HASH_ATTR] != tasks[0][TASK_HASH_ATTR]


def test_unimplemented_components_are_refused_not_ignored(prodigy_home):
    comps = make_components()
    comps["task_router"] = lambda ctrl, session_id, item: [session_id]
    if getattr(prodigy, "IS_STANDIN", False):
        with pytest.raises(NotImplementedError, match="task_router"):
            Controller.from_components("test", comps)
    else:
        assert Controller.from_components("test", comps).dataset == "ds"
