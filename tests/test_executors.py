"""The same commands in-process and on a real local Ray (``ray.init(num_cpus=2)``): identical
registries, retried workers, errors that keep their type, nothing registered twice."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from zoo_rank.cli import cli
from zoo_rank.errors import CheckpointError, ZooRankError
from zoo_rank.executors import InProcessExecutor, Resources, get_executor

@pytest.fixture(scope="module")
def ray_executor():
    """One local Ray for the module (it takes seconds to start); the CLI joins it. The tests
    without it need no Ray and run everywhere."""
    pytest.importorskip("ray", reason="the Ray executor needs `pip install 'zoo-rank[ray]'`")
    executor = get_executor("ray", num_cpus=2)
    yield executor
    executor.close()


def _registry_content(home: Path) -> list[tuple]:
    """What two registries must agree on: every entry with its vectors (not ids or timestamps)."""
    db = sqlite3.connect(home / "registry.db")
    rows = db.execute(
        "SELECT e.name, e.source, e.content_sha256, e.method, e.task, e.base_model, v.space_id, v.vector "
        "FROM entries e JOIN vectors v ON v.entry_id = e.id ORDER BY e.name, v.space_id").fetchall()
    order = [name for (name,) in db.execute("SELECT name FROM entries ORDER BY id")]
    db.close()
    return [(*row[:7], np.frombuffer(row[7], np.float32)) for row in rows], order


def _assert_same_registries(one: Path, two: Path) -> None:
    (left, left_order), (right, right_order) = _registry_content(one), _registry_content(two)
    assert left_order == right_order  # registered in the same order, so ids agree too
    strip = lambda row, home: (row[0], row[1].replace(str(home), "HOME"), *row[2:7])  # noqa: E731
    assert [strip(row, one) for row in left] == [strip(row, two) for row in right]
    for a, b in zip(left, right):
        assert np.array_equal(a[7], b[7]), a[0]


def _run(home: Path, *args) -> object:
    result = CliRunner().invoke(cli, ["--home", str(home), *map(str, args)])
    assert result.exit_code == 0, result.output
    return result


def test_jobs_come_back_once_each_with_their_own_errors(ray_executor, realzoo):
    from zoo_rank.jobs import embed_checkpoint

    folders = [realzoo / "distilbert_emotion_dayanidhi", realzoo / "does-not-exist"]
    outcomes = dict(ray_executor.map(embed_checkpoint, [(str(f), None) for f in folders]))
    assert sorted(outcomes) == [0, 1]
    assert outcomes[0].embeddings and outcomes[0].content_sha256
    here = embed_checkpoint(str(folders[0]))
    assert np.array_equal(outcomes[0].embeddings[0].vector, here.embeddings[0].vector)
    assert isinstance(outcomes[1], CheckpointError) and "does-not-exist" in str(outcomes[1])


def test_a_job_whose_worker_dies_is_run_again_and_yielded_once(ray_executor, tmp_path):
    def dies_once(marker: str, value: int) -> int:
        import os
        from pathlib import Path

        if not Path(marker).exists():
            Path(marker).touch()
            os._exit(1)  # the worker process dies, as on an OOM kill
        return value * 10

    jobs = [(str(tmp_path / f"died-{i}"), i) for i in range(3)]
    outcomes = list(ray_executor.map(dies_once, jobs, resources=Resources(retries=2)))
    assert sorted(outcomes) == [(0, 0), (1, 10), (2, 20)]
    lost = list(ray_executor.map(dies_once, [(str(tmp_path / "never-retried"), 5)], resources=Resources(retries=0)))
    assert len(lost) == 1 and isinstance(lost[0][1], ZooRankError) and "died on all 1 attempts" in str(lost[0][1])


def test_add_with_ray_gives_the_same_registry(ray_executor, zoo, realzoo, tmp_path):
    folders = [zoo["peft-lora"], zoo["peft-prefix"], zoo["bitfit"], realzoo / "distilbert_emotion_dayanidhi"]
    _run(tmp_path / "here", "--no-builtin", "add", *folders, "--task", "t")
    _run(tmp_path / "ray", "--no-builtin", "add", *folders, "--task", "t", "--executor", "ray")
    _assert_same_registries(tmp_path / "here", tmp_path / "ray")
    again = _run(tmp_path / "ray", "--no-builtin", "add", *folders, "--executor", "ray", "--json")
    assert json.loads(again.stdout)["added"] == []  # registered content is recognised, not stored twice


def test_a_bad_checkpoint_on_ray_registers_nothing(ray_executor, zoo, tmp_path):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "adapter_config.json").write_text("{not json")
    result = CliRunner().invoke(cli, ["--home", str(tmp_path / "home"), "--no-builtin", "add", str(zoo["peft-lora"]),
                                      str(bad), "--executor", "ray"])
    assert result.exit_code == 1 and "bad" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "home" / "registry.db").exists() or _registry_content(tmp_path / "home")[0] == []


def test_train_with_ray_gives_the_same_registry(ray_executor, tiny_model, tmp_path):
    from factories import sentiment_rows, write_csv

    # Opposite labelings: after two Adam steps (updates of ±lr) similar data can give byte-identical
    # checkpoints, which the registry rightly stores once; these two cannot.
    flipped = [{**row, "label": {"pos": "neg", "neg": "pos"}[row["label"]]} for row in sentiment_rows(24, seed=1)]
    data = [write_csv(tmp_path / "one.csv", sentiment_rows(24, seed=0)), write_csv(tmp_path / "two.csv", flipped)]
    options = ["--no-builtin", "train", *data, "--method", "bitfit,lora", "--steps", "2", "--base-model", tiny_model,
               "--device", "cpu", "--json", "--cpus-per-job", "2"]  # same threads, so the same float sums
    here = _run(tmp_path / "here", *options)
    there = _run(tmp_path / "ray", *options, "--executor", "ray")
    assert [e["name"] for e in json.loads(here.stdout)] == ["one/bitfit", "one/lora", "two/bitfit", "two/lora"]
    assert [e["name"] for e in json.loads(there.stdout)] == [e["name"] for e in json.loads(here.stdout)]
    _assert_same_registries(tmp_path / "here", tmp_path / "ray")
    checkpoints = sorted(p.name for p in (tmp_path / "ray" / "checkpoints").iterdir())
    assert len(checkpoints) == 4 and not any(name.startswith(".") for name in checkpoints)


def test_refresh_offline_with_ray_gives_the_same_registry(ray_executor, realzoo, tmp_path, monkeypatch):
    from hubserver import HubServer, repo_from_folder

    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    with HubServer() as server:
        server.add(repo_from_folder("someone/emotion", realzoo / "distilbert_emotion_dayanidhi", tags=["peft"]))
        server.add(repo_from_folder("someone/metaphor", realzoo / "ah_mbert_metaphor_anhu2410", subfolder="adapter",
                                    tags=["adapter-transformers"]))
        _run(tmp_path / "pulled", "--no-builtin", "pull", "someone/emotion", "someone/metaphor",
             "--endpoint", server.endpoint, "--executor", "ray")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    _run(tmp_path / "here", "--no-builtin", "refresh", "--offline")
    _run(tmp_path / "ray", "--no-builtin", "refresh", "--offline", "--executor", "ray")
    _assert_same_registries(tmp_path / "here", tmp_path / "ray")
    _assert_same_registries(tmp_path / "pulled", tmp_path / "ray")


def test_in_process_executor_runs_jobs_in_order_and_hands_back_errors():
    def job(value: int) -> int:
        if value == 2:
            raise CheckpointError("x", "broken")
        return value

    outcomes = list(InProcessExecutor().map(job, [(1,), (2,), (3,)]))
    assert [index for index, _ in outcomes] == [0, 1, 2]
    assert outcomes[0][1] == 1 and isinstance(outcomes[1][1], CheckpointError) and outcomes[2][1] == 3


def test_unknown_executor_and_stray_ray_address_are_refused(tmp_path):
    result = CliRunner().invoke(cli, ["--home", str(tmp_path), "add", str(tmp_path), "--ray-address", "auto"])
    assert result.exit_code == 1 and "--ray-address needs --executor ray" in result.output
    with pytest.raises(ZooRankError, match="unknown executor"):
        get_executor("dask")


def test_without_ray_the_error_says_what_to_install(monkeypatch, tmp_path):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # as on a machine without zoo-rank[ray]
    result = CliRunner().invoke(cli, ["--home", str(tmp_path), "add", str(tmp_path), "--executor", "ray"])
    assert result.exit_code == 1 and "pip install 'zoo-rank[ray]'" in result.output
