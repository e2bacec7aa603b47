"""faiss for large spaces, with real faiss: same answers as numpy where exact, measured recall
where approximate, indexes persisted and rebuilt when the registry changes."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from click.testing import CliRunner

from synthetic import clustered_unit_vectors, register_vectors
from zoo_rank.cli import cli
from zoo_rank.spaces import TaskEmbedding
from zoo_rank.ranker import rank_embeddings
from zoo_rank.registry import Registry

pytestmark = pytest.mark.core  # numpy-only: the fast tier

HAS_FAISS = importlib.util.find_spec("faiss") is not None
needs_faiss = pytest.mark.skipif(not HAS_FAISS, reason="the faiss indexes need `pip install 'zoo-rank[faiss]'`")

N, DIM = 3000, 2048  # above the index dimension (1024), so faiss-ivf projects


@pytest.fixture
def space(tmp_path):
    registry = Registry(tmp_path / "home", builtin=False)
    vectors = clustered_unit_vectors(N, DIM, clusters=30, seed=1)
    methods = ["lora"] * N
    for i in range(0, N, 500):  # a few "rare" entries scattered over the clusters
        methods[i] = "rare"
    space = register_vectors(registry, vectors, methods=methods)
    queries = clustered_unit_vectors(20, DIM, clusters=30, seed=1)  # same centres, fresh noise
    return registry, space, vectors, queries


def _ranked(registry, space, query, index, **kw):
    ranking = rank_embeddings(registry, [TaskEmbedding(space, query, 1.0)], label="q", index=index, **kw)
    return [c.name for c in ranking.candidates], [c.score for c in ranking.candidates]


@needs_faiss
@pytest.mark.parametrize("center", [False, True])
def test_faiss_flat_gives_numpy_s_exact_ranking(space, center):
    registry, space_, _, queries = space
    for query in queries[:5]:
        names, scores = _ranked(registry, space_, query, "numpy", center=center)
        flat_names, flat_scores = _ranked(registry, space_, query, "faiss-flat", center=center)
        assert flat_names == names
        np.testing.assert_allclose(flat_scores, scores, rtol=1e-5)


@needs_faiss
def test_faiss_ivf_recall_at_10_and_its_scores_are_exact(space):
    registry, space_, vectors, queries = space
    hits = 0
    for query in queries:
        names, scores = _ranked(registry, space_, query, "numpy")
        approx, approx_scores = _ranked(registry, space_, query, "faiss-ivf")
        hits += len(set(names) & set(approx))
        exact = {f"a{i}": float(vectors[i] @ query) for i in range(N)}
        np.testing.assert_allclose(approx_scores, [exact[n] for n in approx], rtol=1e-5)  # re-scored, not estimated
    assert hits / (10 * len(queries)) >= 0.9


@needs_faiss
def test_index_persists_and_is_rebuilt_when_the_registry_changes(space, monkeypatch):
    from zoo_rank.index import faiss_index

    registry, space_, vectors, queries = space
    _ranked(registry, space_, queries[0], "faiss-ivf")
    files = sorted(p.name for p in (registry.home / "indexes").iterdir())
    first = registry.space_info(space_.id)[0]  # <instance>-<generation>
    assert len(files) == 1 and f".g{first}.faiss-ivf." in files[0]

    def no_build(*args, **kwargs):
        raise AssertionError("a fresh index was rebuilt")

    monkeypatch.setattr(faiss_index, "_build", no_build)
    _ranked(registry, space_, queries[1], "faiss-ivf")  # loaded from disk
    monkeypatch.undo()
    newcomer = queries[2]
    register_vectors(registry, newcomer[None, :], prefix="new")
    names, _ = _ranked(registry, space_, newcomer, "faiss-ivf")
    assert names[0] == "new0"  # found: the stale index was rebuilt
    files = sorted(p.name for p in (registry.home / "indexes").iterdir())
    second = registry.space_info(space_.id)[0]
    assert second != first and len(files) == 1 and f".g{second}.faiss-ivf." in files[0]  # the old one is gone


@needs_faiss
def test_a_filtered_shortlist_is_widened_until_enough_candidates_survive(space):
    registry, space_, _, queries = space
    names, _ = _ranked(registry, space_, queries[0], "faiss-ivf", method="rare")
    exact, _ = _ranked(registry, space_, queries[0], "numpy", method="rare")
    assert len(names) == 6 and sorted(names) == sorted(exact)


@needs_faiss
def test_cli_auto_switches_to_faiss_past_the_threshold(space, monkeypatch):
    registry, space_, vectors, _ = space
    home = registry.home
    registry.close()
    run = lambda: CliRunner().invoke(cli, ["--home", str(home), "--no-builtin", "--target", "a7", "--json", "-n", "3"])  # noqa: E731
    below = run()
    assert below.exit_code == 0, below.output
    assert not (home / "indexes").exists()
    monkeypatch.setenv("ZOO_RANK_FAISS_MIN", "1000")
    above = run()
    assert above.exit_code == 0, above.output
    assert [c["name"] for c in __import__("json").loads(above.stdout)] == \
        [c["name"] for c in __import__("json").loads(below.stdout)]
    assert any(p.name.endswith(".faiss") for p in (home / "indexes").iterdir())


def test_float16_storage_halves_the_vectors_and_keeps_the_ranking(tmp_path, monkeypatch):
    vectors = clustered_unit_vectors(2000, 1024, clusters=20, seed=3)
    queries = clustered_unit_vectors(10, 1024, clusters=20, seed=3)
    full = Registry(tmp_path / "full", builtin=False)
    space = register_vectors(full, vectors[:1000])
    monkeypatch.setenv("ZOO_RANK_VECTOR_DTYPE", "float16")
    half = Registry(tmp_path / "half", builtin=False)
    register_vectors(half, vectors[:1000])
    monkeypatch.delenv("ZOO_RANK_VECTOR_DTYPE")
    half.close()
    half = Registry(tmp_path / "half", builtin=False)  # remembered without the variable
    register_vectors(half, vectors[1000:], prefix="b")
    register_vectors(full, vectors[1000:], prefix="b")
    sizes = {len(blob) for (blob,) in half.db.execute("SELECT vector FROM vectors")}
    assert sizes == {2 * 1024}
    for query in queries:
        for index in ("numpy", "faiss-flat") if HAS_FAISS else ("numpy",):
            names, scores = _ranked(full, space, query, index)
            half_names, half_scores = _ranked(half, space, query, index)
            assert half_names[:5] == names[:5]
            np.testing.assert_allclose(half_scores, scores, atol=2e-3)


def test_a_mixed_registry_reads_both_types(tmp_path, monkeypatch):
    vectors = clustered_unit_vectors(40, 256, seed=4)
    registry = Registry(tmp_path / "home", builtin=False)
    space = register_vectors(registry, vectors[:20])
    registry.close()
    monkeypatch.setenv("ZOO_RANK_VECTOR_DTYPE", "float16")
    registry = Registry(tmp_path / "home", builtin=False)
    register_vectors(registry, vectors[20:], prefix="b")
    names, scores = _ranked(registry, space, vectors[30], "numpy", top=40)
    assert names[0] == "b10" and len(names) == 40
    exact = {**{f"a{i}": vectors[i] @ vectors[30] for i in range(20)},
             **{f"b{i}": vectors[20 + i] @ vectors[30] for i in range(20)}}
    np.testing.assert_allclose(scores, [exact[n] for n in names], atol=2e-3)


def test_an_unknown_vector_type_is_refused(tmp_path, monkeypatch):
    from zoo_rank.errors import RegistryError

    monkeypatch.setenv("ZOO_RANK_VECTOR_DTYPE", "int8")
    with pytest.raises(RegistryError, match="ZOO_RANK_VECTOR_DTYPE='int8'"):
        Registry(tmp_path / "home", builtin=False).entries()


def test_space_sizes_follow_inserts_removals_and_old_registries(tmp_path):
    """Sizes are kept by triggers (counting a million rows per ranking was the slowest step);
    they must agree with the rows, including in a registry made before the column existed."""
    import sqlite3

    def counted(registry):
        return dict(registry.db.execute("SELECT space_id, COUNT(*) FROM vectors GROUP BY space_id").fetchall())

    registry = Registry(tmp_path / "home", builtin=False)
    space = register_vectors(registry, clustered_unit_vectors(30, 64, seed=5))
    registry.remove("a3")
    registry.replace_embeddings(registry.require("a4"), registry.embeddings_of(registry.require("a5")))
    assert {s.id: n for s, n in registry.spaces()} == counted(registry) == {space.id: 29}
    registry.close()
    db = sqlite3.connect(tmp_path / "home" / "registry.db")  # back to schema 3, with a stale size
    db.executescript("DROP TRIGGER vectors_added; DROP TRIGGER vectors_removed; ALTER TABLE spaces DROP COLUMN size;"
                     "PRAGMA user_version = 3;")
    db.close()
    registry = Registry(tmp_path / "home", builtin=False)
    assert {s.id: n for s, n in registry.spaces()} == {space.id: 29}


def test_without_faiss_auto_scans_with_numpy_and_asking_for_faiss_says_what_to_install(space, monkeypatch):
    import sys

    from zoo_rank.errors import DependencyError
    from zoo_rank.index import choose_backend

    registry, space_, _, queries = space
    monkeypatch.setitem(sys.modules, "faiss", None)  # as on a machine without zoo-rank[faiss]
    monkeypatch.setenv("ZOO_RANK_FAISS_MIN", "10")
    assert choose_backend("auto", N) == "numpy"
    with pytest.raises(DependencyError, match=r"zoo-rank\[faiss\]"):
        _ranked(registry, space_, queries[0], "faiss-ivf")
