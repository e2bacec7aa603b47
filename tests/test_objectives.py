"""Training multiple-choice and extractive-QA tasks (``zoo_rank/training/objectives.py``) on a
tiny local BERT: the targets the model sees, what "learned" means for each, and checkpoints
whose heads are kept apart so that they embed in the same spaces as classification."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from factories import WORDS, sentiment_rows, write_csv

from zoo_rank import Registry
from zoo_rank.api import train
from zoo_rank.datasets import read_table
from zoo_rank.readers import read_checkpoint
from zoo_rank.training import TrainConfig, resolve_base_model, resolve_device, train_checkpoint
from zoo_rank.training.objectives import objective_for


@pytest.fixture
def base(tiny_model):
    return resolve_base_model(str(tiny_model))


def _jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def choice_rows(n: int) -> list[dict]:
    """The right choice is the word that names the sentence's sentiment; every third example has a
    third, always wrong choice (examples may differ in their number of choices)."""
    rows = []
    for i, row in enumerate(sentiment_rows(n)):
        choices = ["good", "bad"] if i % 2 else ["bad", "good"]
        if i % 3 == 0:
            choices.append("maybe")
        rows.append({"text": row["text"], "choices": choices, "label": choices.index("good" if row["label"] == "pos" else "bad")})
    return rows


def question_rows(n: int, filler: int = 4, seed: int = 0) -> list[dict]:
    """The answer is the sentiment word of a context; every fifth question has no answer."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        words = list(rng.choice(WORDS[12:22], filler)) + [str(rng.choice(WORDS[:6]))] + list(rng.choice(WORDS[12:22], 2))
        context = " ".join(words) + " ."
        answer = words[filler]
        start = len(" ".join(words[:filler])) + 1
        answers = {"text": [answer], "answer_start": [start]} if i % 5 else {"text": [], "answer_start": []}
        rows.append({"question": "what was good ?", "context": context, "answers": answers})
    return rows


@pytest.mark.parametrize("method", ["bitfit", "lora", "prefix"])
def test_multiple_choice_trains_each_method_with_its_head_apart(method, tmp_path, base):
    data = read_table(_jsonl(tmp_path / "mc.jsonl", choice_rows(48)))
    result = train_checkpoint(data, tmp_path / "ckpt", TrainConfig(method=method, steps=6, lr=1e-2), base)
    # chance: an example of k choices scored alike costs log k, whatever the right one's position
    assert result.metrics["chance_loss"] == pytest.approx((32 * math.log(2) + 16 * math.log(3)) / 48)
    weights = read_checkpoint(result.checkpoint)
    assert weights.head and all(name.split(".")[-2] == "classifier" or "classifier" in name for name in weights.head)
    assert sorted(weights.layers) == [0, 1] and weights.num_tuned_values() > 0
    assert result.model.config.num_labels == 1  # one score per (context, choice)


def test_multiple_choice_is_learned_by_the_early_rule_and_scored_per_example(tmp_path, base):
    import torch

    from zoo_rank.training.loop import held_out_metrics

    data = read_table(_jsonl(tmp_path / "mc.jsonl", choice_rows(64)))
    result = train_checkpoint(data, tmp_path / "ckpt",
                              TrainConfig(method="lora", until_learned=0.2, steps=300, lr=1e-2), base)
    assert result.metrics["stopped_by"] == "learned" and result.steps < 300
    tokenizer = _tokenizer(base)
    right = []  # each example on its own, its choices in one padded batch
    for text, choices, label in zip(data.texts, data.choices, data.labels):
        inputs = tokenizer([text] * len(choices), choices, padding=True, return_tensors="pt")
        with torch.no_grad():
            right.append(int(result.model(**inputs).logits[:, 0].argmax()) == label)
    accuracy = held_out_metrics(result.model, tokenizer, data, TrainConfig(), resolve_device("cpu"))["accuracy"]
    assert accuracy == pytest.approx(np.mean(right)) and accuracy > 0.6


def _tokenizer(base):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(base.location)


def test_a_question_is_trained_on_the_window_that_holds_its_answer(tmp_path, base):
    """With a context longer than the model's input, the training row is the window with the
    answer, and its target tokens spell the answer; a question without one points at token 0."""
    rows = question_rows(10, filler=40)  # the answer sits after 40 words: past a 24-token window
    data = read_table(_jsonl(tmp_path / "qa.jsonl", rows))
    tokenizer = _tokenizer(base)
    objective = objective_for(data)
    encoded = objective.encode(tokenizer, data, max_length=24)
    for i, answer in enumerate(data.labels):
        first, last = encoded.spans[i]
        assert len(encoded.rows["input_ids"][i]) <= 24
        if answer.answerable:
            assert tokenizer.decode(encoded.rows["input_ids"][i][first : last + 1]) == answer.text
        else:
            assert (first, last) == (0, 0)
    held_out = objective.encode_held_out(tokenizer, data, max_length=24)  # what prediction may see: the first window
    assert held_out.rows["input_ids"][1] != encoded.rows["input_ids"][1]
    chance = objective.chance(list(range(len(data))), encoded)
    assert chance == pytest.approx(np.mean([math.log(p) for p in encoded.places]))
    assert all(p == sum(1 for o in offsets if o is not None) + 1 for p, offsets in zip(encoded.places, encoded.offsets))


def test_an_answer_no_window_can_hold_is_counted_and_said(tmp_path, base):
    """An answer longer than a window's room for context cannot be a target: it trains as no
    answer, and the run says how many did, so a changed task is never a silent one."""
    from zoo_rank.training.rates import finished

    rows = question_rows(6, filler=3)
    words = " ".join(WORDS[12:22] * 3)  # 30 words: more context than a 24-token window holds
    rows[1] = {"question": "what was good ?", "context": f"so {words} .", "answers": {"text": [words], "answer_start": [3]}}
    data = read_table(_jsonl(tmp_path / "qa.jsonl", rows))
    encoded = objective_for(data).encode(_tokenizer(base), data, max_length=24)
    assert encoded.spans[1] == (0, 0)
    assert encoded.unplaced == 1  # row 0 has no answer and is not counted; the short answers fit
    result = train_checkpoint(data, tmp_path / "run", TrainConfig(method="bitfit", max_length=24, steps=2), base)
    assert result.metrics["answers_in_no_window"] == 1
    assert "1 of 6 answers fit in no --max-length window" in finished("qa", "bitfit", result)[0]


@pytest.mark.parametrize("method", ["bitfit", "lora", "prefix"])
def test_extractive_qa_trains_each_method_with_its_head_apart(method, tmp_path, base):
    data = read_table(_jsonl(tmp_path / "qa.jsonl", question_rows(40)))
    result = train_checkpoint(data, tmp_path / "ckpt", TrainConfig(method=method, steps=6, lr=1e-2), base)
    weights = read_checkpoint(result.checkpoint)
    assert sorted(weights.head) and all(name.split(".")[0] == "qa_outputs" or "qa_outputs" in name for name in weights.head)
    assert sorted(weights.layers) == [0, 1]
    if method != "bitfit":
        config = json.loads((result.checkpoint / "adapter_config.json").read_text())
        assert config["task_type"] == "QUESTION_ANS"  # peft loads it as a question-answering adapter


def test_extractive_qa_is_learned_and_scored_by_squad_metrics(tmp_path, base):
    data = read_table(_jsonl(tmp_path / "qa.jsonl", question_rows(64)))
    result = train_checkpoint(data, tmp_path / "ckpt",
                              TrainConfig(method="lora", until_learned=0.2, steps=300, lr=1e-2), base)
    assert result.metrics["stopped_by"] == "learned"
    from zoo_rank.training.loop import held_out_metrics

    held_out = read_table(_jsonl(tmp_path / "qa-test.jsonl", question_rows(40, seed=1)))
    scores = held_out_metrics(result.model, _tokenizer(base), held_out, TrainConfig(), resolve_device("cpu"))
    assert set(scores) == {"exact_match", "token_f1"} and scores["token_f1"] > 0.5


def test_new_task_types_rank_against_classification_in_one_space(tmp_path, tiny_model):
    """Heads excluded, a multiple-choice, a QA and a classification embedding share each method's
    space: one ranking holds all three."""
    from zoo_rank.api import rank

    registry = Registry(tmp_path / "home")
    paths = [_jsonl(tmp_path / "mc.jsonl", choice_rows(32)), _jsonl(tmp_path / "qa.jsonl", question_rows(32)),
             write_csv(tmp_path / "cls.csv", sentiment_rows(32))]
    options = dict(methods=("bitfit",), registry=registry, base_model=str(tiny_model),
                   config=TrainConfig(steps=3, lr=1e-2))
    for path in paths:
        train(str(path), **options)
    types = {e.task: e.task_type for e in registry.entries()}
    assert types == {"mc": "multiple-choice", "qa": "extractive-qa", "cls": "classification"}
    ranking = rank(str(paths[0]), registry=registry, base_model=str(tiny_model),
                   training={"config": TrainConfig(steps=3, lr=1e-2), "methods": ("bitfit",)})
    assert {c.task for c in ranking.candidates} == {"qa", "cls"}


def test_taskemb_vectors_of_every_task_type_compare(tmp_path, base):
    """TaskEmb's Fisher of a multiple-choice, a QA and a classification model: one length, the QA
    model's absent pooler 0, so every pair of task types has a cosine."""
    from zoo_rank.evaluation.fisher import fisher_vector

    vectors = {}
    for name, path in (("mc", _jsonl(tmp_path / "mc.jsonl", choice_rows(8))),
                       ("qa", _jsonl(tmp_path / "qa.jsonl", question_rows(8))),
                       ("cls", write_csv(tmp_path / "cls.csv", sentiment_rows(8)))):
        data = read_table(path)
        _, model = objective_for(data).load(base, data)
        vectors[name] = fisher_vector(model, _tokenizer(base), data, TrainConfig(), resolve_device("cpu"))
    assert len({len(v) for v in vectors.values()}) == 1
    pooler = 32 * 32 + 32  # the tiny BERT's pooler: dense weight and bias, last in the vector
    assert not vectors["qa"][-pooler:].any() and vectors["mc"][-pooler:].any()
    assert all(v[:-pooler].any() for v in vectors.values())


def test_a_source_encoder_starts_a_target_of_another_task_type(tmp_path, base):
    """bench transfer between task types: a QA model has no pooler; the classifier's is dropped
    going to it, and left as the base model has it coming from it."""
    import torch

    from zoo_rank.evaluation.transfer import _load_encoder

    classifier = read_table(write_csv(tmp_path / "cls.csv", sentiment_rows(8)))
    question = read_table(_jsonl(tmp_path / "qa.jsonl", question_rows(8)))
    _, cls_model = objective_for(classifier).load(base, classifier)
    _, qa_model = objective_for(question).load(base, question)
    with torch.no_grad():
        for p in cls_model.parameters():
            p.add_(1.0)
    cls_body, qa_body = cls_model.bert, qa_model.bert
    _load_encoder(qa_body, cls_body.state_dict())
    assert torch.equal(qa_body.encoder.layer[0].attention.self.query.weight,
                       cls_body.encoder.layer[0].attention.self.query.weight)
    pooler = cls_body.pooler.dense.weight.clone()
    _load_encoder(cls_body, qa_body.state_dict())
    assert torch.equal(cls_body.pooler.dense.weight, pooler)
