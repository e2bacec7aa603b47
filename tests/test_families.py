"""Method families: each family's own settings dataclass agrees with the flat TrainConfig that
users set and that keys registered runs (core tier: no torch)."""

from __future__ import annotations

from dataclasses import fields

import pytest

from zoo_rank.families import BUILTIN, family_of, trainable
from zoo_rank.training.config import TrainConfig

pytestmark = pytest.mark.core


def test_every_family_setting_is_a_train_config_field_with_the_same_default():
    """A setting TrainConfig lacked would be silently left at its default, and one whose default
    differed would train something other than what the run's key says."""
    defaults = TrainConfig()
    checked = 0
    for family in BUILTIN.values():
        for field in fields(family.settings) if family.settings else ():
            assert hasattr(defaults, field.name), (family.name, field.name)
            assert getattr(defaults, field.name) == field.default, (family.name, field.name)
            checked += 1
    assert checked >= 4  # LoRA's rank, alpha and modules; the prefix length


def test_a_run_hands_its_family_the_settings_it_was_given():
    config = TrainConfig(method="lora", lora_r=4, lora_alpha=16, lora_target_modules=("query",))
    settings = config.settings
    assert (settings.lora_r, settings.lora_alpha, settings.lora_target_modules) == (4, 16, ("query",))
    assert config.with_method("prefix").settings.prefix_length == 20
    assert TrainConfig(method="prefix", prefix_length=7).settings.prefix_length == 7
    assert config.with_method("bitfit").settings is None  # BitFit has nothing to set
    # the recipe sees the same settings it is built with
    assert trainable()["lora"].recipe(config).settings == settings


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
