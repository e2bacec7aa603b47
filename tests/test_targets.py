"""What a ranking target is, resolved once (``zoo_rank.targets``), on a real SQLite registry."""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import clustered_unit_vectors, register_vectors

from zoo_rank.errors import RankingError
from zoo_rank.registry import NewEntry, Registry
from zoo_rank.spaces import TaskEmbedding
from zoo_rank.targets import resolve_target

pytestmark = pytest.mark.core


@pytest.fixture
def registry(tmp_path):
    with Registry(tmp_path / "home", builtin=False) as registry:
        space = register_vectors(registry, clustered_unit_vectors(4, 16, seed=1))
        # two more adapters of one task "pair": a task target stands for both by their mean direction
        rows = clustered_unit_vectors(2, 16, seed=2)
        registry.insert([NewEntry(name=f"pair{i}", source="synthetic", content_sha256=f"pair-{i}", files={},
                                  method="lora", format="peft", base_model="m",
                                  embeddings=[TaskEmbedding(space, row, 1.0)], task="pair") for i, row in enumerate(rows)])
        yield registry, rows


def test_an_entry_a_task_and_a_missing_path_resolve_as_what_they_are(registry, tmp_path):
    registry, rows = registry
    entry = resolve_target(registry, "a1")
    assert entry.kind == "entry" and entry.exclude == {registry.get("a1").id} and len(entry.embeddings) == 1

    task = resolve_target(registry, "pair")
    assert task.kind == "task" and task.exclude == {registry.get("pair0").id, registry.get("pair1").id}
    (merged,) = task.embeddings  # one per space: the normalised mean of the task's adapters
    mean = rows.mean(axis=0)
    assert np.allclose(merged.vector, mean / np.linalg.norm(mean), atol=1e-6)

    with pytest.raises(RankingError, match="not found"):
        resolve_target(registry, str(tmp_path / "nowhere.csv"))
    with pytest.raises(RankingError, match="is not a data file zoo-rank reads"):
        (tmp_path / "notes.txt").write_text("hello")
        resolve_target(registry, str(tmp_path / "notes.txt"))
    with pytest.raises(RankingError, match="is not a registry name, a task"):
        resolve_target(registry, "no-such-thing")


def _bitfit_folder(path, seed: int):
    """A BitFit checkpoint of a two-layer BERT-shaped model, written by zoo-rank's own writer."""
    from zoo_rank.readers.bitfit import save_bitfit

    rng = np.random.default_rng(seed)
    modules = ("attention.self.query", "attention.output.dense", "intermediate.dense", "output.dense")
    deltas = {f"bert.encoder.layer.{layer}.{module}.bias": rng.normal(0, 0.01, 32 if "intermediate" in module else 16)
              for layer in range(2) for module in modules}
    return save_bitfit(path, deltas, base_model="m")


def test_a_checkpoint_folder_is_embedded_on_the_fly_and_never_ranked_against_itself(tmp_path):
    from zoo_rank import read_checkpoint
    from zoo_rank.api import add
    from zoo_rank.pipeline.backfill import embeddings_on_demand

    with Registry(tmp_path / "home", builtin=False) as registry:
        folders = [_bitfit_folder(tmp_path / f"ckpt{i}", seed=i) for i in range(3)]
        add(folders[:2], registry=registry)
        entry = registry.by_content(read_checkpoint(folders[0]).content_sha256())
        registered = resolve_target(registry, str(folders[0]))
        assert registered.kind == "checkpoint" and registered.exclude == {entry.id}
        (stored,) = embeddings_on_demand(registry, entry, "invariant")
        assert registered.embeddings[0].space == stored.space
        assert np.allclose(registered.embeddings[0].vector, stored.vector, atol=1e-6)  # as when it was added
        fresh = resolve_target(registry, str(folders[2]))  # not registered: nothing to exclude
        assert fresh.kind == "checkpoint" and fresh.exclude == set()
        assert not np.allclose(fresh.embeddings[0].vector, stored.vector)


def test_a_data_file_whose_embedding_is_registered_is_found_without_training(tmp_path):
    """A data target is found by its content hash (under another file name too) and needs no
    training; its own embedding and every entry trained on the same examples are left out."""
    from synthetic import sentiment_rows, write_csv

    from zoo_rank.datasets import load_data
    from zoo_rank.spaces import Space
    from zoo_rank.training.models import base_model_name

    rows = sentiment_rows(40)
    path = write_csv(tmp_path / "mine.csv", rows)
    data = load_data(path)
    space = Space(base_model_name(), "bitfit", "invariant", 1, 16)
    vector = clustered_unit_vectors(1, 16, seed=5)[0]
    with Registry(tmp_path / "home", builtin=False) as registry:
        register_vectors(registry, clustered_unit_vectors(3, 16, seed=6))
        registry.insert([NewEntry(
            name="mine/bitfit", source="synthetic", content_sha256="mine", files={}, method="bitfit", format="bitfit",
            base_model=base_model_name(), embeddings=[TaskEmbedding(space, vector, 1.0)], task="mine",
            metadata={"data_sha256": data.sha256(), "examples_sha256": data.examples_sha256()})])
        mine = registry.get("mine/bitfit")
        renamed = write_csv(tmp_path / "copy-of-mine.csv", rows)
        for target in (path, renamed):
            found = resolve_target(registry, str(target))
            assert found.kind == "data" and found.exclude == {mine.id}
            (embedding,) = found.embeddings
            assert embedding.space == space and np.allclose(embedding.vector, vector)
