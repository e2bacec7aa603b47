"""`bench predict --tasks` (#38): predictions for a task list with no transfer results, as the
external test asks, on three task types at once (sentence pairs, multiple choice, extractive QA)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from conftest import require_assets

from zoo_rank.cli import cli
from zoo_rank.evaluation.predict import load_predictions


def _jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def _tasks(root: Path) -> Path:
    words = "red green blue cold warm small large quiet loud early late soft".split()
    nli = [{"text": f"the {w} house", "text_pair": f"a {words[(i + 3) % 12]} home", "label": "yes" if i % 2 else "no"}
           for i, w in enumerate(words * 3)]
    choice = [{"text": f"what is {w}?", "choices": [w, words[(i + 1) % 12], words[(i + 2) % 12]], "label": 0}
              for i, w in enumerate(words * 3)]
    qa = []
    for i, w in enumerate(words * 3):
        context = f"The box was {w} and the lid was {words[(i + 5) % 12]}."
        qa.append({"question": "What was the box?", "context": context,
                   "answers": {"text": [w], "answer_start": [context.index(w)]}})
    for name, rows in (("nli", nli), ("choice", choice), ("qa", qa)):
        _jsonl(root / name / "train.jsonl", rows[:24])
        _jsonl(root / name / "validation.jsonl", rows[24:])
    return root


def test_a_task_list_alone_gets_every_ordered_pair_from_every_method(tmp_path):
    require_assets()
    root = _tasks(tmp_path / "tasks")
    out = tmp_path / "external.json"
    result = CliRunner().invoke(cli, ["bench", "predict", "--tasks", "nli,choice,qa", "--tasks-dir", str(root),
                                      "--methods", "random,datasize,textemb,taskemb", "--out", str(out),
                                      "--work", str(tmp_path / "work")], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    predictions, provenance = load_predictions(out)
    pairs = {(t, s) for t in ("nli", "choice", "qa") for s in ("nli", "choice", "qa") if s != t}
    assert set(predictions) == {"Random", "DataSize", "DataSize (full split)", "TextEmb", "TaskEmb"}
    for prediction in predictions.values():
        assert {(t, s) for t, row in prediction.scores.items() for s in row} == pairs, prediction.name
    assert provenance["tasks"] == ["nli", "choice", "qa"]
    assert provenance["settings"]["source_examples"] == provenance["settings"]["target_examples"] == 1000


def test_a_task_list_needs_its_folder_and_names_an_unknown_task(tmp_path):
    root = _tasks(tmp_path / "tasks")
    runner = CliRunner()
    alone = runner.invoke(cli, ["bench", "predict", "--tasks", "nli,qa", "--methods", "random"])
    assert alone.exit_code == 2 and "--tasks needs --tasks-dir" in alone.output
    both = runner.invoke(cli, ["bench", "predict", "--tasks", "nli,qa", "--tasks-dir", str(root), "--gains",
                               str(root / "nli" / "train.jsonl")])
    assert both.exit_code == 2 and "not both" in both.output
    unknown = runner.invoke(cli, ["bench", "predict", "--tasks", "nli,piqa", "--tasks-dir", str(root), "--methods",
                                  "random", "--out", str(tmp_path / "p.json")])
    assert unknown.exit_code == 1
    (line,) = [line for line in unknown.output.strip().splitlines() if line.strip()][:1]
    assert "has no task 'piqa'" in line and str(root) in line
    assert not (tmp_path / "p.json").exists()
