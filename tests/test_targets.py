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
