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


@pytest.mark.core
def test_a_registry_restored_from_a_backup_never_ranks_from_a_cache_written_after_it(zoo_home, tmp_path):
    """Before: the backup's generation counters, counted on again, reached the numbers of cache files written
    after the backup: an unrelated adapter scored 1.0 (its row held the vector of one added after the backup)."""
    import shutil

    from zoo_rank.registry import NewEntry
    from zoo_rank.spaces import Space, TaskEmbedding

    space = Space("m", "lora", "invariant", 1, 3)

    def entry(name: str, vector) -> NewEntry:
        v = np.asarray(vector, np.float32)
        return NewEntry(name=name, source="synthetic", content_sha256=name, files={}, method="lora", format="peft",
                        base_model="m", embeddings=[TaskEmbedding(space, v / np.linalg.norm(v), 1.0)])

    with Registry(zoo_home, builtin=False) as registry:
        registry.insert([entry("target", [1, 0, 0]), entry("other", [0, 1, 0])])
    backup = tmp_path / "backup.db"
    with sqlite3.connect(zoo_home / "registry.db") as db, sqlite3.connect(backup) as copy:
        db.backup(copy)
    with Registry(zoo_home, builtin=False) as registry:
        registry.insert([entry("twin", [1, 0, 0])])  # added after the backup: the target's own direction
    assert rank("target", embedder="invariant").candidates[0].score == pytest.approx(1.0)  # cached
    for leftover in zoo_home.glob("registry.db*"):
        leftover.unlink()
    shutil.copy(backup, zoo_home / "registry.db")  # restored; spaces/ keeps the files written since
    with Registry(zoo_home, builtin=False) as registry:
        registry.insert([entry("unrelated", [0, 0, 1])])  # takes the id the twin had
    scores = {c.name: c.score for c in rank("target", embedder="invariant", top=None).candidates}
    assert scores == pytest.approx({"other": 0.0, "unrelated": 0.0}, abs=1e-6)


@pytest.mark.core
@pytest.mark.parametrize("damaged, bytes_, said", [
    ("candidate", "nan", "does not match the checksum it was stored with"),
    ("target", "nan", "does not match the checksum it was stored with"),
    ("candidate", "finite", "does not match the checksum it was stored with"),  # a plausible, wrong score
    ("candidate", "nan-checksummed", "holds NaN or infinite values"),
])
def test_a_damaged_vector_blob_is_refused_with_a_recovery_hint_not_ranked_as_nan(zoo_home, damaged, bytes_, said):
    """Before: random bytes inside a vector blob gave NaN scores with exit 0 (PRAGMA integrity_check says ok), or,
    where they stayed finite, a wrong score said with confidence."""
    import zlib

    from click.testing import CliRunner

    from zoo_rank.cli import cli
    from zoo_rank.registry import NewEntry
    from zoo_rank.spaces import Space, TaskEmbedding

    space = Space("m", "lora", "invariant", 1, 4)
    rng = np.random.default_rng(0)
    with Registry(zoo_home, builtin=False) as registry:
        registry.insert([NewEntry(name=name, source="synthetic", content_sha256=name, files={}, method="lora",
                                  format="peft", base_model="m",
                                  embeddings=[TaskEmbedding(space, rng.standard_normal(4).astype(np.float32), 1.0)])
                         for name in ("target", "candidate", "third")])
    blob = np.array([0.5, np.nan if bytes_.startswith("nan") else 0.3, 0.1, 0.2], np.float32).tobytes()
    with sqlite3.connect(zoo_home / "registry.db") as db:
        db.execute("UPDATE vectors SET vector = ? WHERE entry_id = (SELECT id FROM entries WHERE name = ?)",
                   (blob, damaged))
        if bytes_ == "nan-checksummed":  # damage the checksum cannot see: written with a matching one
            db.execute("UPDATE vectors SET crc = ? WHERE entry_id = (SELECT id FROM entries WHERE name = ?)",
                       (zlib.crc32(blob), damaged))
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    result = CliRunner().invoke(cli, ["--no-builtin", "--target", "target", "--embedder", "invariant", "--json"])
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and f"stored vector of '{damaged}'" in lines[0] and said in lines[0]
    assert f"zoo-rank remove {damaged}" in lines[0]


@pytest.mark.core
def test_catalog_spellings_of_a_base_model_land_in_the_space_add_uses_and_old_registries_are_merged(zoo_home):
    """Before: refresh kept the catalog's literal `bert-base-uncased` while add and pull registered under
    `google-bert/bert-base-uncased`: two spaces, so ranking said "no candidates" or left the catalog's out."""
    from zoo_rank.catalog import load_catalog
    from zoo_rank.registry import NewEntry
    from zoo_rank.spaces import Space, TaskEmbedding

    assert {s.base_model for s in load_catalog().sources} >= {"google-bert/bert-base-uncased"}
    assert "bert-base-uncased" not in {s.base_model for s in load_catalog().sources}

    def entry(name: str, base: str, vector) -> NewEntry:
        v = np.asarray(vector, np.float32)
        return NewEntry(name=name, source="synthetic", content_sha256=name, files={}, method="lora", format="peft",
                        base_model=base, embeddings=[TaskEmbedding(Space(base, "lora", "invariant", 1, 3),
                                                                   v / np.linalg.norm(v), 1.0)])

    with Registry(zoo_home, builtin=False) as registry:  # what an older zoo-rank wrote: both spellings
        registry.insert([entry("added", "google-bert/bert-base-uncased", [1, 0, 0]),
                         entry("from-catalog", "bert-base-uncased", [1, 1, 0])])
    with sqlite3.connect(zoo_home / "registry.db") as db:
        db.execute("PRAGMA user_version = 4")
    with Registry(zoo_home, builtin=False) as registry:
        assert {e.base_model for e in registry.entries()} == {"google-bert/bert-base-uncased"}
        assert [(s.base_model, n) for s, n in registry.spaces()] == [("google-bert/bert-base-uncased", 2)]
    ranked = rank("added", embedder="invariant")
    assert [c.name for c in ranked.candidates] == ["from-catalog"]
    assert ranked.candidates[0].score == pytest.approx(2 ** -0.5, abs=1e-6)
