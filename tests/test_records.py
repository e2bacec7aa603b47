"""Multiple-choice and extractive-QA examples: read from data files and task folders, checked,
sampled, split and written back (``zoo_rank/datasets/records.py``). Bad files are refused in one
line through the CLI in test_data_files.py. Numpy only: the fast tier."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from zoo_rank.datasets import TaskCollection, load_data, read_table
from zoo_rank.datasets.records import NO_ANSWER, Answer, to_record
from zoo_rank.errors import DataError

pytestmark = pytest.mark.core


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def choice_rows(n: int, choices: int = 3) -> list[dict]:
    return [{"text": f"context {i}\nwhich one?", "choices": [f"option {i}-{k}" for k in range(choices)],
             "label": i % choices} for i in range(n)]


def question_rows(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        context = f"Paragraph {i} says the answer is word{i} and nothing else."
        answered = i % 4 != 3
        rows.append({"question": f"What is answer {i}?", "context": context,
                     "answers": {"text": [f"word{i}"], "answer_start": [context.index(f"word{i}")]} if answered
                     else {"text": [], "answer_start": []}})
    return rows


def test_a_multiple_choice_file_keeps_its_choices_and_right_answers(tmp_path):
    rows = choice_rows(40) + [{"text": "five ways", "endings": ["a", "b", "c", "d", "e"], "answer": "4"}]
    data = read_table(_jsonl(tmp_path / "mc.jsonl", rows))
    assert data.task_type == "multiple-choice" and len(data) == 41
    assert data.choices[0] == ["option 0-0", "option 0-1", "option 0-2"] and data.labels[:4] == [0, 1, 2, 0]
    assert data.choices[-1] == ["a", "b", "c", "d", "e"] and data.labels[-1] == 4  # other field names, a string index
    assert "3 to 5 choices" in data.label_reading()
    sample = data.sample(12, seed=0)
    assert len(sample) == 12 and all(c == data.choices[data.texts.index(t)] for t, c in zip(sample.texts, sample.choices))
    # the content hash sees the choices: the same contexts with other choices are other data
    changed = [dict(r, choices=list(reversed(r["choices"]))) if "choices" in r else r for r in rows]
    assert read_table(_jsonl(tmp_path / "other.jsonl", changed)).sha256() != data.sha256()


def test_an_extractive_qa_file_finds_each_answer_in_its_context(tmp_path):
    rows = question_rows(40)
    rows[0]["answers"]["answer_start"] = [0]  # off: moved to where the answer is, and said
    data = read_table(_jsonl(tmp_path / "squad.jsonl", rows))
    assert data.task_type == "extractive-qa" and data.pairs[1] == rows[1]["context"]
    assert data.labels[0] == Answer(rows[0]["context"].index("word0"), "word0")
    assert data.labels[3] == NO_ANSWER and not data.labels[3].answerable
    assert any("1 answer_start value(s) did not point at their answer (first on line 1)" in w for w in data.warnings)
    assert "30 questions answered by a span of their context, 10 unanswerable" in data.label_reading()
    sample = data.sample(20, seed=1)  # answerable and unanswerable kept in proportion
    assert sum(not a.answerable for a in sample.labels) == 5


def test_an_answer_start_missing_is_found_and_a_set_without_any_answer_is_refused(tmp_path):
    rows = question_rows(8)
    for row in rows:
        row["answers"].pop("answer_start")
    assert read_table(_jsonl(tmp_path / "no-starts.jsonl", rows)).labels[0].start == rows[0]["context"].index("word0")
    unanswered = [dict(r, answers={"text": [], "answer_start": []}) for r in question_rows(8)]
    with pytest.raises(DataError, match="has no answerable question"):
        read_table(_jsonl(tmp_path / "none.jsonl", unanswered))


def test_column_options_do_not_apply_to_structured_examples(tmp_path):
    path = _jsonl(tmp_path / "mc.jsonl", choice_rows(10))
    with pytest.raises(DataError, match="--label-column does not apply"):
        read_table(path, label_column="label")
    with pytest.raises(DataError, match="holds multiple-choice examples, not regression"):
        read_table(path, task_type="regression")


def test_task_folders_of_both_types_and_a_carved_validation_only_one(tmp_path):
    root = tmp_path / "tasks"
    for name, rows in (("copa", choice_rows(60, 2)), ("squad", question_rows(60))):
        (root / name).mkdir(parents=True)
        _jsonl(root / name / "train.jsonl", rows[:40])
        _jsonl(root / name / "validation.jsonl", rows[40:])
    (root / "piqa").mkdir()
    _jsonl(root / "piqa" / "validation.jsonl", choice_rows(100, 2))
    tasks = TaskCollection(root)
    assert tasks["copa"].describe()["labels"] == "1 of 2 choices" and tasks["squad"].describe()["labels"] == "answer span"
    assert tasks["squad"].metric == "token_f1" and tasks["copa"].metric == "accuracy"
    both = tasks.load("copa", "all")
    assert len(both) == 60 and both.choices[-1] == choice_rows(60, 2)[-1]["choices"]
    piqa = tasks["piqa"]
    train, held_out = piqa.load("train"), piqa.load("validation")
    assert piqa.carved and len(train) + len(held_out) == 100 and not set(train.texts) & set(held_out.texts)
    # a validation file of another type than its train file is one error naming it
    _jsonl(root / "squad" / "validation.jsonl", [{"text": "x", "label": "a"}, {"text": "y", "label": "b"}])
    with pytest.raises(DataError, match=r"validation.jsonl: holds text-and-label examples where train.jsonl holds "
                                        r"extractive-qa"):
        TaskCollection(root).load("squad", "validation")


def test_examples_written_back_are_read_as_the_same_data(tmp_path):
    for name, rows in (("mc", choice_rows(30)), ("qa", question_rows(30))):
        data = read_table(_jsonl(tmp_path / f"{name}.jsonl", rows))
        again = load_data(_jsonl(tmp_path / f"{name}-again.jsonl", [to_record(data, i) for i in range(len(data))]))
        assert again.sha256() == data.sha256()
