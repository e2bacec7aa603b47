"""Built-in tasks from a task collection (`builtin build --tasks-dir`): which tasks qualify, how a
name clash is resolved, and the cards that ship without the data and that `zoo-rank datasets`
lists. Numpy and SQLite only: the fast tier."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from zoo_rank import builtin_registry
from zoo_rank.builtin_registry import finish, shipped_cards
from zoo_rank.cli import cli
from zoo_rank.pipeline.builtin import MIN_EXAMPLES, collection_cards
from zoo_rank.registry import Registry

pytestmark = pytest.mark.core


def _task(root: Path, name: str, train: int, validation: int, source: dict | None = None, choices: bool = False) -> None:
    folder = root / name
    folder.mkdir(parents=True)

    def rows(n: int, offset: int) -> str:
        if choices:
            return "".join(json.dumps({"text": f"q {i + offset}", "choices": ["a", "b"], "label": i % 2}) + "\n"
                           for i in range(n))
        return "".join(json.dumps({"text": f"t {i + offset}", "label": "xy"[i % 2]}) + "\n" for i in range(n))

    if train:
        (folder / "train.jsonl").write_text(rows(train, 0))
    (folder / "validation.jsonl").write_text(rows(validation, train))
    if source is not None:
        (folder / "SOURCE.json").write_text(json.dumps(source))


@pytest.fixture
def collection(tmp_path) -> Path:
    root = tmp_path / "tasks"
    _task(root, "big", 450, 50, {"repo": "org/data", "commit": "0123456789abcdef", "licence": "CC BY 4.0",
                                 "official_sizes": {"train": 9000}})
    _task(root, "small", 400, 99)  # 499: one short
    _task(root, "carved", 0, 600, choices=True)  # validation only: trains on half
    _task(root, "spam", 500, 100)  # a PyPI built-in's name
    return root


def test_tasks_with_enough_examples_qualify_and_a_clash_gets_the_folders_name(collection):
    cards = collection_cards(collection, taken={"spam", "hedge"})
    assert sorted(cards) == ["big", "carved", "spam-tasks"] and MIN_EXAMPLES == 500
    big = cards["big"]
    assert (big["provenance"], big["licence"], big["size"], big["official_train"]) == \
        ("org/data@0123456", "CC BY 4.0", 500, 9000)
    assert cards["carved"]["carved"] and cards["carved"]["task_type"] == "multiple-choice"
    assert cards["spam-tasks"]["source_folder"].endswith("spam")


def test_a_task_drawn_from_several_repositories_names_each_with_its_commit(tmp_path, monkeypatch):
    """SOURCE.json lists repositories and commits side by side (QNLI: the train file from one
    repository, the validation file from another); the card read "['a/b', 'c/d']@['0123…"."""
    root = tmp_path / "tasks"
    _task(root, "qnli", 500, 50, {"repo": ["org/one", "org/two"], "commit": ["0123456789", "abcdef0123"]})
    assert collection_cards(root, taken=set())["qnli"]["provenance"] == "org/one@0123456 + org/two@abcdef0"
    monkeypatch.setattr(builtin_registry, "SHIPPED_DB", _shipped(root, tmp_path))
    result = CliRunner(env={"COLUMNS": "200"}).invoke(cli, ["datasets"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    row = next(i for i, line in enumerate(lines) if "qnli" in line)
    assert "org/one@0123456" in lines[row] and "org/two@abcdef0" in lines[row + 1]  # one repository a line


def _shipped(collection: Path, tmp_path: Path) -> Path:
    """A shipped file with the collection's cards (and no entries)."""
    home = tmp_path / "build"
    registry = Registry(home, builtin=False)
    registry.entries()  # the file exists once the registry is used
    registry.close()
    return finish(home, tmp_path / "shipped.db", collection_cards(collection, taken=set()))


def test_cards_ship_without_the_data_and_are_listed(collection, tmp_path, monkeypatch):
    cards = collection_cards(collection, taken=set())
    shipped = _shipped(collection, tmp_path)
    read = shipped_cards(shipped)
    assert sorted(read) == sorted(cards) and all("source_folder" not in card for card in read.values())
    assert str(collection) not in shipped.read_bytes().decode("latin-1")  # no path of this machine ships
    monkeypatch.setattr(builtin_registry, "SHIPPED_DB", shipped)
    listed = CliRunner().invoke(cli, ["datasets", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = {row["name"]: row for row in json.loads(listed.output)}
    assert rows["carved"]["collection"] and not rows["carved"]["available"]
    assert rows["big"]["source"] == "org/data@0123456" and "hedge" in rows  # beside the PyPI built-ins


def test_a_collection_task_without_its_folder_says_where_its_data_is(collection, tmp_path, monkeypatch):
    monkeypatch.setattr(builtin_registry, "SHIPPED_DB", _shipped(collection, tmp_path))
    result = CliRunner().invoke(cli, ["datasets", "export", "big"])
    assert result.exit_code == 1
    (line, *_) = result.output.strip().splitlines()
    assert "big: is built in from a task collection whose data does not ship (from org/data@0123456)" in line
    assert "--tasks-dir" in result.output
    exported = CliRunner().invoke(cli, ["--tasks-dir", str(collection), "datasets", "export", "carved"])
    assert exported.exit_code == 0 and json.loads(exported.output.splitlines()[0])["choices"] == ["a", "b"]
