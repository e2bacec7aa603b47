"""Embedders and readers from another installed package, found through entry points (real
``importlib.metadata`` discovery of a distribution on sys.path, in a fresh process)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.core

PLUGIN = '''
import numpy as np
from zoo_rank.embedders.base import Space, TaskEmbedding, unit
from zoo_rank.readers.spec import ReaderSpec
from zoo_rank.readers.tensorfile import load_safetensors, read_json, sha256_of
from zoo_rank.weights import AdapterWeights, split_layer


class MeanEmbedder:
    """Mean and spread of the tuned values: a toy, but a real embedder."""
    name, version = "mean", 1

    def embed(self, weights, base_model=None):
        values = np.concatenate([t.reshape(-1) for per in weights.layers.values() for t in per.values()])
        vector, norm = unit(np.array([values.mean(), values.std(), 1.0]), str(weights.path))
        space = Space(base_model or weights.base_model, weights.family, self.name, self.version, 3)
        return TaskEmbedding(space, vector, norm)


def read_toy(directory):
    config = read_json(directory / "toy_config.json")
    loaded = load_safetensors(directory / "toy.safetensors")
    weights = AdapterWeights(method="ia3", format="toy", path=directory, base_model=config["base_model"],
                             config=config, files={"toy_config.json": sha256_of(directory / "toy_config.json"),
                                                   "toy.safetensors": loaded.sha256})
    for name, tensor in loaded.tensors.items():
        layer, kind = split_layer(name)
        weights.put(layer, kind, "ia3_l", tensor)
    return weights


READER = ReaderSpec("toy", "toy_config.json", ("toy.safetensors",), lambda config: config.get("toy") is True,
                    read_toy)
'''

ENTRY_POINTS = """
[zoo_rank.embedders]
mean = toyplug:MeanEmbedder
[zoo_rank.readers]
toy = toyplug:READER
broken = toyplug:NOT_THERE
"""


@pytest.fixture
def installed(tmp_path) -> dict:
    site = tmp_path / "site"
    (site / "toyplug").mkdir(parents=True)
    (site / "toyplug" / "__init__.py").write_text(textwrap.dedent(PLUGIN))
    info = site / "toyplug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: toyplug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(ENTRY_POINTS)
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
            "ZOO_RANK_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}


def _toy_checkpoint(folder: Path, seed: int) -> Path:
    from safetensors.numpy import save_file

    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    save_file({f"encoder.layer.{i}.attention.self.value": (1 + rng.normal(0, 0.1, 16)).astype(np.float32)
               for i in range(2)}, str(folder / "toy.safetensors"))
    (folder / "toy_config.json").write_text(json.dumps({"toy": True, "base_model": "some/model"}))
    return folder


def _zoo_rank(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from zoo_rank.cli import main; main()", "--no-builtin", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_a_plugin_package_adds_a_reader_and_an_embedder_and_a_broken_one_is_one_line(installed, tmp_path):
    first, second = _toy_checkpoint(tmp_path / "a", 0), _toy_checkpoint(tmp_path / "b", 1)
    added = _zoo_rank(installed, "add", str(first), str(second), "--json")
    assert added.returncode == 0, added.stderr
    entries = json.loads(added.stdout)["added"]
    assert [e["format"] for e in entries] == ["toy", "toy"]
    assert any("|mean-v1|" in space for space in entries[0]["spaces"])  # the plugin embedder ran on add
    ranked = _zoo_rank(installed, "--target", entries[0]["name"], "--embedder", "mean", "--json")
    assert ranked.returncode == 0, ranked.stderr
    assert [c["name"] for c in json.loads(ranked.stdout)] == [entries[1]["name"]]
    skipped = [line for line in added.stderr.splitlines() if "skipped plugin" in line]  # said once, and add went on
    assert len(skipped) == 1 and "'broken'" in skipped[0] and "Traceback" not in added.stderr


def test_without_the_plugin_the_format_is_not_read(tmp_path):
    folder = _toy_checkpoint(tmp_path / "a", 0)
    env = {**os.environ, "ZOO_RANK_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
    result = _zoo_rank(env, "add", str(folder))
    assert result.returncode == 1 and "no adapter_config.json or bitfit_config.json" in result.stderr
