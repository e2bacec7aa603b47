"""Registry: dedupe, transactions, migrations, concurrent writers, the ranking cache."""

from __future__ import annotations

import multiprocessing
import sqlite3

import numpy as np
import pytest

from conftest import registry_state
from zoo_rank import Registry, add, rank
from zoo_rank.errors import RegistryError
from zoo_rank.migrations import SCHEMA_VERSION


def test_same_content_is_registered_once_whatever_the_name(zoo, zoo_home):
    first = add([zoo["peft-lora"]], name="one")
    again = add([zoo["peft-lora"]], name="two")
    assert [e.name for e in first.added] == ["one"]
    assert again.added == [] and [e.name for e in again.existing] == ["one"]
    assert [e.name for e in Registry().entries()] == ["one"]


def test_a_failed_batch_writes_nothing(zoo, zoo_home, checkpoint_copy):
    add([zoo["peft-lora"]], name="taken")
    before = registry_state(zoo_home)
    other = checkpoint_copy(zoo["bitfit"], "taken")  # folder name collides with an existing entry
    with pytest.raises(RegistryError, match="already taken"):
        add([zoo["peft-lora-rslora"], other])
    assert registry_state(zoo_home) == before


def test_schema_is_versioned_and_newer_schemas_are_refused(zoo, zoo_home):
    Registry().entries()
    with sqlite3.connect(zoo_home / "registry.db") as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(RegistryError, match="newer"):
        Registry().entries()


def _add_many(home, folders):
    import os

    os.environ["ZOO_RANK_HOME"] = str(home)
    from zoo_rank import add as add_in_child

    for folder in folders:
        add_in_child([folder])


def test_two_processes_adding_at_once_lose_nothing(tmp_path, zoo_home):
    from factories import bitfit_checkpoint

    folders = []
    for i in range(12):
        bitfit_checkpoint(tmp_path / f"bitfit-{i:02d}", seed=100 + i)
        folders.append(tmp_path / f"bitfit-{i:02d}")
    context = multiprocessing.get_context("spawn")
    workers = [context.Process(target=_add_many, args=(zoo_home, folders[i::2])) for i in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert [w.exitcode for w in workers] == [0, 0]
    assert sorted(e.name for e in Registry().entries()) == [f.name for f in folders]
    space = Registry().spaces()
    assert {s.embedder: n for s, n in space} == {"invariant": 12, "tupate": 12}


def test_ranking_cache_follows_adds_and_removes(zoo, zoo_home, tmp_path):
    from factories import bitfit_checkpoint

    for i in range(3):
        bitfit_checkpoint(tmp_path / f"b{i}", seed=i)
    add([tmp_path / "b0", tmp_path / "b1"])
    assert [c.name for c in rank("b0").candidates] == ["b1"]
    add([tmp_path / "b2"])
    assert sorted(c.name for c in rank("b0").candidates) == ["b1", "b2"]
    Registry().remove("b1")
    assert [c.name for c in rank("b0").candidates] == ["b2"]
    registry = Registry()
    space_id = registry.embeddings_of(registry.require("b0"))[0].space.id
    matrix = registry.space_matrix(space_id)
    stored = {e.name: e for e in registry.entries()}
    assert set(matrix.entry_ids.tolist()) == {stored["b0"].id, stored["b2"].id}
    np.testing.assert_allclose(matrix.mean, np.asarray(matrix.matrix).mean(axis=0), rtol=1e-5, atol=1e-7)


def test_a_registry_made_anew_never_ranks_from_the_old_ones_cache(zoo_home, tmp_path):
    """Deleting registry.db but keeping spaces/ (the natural reaction to a corrupt database) and
    re-adding in another order restarts the generation counters; the old cache must not be used."""
    import shutil

    import numpy as np

    from factories import bitfit_checkpoint
    from zoo_rank import rank

    folders = [tmp_path / f"b{i}" for i in range(4)]
    for i, folder in enumerate(folders):
        bitfit_checkpoint(folder, seed=i)
    add(folders)
    first = rank("b0", top=None)
    assert "b0" not in [c.name for c in first.candidates]
    (zoo_home / "registry.db").unlink()
    for leftover in zoo_home.glob("registry.db-*"):
        leftover.unlink()
    add(list(reversed(folders)))  # new ids: b3 is now entry 1, where b0 was
    again = rank("b0", top=None)
    names = [c.name for c in again.candidates]
    assert "b0" not in names and sorted(names) == ["b1", "b2", "b3"]
    assert [round(c.score, 5) for c in again.candidates] == [round(c.score, 5) for c in first.candidates]
    assert all(c.score < 0.999 for c in again.candidates)
    shutil.rmtree(zoo_home / "spaces", ignore_errors=True)
    assert np.allclose([c.score for c in rank("b0", top=None).candidates], [c.score for c in again.candidates])
