"""A ranking says when its target was trained with another recipe than the candidates it lists."""

from __future__ import annotations

import pytest
from synthetic import sentiment_rows, write_csv

from zoo_rank.entries import Entry
from zoo_rank.recipes import recipe_of, recipe_warning
from zoo_rank.training.config import TrainConfig


def _entry(name: str, config: TrainConfig | None) -> Entry:
    metadata = {"training": {"config": config.to_dict(), "steps": 40}} if config is not None else {}
    return Entry(0, name, "/nowhere", None, "0" * 64, {}, "bitfit", "bitfit", "m", name, "classification", 10,
                 metadata, "")


@pytest.mark.core
def test_a_recipe_is_read_with_its_defaults_resolved():
    """What was written as a default and what was given as that default are one recipe; what
    changes a run's trajectory is another; what does not (device, sample cap) is not part of it."""
    shipped = recipe_of(_entry("a", TrainConfig()))
    assert recipe_of(_entry("b", TrainConfig(until_learned=0.1))) == shipped
    assert recipe_of(_entry("c", TrainConfig(device="cuda", max_examples=None))) == shipped
    for changed in (TrainConfig(dropout=0.3), TrainConfig(epochs=2), TrainConfig(max_length=64),
                    TrainConfig(batch_size=8), TrainConfig(seed=1), TrainConfig(steps=200), TrainConfig(mode="best")):
        assert recipe_of(_entry("d", changed)) != shipped, changed
    assert recipe_of(_entry("e", TrainConfig(epochs=2))) == recipe_of(_entry("f", TrainConfig(mode="early", epochs=2)))
    assert recipe_of(_entry("hub", None)) is None
    # a checkpoint folder's own record (zoo_rank_training.json) reads as the entry it would register as
    assert recipe_of({"config": TrainConfig(dropout=0.0).to_dict()}) == recipe_of(_entry("g", TrainConfig(dropout=0.0)))
    assert recipe_of({"steps": 3}) is None and recipe_of({"config": "garbled"}) is None


@pytest.mark.core
def test_the_warning_names_what_differs_and_stays_silent_when_nothing_does():
    default, no_dropout, hub = _entry("a", TrainConfig(dropout=None)), _entry("b", TrainConfig(dropout=0.0)), _entry("h", None)
    line = recipe_warning("my.csv", [no_dropout], [default, _entry("c", TrainConfig(dropout=None)), hub])
    assert line.startswith("my.csv was trained with another recipe than 2 of the 2 candidates listed")
    assert "--dropout 0 against the model's dropout (--dropout model)" in line  # the option that trains like them
    assert recipe_warning("my.csv", [default], [_entry("c", TrainConfig(until_learned=0.1, dropout=None)), hub]) is None
    assert recipe_warning("adapter", [hub], [default]) is None  # a target zoo-rank did not train: nothing to compare
    mixed = recipe_warning("my.csv", [default], [_entry("c", TrainConfig(max_length=64, dropout=None)),
                                                 _entry("d", TrainConfig(dropout=None))])
    assert "1 of the 2" in mixed and "--max-length 128 against --max-length 64" in mixed


def test_a_target_trained_without_dropout_is_told_its_candidates_were_trained_with_it(tmp_path, tiny_model):
    """The real path: candidates trained with the model's dropout, a data target trained with
    --dropout 0 is ranked with a warning naming the difference; trained like them, it is not."""
    from zoo_rank.api import rank, train
    from zoo_rank.registry import Registry

    registry = Registry(tmp_path / "home", builtin=False)
    for task in ("alpha", "beta"):
        train(write_csv(tmp_path / f"{task}.csv", sentiment_rows(24)), registry=registry, task=task,
              config=TrainConfig(steps=2), base_model=str(tiny_model))
    target = write_csv(tmp_path / "mine.csv", sentiment_rows(20))
    unlike = rank(target, registry=registry, training={"config": TrainConfig(steps=2, dropout=0.0)},
                  base_model=str(tiny_model))
    assert [c.task for c in unlike.candidates] and any("--dropout 0 against the model's dropout" in w
                                                       for w in unlike.warnings), unlike.warnings
    alike = rank(target, registry=registry, training={"config": TrainConfig(steps=2)}, base_model=str(tiny_model))
    assert not any("another recipe" in w for w in alike.warnings), alike.warnings


def test_a_checkpoint_folder_target_is_checked_by_its_own_record_registered_or_not(tmp_path, tiny_model):
    """Before: only registered targets were compared, so a folder `zoo-rank train` wrote elsewhere
    (or one copied from another machine) ranked silently against candidates of another recipe."""
    from zoo_rank.api import rank, train
    from zoo_rank.datasets import read_table
    from zoo_rank.registry import Registry
    from zoo_rank.training import resolve_base_model, train_checkpoint

    registry = Registry(tmp_path / "home", builtin=False)
    for task in ("alpha", "beta"):
        train(write_csv(tmp_path / f"{task}.csv", sentiment_rows(24)), registry=registry, task=task,
              config=TrainConfig(steps=2), base_model=str(tiny_model))
    data = read_table(write_csv(tmp_path / "mine.csv", sentiment_rows(20)))
    base = resolve_base_model(str(tiny_model))
    unlike = train_checkpoint(data, tmp_path / "unlike", TrainConfig(steps=2, dropout=0.0), base).checkpoint
    alike = train_checkpoint(data, tmp_path / "alike", TrainConfig(steps=2), base).checkpoint
    warned = rank(str(unlike), registry=registry, embedder="tupate")
    assert any("--dropout 0 against the model's dropout" in w for w in warned.warnings), warned.warnings
    quiet = rank(str(alike), registry=registry, embedder="tupate")
    assert not any("another recipe" in w for w in quiet.warnings), quiet.warnings
