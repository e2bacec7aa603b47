"""``pipeline.ingest``: the one way in (#36). New entries and renewed vectors land in one
transaction; a training run's checkpoint is written once, where the store keeps it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import registry_state
from factories import bitfit_checkpoint
from synthetic import sentiment_rows, write_csv

from zoo_rank.errors import RegistryError
from zoo_rank.pipeline.ingest import Source, ingest
from zoo_rank.registry import Registry


def _invariant(registry: Registry, entry) -> np.ndarray:
    (vector,) = [e.vector for e in registry.embeddings_of(entry) if e.space.embedder == "invariant"]
    return vector


def test_new_entries_and_renewed_vectors_are_one_transaction(tmp_path):
    registry = Registry(tmp_path / "home", builtin=False)
    bitfit_checkpoint(tmp_path / "a", seed=1)
    bitfit_checkpoint(tmp_path / "b", seed=2)
    (a,) = ingest(registry, [Source(str(tmp_path / "a"), name="a")]).added
    computed = _invariant(registry, a)
    stale = [e for e in registry.embeddings_of(a) if e.space.embedder == "invariant"]
    stale[0].vector = -stale[0].vector  # as if an older embedder version had written it
    registry.replace_embeddings(a, stale)
    before = registry_state(registry.home)

    renew = Source(str(tmp_path / "a"), renews=a, embedders=("invariant",))
    with pytest.raises(RegistryError, match="already taken"):  # b under a's name: the whole commit fails
        ingest(registry, [renew, Source(str(tmp_path / "b"), name="a")])
    assert registry_state(registry.home) == before  # a's stale vector stays: nothing was half written

    done = ingest(registry, [renew, Source(str(tmp_path / "b"), name="b")])
    assert [e.name for e in done.added] == ["b"] and [e.name for e in done.reembedded] == ["a"]
    np.testing.assert_allclose(_invariant(registry, registry.require("a")), computed)


def test_a_renewed_source_whose_files_changed_is_refused(tmp_path):
    registry = Registry(tmp_path / "home", builtin=False)
    bitfit_checkpoint(tmp_path / "a", seed=1)
    (a,) = ingest(registry, [Source(str(tmp_path / "a"), name="a")]).added
    bitfit_checkpoint(tmp_path / "a", seed=3)  # other weights in the same folder
    before = registry_state(registry.home)
    with pytest.raises(Exception, match="has changed since it was registered"):
        ingest(registry, [Source(str(tmp_path / "a"), renews=a, embedders=("invariant",))])
    assert registry_state(registry.home) == before


def test_a_kept_checkpoint_is_moved_into_place_or_not_left_behind(tmp_path):
    registry = Registry(tmp_path / "home", builtin=False)
    bitfit_checkpoint(tmp_path / "taken", seed=1)
    ingest(registry, [Source(str(tmp_path / "taken"), name="mine")])
    bitfit_checkpoint(tmp_path / "run", seed=2)
    final = registry.home / "checkpoints" / "run"
    with pytest.raises(RegistryError):
        ingest(registry, [Source(str(tmp_path / "run"), name="mine", keep_at=final)])
    assert not final.exists()  # its entry was refused: the moved folder went with it

    bitfit_checkpoint(tmp_path / "run2", seed=2)
    (entry,) = ingest(registry, [Source(str(tmp_path / "run2"), name="run", keep_at=final)]).added
    assert entry.source == str(final) and final.is_dir() and not (tmp_path / "run2").exists()


def test_an_in_process_training_run_writes_its_checkpoint_where_it_is_kept(tmp_path, tiny_model, monkeypatch):
    """The run trains into the store's scratch folder and that folder is moved into place: its files
    are never handed back as bytes and written a second time."""
    import zoo_rank.pipeline.train as pipeline_train
    from zoo_rank.readers import read_checkpoint
    from zoo_rank.training import TrainConfig

    handed_back = []
    real = pipeline_train.train_job

    def spy(*args, **kwargs):
        trained = real(*args, **kwargs)
        handed_back.append(trained.files)
        return trained

    monkeypatch.setattr(pipeline_train, "train_job", spy)
    path = write_csv(tmp_path / "reviews.csv", sentiment_rows(30))
    registry = Registry(tmp_path / "home", builtin=False)
    (done,) = pipeline_train.train(path, registry=registry, config=TrainConfig(steps=2), base_model=str(tiny_model),
                                   warn=lambda line: None)
    assert handed_back == [None]
    store = registry.home / "checkpoints"
    assert [p.name for p in store.iterdir()] == [Path(done.entry.source).name]  # no scratch folder left
    assert read_checkpoint(done.entry.source).content_sha256() == done.entry.content_sha256
