"""Method families: each family's own settings dataclass agrees with the flat TrainConfig that
users set and that keys registered runs (core tier: no torch)."""

from __future__ import annotations

from dataclasses import fields

import pytest

from zoo_rank.families import BUILTIN, family_of, trainable
from zoo_rank.training.config import TrainConfig, family_settings, training_settings

pytestmark = pytest.mark.core


def test_a_run_carries_its_familys_settings_dataclass_as_it_is():
    """#36: a family is one unit. TrainConfig holds no copy of any family's settings: it carries the
    family's own dataclass, and hands it to the recipe unchanged."""
    from zoo_rank.families.lora import LoraSettings
    from zoo_rank.families.prefix import PrefixSettings

    given = LoraSettings(lora_r=4, lora_alpha=16, lora_target_modules=("query",))
    config = TrainConfig(method="lora", family_settings=(given,))
    assert config.settings is given
    assert not any(hasattr(TrainConfig(), f.name) for family in BUILTIN.values() if family.settings
                   for f in fields(family.settings))
    assert config.with_method("prefix").settings == PrefixSettings()  # a family not given: its defaults
    assert TrainConfig(method="prefix", family_settings=family_settings(prefix_length=7)).settings.prefix_length == 7
    assert config.with_method("bitfit").settings is None  # BitFit has nothing to set
    assert trainable()["lora"].recipe(config).settings is given  # the recipe sees the settings it is built with


def test_settings_are_checked_by_their_family_and_named_options_find_their_family():
    from zoo_rank.errors import TrainingError
    from zoo_rank.families.lora import LoraSettings

    with pytest.raises(TrainingError, match="lora-r must be at least 1, got 0"):
        LoraSettings(lora_r=0)
    with pytest.raises(TrainingError, match="prefix-length must be at least 1"):
        family_settings(prefix_length=-3)
    with pytest.raises(TrainingError, match="no trained method family has the setting"):
        family_settings(lora_rank=4)
    with pytest.raises(TrainingError, match="two settings of one family"):
        TrainConfig(family_settings=(LoraSettings(), LoraSettings(lora_r=2)))
    with pytest.raises(TrainingError, match="no trained method family's settings"):
        TrainConfig(family_settings=({"lora_r": 4},))


def test_the_training_key_hashes_the_family_settings_and_keeps_the_keys_of_registered_runs():
    """A run's key changes with its family's settings; and every shipped built-in run's recorded
    settings give back the key it was registered under (so runs registered before settings were
    per family are still found and reused)."""
    from zoo_rank.builtin_registry import shipped_entries

    lora = TrainConfig(method="lora")
    assert lora.key("d", "m") != TrainConfig(method="lora", family_settings=family_settings(lora_r=4)).key("d", "m")
    prefix = TrainConfig(method="prefix")
    assert prefix.key("d", "m") != TrainConfig(method="prefix",
                                               family_settings=family_settings(prefix_length=7)).key("d", "m")
    names = {f.name for f in fields(TrainConfig)}
    settings = {f.name for _, f in training_settings()}
    checked = 0
    for entry in shipped_entries(vectors=False):
        recorded = entry.metadata["training"]["config"]
        given = {k: tuple(v) if isinstance(v, list) else v for k, v in recorded.items() if k in settings}
        config = TrainConfig(**{k: v for k, v in recorded.items() if k in names}, family_settings=family_settings(**given))
        assert config.key(entry.metadata["data_sha256"], entry.base_model) == entry.metadata["train_key"], entry.name
        assert {k: v for k, v in config.to_dict().items()} == {k: v for k, v in recorded.items() if k != "label_scale"}
        checked += 1
    assert checked >= 40


def test_checkpoint_methods_map_to_their_family():
    assert family_of("prefix_tuning") == "prefix"
    assert family_of("p_tuning") == family_of("prompt_tuning") == "prompt"
    assert family_of("lora") == "lora"
    assert family_of("lora") != family_of("bitfit")
    assert family_of("no-such-method") == "no-such-method"  # a filter by family name passes through


def test_the_vocabulary_s_method_names_train_as_their_family():
    """#36: `prefix_tuning` (the name peft and AdapterHub write, and `--method` accepts) trains
    as the prefix family, with the same training key; before, training refused it."""
    from zoo_rank.errors import TrainingError

    assert TrainConfig(method="prefix_tuning") == TrainConfig(method="prefix")
    assert TrainConfig(method="prefix_tuning").key("d", "m") == TrainConfig(method="prefix").key("d", "m")
    with pytest.raises(TrainingError, match="unknown method 'adapters'"):
        TrainConfig(method="adapters")
