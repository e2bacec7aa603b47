"""Which embedders run when, the probe set they rely on, and which files of a base model are fetched
for them (numpy only: the fast tier)."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from zoo_rank.embedders import DEFAULT_EMBEDDER, ingest_embedders
from zoo_rank.embedders.behaviour.probes import load_probes
from zoo_rank.errors import ZooRankError

pytestmark = pytest.mark.core


def test_add_pull_and_train_run_the_cheap_embedders_unless_told_otherwise(monkeypatch):
    monkeypatch.delenv("ZOO_RANK_EMBEDDERS", raising=False)
    assert "behaviour" not in ingest_embedders() and ingest_embedders()[0] == DEFAULT_EMBEDDER
    monkeypatch.setenv("ZOO_RANK_EMBEDDERS", "behaviour")
    assert ingest_embedders() == [DEFAULT_EMBEDDER, "behaviour"]  # the default one always runs
    monkeypatch.setenv("ZOO_RANK_EMBEDDERS", "behaviour,nonsense")
    with pytest.raises(ZooRankError, match="nonsense"):
        ingest_embedders()


def test_the_probe_set_is_what_its_hash_says_and_covers_single_texts_and_pairs():
    probes = load_probes()
    doc = json.loads(resources.files("zoo_rank").joinpath("data/probes.json").read_text(encoding="utf-8"))
    assert probes.sha256 == doc["sha256"] and len(probes) == len(doc["texts"]) >= 200
    assert len(probes.pairs) >= 30 and len({t["kind"] for t in doc["texts"]}) >= 10
    assert len(set(probes.singles)) == len(probes.singles)
    assert "Apache-2.0" in doc["licence"]


def test_a_base_model_is_fetched_as_config_tokenizer_and_safetensors_only():
    from zoo_rank.hub.files import RepoFile, select_model_files
    from zoo_rank.hub.ids import HubError

    listing = [RepoFile(p) for p in ("config.json", "model.safetensors", "pytorch_model.bin", "tf_model.h5",
                                     "vocab.txt", "tokenizer.json", "README.md", "onnx/model.onnx")]
    assert [f.path for f in select_model_files("org/m", listing).files] == [
        "config.json", "model.safetensors", "tokenizer.json", "vocab.txt"]
    shards = [RepoFile(p) for p in ("config.json", "model-00001-of-00002.safetensors",
                                    "model-00002-of-00002.safetensors", "model.safetensors.index.json",
                                    "pytorch_model.bin")]
    assert [f.path for f in select_model_files("org/m", shards).files] == [
        "config.json", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors",
        "model.safetensors.index.json"]
    with pytest.raises(HubError, match="never downloads pickled"):
        select_model_files("org/m", [RepoFile("config.json"), RepoFile("pytorch_model.bin")])
    with pytest.raises(HubError, match="no config.json"):
        select_model_files("org/m", [RepoFile("model.safetensors")])
