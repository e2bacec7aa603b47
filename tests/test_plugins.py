"""Plugins from another installed package, found through the one entry-point group and hook
specification (real ``importlib.metadata`` discovery of a distribution on sys.path, in a fresh
process). The well-behaved plugin is docs/extending.md's own example, read from the page."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.core

DOCS = Path(__file__).parents[1] / "docs" / "extending.md"

BADPLUG = '''
from types import SimpleNamespace

from toyplug import name_length, scale_view
from zoo_rank.families import Family


def register_readers(register):
    register(SimpleNamespace(format="broken"))  # not a ReaderSpec


def register_predictors(register):
    register("random", name_length)  # zoo-rank's own name


def register_families(register):
    register(Family("lora2", ("lora",), scale_view))  # LoRA checkpoints are the lora family's


def register_embedders(register):
    raise RuntimeError("this hook is broken")


def register_adapters(register):  # no such hook: said, never called
    raise AssertionError
'''


def docs_example() -> tuple[str, dict[str, str]]:
    """The example plugin of docs/extending.md: its module and its entry points."""
    text = DOCS.read_text(encoding="utf-8")
    (module,) = re.findall(r"```python\n# toyplug/__init__.py\n(.*?)```", text, re.S)
    (toml,) = re.findall(r"```toml\n(\[project\.entry-points\.zoo_rank\].*?)```", text, re.S)
    return module, tomllib.loads(toml)["project"]["entry-points"]["zoo_rank"]


@pytest.fixture
def installed(tmp_path) -> dict:
    module, points = docs_example()
    site = tmp_path / "site"
    for package, code, entry_points in (
            ("toyplug", module, "".join(f"{k} = {v}\n" for k, v in points.items())),
            ("badplug", BADPLUG, "badplug = badplug\nghost = ghostplug_not_installed\n")):
        (site / package).mkdir(parents=True)
        (site / package / "__init__.py").write_text(textwrap.dedent(code))
        info = site / f"{package}-0.1.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {package}\nVersion: 0.1\n")
        (info / "entry_points.txt").write_text(f"[zoo_rank]\n{entry_points}")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]),
            "ZOO_RANK_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}


def _toy_checkpoint(folder: Path, seed: int, method: str | None = None) -> Path:
    from safetensors.numpy import save_file

    folder.mkdir(parents=True)
    rng = np.random.default_rng(seed)
    save_file({f"encoder.layer.{i}.attention.self.value": (1 + rng.normal(0, 0.1, 16)).astype(np.float32)
               for i in range(2)}, str(folder / "toy.safetensors"))
    config = {"toy": True, "base_model": "some/model", **({"method": method} if method else {})}
    (folder / "toy_config.json").write_text(json.dumps(config))
    return folder


def _zoo_rank(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from zoo_rank.cli import main; main()", "--no-builtin", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_a_plugin_package_adds_a_reader_and_an_embedder_and_a_broken_one_is_one_line(installed, tmp_path):
    first, second = _toy_checkpoint(tmp_path / "a", 0), _toy_checkpoint(tmp_path / "b", 1)
    added = _zoo_rank(installed, "add", str(first), str(second), "--json")
    assert added.returncode == 0, added.stderr
    entries = json.loads(added.stdout)["added"]
    assert [e["format"] for e in entries] == ["toy", "toy"]
    assert any("|mean-v1|" in space for space in entries[0]["spaces"])  # the plugin embedder ran on add
    ranked = _zoo_rank(installed, "--target", entries[0]["name"], "--embedder", "mean", "--json")
    assert ranked.returncode == 0, ranked.stderr
    assert [c["name"] for c in json.loads(ranked.stdout)] == [entries[1]["name"]]
    skipped = [line for line in added.stderr.splitlines() if "skipped plugin 'broken'" in line]  # once; add went on
    assert len(skipped) == 1 and "ReaderSpec" in skipped[0] and "Traceback" not in added.stderr
    assert sum("skipped plugin 'ghost'" in line for line in added.stderr.splitlines()) == 1  # does not import
    assert sum("register_adapters" in line for line in added.stderr.splitlines()) == 1  # no such hook: said


def test_without_the_plugin_the_format_is_not_read(tmp_path):
    folder = _toy_checkpoint(tmp_path / "a", 0)
    env = {**os.environ, "ZOO_RANK_HOME": str(tmp_path / "home"), "HF_HUB_OFFLINE": "1"}
    result = _zoo_rank(env, "add", str(folder))
    assert result.returncode == 1 and "no adapter_config.json or bitfit_config.json" in result.stderr


def test_a_plugin_package_adds_a_predictor_and_an_executor(installed, tmp_path):
    """`bench predict --methods name-length` runs the plugin's predictor and `evaluate` scores it; a
    plugin that takes the name of one of zoo-rank's own predictors is refused in one line;
    `--executor inline` is a choice of every command that takes --executor."""
    from zoo_rank.evaluation.transfer import Run

    tasks = ("ab", "c", "dddd")
    runs = [Run(0, t, None, 50.0, "accuracy", 8, 8, 0.0, {"settings": {}}) for t in tasks]
    runs += [Run(0, t, s, 50.0 + len(s), "accuracy", 8, 8, 0.0, {"settings": {}})  # longer names transfer better
             for s in tasks for t in tasks if s != t]
    gains = tmp_path / "runs.jsonl"
    gains.write_text("".join(r.to_json() + "\n" for r in runs))
    out = tmp_path / "predictions.json"
    predicted = _zoo_rank(installed, "bench", "predict", "--gains", str(gains), "--out", str(out), "--work",
                          str(tmp_path / "work"), "--methods", "name-length,random")
    assert predicted.returncode == 0, predicted.stderr
    assert "name-length: scored" in predicted.stderr
    refused = [line for line in predicted.stderr.splitlines() if "skipped plugin 'random'" in line]
    assert len(refused) == 1 and "zoo-rank's own" in refused[0]
    evaluated = _zoo_rank(installed, "evaluate", "--gains", str(gains), "--predictions", str(out), "--json")
    assert evaluated.returncode == 0, evaluated.stderr
    rows = {row["method"]: row for row in json.loads(evaluated.stdout)["methods"]}
    assert rows["Name length"]["rho"] == 1.0 and rows["Random"]["rho"] == 1.5  # perfect vs the expectation

    added = _zoo_rank(installed, "add", str(_toy_checkpoint(tmp_path / "a", 0)), "--executor", "inline", "--json")
    assert added.returncode == 0, added.stderr
    assert [e["format"] for e in json.loads(added.stdout)["added"]] == ["toy"]
    unknown = _zoo_rank(installed, "add", str(tmp_path / "a"), "--executor", "nope")
    assert unknown.returncode == 2 and "inline" in unknown.stderr  # listed among the choices


def test_a_plugin_package_adds_an_index_backend_that_picks_the_shortlist(installed, tmp_path):
    """`--index even-ids` shortlists through the plugin; the ranker still scores exactly."""
    folders = [str(_toy_checkpoint(tmp_path / f"c{i}", i)) for i in range(5)]
    added = _zoo_rank(installed, "add", *folders, "--json")
    assert added.returncode == 0, added.stderr
    ids = {e["name"]: e["id"] for e in json.loads(added.stdout)["added"]}
    target = next(name for name, i in ids.items() if i % 2 == 1)
    every = _zoo_rank(installed, "--target", target, "--embedder", "mean", "--json", "--top", "0")
    shortlisted = _zoo_rank(installed, "--target", target, "--embedder", "mean", "--json", "--top", "2",
                            "--index", "even-ids")
    assert shortlisted.returncode == 0, shortlisted.stderr
    exact = {c["name"]: c["score"] for c in json.loads(every.stdout)}
    chosen = json.loads(shortlisted.stdout)
    assert {c["name"] for c in chosen} == {n for n, i in ids.items() if i % 2 == 0}
    assert all(c["score"] == exact[c["name"]] for c in chosen)  # re-scored exactly, not the backend's numbers


def test_a_plugin_package_adds_a_method_family_with_its_own_space(installed, tmp_path):
    """A reader plugin's new method and a family plugin that claims it: its checkpoints get an
    invariant embedding through the family's view, in a space of their own; a family that
    claims a method zoo-rank's own family holds is refused in one line."""
    folders = [str(_toy_checkpoint(tmp_path / f"s{i}", i, method="toy_scale")) for i in range(3)]
    added = _zoo_rank(installed, "add", *folders, "--json")
    assert added.returncode == 0, added.stderr
    entries = json.loads(added.stdout)["added"]
    assert {e["method"] for e in entries} == {"toy_scale"}
    assert all(any("|toyscale|invariant" in space for space in e["spaces"]) for e in entries)
    refused = [line for line in added.stderr.splitlines() if "skipped plugin 'lora2'" in line]
    assert len(refused) == 1 and "belongs to the family 'lora'" in refused[0]
    ranked = _zoo_rank(installed, "--target", entries[0]["name"], "--json")
    assert ranked.returncode == 0, ranked.stderr
    assert sorted(c["name"] for c in json.loads(ranked.stdout)) == sorted(e["name"] for e in entries[1:])

    plain = _toy_checkpoint(tmp_path / "ia3", 9)  # the toy reader's default method stays IA3's
    again = _zoo_rank(installed, "add", str(plain), "--json")
    assert any("|ia3|invariant" in space for space in json.loads(again.stdout)["added"][0]["spaces"])


def test_zoo_rank_plugins_lists_what_loaded_from_where_and_what_was_skipped(installed):
    """#36: one inventory of every kind of plugin, with the package each comes from."""
    listed = _zoo_rank(installed, "plugins", "--json")
    assert listed.returncode == 0, listed.stderr
    rows = {(r["kind"], r["name"]): r for r in json.loads(listed.stdout)}
    assert len(rows) == len(json.loads(listed.stdout)) - 1  # once each, but the refused `random` beside its own
    for kind, name in (("embedders", "mean"), ("readers", "toy"), ("families", "toyscale"),
                       ("predictors", "name-length"), ("executors", "inline"), ("index backends", "even-ids")):
        assert rows[kind, name]["from"] == "toyplug 0.1" and rows[kind, name]["skipped"] is None, (kind, name)
    for kind, name, why in (("readers", "broken", "ReaderSpec"), ("predictors", "random", "zoo-rank's own"),
                            ("families", "lora2", "belongs to the family 'lora'"),
                            ("embedders", "badplug", "this hook is broken"),
                            ("plugin packages", "ghost", "ghostplug_not_installed")):
        assert rows[kind, name]["from"] == "badplug 0.1" and why in rows[kind, name]["skipped"], (kind, name)
    for kind, name in (("embedders", "invariant"), ("readers", "peft"), ("families", "lora"), ("predictors", "random"),
                       ("executors", "ray"), ("index backends", "faiss-ivf")):
        assert any(r["kind"] == kind and r["name"] == name and r["from"] == "zoo-rank"
                   for r in json.loads(listed.stdout)), (kind, name)
    table = _zoo_rank(installed, "plugins")
    assert table.returncode == 0 and "6 plugins from installed packages, 5 skipped" in table.stdout
    assert "badplug 0.1: skipped" in table.stdout


def test_the_installed_packages_are_scanned_once_a_process(installed):
    """The CLI's options ask for executors, embedders and index backends (and `plugins` for all
    six kinds): each used to scan every installed distribution's metadata again."""
    probe = ("import importlib.metadata as metadata, sys\n"
             "calls = []\n"
             "original = metadata.distributions\n"
             "metadata.distributions = lambda *a, **k: calls.append(1) or original(*a, **k)\n"
             "from zoo_rank.cli import main\n"
             "sys.argv = ['zoo-rank', *sys.argv[1:]]\n"
             "try:\n    main()\n"
             "except SystemExit:\n    pass\n"
             "print('scans', len(calls), file=sys.stderr)\n")
    for args in (["--help"], ["plugins", "--json"]):
        result = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, env=installed,
                                timeout=120, check=False)
        assert result.stderr.strip().splitlines()[-1] == "scans 1", (args, result.stderr[-2000:])
