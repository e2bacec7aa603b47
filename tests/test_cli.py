"""The command line: bad input gets one line and changes nothing; --help and ranking never import torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from conftest import registry_state
from zoo_rank.cli import cli
from zoo_rank.readers.tensorfile import load_safetensors


def run(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result


def _write_safetensors(folder, transform):
    from safetensors.numpy import save_file

    path = folder / "adapter_model.safetensors"
    tensors = load_safetensors(path).tensors
    save_file({k: np.ascontiguousarray(transform(k, v)) for k, v in tensors.items()}, str(path))


class Boom:
    """Unpickling this would create a marker file: proof of code execution."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (pathlib.Path(self.marker),))


def _break(case, folder, tmp_path):
    weights = folder / "adapter_model.safetensors"
    config = folder / "adapter_config.json"
    if case == "truncated":
        weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    elif case == "zero-byte":
        weights.write_bytes(b"")
    elif case == "lfs-pointer":
        weights.write_text("version https://git-lfs.github.com/spec/v1\noid sha256:" + "0" * 64 + "\nsize 123\n")
    elif case == "pickle-non-tensor":
        weights.unlink()
        torch.save({"base_model.model.x.lora_A.weight": "not a tensor"}, folder / "adapter_model.bin")
    elif case == "pickle-code":
        weights.unlink()
        torch.save({"x": Boom(tmp_path / "PWNED")}, folder / "adapter_model.bin")
    elif case == "nan":
        _write_safetensors(folder, lambda k, v: np.full_like(v, np.nan) if "lora_B" in k else v)
    elif case == "inf":
        _write_safetensors(folder, lambda k, v: np.where(np.arange(v.size).reshape(v.shape) == 0, np.inf, v)
                           if "lora_A" in k else v)
    elif case == "unknown-peft-type":
        config.write_text(json.dumps({**json.loads(config.read_text()), "peft_type": "SUPER_LORA"}))
    elif case == "config-not-json":
        config.write_text("{ this is not json")
    elif case == "config-missing-fields":
        data = json.loads(config.read_text())
        del data["lora_alpha"]
        config.write_text(json.dumps(data))
    elif case == "weights-without-config":
        config.unlink()
    elif case == "empty-directory":
        for f in folder.iterdir():
            f.unlink()
    return folder


BAD_INPUTS = {
    "truncated": "truncated", "zero-byte": "empty", "lfs-pointer": "Git LFS pointer",
    "pickle-non-tensor": "not a tensor", "pickle-code": "never unpickles", "nan": "NaN or infinite",
    "inf": "NaN or infinite", "unknown-peft-type": "SUPER_LORA", "config-not-json": "not valid JSON",
    "config-missing-fields": "misses lora_alpha", "weights-without-config": "no adapter_config.json",
    "empty-directory": "holds no adapter checkpoint",
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gets_one_line_and_changes_nothing(case, zoo, zoo_home, checkpoint_copy, tmp_path):
    assert run("add", zoo["bitfit"]).exit_code == 0
    before = registry_state(zoo_home)
    broken = _break(case, checkpoint_copy(zoo["peft-lora"], f"broken-{case}"), tmp_path)
    result = run("add", broken)
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    assert str(broken) in lines[0] and BAD_INPUTS[case] in lines[0]
    assert registry_state(zoo_home) == before
    assert not (tmp_path / "PWNED").exists()
    # the same broken folder as a ranking target fails the same way
    target = run("--target", broken)
    assert target.exit_code == 1 and BAD_INPUTS[case] in target.stderr


@pytest.mark.adapters
def test_adapterhub_config_missing_fields(zoo, checkpoint_copy):
    folder = checkpoint_copy(zoo["ah-lora"])
    data = json.loads((folder / "adapter_config.json").read_text())
    data["config"].pop("alpha")
    (folder / "adapter_config.json").write_text(json.dumps(data))
    result = run("add", folder)
    assert result.exit_code == 1 and "misses config.alpha" in result.stderr


def test_keep_going_adds_the_good_and_reports_the_bad(zoo, checkpoint_copy, tmp_path):
    broken = _break("nan", checkpoint_copy(zoo["peft-lora"], "bad"), tmp_path)
    result = run("add", "--keep-going", zoo["bitfit"], broken)
    assert result.exit_code == 0 and "skipped:" in result.stderr and "NaN" in result.stderr
    assert [e["name"] for e in json.loads(run("list", "--json").stdout)] == ["bitfit"]


def test_debug_shows_the_traceback(zoo, checkpoint_copy, tmp_path):
    broken = _break("zero-byte", checkpoint_copy(zoo["peft-lora"]), tmp_path)
    result = run("--debug", "add", broken)
    assert result.exit_code == 1 and result.exception is not None and "CheckpointError" in repr(result.exception)


def test_a_target_whose_space_has_no_candidates(zoo):
    run("add", zoo["bitfit"])
    result = run("--target", "bitfit")
    assert result.exit_code == 1 and "no candidates" in result.stderr and "bitfit" in result.stderr


def test_realzoo_is_added_and_ranked(realzoo):
    result = run("add", realzoo)
    assert result.exit_code == 0, result.output
    names = [e["name"] for e in json.loads(run("list", "--json").stdout)]
    assert len(names) == 8
    for name in names:
        ranked = run("--target", name, "--json")
        if name in ("gpt2_cls_thesotti", "ah_mbert_metaphor_anhu2410"):  # alone in their spaces
            assert ranked.exit_code == 1 and "no candidates" in ranked.stderr
            continue
        items = json.loads(ranked.stdout)
        assert ranked.exit_code == 0 and items and all({"name", "score"} <= set(i) for i in items)
        assert name not in [i["name"] for i in items]
        assert [i["score"] for i in items] == sorted((i["score"] for i in items), reverse=True)
    same_base = {i["name"] for i in json.loads(run("--target", "roberta_agnews_subro608", "--json").stdout)}
    assert same_base == {"roberta_agnews_fzinnah17"}


def test_list_show_remove_spaces(zoo):
    run("add", "--task", "sentiment", "--task-type", "classification", "--train-size", "1000", zoo["bitfit"])
    shown = json.loads(run("show", "bitfit", "--json").stdout)
    assert shown["task"] == "sentiment" and shown["train_size"] == 1000 and len(shown["content_sha256"]) == 64
    spaces = json.loads(run("spaces", "--json").stdout)
    assert {s["embedder"] for s in spaces} == {"invariant", "tupate"} and all(s["vectors"] == 1 for s in spaces)
    table = run("spaces")  # the layout hash is shown as text, not eaten as rich markup ("[b0a5…]")
    layouts = {s["layout"] for s in spaces if s["layout"]}
    assert layouts and all(f"[{layout}]" in table.stdout for layout in layouts)
    assert run("remove", "bitfit").exit_code == 0
    assert json.loads(run("list", "--json").stdout) == []
    missing = run("remove", "bitfit")
    assert missing.exit_code == 1 and "no entry named 'bitfit'" in missing.stderr


PROBE = (
    "import sys\n"
    "from zoo_rank.cli import cli\n"
    "try:\n"
    "    cli.main(sys.argv[1:], prog_name='zoo-rank', standalone_mode=False)\n"
    "finally:\n"
    "    print('TORCH-IMPORTED' if 'torch' in sys.modules else 'NO-TORCH', file=sys.stderr)\n"
)


@pytest.mark.parametrize("args", [["--help"], ["--target", "peft-lora", "--json"], ["--target", "{path}"], ["list"]])
def test_help_and_ranking_never_import_torch(args, zoo, zoo_home):
    run("add", zoo["peft-lora"], zoo["peft-ia3"], zoo["peft-lora-rslora"])
    args = [a.replace("{path}", str(zoo["peft-lora"])) for a in args]
    env = {**os.environ, "ZOO_RANK_HOME": str(zoo_home)}
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().endswith("NO-TORCH")


QUIET_PROBE = (
    "import os, sys, warnings\n"
    "from zoo_rank.cli import cli\n"
    "try:\n"
    "    cli.main(sys.argv[1:], prog_name='zoo-rank', standalone_mode=False)\n"
    "except Exception:\n"
    "    pass\n"
    "ignored = any(f[0] == 'ignore' and f[2] is Warning and f[1] is None for f in warnings.filters)\n"
    "print(os.environ.get('TRANSFORMERS_VERBOSITY', '-'), ignored, file=sys.stderr)\n"
)


@pytest.mark.parametrize("line, quiet", [("--target T", True), ("--debug --target T", False),
                                         ("--target T --debug", False)])
def test_debug_anywhere_on_the_line_leaves_the_libraries_talking(line, quiet, tmp_path):
    """The CLI silences torch/transformers/hub chatter unless --debug is given, whether before the
    options of the default command or after them (read once the group has already silenced)."""
    args = [str(tmp_path / "nowhere.csv") if a == "T" else a for a in line.split()]
    env = {k: v for k, v in os.environ.items() if k not in ("TRANSFORMERS_VERBOSITY", "PYTHONWARNINGS")}
    env["ZOO_RANK_HOME"] = str(tmp_path / "home")
    done = subprocess.run([sys.executable, "-c", QUIET_PROBE, "--no-builtin", *args], capture_output=True, text=True,
                          env=env, timeout=120)
    verbosity, ignored = done.stderr.strip().splitlines()[-1].split()
    assert (verbosity == "error", ignored == "True") == (quiet, quiet), done.stderr


def test_a_missing_or_unreadable_target_says_what_is_wrong(tmp_path):
    missing = run("--target", tmp_path / "nowhere.csv")
    assert missing.exit_code == 1 and "nowhere.csv: not found" in missing.stderr
    text = tmp_path / "notes.txt"
    text.write_text("some words\n")
    unsupported = run("--target", text)
    assert unsupported.exit_code == 1 and ".txt is not a data file zoo-rank reads" in unsupported.stderr
    assert "adapter_config" not in unsupported.stderr  # not mistaken for a checkpoint folder


def test_show_a_task_lists_its_entries(zoo):
    run("add", "--task", "sentiment", zoo["bitfit"], zoo["peft-lora"])
    shown = run("show", "sentiment", "--json")
    assert shown.exit_code == 0, shown.output
    assert sorted(e["name"] for e in json.loads(shown.stdout)) == ["bitfit", "peft-lora"]
    assert run("show", "no-such-task").exit_code == 1


def test_refresh_offline_of_an_empty_cache_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    result = run("refresh", "--offline")
    assert result.exit_code == 0 and f"0 adapters found in {tmp_path / 'empty-cache'}" in result.stderr


def test_task_types_agree_between_add_help_the_catalog_and_its_docs():
    """Before: `add --help` offered "pair-classification", which the catalog refuses."""
    import re
    from pathlib import Path

    from zoo_rank.catalog import TASK_TYPES

    helped = " ".join(run("add", "--help").output.split())
    offered = re.search(r"--task-type \[([^\]]+)\]", helped).group(1).split("|")
    row = next(line for line in (Path(__file__).parents[1] / "docs" / "catalog.md").read_text().splitlines()
               if line.startswith("| `task_type` |"))
    assert offered == list(TASK_TYPES) == re.findall(r"`([a-z-]+)`", row.split("|")[3])
    assert run("add", ".", "--task-type", "pair-classification").exit_code == 2


def test_catalog_table_keeps_methods_out_of_the_revision_column():
    result = run("catalog")
    assert result.exit_code == 0, result.output
    header = next(line for line in result.output.splitlines() if "revision" in line)
    cells = [c.strip() for c in header.strip("┃│ ").split("┃")]
    assert cells[-2:] == ["methods", "revision"]
    for line in result.output.splitlines():
        if "builtin:" in line:
            row = [c.strip() for c in line.strip("│ ").split("│")]
            assert row[-2] == "bitfit,lora,prefix" and row[-1] == "shipped", row
