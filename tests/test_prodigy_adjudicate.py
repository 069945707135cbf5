"""``aqt.adjudicate``: a lead adjudicates the disagreements through the recipe's stream; decisions go
to the output dataset and the log; a restart neither repeats nor skips; one final answer per item."""

from __future__ import annotations

import json

import pytest
from prodigy_standin.harness import SimulatedAnnotator, db_out, fresh_home, load_prodigy

prodigy = load_prodigy()
from aqt.adjudication import AdjudicationLog
from aqt.formats.prodigy import read_prodigy_jsonl
from aqt_prodigy.adjudicate import adjudicate
from prodigy.components.db import connect
from prodigy.core import Controller
from prodigy_standin.scenarios import (
    ANNOTATORS,
    LABELS,
    N_ITEMS,
    answer_of,
    disagreements,
    label_dataset,
    truth,
)


@pytest.fixture
def prodigy_home(tmp_path, monkeypatch):
    return fresh_home(tmp_path, monkeypatch)


def item_of(task_or_eg: dict) -> int:
    return task_or_eg["meta"]["i"]


def lead(task):
    """The lead adjudicator: picks the true label, gives a reason, a note on every 3rd item."""
    i = item_of(task)
    answer = {"answer": "accept", "accept": [truth(i)], "aqt_reason": f"rule {i % 4}"}
    if i % 3 == 0:
        answer["aqt_guideline_note"] = "say how to treat mixed reviews"
    return answer


def start(log, **kwargs):
    comps = adjudicate("final", "sentiment", log=str(log), **kwargs)
    return comps, Controller.from_components("aqt.adjudicate", comps)


def test_adjudication_of_disagreements_survives_a_restart(prodigy_home, tmp_path):
    label_dataset()
    log = tmp_path / "decisions.jsonl"
    expected = disagreements()
    assert 5 < len(expected) < N_ITEMS  # the scenario has both kinds of items

    _, ctrl = start(log, only_disagreements=True)
    first = SimulatedAnnotator("lead", lead)
    first.annotate(ctrl, max_answers=5)  # then the server stops with 5 tasks still open
    assert len(first.seen) == 5 and len(ctrl.get_questions(session_id="final-other")) > 0

    _, ctrl2 = start(log, only_disagreements=True)  # restart: new controller, same database
    second = SimulatedAnnotator("lead", lead)
    second.annotate(ctrl2)
    done_first = [item_of(eg) for eg in first.answered]
    done_second = [item_of(eg) for eg in second.answered]
    assert not set(done_first) & set(done_second)  # no repeats
    assert sorted(done_first + done_second) == sorted(expected)  # no skips

    decisions = AdjudicationLog(log).read()
    assert len(decisions) == len(expected)
    assert {d.adjudicator for d in decisions} == {"lead"}
    for d in decisions:
        assert d.outcome == "accept" and d.reason and d.reason.startswith("rule ")
        annotators = sorted(a for v in d.versions_seen for a in v.annotators)
        assert annotators == sorted(ANNOTATORS) or len(annotators) == 2
        assert d.decision in LABELS
    notes = [d for d in decisions if d.guideline_note]
    assert notes and all(d.guideline_note == "say how to treat mixed reviews" for d in notes)

    export = db_out("final", tmp_path / "final.jsonl")
    table = read_prodigy_jsonl(export, dataset="final")
    assert len(table.items()) == len(table.records) == len(expected)  # one answer per item
    texts = {r.text: r.value for r in table.records}
    assert texts == {f"review number {i}": truth(i) for i in expected}
    assert table.annotators() == ["lead"]


def test_auto_accept_decides_unanimous_items_as_auto(prodigy_home, tmp_path):
    label_dataset()
    log = tmp_path / "decisions.jsonl"
    _, ctrl = start(log, auto_accept=True)
    unanimous = set(range(N_ITEMS)) - disagreements()
    saved = connect().get_dataset_examples("final")
    assert sorted(item_of(eg) for eg in saved) == sorted(unanimous)
    assert {eg["_annotator_id"] for eg in saved} == {"final-auto"}
    person = SimulatedAnnotator("lead", lead)
    person.annotate(ctrl)
    assert sorted(item_of(t) for t in person.seen) == sorted(disagreements())
    decisions = AdjudicationLog(log).read()
    by_adj = {}
    for d in decisions:
        by_adj.setdefault(d.adjudicator, []).append(d)
    assert len(by_adj["auto"]) == len(unanimous) and len(by_adj["lead"]) == len(disagreements())
    table = read_prodigy_jsonl(db_out("final", tmp_path / "final.jsonl"), dataset="final")
    assert len(table.records) == len(table.items()) == N_ITEMS
    for r in table.records:
        i = int(r.text.rsplit(" ", 1)[1])
        assert r.value == truth(i)
    # a restart after everything is decided serves nothing and auto-accepts nothing again
    _, ctrl3 = start(log, auto_accept=True)
    assert ctrl3.get_questions(session_id=ctrl3.get_session_name("lead")) == []
    assert len(AdjudicationLog(log).read()) == N_ITEMS


def test_review_tasks_carry_versions_with_sessions(prodigy_home, tmp_path):
    label_dataset()
    comps, ctrl = start(tmp_path / "log.jsonl", only_disagreements=True)
    assert comps["view_id"] == "blocks"
    blocks = comps["config"]["blocks"]
    assert blocks[0] == {"view_id": "review"}
    assert [b.get("field_id") for b in blocks[1:]] == ["aqt_reason", "aqt_guideline_note"]
    task = ctrl.get_questions(session_id=ctrl.get_session_name("lead"))[0]
    i = item_of(task)
    assert task["view_id"] == "choice" and task["options"][0]["id"] == "NEG"
    given = {n: answer_of(n, i) for n in ANNOTATORS if answer_of(n, i) is not None}
    versions = task["versions"]
    assert sum(v["default"] for v in versions) == 1 and versions[0]["default"]
    assert {s for v in versions for s in v["sessions"]} == {f"sentiment-{n}" for n in given}
    for v in versions:
        assert {given[s.split("-", 1)[1]] for s in v["sessions"]} == set(v["accept"])
    majority = max(set(given.values()), key=lambda lab: list(given.values()).count(lab))
    assert task["accept"] == versions[0]["accept"]
    assert list(given.values()).count(task["accept"][0]) == list(given.values()).count(majority)
    plain, _ = start(tmp_path / "log.jsonl", layout="review")
    assert plain["view_id"] == "review" and "blocks" not in plain["config"]


def test_reject_needs_a_reason_and_drops_the_item(prodigy_home, tmp_path):
    label_dataset()
    log = tmp_path / "log.jsonl"
    _, ctrl = start(log, only_disagreements=True)
    sid = ctrl.get_session_name("lead")
    task = ctrl.get_questions(session_id=sid)[0]
    result = ctrl.receive_answers([dict(task, answer="reject")], session_id=sid)
    assert "give a reason" in result["errors"][0]["message"]
    assert AdjudicationLog(log).read() == []
    retry = ctrl.get_questions(session_id=sid)[0]
    assert retry["_task_hash"] == task["_task_hash"]
    ctrl.receive_answers(
        [dict(retry, answer="reject", aqt_reason="text is not a review")], session_id=sid
    )
    (decision,) = AdjudicationLog(log).read()
    assert decision.outcome == "reject" and decision.decision is None
    assert decision.reason == "text is not a review"


def test_choice_accept_needs_exactly_one_option(prodigy_home, tmp_path):
    label_dataset()
    _, ctrl = start(tmp_path / "log.jsonl", only_disagreements=True)
    sid = ctrl.get_session_name("lead")
    task = ctrl.get_questions(session_id=sid)[0]
    result = ctrl.receive_answers(
        [dict(task, answer="accept", accept=["NEG", "POS"])], session_id=sid
    )
    assert "exactly one option" in result["errors"][0]["message"]


def test_a_decision_logged_but_not_saved_is_saved_on_restart(prodigy_home, tmp_path):
    label_dataset()
    log = tmp_path / "log.jsonl"
    comps, ctrl = start(log, only_disagreements=True)
    task = ctrl.get_questions(session_id=ctrl.get_session_name("lead"))[0]
    answer = dict(lead(task), **{k: v for k, v in task.items() if k not in ("accept",)})
    answer.update(
        lead(task), _session_id="final-lead", _annotator_id="final-lead", _timestamp=1_700_000_000
    )
    comps["before_db"]([answer])  # the log line is written, then the process dies
    assert connect().get_dataset_examples("final") == []
    _, ctrl2 = start(log, only_disagreements=True)
    saved = connect().get_dataset_examples("final")
    assert [item_of(eg) for eg in saved] == [item_of(task)]
    assert saved[0]["aqt"]["adjudicator"] == "lead" and saved[0]["accept"] == [truth(item_of(task))]
    rest = SimulatedAnnotator("lead", lead)
    rest.annotate(ctrl2)
    assert item_of(task) not in {item_of(t) for t in rest.seen}
    assert len(rest.seen) == len(disagreements()) - 1


def test_guideline_version_is_stored_with_each_decision(prodigy_home, tmp_path):
    label_dataset()
    guide = tmp_path / "guidelines.md"
    guide.write_text("# Sentiment guidelines\nversion: 2.1\n\nMixed reviews are NEU.\n")
    log = tmp_path / "log.jsonl"
    _, ctrl = start(log, only_disagreements=True, guidelines=str(guide))
    SimulatedAnnotator("lead", lead).annotate(ctrl, max_answers=3)
    decisions = AdjudicationLog(log).read()
    assert len(decisions) == 3 and {d.guideline_version for d in decisions} == {"2.1"}
    line = json.loads(log.read_text().splitlines()[0])
    assert set(line) >= {
        "item",
        "versions_seen",
        "decision",
        "reason",
        "adjudicator",
        "time",
        "guideline_version",
        "guideline_note",
    }
    assert isinstance(line["time"], int)


def test_min_annotators_holds_back_items_with_fewer_answers(prodigy_home, tmp_path):
    label_dataset()
    _, ctrl = start(tmp_path / "log.jsonl", min_annotators=3)
    person = SimulatedAnnotator("lead", lead)
    person.annotate(ctrl)
    ignored_by_carol = {i for i in range(N_ITEMS) if answer_of("carol", i) is None}
    assert sorted(item_of(t) for t in person.seen) == sorted(set(range(N_ITEMS)) - ignored_by_carol)


SPAN_TEXT = "Alice met Bob in Paris"
TOKENS = [
    {
        "text": w,
        "start": SPAN_TEXT.index(w),
        "end": SPAN_TEXT.index(w) + len(w),
        "id": k,
        "ws": True,
    }
    for k, w in enumerate(SPAN_TEXT.split())
]


def span(word: str, label: str) -> dict:
    k = SPAN_TEXT.split().index(word)
    return {
        "start": TOKENS[k]["start"],
        "end": TOKENS[k]["end"],
        "token_start": k,
        "token_end": k,
        "label": label,
    }


def test_spans_adjudication_with_an_edited_answer(prodigy_home, tmp_path):
    db = connect()
    db.add_dataset("ner")
    answers = {
        "a": [span("Alice", "PER"), span("Paris", "LOC")],
        "b": [span("Alice", "PER"), span("Paris", "LOC")],
        "c": [span("Alice", "PER"), span("Bob", "PER")],
    }
    db.add_examples(
        [
            {
                "text": SPAN_TEXT,
                "tokens": TOKENS,
                "spans": spans,
                "answer": "accept",
                "_view_id": "ner_manual",
                "_session_id": f"ner-{n}",
                "_annotator_id": f"ner-{n}",
                "_timestamp": 1_700_000_000,
            }
            for n, spans in answers.items()
        ],
        datasets=["ner"],
    )
    log = tmp_path / "log.jsonl"
    comps = adjudicate("ner_final", "ner", log=str(log))
    assert comps["config"]["labels"] == ["LOC", "PER"]
    ctrl = Controller.from_components("aqt.adjudicate", comps)
    final = [span("Alice", "PER"), span("Bob", "PER"), span("Paris", "LOC")]
    person = SimulatedAnnotator("lead", lambda t: {"answer": "accept", "spans": final})
    person.annotate(ctrl)
    (task,) = person.seen
    assert task["view_id"] == "ner_manual"
    assert task["spans"] == answers["a"]  # majority pre-filled, token offsets kept
    assert [v["sessions"] for v in task["versions"]] == [["ner-a", "ner-b"], ["ner-c"]]
    (decision,) = AdjudicationLog(log).read()
    assert decision.extra["edited"] is True and len(decision.decision) == 3
    table = read_prodigy_jsonl(db_out("ner_final", tmp_path / "out.jsonl"), dataset="ner_final")
    (record,) = table.records
    assert [(s.start, s.end, s.label) for s in record.value] == [
        (0, 5, "PER"),
        (10, 13, "PER"),
        (17, 22, "LOC"),
    ]


def test_errors_are_messages_with_a_fix(prodigy_home, tmp_path, capsys):
    label_dataset()
    with pytest.raises(SystemExit) as exc:
        adjudicate("sentiment", "sentiment", log=str(tmp_path / "l.jsonl"))
    assert exc.value.code == 1
    assert "sentiment_adjudicated" in " ".join(capsys.readouterr().out.split())
    db = connect()
    db.add_dataset("binary")
    db.add_examples(
        [
            {
                "text": "t",
                "label": "X",
                "answer": "accept",
                "_view_id": "classification",
                "_session_id": "binary-a",
            }
        ],
        datasets=["binary"],
    )
    with pytest.raises(SystemExit):
        adjudicate("out", "binary", log=str(tmp_path / "l.jsonl"))
    out = " ".join(capsys.readouterr().out.split())
    assert "'classification'" in out and "review" in out
    with pytest.raises(SystemExit):
        adjudicate("out", "sentiment", log=str(tmp_path / "l.jsonl"), layout="grid")
    assert "'grid'" in capsys.readouterr().out


def test_two_adjudicators_share_the_items_without_overlap(prodigy_home, tmp_path):
    label_dataset()
    comps, ctrl = start(tmp_path / "log.jsonl", only_disagreements=True)
    assert comps["config"]["feed_overlap"] is False
    one, two = SimulatedAnnotator("lead", lead), SimulatedAnnotator("second", lead)
    one.annotate(ctrl, max_batches=1)  # one full batch, then the second adjudicator starts
    two.annotate(ctrl)
    one.annotate(ctrl)
    items_one = [item_of(eg) for eg in one.answered]
    items_two = [item_of(eg) for eg in two.answered]
    assert items_one and items_two and not set(items_one) & set(items_two)
    assert sorted(items_one + items_two) == sorted(disagreements())
    adjudicators = {d.adjudicator for d in AdjudicationLog(tmp_path / "log.jsonl").read()}
    assert adjudicators == {"lead", "second"}


def test_bare_review_layout_records_decisions_without_notes(prodigy_home, tmp_path):
    label_dataset()
    log = tmp_path / "log.jsonl"
    comps, ctrl = start(log, only_disagreements=True, layout="review")
    assert comps["view_id"] == "review"
    person = SimulatedAnnotator("lead", lambda t: {"answer": "accept", "accept": t["accept"]})
    person.annotate(ctrl)
    decisions = AdjudicationLog(log).read()
    assert len(decisions) == len(disagreements())
    assert all(d.reason is None and d.guideline_note is None for d in decisions)
    assert all(d.decision == d.versions_seen[0].value for d in decisions)  # kept the majority
    assert not any(d.extra["edited"] for d in decisions)
