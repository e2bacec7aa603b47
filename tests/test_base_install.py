"""A base install (`pip install zoo-rank`, no torch) does everything that needs no training.

Each test runs the real CLI in a subprocess where torch, transformers and peft cannot be
imported (as in the base-install CI tier, where they are not installed at all).
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path
import sys

import numpy as np
import pytest
from conftest import registry_state
from synthetic import sentiment_rows, write_csv

pytestmark = pytest.mark.core

NO_TRAINING_STACK = (
    "import sys\n"
    "for name in ('torch', 'transformers', 'peft'):\n"
    "    sys.modules[name] = None  # what `import torch` meets where it is not installed\n"
    "from zoo_rank.cli import main\n"
    "sys.argv = ['zoo-rank', *sys.argv[1:]]\n"
    "main()\n"
)


def run_without_torch(home, *args, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "ZOO_RANK_HOME": str(home), "ZOO_RANK_BUILTIN": "0", **(env or {})}
    return subprocess.run([sys.executable, "-c", NO_TRAINING_STACK, *map(str, args)], capture_output=True, text=True,
                          env=env, timeout=120)


def _register_embedded_file(home, path) -> None:
    """The file's BitFit embedding registered as `train` would have (its data hashes in the metadata),
    beside two candidate tasks: what a user has after one `--target` run with torch."""
    from zoo_rank.datasets import load_data
    from zoo_rank.registry import NewEntry, Registry
    from zoo_rank.spaces import Space, TaskEmbedding
    from zoo_rank.training import DEFAULT_BASE_MODEL

    data = load_data(path)
    space = Space(DEFAULT_BASE_MODEL, "bitfit", "invariant", 1, 4)
    vectors = {"mine": [1, 0, 0, 0], "near": [0.9, 0.1, 0, 0], "far": [0, 0, 1, 0]}
    metadata = {"mine": {"data_sha256": data.sha256(), "examples_sha256": data.examples_sha256(),
                         "training": {"steps": 40, "config": {"mode": "early", "max_length": 128}}}}
    with Registry(home, builtin=False) as registry:
        registry.insert([NewEntry(
            name=f"{task}/bitfit", source="synthetic", content_sha256=task, files={}, method="bitfit", format="bitfit",
            base_model=DEFAULT_BASE_MODEL, task=task, task_type="classification", metadata=metadata.get(task, {}),
            embeddings=[TaskEmbedding(space, (np.asarray(v, np.float32) / np.linalg.norm(v)), 1.0)])
            for task, v in vectors.items()])


def test_a_data_file_embedded_before_is_ranked_without_torch(tmp_path, zoo_home):
    """Before: `ModuleNotFoundError: No module named 'torch'`, even for a file already embedded."""
    path = write_csv(tmp_path / "mine.csv", sentiment_rows(40, seed=3))
    _register_embedded_file(zoo_home, path)
    done = run_without_torch(zoo_home, "--target", path, "--json")
    assert done.returncode == 0, done.stderr
    assert "near/bitfit" in done.stdout.split("far/bitfit")[0]  # near first, far second
    assert f"{path}: using mine/bitfit, registered before from this data" in done.stderr


def test_a_data_file_that_needs_training_gets_one_line_with_the_install_command(tmp_path, zoo_home):
    path = write_csv(tmp_path / "new.csv", sentiment_rows(40, seed=4))
    assert run_without_torch(zoo_home, "list").returncode == 0
    before = registry_state(zoo_home)
    for args in (("--target", path), ("train", path)):
        done = run_without_torch(zoo_home, *args)
        assert done.returncode == 1, done.stderr
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
        assert str(path) in lines[0] and "needs training, and this install has no torch" in lines[0]
        assert "pip install torch --index-url https://download.pytorch.org/whl/cpu" in lines[0]
    assert registry_state(zoo_home) == before


def test_registered_entries_rank_list_and_show_without_torch(tmp_path, zoo_home):
    path = write_csv(tmp_path / "mine.csv", sentiment_rows(40, seed=3))
    _register_embedded_file(zoo_home, path)
    for args in (("--target", "mine/bitfit"), ("--target", "mine"), ("list",), ("show", "mine/bitfit"), ("spaces",)):
        done = run_without_torch(zoo_home, *args)
        assert done.returncode == 0, (args, done.stderr)


def _bitfit(folder, seed: int):
    """A BitFit checkpoint in zoo-rank's format, written with numpy and safetensors only."""
    from zoo_rank.readers.bitfit import save_bitfit

    rng = np.random.default_rng(seed)
    deltas = {f"bert.encoder.layer.{layer}.{module}.bias": rng.normal(0, 0.01, 8).astype(np.float32)
              for layer in range(2) for module in ("attention.self.query", "output.dense")}
    return save_bitfit(folder, deltas, base_model="zoo-rank/tiny-bert")


def test_add_pull_refresh_and_rank_adapters_without_torch(tmp_path, zoo_home):
    from hubserver import HubServer, repo_from_folder

    _bitfit(tmp_path / "local-a", 1)
    _bitfit(tmp_path / "local-b", 2)
    _bitfit(tmp_path / "hub-c", 3)
    added = run_without_torch(zoo_home, "add", tmp_path / "local-a", tmp_path / "local-b")
    assert added.returncode == 0, added.stderr
    cache = {"HF_HUB_CACHE": str(tmp_path / "hf-cache")}
    with HubServer() as server:
        server.add(repo_from_folder("someone/bitfit-c", tmp_path / "hub-c", tags=["peft"]))
        pulled = run_without_torch(zoo_home, "pull", "someone/bitfit-c", "--retries", "1", "--timeout", "5",
                                   env={"HF_ENDPOINT": server.endpoint, "HF_HUB_OFFLINE": "0", **cache})
    assert pulled.returncode == 0, pulled.stderr
    refreshed = run_without_torch(zoo_home, "refresh", "--offline", env=cache)
    assert refreshed.returncode == 0, refreshed.stderr
    listed = run_without_torch(zoo_home, "list", "--json")
    assert {e["name"] for e in json.loads(listed.stdout)} == {"local-a", "local-b", "someone/bitfit-c"}
    ranked = run_without_torch(zoo_home, "--target", "local-a", "--json")
    assert ranked.returncode == 0 and "Traceback" not in ranked.stderr, ranked.stderr
    assert {c["name"] for c in json.loads(ranked.stdout)} == {"local-b", "someone/bitfit-c"}
    assert "ranking by behaviour runs the base model and needs torch" in ranked.stderr  # said, not a crash


HOSTILE = "evil\x1b]0;pwned\x07\x1b[2J\u202etxt"  # a title change, a cleared screen, a right-to-left override


def test_names_from_catalogs_and_users_never_reach_the_terminal_as_commands(tmp_path, zoo_home):
    """Before: task names from a third-party catalog or --task were printed raw by catalog, list and show."""
    catalog = json.loads(open(Path(__file__).parents[1] / "registry.json", encoding="utf-8").read())
    catalog["sources"][0]["task"] = HOSTILE
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(catalog))
    _bitfit(tmp_path / "a", 1)
    outputs = [run_without_torch(zoo_home, "catalog", path),
               run_without_torch(zoo_home, "add", tmp_path / "a", "--task", HOSTILE, "--name", "a"),
               run_without_torch(zoo_home, "list"), run_without_torch(zoo_home, "show", "a"),
               run_without_torch(zoo_home, "show", HOSTILE)]
    for done in outputs:
        assert done.returncode == 0, done.stderr
        text = done.stdout + done.stderr
        assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "\\x1b]0;pwned\\x07" in outputs[0].stdout + outputs[3].stdout  # shown, escaped
