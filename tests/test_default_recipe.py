"""The early rule's default dropout and no-progress stop (``EARLY_DROPOUT``, ``EARLY_PATIENCE``):
they apply to the runs the rule ends and to no other, they can be asked away (``--dropout model``,
``--patience off``), and a run recorded before they changed keeps its recipe and its key, so a
registry of runs made under an earlier default is still reused and still recipe-checked right."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace

import click
import pytest

from zoo_rank.builtin_registry import SHIPPED_DB
from zoo_rank.cli.common import DROPOUT, PATIENCE, train_config
from zoo_rank.recipes import recipe_of
from zoo_rank.training import config as training_config
from zoo_rank.training.config import TrainConfig

pytestmark = pytest.mark.core


@pytest.fixture
def new_defaults(monkeypatch):
    """Defaults other than the ones a run without the settings had: no dropout, a 64-step stop."""
    monkeypatch.setattr(training_config, "EARLY_DROPOUT", 0.0)
    monkeypatch.setattr(training_config, "EARLY_PATIENCE", 64)


def test_the_rules_defaults_apply_to_the_runs_it_ends_and_to_no_other(new_defaults):
    for ruled in (TrainConfig(), TrainConfig(until_learned=0.05), TrainConfig(steps=200, until_learned=0.1),
                  TrainConfig(method="prefix")):
        assert (ruled.dropout, ruled.patience) == (0.0, 64), ruled
    for fixed in (TrainConfig(epochs=2), TrainConfig(steps=50), TrainConfig(mode="best")):
        assert (fixed.dropout, fixed.patience) == (None, None), fixed  # the paper's recipe: model dropout, no stop
    asked = TrainConfig(dropout=None, patience=None)
    assert (asked.dropout, asked.patience) == (None, None)
    assert TrainConfig(dropout=0.2).patience == 64 and TrainConfig(patience=16).dropout == 0.0
    # what a default was resolved to is the run's identity: given or defaulted, one key and one record
    assert TrainConfig().key("d", "m") == TrainConfig(dropout=0.0, patience=64).key("d", "m")
    assert TrainConfig().to_dict() == TrainConfig(dropout=0.0, patience=64).to_dict()
    assert TrainConfig().key("d", "m") != asked.key("d", "m")
    assert replace(TrainConfig(), method="lora").patience == 64


def test_a_record_without_the_settings_means_the_models_dropout_and_no_stop(new_defaults):
    """Every run before the settings existed recorded neither; reading one under today's defaults
    must not make it a no-dropout run (that would hide a recipe difference, and change its key)."""
    old = TrainConfig(dropout=None, patience=None).to_dict()
    assert "dropout" not in old and "patience" not in old
    read = TrainConfig.from_record(old)
    assert (read.dropout, read.patience) == (None, None)
    assert recipe_of({"config": old})["dropout"] is None
    assert recipe_of({"config": TrainConfig().to_dict()})["dropout"] == 0.0


@pytest.mark.parametrize("flipped", [False, True])
def test_every_shipped_run_keeps_its_key_whatever_the_defaults(flipped, monkeypatch):
    """The shipped registry's runs are found again by the key their own record makes (what `builtin
    build` and `train` reuse by), under today's defaults and under other ones."""
    if flipped:
        monkeypatch.setattr(training_config, "EARLY_DROPOUT", 0.3 if training_config.EARLY_DROPOUT == 0.0 else 0.0)
        monkeypatch.setattr(training_config, "EARLY_PATIENCE", 32 if training_config.EARLY_PATIENCE == 64 else 64)
    db = sqlite3.connect(f"{SHIPPED_DB.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    rows = db.execute("SELECT name, base_model, metadata FROM entries").fetchall()
    db.close()
    assert len(rows) > 30
    for name, base_model, metadata in rows:
        meta = json.loads(metadata)
        run = TrainConfig.from_record(meta["training"]["config"])
        assert run.key(meta["data_sha256"], base_model) == meta["train_key"], name


def test_the_options_ask_for_a_rate_a_length_or_none_of_it(new_defaults):
    assert DROPOUT.convert("Model", None, None) == "model" and DROPOUT.convert("0.1", None, None) == 0.1
    assert PATIENCE.convert("off", None, None) == "off" and PATIENCE.convert("32", None, None) == 32
    for bad, kind in (("1.5", DROPOUT), ("none", DROPOUT), ("0", PATIENCE), ("never", PATIENCE)):
        with pytest.raises(click.BadParameter):
            kind.convert(bad, None, None)
    assert (train_config().dropout, train_config().patience) == (0.0, 64)  # not given: the default
    worded = train_config(dropout="model", patience="off")
    assert (worded.dropout, worded.patience) == (None, None)
    assert train_config(dropout=0.1, patience=16).to_dict() == TrainConfig(dropout=0.1, patience=16).to_dict()
