"""Readers: every format users meet, from real libraries' files and from real published adapters."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from conftest import needs_adapters
from factories import HIDDEN, LAYERS
from zoo_rank import read_checkpoint
from zoo_rank.readers import find_checkpoints
from zoo_rank.readers.tensorfile import load_tensor_file
from zoo_rank.weights import canonical_base_model, split_layer

EXPECTED_METHOD = {
    "peft-lora": "lora", "peft-lora-bin": "lora", "peft-lora-rslora": "lora", "peft-prefix": "prefix_tuning",
    "peft-prefix-projection": "prefix_tuning", "peft-prompt": "prompt_tuning", "peft-ptuning": "p_tuning",
    "peft-ia3": "ia3", "ah-seq-bn": "bottleneck", "ah-double-seq-bn": "bottleneck", "ah-par-bn": "bottleneck",
    "ah-lora": "lora", "ah-ia3": "ia3", "ah-prefix": "prefix_tuning", "ah-prefix-flat": "prefix_tuning",
    "bitfit": "bitfit",
}


@pytest.mark.parametrize("case", sorted(EXPECTED_METHOD))
def test_library_checkpoints_load_with_heads_kept_apart(zoo, case):
    weights = read_checkpoint(zoo[case])
    assert weights.method == EXPECTED_METHOD[case]
    assert weights.base_model == "zoo-rank/tiny-bert"
    if weights.method in ("prompt_tuning", "p_tuning"):
        assert weights.inputs["prompt"].shape == (5, HIDDEN)
    else:
        assert sorted(weights.layers) == list(range(LAYERS))
    embedded = [kind for params in weights.layers.values() for kind, _ in params]
    assert not any("classifier" in kind or "heads." in kind for kind in embedded)
    if not case.startswith("ah-"):
        assert any("classifier" in key for key in weights.head), "the classification head is read, not embedded"
    else:
        assert any(key.startswith("heads.") for key in weights.head)


def test_peft_lora_values_are_the_models_own(zoo, tmp_path):
    from peft import LoraConfig, TaskType

    from factories import peft_checkpoint

    model = peft_checkpoint(tmp_path / "c", LoraConfig(task_type=TaskType.SEQ_CLS, r=3, lora_alpha=6,
                                                       target_modules=["query"]), seed=7)
    weights = read_checkpoint(tmp_path / "c")
    layer1 = model.base_model.model.bert.encoder.layer[1].attention.self.query
    np.testing.assert_array_equal(weights.layers[1][("encoder.layer.*.attention.self.query", "lora_A")],
                                  layer1.lora_A["default"].weight.detach().numpy())
    assert weights.scales[(1, "encoder.layer.*.attention.self.query")] == pytest.approx(6 / 3)


def test_peft_prefix_matches_pefts_own_past_key_values(zoo, tmp_path):
    from peft import PrefixTuningConfig, TaskType

    from factories import peft_checkpoint

    model = peft_checkpoint(tmp_path / "p", PrefixTuningConfig(task_type=TaskType.SEQ_CLS, num_virtual_tokens=4),
                            seed=3, randomise=("prompt_encoder",))
    weights = read_checkpoint(tmp_path / "p")
    with torch.no_grad():
        past = model.get_prompt(batch_size=1)  # per layer: (key, value), each 1 × heads × T × head_dim
    for layer in range(LAYERS):
        if hasattr(past, "layers"):  # a Cache object (transformers 4.56+): per-layer keys and values
            key, value = past.layers[layer].keys, past.layers[layer].values
        else:  # the legacy tuple of (key, value) per layer
            key, value = past[layer]
        key = key[0].permute(1, 0, 2).reshape(4, HIDDEN).numpy()
        value = value[0].permute(1, 0, 2).reshape(4, HIDDEN).numpy()
        np.testing.assert_allclose(weights.layers[layer][("prefix.self_prefix", "key")], key, rtol=1e-6)
        np.testing.assert_allclose(weights.layers[layer][("prefix.self_prefix", "value")], value, rtol=1e-6)


@pytest.mark.adapters
@pytest.mark.parametrize("flat", [False, True])
def test_adapterhub_prefix_mlp_matches_the_library(tmp_path, flat):
    needs_adapters()
    from adapters import PrefixTuningConfig

    from factories import adapters_checkpoint

    model = adapters_checkpoint(tmp_path / "p", PrefixTuningConfig(prefix_length=6, bottleneck_size=16, flat=flat),
                                seed=5)
    weights = read_checkpoint(tmp_path / "p")
    pool = model.base_model.prefix_tuning.prefix_tunings["task"]["self_prefix"]
    with torch.no_grad():
        per_layer = pool(batch_size=1)  # n_layers × (2 × 1 × heads × T × head_dim)
    for layer in range(LAYERS):
        key = per_layer[layer][0, 0].permute(1, 0, 2).reshape(6, HIDDEN).detach().numpy()
        value = per_layer[layer][1, 0].permute(1, 0, 2).reshape(6, HIDDEN).detach().numpy()
        np.testing.assert_allclose(weights.layers[layer][("prefix.self_prefix", "key")], key, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(weights.layers[layer][("prefix.self_prefix", "value")], value, rtol=1e-5, atol=1e-6)


@pytest.mark.adapters
def test_peft_and_adapterhub_lora_share_module_names(zoo):
    peft_kinds = set(read_checkpoint(zoo["peft-lora"]).module_kinds())
    ah_kinds = set(read_checkpoint(zoo["ah-lora"]).module_kinds())
    assert peft_kinds == ah_kinds == {"encoder.layer.*.attention.self.query", "encoder.layer.*.attention.self.value"}


REALZOO_NAMES = ["ah_mbert_metaphor_anhu2410", "distilbert_emotion_dayanidhi", "distilbert_hatespeech_karangarg",
                 "distilbert_mediabias_artigupta", "distilbert_promptinj_thankuxari", "gpt2_cls_thesotti",
                 "roberta_agnews_fzinnah17", "roberta_agnews_subro608"]


def test_find_checkpoints_finds_all_of_realzoo(realzoo):
    assert [p.name for p in find_checkpoints(realzoo)] == REALZOO_NAMES


@pytest.mark.parametrize("name", REALZOO_NAMES)
def test_realzoo_checkpoints_load(realzoo, name):
    folder = realzoo / name
    config = json.loads((folder / "adapter_config.json").read_text())
    weights = read_checkpoint(folder)
    raw = {}
    for file in folder.iterdir():
        if file.suffix in (".safetensors", ".bin") and "head" not in file.name:
            raw.update(load_tensor_file(file).tensors)
    if "peft_type" in config:
        assert weights.method == "lora"
        assert weights.base_model == canonical_base_model(config["base_model_name_or_path"])
        lora_keys = [k for k in raw if ".lora_" in k]
        layer_ids = {int(m.group(1)) for k in lora_keys for m in [re.search(r"\.(\d+)\.", k)]}
        assert sorted(weights.layers) == sorted(layer_ids)
        targets = {t.split(".")[-1] for t in config["target_modules"]}
        assert set(weights.info["target_modules"]) == targets
        assert len(weights.head) == len(raw) - len(lora_keys)
        assert all(r == config["r"] for r in weights.info["rank"])
    else:
        assert weights.method == "bottleneck"
        assert weights.base_model == "google-bert/bert-base-multilingual-cased"
        assert len(weights.layers) == 12 and weights.head  # head from pytorch_model_head.bin, not embedded


def test_split_layer_ignores_model_class_prefixes():
    assert split_layer("bert.encoder.layer.3.attention.self.query") == (3, "encoder.layer.*.attention.self.query")
    assert split_layer("encoder.layer.3.attention.self.query") == (3, "encoder.layer.*.attention.self.query")
    assert split_layer("distilbert.transformer.layer.0.attention.q_lin") == split_layer("transformer.layer.0.attention.q_lin")
    assert split_layer("model.decoder.layers.5.self_attn.k_proj") == (5, "decoder.layers.*.self_attn.k_proj")
    assert split_layer("encoder.block.2.layer.0.SelfAttention.q") == (2, "encoder.block.*.layer.0.SelfAttention.q")
    assert split_layer("classifier.dense") == (None, "classifier.dense")


def test_base_model_spellings_agree():
    assert canonical_base_model("bert-base-uncased") == canonical_base_model("google-bert/bert-base-uncased")
    assert canonical_base_model("/content/drive/MyDrive/roberta-base/") == "FacebookAI/roberta-base"
    assert canonical_base_model("my-org/my-model") == "my-org/my-model"
    assert canonical_base_model(None) is None


def test_bfloat16_safetensors_load_without_torch(tmp_path):
    from safetensors.torch import save_file

    tensor = torch.randn(3, 4).to(torch.bfloat16)
    save_file({"x": tensor}, tmp_path / "a.safetensors")
    loaded = load_tensor_file(tmp_path / "a.safetensors").tensors["x"]
    np.testing.assert_array_equal(loaded, tensor.float().numpy())


def test_a_new_format_is_one_reader_spec_read_found_and_fetched(tmp_path, monkeypatch):
    """Adding a format: a module with a ReaderSpec and one line in READERS; add, find and the
    hub's file selection all follow (before: three places, one of them far away in hub/files.py)."""
    import json

    import numpy as np

    import zoo_rank.readers as readers
    from zoo_rank.hub.files import RepoFile, select_adapter_files
    from zoo_rank.readers import ReaderSpec, find_checkpoints, read_checkpoint
    from zoo_rank.weights import AdapterWeights

    def read_toy(directory):
        weights = AdapterWeights(method="ia3", format="toy", path=directory, base_model="m",
                                 config=json.loads((directory / "toy_config.json").read_text()), files={})
        weights.put(0, "attention.self.query", "ia3_l", np.ones(4, np.float32))
        return weights

    toy = ReaderSpec("toy", "toy_config.json", ("toy.safetensors",), lambda c: c.get("toy") is True, read_toy)
    monkeypatch.setattr(readers, "READERS", (*readers.READERS, toy))
    folder = tmp_path / "tree" / "mine"
    folder.mkdir(parents=True)
    (folder / "toy_config.json").write_text('{"toy": true}')
    assert find_checkpoints(tmp_path / "tree") == [folder]
    assert read_checkpoint(folder).format == "toy"
    chosen = select_adapter_files("a/b", [RepoFile("sub/toy_config.json"), RepoFile("sub/toy.safetensors"),
                                          RepoFile("sub/optimizer.pt")])
    assert [f.path for f in chosen.checkpoints["sub"]] == ["sub/toy_config.json", "sub/toy.safetensors"]
