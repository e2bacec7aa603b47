"""Task folders (<task>/{train,validation}.jsonl) as a task collection, and the task metrics.

Numpy only: this file belongs to the fast tier.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from zoo_rank.datasets import TaskCollection, task_source
from zoo_rank.datasets.scoring import classification_scores, default_metric, regression_scores
from zoo_rank.errors import DataError
from zoo_rank.pipeline.train import data_line

pytestmark = pytest.mark.core  # numpy-only: the fast tier


def write_task(root: Path, name: str, train: list[dict], validation: list[dict], source: dict | None = None) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    for split, rows in (("train", train), ("validation", validation)):
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    if source is not None:
        (folder / "SOURCE.json").write_text(json.dumps(source))
    return folder


def pairs(n: int, labels=("entailment", "not_entailment")) -> list[dict]:
    return [{"text": f"premise {i}", "text_pair": f"hypothesis {i}", "label": labels[i % len(labels)]}
            for i in range(n)]


def singles(n: int, labels=("0", "1")) -> list[dict]:
    return [{"text": f"sentence number {i}", "label": labels[i % len(labels)]} for i in range(n)]


@pytest.fixture
def collection(tmp_path) -> Path:
    root = tmp_path / "tasks"
    write_task(root, "rte", pairs(10), pairs(4))
    write_task(root, "cola", singles(12), singles(6), {"licence": "research"})
    write_task(root, "stsb", [{"text": f"a{i}", "text_pair": f"b{i}", "label": i * 0.37} for i in range(30)],
               [{"text": f"c{i}", "text_pair": f"d{i}", "label": 5 - i * 0.5} for i in range(8)])
    (root / "scitail").mkdir()
    (root / "scitail" / "SOURCE.json").write_text("{}")
    return root


def test_collection_reads_single_pair_and_regression_tasks(collection):
    tasks = TaskCollection(collection)
    assert tasks.names() == ["cola", "rte", "stsb"] and tasks.missing == ["scitail"]
    rte = tasks.load("rte", "train")
    assert rte.pairs == [f"hypothesis {i}" for i in range(10)] and rte.label_names == ["entailment", "not_entailment"]
    assert tasks.load("cola", "train").pairs is None
    stsb = tasks.load("stsb", "test")
    assert stsb.task_type == "regression" and stsb.labels == [5 - i * 0.5 for i in range(8)]
    assert len(tasks.load("cola", "all")) == 18
    assert (tasks.metric("cola"), tasks.metric("rte"), tasks.metric("stsb")) == ("mcc", "accuracy", "pearson")
    assert tasks.positive("cola") == "1" and tasks.positive("stsb") is None
    assert tasks["cola"].describe()["licence"] == "research"


def test_validation_keeps_the_train_label_order_even_when_it_lacks_a_class(tmp_path):
    root = tmp_path / "tasks"
    write_task(root, "nli", pairs(9, ("contradiction", "entailment", "neutral")), pairs(4, ("neutral", "entailment")))
    tasks = TaskCollection(root)
    assert tasks.load("nli", "validation").label_names == ["contradiction", "entailment", "neutral"]


def test_a_task_folder_itself_is_a_collection_of_one(collection):
    assert TaskCollection(collection / "rte").names() == ["rte"]


def test_source_json_sets_the_metric_and_the_digest_follows_the_content(tmp_path):
    root = tmp_path / "tasks"
    folder = write_task(root, "para", pairs(6, ("no", "yes")), pairs(4, ("no", "yes")),
                        {"metric": "f1", "positive_label": "yes"})
    tasks = TaskCollection(root)
    assert tasks.metric("para") == "f1" and tasks.positive("para") == "yes"
    before = tasks.digest("para")
    with (folder / "train.jsonl").open("a") as f:
        f.write(json.dumps({"text": "x", "text_pair": "y", "label": "no"}) + "\n")
    assert TaskCollection(root).digest("para") != before


def test_task_source_is_builtin_without_a_folder(collection):
    assert "hedge" in task_source(None) and "hedge" not in task_source(collection)
    assert task_source(collection).names() == ["cola", "rte", "stsb"]


@pytest.mark.parametrize("case, expected", [
    ("no-validation", r"validation\.jsonl: is missing"),
    ("not-json", r"train\.jsonl: line 3 is not valid JSON"),
    ("mixed-types", r"train\.jsonl: line 2: label 1 mixes label types \(line 1 has '0'\)"),
    ("label-only-in-validation", r"validation\.jsonl: line 2: label 'maybe' is not in train\.jsonl"),
    ("empty", r"train\.jsonl: is empty"),
    ("bom", r"train\.jsonl: line 1 starts with a byte-order mark"),
    ("one-class", r"train\.jsonl: has one class only \('0'\)"),
    ("pair-mismatch", r"train\.jsonl: line 2: \"text_pair\" is present where line 1 has it missing"),
    ("no-text", r"train\.jsonl: line 1 is not an object with a string \"text\" and a \"label\""),
    ("bad-label", r"train\.jsonl: line 1: label \[1\] is neither a string nor a number"),
    ("bad-metric", r"SOURCE\.json: unknown metric 'auc'"),
])
def test_bad_task_folders_get_one_line_that_names_the_file_and_line(tmp_path, case, expected):
    root = tmp_path / "tasks"
    folder = write_task(root, "t", singles(6), singles(4))
    train, validation = folder / "train.jsonl", folder / "validation.jsonl"
    if case == "no-validation":
        validation.unlink()
    elif case == "not-json":
        train.write_text(train.read_text().replace('"sentence number 2"', "'sentence'"))
    elif case == "mixed-types":
        train.write_text('{"text": "a", "label": "0"}\n{"text": "b", "label": 1}\n')
    elif case == "label-only-in-validation":
        validation.write_text('{"text": "a", "label": "0"}\n{"text": "b", "label": "maybe"}\n')
    elif case == "empty":
        train.write_text("\n")
    elif case == "bom":
        train.write_bytes(b"\xef\xbb\xbf" + train.read_bytes())
    elif case == "one-class":
        train.write_text("".join(json.dumps({"text": f"s{i}", "label": "0"}) + "\n" for i in range(4)))
    elif case == "pair-mismatch":
        train.write_text('{"text": "a", "label": "0"}\n{"text": "b", "text_pair": "c", "label": "1"}\n')
    elif case == "no-text":
        train.write_text('{"sentence": "a", "label": "0"}\n')
    elif case == "bad-label":
        train.write_text('{"text": "a", "label": [1]}\n')
    elif case == "bad-metric":
        (folder / "SOURCE.json").write_text('{"metric": "auc"}')
    with pytest.raises(DataError, match=expected) as info:
        TaskCollection(root).load("t", "train")
        TaskCollection(root).load("t", "validation")
    assert "\n" not in str(info.value) and str(folder) in str(info.value)


def test_a_folder_without_tasks_is_refused(tmp_path):
    (tmp_path / "empty" / "nothing").mkdir(parents=True)
    with pytest.raises(DataError, match="holds no task folders"):
        TaskCollection(tmp_path / "empty")


def test_classification_metrics_on_a_hand_computed_case():
    # gold:      1 1 1 0 0 0 0 1 ; predicted: 1 1 0 0 0 1 0 1  → TP 3, FN 1, FP 1, TN 3
    scores = classification_scores([1, 1, 0, 0, 0, 1, 0, 1], [1, 1, 1, 0, 0, 0, 0, 1], positive=1)
    assert scores["accuracy"] == 6 / 8
    assert scores["f1"] == pytest.approx(2 * 3 / (2 * 3 + 1 + 1))
    assert scores["mcc"] == pytest.approx((3 * 3 - 1 * 1) / math.sqrt(4 * 4 * 4 * 4))
    # always the majority class: accuracy looks fine, Matthews correlation says it learned nothing
    constant = classification_scores([1] * 10, [1] * 7 + [0] * 3, positive=1)
    assert constant["accuracy"] == 0.7 and constant["mcc"] == 0.0
    # three classes, perfect and reversed-ish predictions
    assert classification_scores([0, 1, 2, 0], [0, 1, 2, 0], 1)["mcc"] == pytest.approx(1.0)
    assert classification_scores([1, 2, 0], [0, 1, 2], 1)["mcc"] < 0


def test_regression_metrics_on_a_hand_computed_case():
    scores = regression_scores([1.0, 2.0, 3.0, 4.0], [10.0, 20.0, 30.0, 45.0])
    assert scores["spearman"] == pytest.approx(1.0) and 0.98 < scores["pearson"] < 1.0
    # ties get average ranks: ranks of [1, 1, 2] are [1.5, 1.5, 3]
    assert regression_scores([1.0, 1.0, 2.0], [1.0, 2.0, 3.0])["spearman"] == pytest.approx(0.8660254, abs=1e-6)
    assert regression_scores([3.0, 3.0, 3.0], [1.0, 2.0, 3.0]) == {"pearson": 0.0, "spearman": 0.0}


def test_glue_tasks_get_their_standard_metric():
    assert [default_metric(t, "classification") for t in ("CoLA", "mrpc", "qqp", "rte", "sst2")] == \
        ["mcc", "f1", "f1", "accuracy", "accuracy"]
    assert default_metric("stsb", "regression") == "pearson"


def test_a_validation_only_task_trains_on_a_carved_half_and_says_so(tmp_path):
    """A task whose official training split could not be had (SuperGLUE BoolQ in ../shared/tasks)
    used to stop every command on its folder's collection; half of its validation file now trains,
    chosen by a hash of each example, the other half stays held out, and the listing says so."""
    root = tmp_path / "tasks"
    write_task(root, "rte", pairs(10), pairs(4))
    folder = write_task(root, "boolq", [], pairs(200, labels=("True", "False")))
    (folder / "train.jsonl").unlink()
    tasks = TaskCollection(root)
    train, held_out = tasks.load("boolq", "train"), tasks.load("boolq", "validation")
    assert 60 < len(train) < 140 and len(train) + len(held_out) == 200
    assert not set(zip(train.texts, train.pairs)) & set(zip(held_out.texts, held_out.pairs))  # no example in both
    assert train.label_names == held_out.label_names and train.pairs is not None
    info = TaskCollection(root).tasks["boolq"].describe()
    assert info["carved"] is True and info["train"] == len(train) and TaskCollection(root).tasks["rte"].describe()[
        "carved"] is False
    again = TaskCollection(root).load("boolq", "train")
    assert again.texts == train.texts  # the same half every time
    assert "carved out to train" in data_line(train) and f"{len(train):,} examples" in data_line(train)
    assert "carved" not in data_line(tasks.load("rte", "train"))  # a task with its own training split
