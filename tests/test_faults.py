"""Read-only places, full disks and damaged databases, met through the CLI in real mounts.

The mounts are made in a user + mount namespace (``unshare -rm``): a real read-only bind
mount and a real tmpfs that runs out of room, no patched ``open``. Where the kernel does not
allow unprivileged namespaces the tests skip and say so.
"""

from __future__ import annotations

import shlex
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from synthetic import clustered_unit_vectors, register_vectors
from zoo_rank.registry import Registry


def _namespaces_work() -> bool:
    if shutil.which("unshare") is None:
        return False
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", "mount -t tmpfs tmpfs /mnt 2>/dev/null || "
                            "mount -t tmpfs tmpfs /tmp"], capture_output=True)
    return probe.returncode == 0


needs_mounts = pytest.mark.skipif(not _namespaces_work(), reason="unprivileged mount namespaces (`unshare -rm`) are "
                                  "not available here, so no real read-only or full mount can be made")


def _in_namespace(setup: str, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run ``zoo-rank ARGS`` after the shell commands ``setup`` inside a fresh mount namespace."""
    command = f"set -e; {setup}; exec {shlex.quote(sys.executable)} -m zoo_rank.cli " + " ".join(map(shlex.quote, args))
    return subprocess.run(["unshare", "-rm", "sh", "-c", command], capture_output=True, text=True, env=env,
                          timeout=300)


def _synthetic_registry(home: Path, rows: int, dim: int = 256) -> np.ndarray:
    vectors = clustered_unit_vectors(rows, dim, seed=3)
    with Registry(home, builtin=False) as registry:
        register_vectors(registry, vectors)
    return vectors


@pytest.fixture
def env(monkeypatch):
    import os

    return {**os.environ, "ZOO_RANK_BUILTIN": "0", "HF_HUB_OFFLINE": "1"}


@needs_mounts
@pytest.mark.core
def test_a_read_only_registry_lists_and_ranks_and_refuses_changes_in_one_line(tmp_path, env):
    home = tmp_path / "home"
    _synthetic_registry(home, 50)
    readable = Registry(home, builtin=False)
    expected = readable.space_matrix(next(s.id for s, _ in readable.spaces()))
    readable.close()
    shutil.rmtree(home / "spaces")  # the read-only run must build what it needs in memory
    ro = f"mount --bind {home} {home}; mount -o remount,bind,ro {home}"

    ranked = _in_namespace(ro, "--home", str(home), "--target", "a0", "--top", "60", "--json", env=env)
    assert ranked.returncode == 0, ranked.stderr
    import json

    candidates = json.loads(ranked.stdout)
    assert len(candidates) == 49 and "a0" not in {c["name"] for c in candidates}
    best = max(range(1, 50), key=lambda i: float(expected.matrix[i] @ expected.matrix[0]))
    assert candidates[0]["name"] == f"a{best}"
    assert _in_namespace(ro, "--home", str(home), "list", env=env).returncode == 0

    removed = _in_namespace(ro, "--home", str(home), "remove", "a1", env=env)
    assert removed.returncode == 1
    (line,) = removed.stderr.strip().splitlines()
    assert "read-only" in line and str(home) in line
    assert not (home / "spaces").exists()  # nothing written, not even a cache


@needs_mounts
@pytest.mark.core
def test_a_full_disk_ranks_from_memory_with_one_warning_and_leaves_no_temp_files(tmp_path, env):
    """Before: the cache matrix was a sparse memory map; on a full tmpfs the first page that
    could not be stored killed the process with SIGBUS (exit 135), leaving spaces/tmp*.npy.tmp."""
    source = tmp_path / "source"
    vectors = _synthetic_registry(source, 12_000)  # a 12 MB matrix, a ~14 MB database
    room = (source / "registry.db").stat().st_size + (2 << 20)
    full = tmp_path / "full"
    full.mkdir()
    setup = f"mount -t tmpfs -o size={room} tmpfs {full}; cp {source}/registry.db {full}/"
    script = f"{setup}; {shlex.quote(sys.executable)} -m zoo_rank.cli --home {full} --target a0 --top 3 --json " \
             "--embedder invariant; " \
             f"echo LEFT; ls -a {full}/spaces 2>/dev/null || true"
    result = subprocess.run(["unshare", "-rm", "sh", "-c", script], capture_output=True, text=True, env=env,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert "no room to cache" in result.stderr and result.stderr.count("\n") == 1, result.stderr
    import json

    ranking, left = result.stdout.split("LEFT")
    names = [c["name"] for c in json.loads(ranking)]
    cosines = vectors[1:] @ vectors[0]
    assert names == [f"a{i + 1}" for i in np.argsort(-cosines)[:3]]
    assert not [n for n in left.split() if n.startswith("tmp")], left


@pytest.mark.core
def test_a_damaged_database_says_how_to_recover(zoo_home):
    from click.testing import CliRunner

    from zoo_rank.cli import cli

    zoo_home.mkdir(parents=True, exist_ok=True)
    (zoo_home / "registry.db").write_bytes(b"this is not an SQLite database at all" * 100)
    result = CliRunner().invoke(cli, ["list"])
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert "registry.db: is damaged" in line and "move it aside" in line.lower() and "refresh --offline" in line


@pytest.mark.core
def test_a_read_only_registry_never_writes_in_process(tmp_path, monkeypatch):
    """Where the file is readable but SQLite cannot write it (here: opened read-only after
    another process made it), every change is one RegistryError and nothing else happens."""
    from zoo_rank.errors import RegistryError

    home = tmp_path / "home"
    _synthetic_registry(home, 10)
    registry = Registry(home, builtin=False)
    registry._db = registry._open_read_only(sqlite3.OperationalError("attempt to write a readonly database"))
    assert registry.read_only
    with pytest.raises(RegistryError, match="read-only"):
        registry.remove("a1")
    assert len(registry.entries()) == 10
    registry.close()


def test_any_folder_name_gives_a_valid_default_name_and_a_bad_given_name_says_where(zoo, tmp_path, zoo_home):
    from click.testing import CliRunner

    from zoo_rank.cli import cli

    folder = tmp_path / "tree" / "my adapters" / "ünï cødé 🙂"
    shutil.copytree(zoo["peft-lora"], folder)
    added = CliRunner().invoke(cli, ["add", str(tmp_path / "tree")])
    assert added.exit_code == 0, added.output
    assert "added my-adapters/uni-cde (lora" in added.output

    refused = CliRunner().invoke(cli, ["add", str(zoo["peft-ia3"]), "--name", "my name 🙂"])
    assert refused.exit_code == 1
    (line,) = refused.output.strip().splitlines()
    assert str(zoo["peft-ia3"]) in line and "invalid name 'my name 🙂'" in line and "--name" in line


def test_ctrl_c_after_the_commit_reports_what_was_registered(zoo, zoo_home, monkeypatch):
    """Ctrl-C while the result is printed: the entries are registered and stay; before, click
    printed "Aborted!" and exited 1 as if nothing had happened. (The interrupt is raised at
    that point on purpose: a real signal cannot be timed to land there reliably.)"""
    from click.testing import CliRunner

    import zoo_rank.cli.entries as entries_commands
    from zoo_rank.cli import cli

    def interrupted(*_):
        raise KeyboardInterrupt

    monkeypatch.setattr(entries_commands, "report_added", interrupted)
    result = CliRunner().invoke(cli, ["add", str(zoo["peft-lora"]), str(zoo["peft-ia3"])])
    assert result.exit_code == 130
    assert "Interrupted after 2 entries were registered; they stay" in result.output
    names = {e.name for e in Registry(zoo_home).entries()}
    assert {"peft-lora", "peft-ia3"} <= names


@needs_mounts
@pytest.mark.core
def test_a_read_only_copy_with_a_wal_but_no_shm_is_refused_not_read_without_its_last_writes(tmp_path, env):
    """Before: SQLite's immutable mode read the main file only, and the entries still in registry.db-wal were
    silently missing from `list` and from every ranking."""
    home = tmp_path / "home"
    _synthetic_registry(home, 20)
    writer = sqlite3.connect(home / "registry.db")
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    writer.execute("SELECT COUNT(*) FROM entries").fetchone()  # an open connection: the WAL outlives the next one
    with Registry(home, builtin=False) as registry:  # written while the writer holds the WAL open: it stays there
        register_vectors(registry, clustered_unit_vectors(5, 256, seed=9), prefix="late")
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in ("registry.db", "registry.db-wal"):
        shutil.copy(home / name, copy / name)
    writer.close()
    assert (copy / "registry.db-wal").stat().st_size > 0 and not (copy / "registry.db-shm").exists()
    ro = f"mount --bind {copy} {copy}; mount -o remount,bind,ro {copy}"
    listed = _in_namespace(ro, "--home", str(copy), "list", "--json", env=env)
    if listed.returncode == 0:  # SQLite could read the WAL after all: then every entry must be there
        import json

        assert len(json.loads(listed.stdout)) == 25
        return
    (line,) = listed.stderr.strip().splitlines()
    assert line.startswith("Error: ") and "registry.db-wal: holds writes not yet in registry.db" in line
