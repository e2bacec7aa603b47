"""Pulling from a hub and refreshing offline, against a real HTTP server on 127.0.0.1.

The real huggingface_hub client runs end to end (``HfApi.list_models``/``model_info``,
``hf_hub_download`` with its cache, locks and resume); only the hub is a stand-in
(``tests/hubserver.py``), serving the realzoo checkpoints and injecting faults.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from hubserver import HubServer, Repo, repo_from_folder
from zoo_rank.catalog import CatalogError, default_catalog_path, load_catalog
from zoo_rank.cli import cli
from zoo_rank.pipeline.hub import pull, refresh
from zoo_rank.readers import read_checkpoint
from zoo_rank.registry import Registry

ROOT = Path(__file__).resolve().parents[1]
DISTIL = "base_model:adapter:distilbert-base-uncased"
EMOTION_CARD = {"license": "mit", "datasets": ["emotion"], "base_model": "distilbert-base-uncased"}


def _card(meta: dict) -> bytes:
    lines = ["---"] + [f"{k}: {json.dumps(v)}" for k, v in meta.items()] + ["---", "# an adapter", ""]
    return "\n".join(lines).encode()


@pytest.fixture
def hub(realzoo, tmp_path, monkeypatch):
    """The stand-in hub with four realzoo adapters; huggingface_hub pointed at it and at a temp cache."""
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    with HubServer() as server:
        emotion = repo_from_folder("dayanidhi/emotion-lora", realzoo / "distilbert_emotion_dayanidhi",
                                   tags=["peft", DISTIL, "dataset:emotion", "license:mit"], downloads=50)
        emotion.files["README.md"] = _card(EMOTION_CARD)
        server.add(Repo(emotion.repo_id, emotion.files, emotion.tags, EMOTION_CARD, 50))
        server.add(repo_from_folder("karangarg/hate-lora", realzoo / "distilbert_hatespeech_karangarg",
                                    tags=["peft", DISTIL], downloads=40))
        server.add(repo_from_folder("thankuxari/promptinj", realzoo / "distilbert_promptinj_thankuxari",
                                    subfolder="lora/checkpoint-10000", tags=["peft", DISTIL], downloads=5))
        server.add(repo_from_folder("anhu/metaphor", realzoo / "ah_mbert_metaphor_anhu2410", subfolder="adapter",
                                    tags=["adapter-transformers", "adapterhub:metaphor"], downloads=7))
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        yield server


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def entries() -> list:
    return Registry().entries()


def fast(**kw) -> list[str]:
    return ["--retries", str(kw.get("retries", 2)), "--timeout", str(kw.get("timeout", 5))]


# -- the happy path -------------------------------------------------------------------------
def test_pull_fetches_only_adapter_files_pinned_and_registers_them(hub, realzoo, tmp_path):
    result = run("pull", "dayanidhi/emotion-lora", "anhu/metaphor", "--json")
    assert result.exit_code == 0, result.output
    added = {e["name"]: e for e in json.loads(result.stdout)["added"]}
    assert set(added) == {"dayanidhi/emotion-lora", "anhu/metaphor/adapter"}
    emotion = added["dayanidhi/emotion-lora"]
    sha = hub.repos["dayanidhi/emotion-lora"].sha
    assert emotion["revision"] == sha and emotion["source"] == f"hf://dayanidhi/emotion-lora@{sha}"
    # hub metadata kept: licence and datasets from the hub, task from the single dataset
    assert emotion["metadata"]["license"] == "mit" and emotion["task"] == "emotion"
    assert emotion["metadata"]["hub"]["base_model"] == "distilbert-base-uncased"
    # the same bytes as the published folder: same content hash as reading it directly
    assert emotion["content_sha256"] == read_checkpoint(realzoo / "distilbert_emotion_dayanidhi").content_sha256()
    # in the standard HF cache, at the pinned commit; adapter files only (no head weights)
    snapshot = tmp_path / "hf-cache" / "models--anhu--metaphor" / "snapshots" / hub.repos["anhu/metaphor"].sha
    assert sorted(p.name for p in (snapshot / "adapter").iterdir()) == [
        "adapter_config.json", "head_config.json", "pytorch_adapter.bin"]
    assert not hub.hits("pytorch_model_head.bin")
    assert all(f"/resolve/{hub.repos[r].sha}/" in path for _, path, _ in hub.hits("/resolve/")
               for r in hub.repos if r in path)


def test_pull_again_is_free_and_same_content_is_not_registered_twice(hub, realzoo):
    assert run("pull", "dayanidhi/emotion-lora").exit_code == 0
    downloads = len(hub.hits("/resolve/"))
    again = run("pull", "dayanidhi/emotion-lora")
    assert again.exit_code == 0 and len(hub.hits("/resolve/")) == downloads  # nothing downloaded again
    # the same files under another repo id: recognised by hash, not stored twice
    hub.add(repo_from_folder("someone/mirror", realzoo / "distilbert_emotion_dayanidhi", tags=["peft"]))
    mirror = run("pull", "someone/mirror", "--json")
    assert mirror.exit_code == 0
    assert json.loads(mirror.stdout)["existing"] == ["dayanidhi/emotion-lora"]
    assert [e.name for e in entries()] == ["dayanidhi/emotion-lora"]


def test_safetensors_preferred_and_training_steps_skipped(hub, realzoo):
    files = repo_from_folder("x/y", realzoo / "distilbert_emotion_dayanidhi").files
    files["adapter_model.bin"] = b"a pickle we must not fetch"
    files["checkpoint-500/adapter_config.json"] = files["adapter_config.json"]
    files["checkpoint-500/adapter_model.safetensors"] = files["adapter_model.safetensors"]
    hub.add(Repo("x/both", files, ["peft"]))
    assert run("pull", "x/both").exit_code == 0
    assert not hub.hits(r"adapter_model\.bin") and not hub.hits("checkpoint-500")
    assert [e.name for e in entries()] == ["x/both"]


def test_search_and_pull_by_base_model(hub):
    found = run("search", "--base-model", "distilbert-base-uncased", "--json")
    assert found.exit_code == 0, found.output
    listed = json.loads(found.stdout)
    assert [m["repo_id"] for m in listed] == ["dayanidhi/emotion-lora", "karangarg/hate-lora", "thankuxari/promptinj"]
    assert listed[0]["license"] == "mit" and listed[0]["downloads"] == 50
    assert {m["repo_id"] for m in Registry().hub_models()} == {m["repo_id"] for m in listed}  # kept for offline use
    pulled = run("pull", "--base-model", "distilbert-base-uncased", "--limit", "2", "--json")
    assert pulled.exit_code == 0, pulled.output
    assert {e["name"] for e in json.loads(pulled.stdout)["added"]} == {"dayanidhi/emotion-lora", "karangarg/hate-lora"}


# -- faults ---------------------------------------------------------------------------------
def test_5xx_is_retried_with_backoff_then_succeeds(hub):
    hub.fault(r"^/api/models/dayanidhi/emotion-lora", "status", 503, times=2)
    hub.fault(r"adapter_model\.safetensors$", "status", 502, times=1, method="HEAD")
    result = run("pull", "dayanidhi/emotion-lora", *fast(retries=4))
    assert result.exit_code == 0, result.output
    assert len(hub.hits(r"^/api/models/dayanidhi/emotion-lora")) == 3
    assert [e.name for e in entries()] == ["dayanidhi/emotion-lora"]


@pytest.mark.parametrize("kind, value, expected", [
    ("status", 500, "HTTP 500 (after 2 attempts)"),
    ("delay", 3, "Timeout"),
])
def test_persistent_5xx_or_timeout_is_a_clear_error_and_registers_nothing(hub, kind, value, expected):
    hub.fault(r"^/api/models/karangarg", kind, value, times=None)
    result = run("pull", "dayanidhi/emotion-lora", "karangarg/hate-lora", *fast(retries=2, timeout=0.5))
    assert result.exit_code == 1
    line = result.output.strip().splitlines()[-1]
    assert "karangarg/hate-lora" in line and expected in line
    assert entries() == []  # the good repo is not registered either: all or nothing


def test_body_cut_short_is_resumed_or_reported(hub, tmp_path):
    hub.fault(r"emotion-lora/resolve/.*adapter_model\.safetensors$", "truncate", 100_000, times=1, method="GET")
    assert run("pull", "dayanidhi/emotion-lora", *fast()).exit_code == 0
    assert len(hub.hits(r"emotion-lora/resolve/.*safetensors$", "GET")) == 2  # cut, then fetched again
    hub.fault(r"hate-lora/resolve/.*adapter_model\.safetensors$", "truncate", 1000, times=None, method="GET")
    result = run("pull", "karangarg/hate-lora", *fast())
    assert result.exit_code == 1 and "karangarg/hate-lora" in result.output
    assert [e.name for e in entries()] == ["dayanidhi/emotion-lora"]


def test_bytes_that_do_not_match_the_listed_hash_are_refetched_or_refused(hub, tmp_path):
    hub.fault(r"emotion-lora/resolve/.*safetensors$", "corrupt", times=1, method="GET")
    assert run("pull", "dayanidhi/emotion-lora", *fast()).exit_code == 0  # evicted and fetched again
    hub.fault(r"hate-lora/resolve/.*safetensors$", "corrupt", times=None, method="GET")
    result = run("pull", "karangarg/hate-lora", *fast())
    assert result.exit_code == 1 and "does not match the hash" in result.output
    blobs = tmp_path / "hf-cache" / "models--karangarg--hate-lora" / "blobs"
    assert not [p for p in blobs.iterdir() if p.stat().st_size > 100_000]  # the bad bytes were not kept
    assert [e.name for e in entries()] == ["dayanidhi/emotion-lora"]


def test_a_stalled_body_is_cut_at_the_timeout_and_the_failure_is_bounded(hub):
    hub.fault(r"hate-lora/resolve/.*safetensors$", "stall", 1000, times=None, method="GET")
    started = time.monotonic()
    result = run("pull", "karangarg/hate-lora", *fast(retries=2, timeout=1))
    elapsed = time.monotonic() - started
    assert result.exit_code == 1 and entries() == []
    (line,) = result.output.strip().splitlines()
    assert "karangarg/hate-lora" in line and "Timeout" in line and "after 2 attempts" in line
    assert elapsed < 2 * 1 + 1 + 10  # attempts x timeout + backoff, with room for a loaded machine
    assert len(hub.hits(r"hate-lora/resolve/.*safetensors$", "GET")) == 2  # one retry policy: 2 tries, not 2 x 5


def test_a_refused_connection_is_one_line(hub, monkeypatch):
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    result = run("pull", "karangarg/hate-lora", "--endpoint", f"http://127.0.0.1:{port}", *fast(retries=2, timeout=1))
    assert result.exit_code == 1
    (line,) = result.output.strip().splitlines()
    assert "karangarg/hate-lora" in line and "ConnectionRefused" in line and "Traceback" not in result.output


@pytest.mark.parametrize("breakage", ["alpha-word", "alpha-pattern-list", "negative-shape"])
def test_a_malformed_repo_is_skipped_and_the_rest_registered(hub, realzoo, breakage):
    files = dict(repo_from_folder("x/y", realzoo / "distilbert_hatespeech_karangarg").files)
    config = json.loads(files["adapter_config.json"])
    if breakage == "alpha-word":
        config["lora_alpha"] = "sixteen"
    elif breakage == "alpha-pattern-list":
        config["alpha_pattern"] = ["q_lin", 4]
    else:
        weights = files["adapter_model.safetensors"]
        size = int.from_bytes(weights[:8], "little")
        header = json.loads(weights[8 : 8 + size])
        name = next(k for k in header if k != "__metadata__")
        header[name]["shape"] = [-1, header[name]["shape"][-1]]
        encoded = json.dumps(header).encode().ljust(size)
        files["adapter_model.safetensors"] = weights[:8] + encoded + weights[8 + size :]
    files["adapter_config.json"] = json.dumps(config).encode()
    hub.add(Repo("broken/lora", files, ["peft", DISTIL], downloads=99))
    result = run("pull", "--base-model", "distilbert-base-uncased", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert {e["name"] for e in report["added"]} == {"dayanidhi/emotion-lora", "karangarg/hate-lora",
                                                    "thankuxari/promptinj/lora/checkpoint-10000"}
    (failure,) = report["failed"]
    assert "broken" in failure and "\n" not in failure


@pytest.mark.parametrize("setup, repo, expected", [
    (None, "nobody/nothing", "was not found on the hub (or is private)"),
    ("private", "secret/lora", "was not found on the hub (or is private)"),
    ("gated", "gated/lora", "is gated"),
    ("model", "bert/full", "has no adapter checkpoint files"),
    (None, "dayanidhi/emotion-lora@v9", "has no such revision"),
])
def test_missing_private_gated_and_adapterless_repos(hub, realzoo, setup, repo, expected):
    base = repo_from_folder("tmp/x", realzoo / "distilbert_hatespeech_karangarg").files
    if setup == "private":
        hub.add(Repo("secret/lora", base, ["peft"], private=True))
    elif setup == "gated":
        hub.add(Repo("gated/lora", base, ["peft"], gated=True))
    elif setup == "model":
        hub.add(Repo("bert/full", {"config.json": b"{}", "model.safetensors": b"x" * 10}, ["transformers"]))
    result = run("pull", repo, *fast())
    assert result.exit_code == 1
    assert repo.split("@")[0] in result.output and expected in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert entries() == []


@pytest.mark.parametrize("bad", ["../etc/passwd", "a/b/c", "https://evil.example/x", "a--b/c", "x/.y"])
def test_invalid_repo_ids_are_refused_before_any_request(hub, bad):
    result = run("pull", bad)
    assert result.exit_code == 1 and "not a valid Hugging Face repo id" in result.output
    assert hub.requests == []


def test_unsafe_file_names_in_a_listing_are_refused(hub, realzoo):
    files = repo_from_folder("x/y", realzoo / "distilbert_emotion_dayanidhi").files
    files["../../escape/adapter_config.json"] = b"{}"
    hub.add(Repo("evil/repo", files, ["peft"]))
    result = run("pull", "evil/repo")
    assert result.exit_code == 1 and "unsafe file name" in result.output
    assert not hub.hits("/resolve/")


def test_offline_mode_is_respected(hub, monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    result = run("pull", "dayanidhi/emotion-lora")
    assert result.exit_code == 1 and "HF_HUB_OFFLINE" in result.output and hub.requests == []


# -- processes: Ctrl-C, concurrency, no network -----------------------------------------------
def _env(tmp_path: Path, hub: HubServer, home: str = "zoo-home") -> dict:
    return {**os.environ, "ZOO_RANK_HOME": str(tmp_path / home), "HF_HUB_CACHE": str(tmp_path / "hf-cache"),
            "HF_ENDPOINT": hub.endpoint, "HF_HUB_OFFLINE": "0", "ZOO_RANK_BUILTIN": "0",
            "HF_HUB_DISABLE_PROGRESS_BARS": "1"}


def _count(home: Path) -> int:
    if not (home / "registry.db").exists():
        return 0
    with sqlite3.connect(home / "registry.db") as db:
        return db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]


@pytest.fixture(scope="session")
def big_lora(tmp_path_factory) -> Path:
    """A real peft LoRA checkpoint over 10 MB: huggingface_hub writes downloads in 10 MB chunks,
    so only a file past that size can be left half-downloaded."""
    from peft import LoraConfig, TaskType

    from factories import peft_checkpoint

    directory = tmp_path_factory.mktemp("big-lora")
    peft_checkpoint(directory, LoraConfig(task_type=TaskType.SEQ_CLS, r=4096, lora_alpha=8,
                                          target_modules=["query", "key", "value", "dense"]))
    assert (directory / "adapter_model.safetensors").stat().st_size > 11 * 2**20
    return directory


def _size(path: Path) -> int:
    """A file's size, 0 once it is gone: the hub library may remove a partial file between a glob and its stat."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def test_ctrl_c_mid_download_registers_nothing_and_the_next_run_resumes(hub, tmp_path, big_lora):
    hub.add(repo_from_folder("big/lora", big_lora, tags=["peft"]))
    hub.fault(r"big/lora/resolve/.*safetensors$", "stall", 11 * 2**20, times=1, method="GET")
    command = [sys.executable, "-m", "zoo_rank", "pull", "big/lora"]
    # The stalled read outlasts the polling (--timeout 600; after a timeout the pull would resume on
    # its own), and Ctrl-C is delivered even when the test runner was started in the background,
    # whose children inherit SIGINT as ignored.
    process = subprocess.Popen(command + ["--timeout", "600"], env=_env(tmp_path, hub), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    blobs = tmp_path / "hf-cache" / "models--big--lora" / "blobs"
    deadline = time.time() + 60
    while time.time() < deadline and not any(_size(p) >= 10 * 2**20 for p in blobs.glob("*.incomplete")):
        time.sleep(0.1)
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    assert process.returncode == 130  # the shell's code for "stopped by Ctrl-C"
    assert _count(tmp_path / "zoo-home") == 0
    (partial,) = blobs.glob("*.incomplete")
    written = partial.stat().st_size
    assert written >= 10 * 2**20
    done = subprocess.run(command, env=_env(tmp_path, hub), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert _count(tmp_path / "zoo-home") == 1
    ranges = [h.get("Range") for _, _, h in hub.hits(r"big/lora/resolve/.*safetensors$", "GET")]
    assert ranges[-1] == f"bytes={written}-"  # resumed where the interrupted run stopped


def test_two_pulls_of_the_same_repo_at_once(hub, tmp_path):
    hub.fault(r"emotion-lora/resolve/.*safetensors$", "slow", 2_000_000, times=1, method="GET")
    command = [sys.executable, "-m", "zoo_rank", "pull", "dayanidhi/emotion-lora", "--json"]
    both = [subprocess.Popen(command, env=_env(tmp_path, hub), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True) for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in both]
    assert [p.returncode for p in both] == [0, 0], outputs
    reports = [json.loads(out) for out, _ in outputs]
    assert sorted(len(r["added"]) for r in reports) == [0, 1]  # one registered it, the other found it there
    assert _count(tmp_path / "zoo-home") == 1


_NO_SOCKETS = """
import sys
def guard(event, args):
    if event in ("socket.__new__", "socket.connect", "socket.getaddrinfo"):
        raise RuntimeError(f"network guard: {event} during refresh --offline")
sys.addaudithook(guard)
from zoo_rank.cli import main
sys.argv = ["zoo-rank", "refresh", "--offline", "--json"]
main()
"""


def test_refresh_offline_opens_no_socket_and_registers_the_cache(hub, tmp_path):
    assert run("pull", "dayanidhi/emotion-lora", "anhu/metaphor", "thankuxari/promptinj").exit_code == 0
    env = _env(tmp_path, hub, home="fresh-home")  # a new registry, the same HF cache
    env["HF_ENDPOINT"] = "http://127.0.0.1:9"
    done = subprocess.run([sys.executable, "-c", _NO_SOCKETS], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    names = sorted(e["name"] for e in report["added"])
    assert names == ["anhu/metaphor/adapter", "dayanidhi/emotion-lora", "thankuxari/promptinj/lora/checkpoint-10000"]
    emotion = next(e for e in report["added"] if e["name"] == "dayanidhi/emotion-lora")
    assert emotion["metadata"]["license"] == "mit" and emotion["task"] == "emotion"  # from the cached model card
    again = subprocess.run([sys.executable, "-c", _NO_SOCKETS], env=env, capture_output=True, text=True, timeout=120)
    assert json.loads(again.stdout)["added"] == [] and len(json.loads(again.stdout)["skipped"]) == 3


def test_refresh_offline_survives_deleted_and_corrupted_cache_entries(hub, tmp_path, monkeypatch):
    assert run("pull", "dayanidhi/emotion-lora", "karangarg/hate-lora", "anhu/metaphor").exit_code == 0
    cache = tmp_path / "hf-cache"
    (next((cache / "models--dayanidhi--emotion-lora" / "snapshots").iterdir()) / "adapter_model.safetensors").resolve().unlink()
    weights = (next((cache / "models--karangarg--hate-lora" / "snapshots").iterdir()) / "adapter_model.safetensors")
    weights.resolve().write_bytes(weights.read_bytes()[:5000])
    monkeypatch.setenv("ZOO_RANK_HOME", str(tmp_path / "fresh-home"))
    result = run("refresh", "--offline", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [e["name"] for e in report["added"]] == ["anhu/metaphor/adapter"]
    assert len(report["failed"]) == 2 and any("emotion-lora" in f for f in report["failed"])
    assert [e.name for e in entries()] == ["anhu/metaphor/adapter"]
    # pulling again repairs both: the hashes do not match, so the files are fetched anew
    assert run("pull", "dayanidhi/emotion-lora", "karangarg/hate-lora", *fast()).exit_code == 0
    assert len(entries()) == 3


def test_refresh_reembeds_entries_of_an_older_embedder_version(hub, monkeypatch):
    from zoo_rank.embedders import EMBEDDERS

    registry = Registry()
    pull(["karangarg/hate-lora"], registry=registry)
    before = registry.get("karangarg/hate-lora").spaces
    monkeypatch.setattr(EMBEDDERS["invariant"], "version", 2)
    result = refresh(offline=True, registry=registry)
    assert [e.name for e in result.reembedded] == ["karangarg/hate-lora"]
    after = registry.get("karangarg/hate-lora").spaces
    assert any("invariant-v2" in s for s in after) and not any("invariant-v1" in s for s in after)
    assert before != after and len(registry.entries()) == 1


def test_refresh_online_pulls_the_catalog_and_applies_its_facts(hub, tmp_path):
    catalog = {"schema_version": 1, "sources": [
        {"repo_id": "karangarg/hate-lora", "base_model": "distilbert-base-uncased", "task": "hate-speech",
         "format": "peft", "task_type": "classification", "train_size": 24783, "license": "apache-2.0"},
        {"repo_id": "gone/away", "base_model": "distilbert-base-uncased", "task": "x", "format": "peft"}]}
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(catalog))
    result = run("refresh", "--catalog", path, "--json", *fast())
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    (added,) = report["added"]
    assert (added["task"], added["train_size"], added["metadata"]["license"]) == ("hate-speech", 24783, "apache-2.0")
    assert len(report["failed"]) == 1 and "gone/away" in report["failed"][0]


# -- the catalog ---------------------------------------------------------------------------------
def test_shipped_catalog_is_the_top_level_registry_json_and_valid():
    assert default_catalog_path().read_bytes() == (ROOT / "registry.json").read_bytes()
    catalog = load_catalog()
    from zoo_rank.datasets import TASKS

    assert {b.task for b in catalog.builtin} == {name for name, task in TASKS.items() if task.shipped}
    assert all(b.task_type == TASKS[b.task].task_type for b in catalog.builtin)
    assert len({s.repo_id for s in catalog.sources}) == len(catalog.sources) >= 10


def test_builtin_train_sizes_in_the_catalog_are_measured():
    from conftest import require_assets
    from zoo_rank.datasets.builtin import load_builtin

    require_assets()
    for item in load_catalog().builtin:
        assert item.train_size == len(load_builtin(item.task, split="train").texts), item.task


@pytest.mark.parametrize("entry, message", [
    ({"repo_id": "../x", "base_model": "b", "task": "t", "format": "peft"}, "not a valid Hugging Face repo id"),
    ({"repo_id": "a/b", "base_model": "b", "task": "t", "format": "onnx"}, "format must be one of"),
    ({"repo_id": "a/b", "base_model": "b", "task": "t", "format": "peft", "train_size": -3}, "positive integer"),
    ({"repo_id": "a/b", "base_model": "b", "format": "peft"}, "missing 'task'"),
    ({"repo_id": "a/b", "base_model": "b", "task": "t", "format": "peft", "colour": 1}, "unknown field 'colour'"),
    ({"repo_id": "a/b", "base_model": "b", "task": "t", "format": "peft", "subfolder": "../up"}, "relative path"),
])
def test_bad_catalog_entries_are_named(tmp_path, entry, message):
    good = {"repo_id": "ok/fine", "base_model": "b", "task": "t", "format": "peft"}
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps({"schema_version": 1, "sources": [good, entry]}))
    with pytest.raises(CatalogError) as caught:
        load_catalog(path)
    assert "sources[1]" in str(caught.value) and message in str(caught.value) and "sources[0]" not in str(caught.value)
    result = run("catalog", path)
    assert result.exit_code == 1 and message in result.output



@pytest.mark.core
def test_refresh_without_a_network_fails_in_one_line_not_one_per_source(tmp_path, zoo_home, monkeypatch):
    """Before: 15 identical "skipped: ... ConnectionRefused" lines, and exit 0 as if all was well."""
    import socket

    with socket.socket() as probe:  # a port nothing listens on: the hub is unreachable
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)  # online, but no network answers
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    before = len(entries())
    result = run("refresh", "--endpoint", f"http://127.0.0.1:{port}", "--retries", "1", "--timeout", "2")
    assert result.exit_code == 1, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error: ")]
    assert len(errors) == 1 and "skipped:" not in result.stderr
    sources = len(load_catalog().sources)
    assert f"none of the {sources} catalog sources could be pulled ({sources} sources (" in errors[0]
    assert "ConnectionRefused" in errors[0] and "zoo-rank refresh --offline" in errors[0]
    assert len(entries()) == before


def test_a_body_trickling_a_byte_at_a_time_is_cut_and_the_healthy_repos_are_registered(hub, tmp_path):
    """Before: each byte reset the per-read timeout, so a trickle of 1 byte every 3 s was never cut off and one such
    repo blocked a whole `pull --base-model` (nothing registered)."""
    import time

    hub.fault(r"karangarg/hate-lora/resolve/.*safetensors$", "trickle", 0.2, times=None, method="GET")
    started = time.monotonic()
    result = run("pull", "--base-model", "distilbert-base-uncased", "--json", "--retries", "2", "--timeout", "1")
    took = time.monotonic() - started
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert "dayanidhi/emotion-lora" in {e["name"] for e in report["added"]}
    (failure,) = report["failed"]
    assert failure.startswith("karangarg/hate-lora") and "SlowBody" in failure and "after 2 attempts" in failure
    assert took < 30  # 2 attempts x (1 s + the listed size at 32 KiB/s) + 1 s backoff, and the healthy repos


def test_a_body_longer_than_the_listed_size_is_cut_at_that_size_and_nothing_of_it_kept(hub, tmp_path):
    """Before: the loop read until the server stopped: 3.1 GB written to blobs/*.incomplete for a file listed at
    1,002 bytes."""
    hub.fault(r"dayanidhi/emotion-lora/resolve/.*adapter_config.json$", "endless", times=None, method="GET")
    result = run("pull", "dayanidhi/emotion-lora", "--retries", "1", "--timeout", "5")
    assert result.exit_code == 1
    error = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(error) == 1 and "the server sent more than the" in error[0] and "bytes listed" in error[0]
    cache = tmp_path / "hf-cache"
    written = sum(p.stat().st_size for p in cache.rglob("*") if p.is_file())
    assert written < 2 << 20  # the adapter's own files at most, not the endless body
    assert not [p for p in cache.rglob("*.incomplete") if p.stat().st_size]


def _flip_weights(cache: Path, repo: str) -> Path:
    """Change numbers inside the cached safetensors blob, keeping its size and header: still readable, now wrong."""
    weights = next((cache / f"models--{repo.replace('/', '--')}" / "snapshots").iterdir()) / "adapter_model.safetensors"
    blob = weights.resolve()
    data = bytearray(blob.read_bytes())
    header = 8 + int.from_bytes(data[:8], "little")
    for i in range(header + 64, min(len(data), header + 4096), 4):
        data[i + 3] ^= 0x40  # a float32's exponent bits: the value changes, nothing becomes unreadable
    blob.chmod(0o644)
    blob.write_bytes(bytes(data))
    return blob


def test_a_cache_blob_damaged_on_disk_is_never_registered_and_pull_repairs_it(hub, tmp_path, monkeypatch):
    """Before: `refresh --offline` registered a damaged blob (a score of 0.062 became -0.008) and `pull` answered
    "already registered", leaving it damaged."""
    assert run("pull", "dayanidhi/emotion-lora", "karangarg/hate-lora", *fast()).exit_code == 0
    cache = tmp_path / "hf-cache"
    good = {e.name: e.content_sha256 for e in entries()}
    blob = _flip_weights(cache, "dayanidhi/emotion-lora")
    monkeypatch.setenv("ZOO_RANK_HOME", str(tmp_path / "fresh-home"))
    result = run("refresh", "--offline", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert [e["name"] for e in report["added"]] == ["karangarg/hate-lora"]
    (failure,) = report["failed"]
    assert "emotion-lora" in failure and "adapter_model.safetensors does not match its hash" in failure
    assert "zoo-rank pull dayanidhi/emotion-lora@" in failure
    monkeypatch.setenv("ZOO_RANK_HOME", str(tmp_path / "zoo-home"))  # the registry that has it, from the good bytes
    again = run("pull", "dayanidhi/emotion-lora", "--json", *fast())
    assert again.exit_code == 0, again.output
    assert "did not match its hash; fetched again" in again.stderr
    from zoo_rank.hub.http import file_digest

    assert file_digest(blob, "sha256") == blob.name  # repaired in place
    assert {e.name: e.content_sha256 for e in entries()} == good


def test_fuzzed_hub_answers_pull_cleanly_or_fail_in_one_line(hub, tmp_path):
    """The stand-in hub answers its API routes with seeded mutations of the real documents (other types, huge
    numbers, deep nesting, control characters, missing keys): every pull and search ends in a registration or in
    one line, never a traceback, and the registry keeps only whole entries."""
    import random

    from test_fuzz_inputs import _mutate_json

    rng = random.Random("hub-answers")
    hub.mutate_json = lambda document: _mutate_json(document, rng) if rng.random() < 0.7 else document
    for round_ in range(24):
        args = (["search", "--base-model", "distilbert-base-uncased", "--json"] if round_ % 3 == 0 else
                ["pull", rng.choice(["dayanidhi/emotion-lora", "karangarg/hate-lora", "anhu/metaphor"])])
        result = run(*args, *fast(retries=1, timeout=3))
        assert result.exit_code in (0, 1), (args, result.output)
        assert "Traceback" not in result.output, (args, result.output)
        if result.exit_code == 1:
            errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
            assert len(errors) == 1, (args, result.output)
    hub.mutate_json = None
    assert all(e.source.startswith("hf://") for e in entries())


def test_a_redirect_to_another_host_never_carries_the_token(tmp_path):
    """docs/hub.md: the hub sends LFS files to a CDN on another host; the token stays with the hub.
    Two real HTTP servers: the "hub" on 127.0.0.1 answers 302 to the "CDN" addressed as localhost."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from zoo_rank.hub.http import HubHTTP

    seen: dict[str, dict] = {}

    class Quiet(BaseHTTPRequestHandler):
        def log_message(self, *args) -> None:
            pass

    class CDN(Quiet):
        def do_GET(self) -> None:
            seen["cdn"] = {k.lower(): v for k, v in self.headers.items()}
            self.send_response(200)
            self.send_header("Content-Length", "7")
            self.end_headers()
            self.wfile.write(b"payload")

    cdn = ThreadingHTTPServer(("127.0.0.1", 0), CDN)

    class Hub(Quiet):
        def do_GET(self) -> None:
            seen["hub"] = {k.lower(): v for k, v in self.headers.items()}
            self.send_response(302)
            self.send_header("Location", f"http://localhost:{cdn.server_address[1]}/blob")
            self.send_header("Content-Length", "0")
            self.end_headers()

    hub = ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    for server in (cdn, hub):
        threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = HubHTTP(f"http://127.0.0.1:{hub.server_address[1]}", token="secret-token", timeout=5)
        client.download("/owner/repo/resolve/abc/adapter_model.safetensors", tmp_path / "blob", size=7)
    finally:
        for server in (cdn, hub):
            server.shutdown()
            server.server_close()
    assert (tmp_path / "blob").read_bytes() == b"payload"
    assert seen["hub"]["authorization"] == "Bearer secret-token"
    assert "authorization" not in seen["cdn"]
