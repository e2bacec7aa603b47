"""Malformed checkpoints from the wild: every probe is one line naming the file, through the
CLI where a user meets it, and a seeded fuzz run over real peft/adapters/zoo-rank checkpoints
finds no traceback."""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from zoo_rank.cli import cli
from zoo_rank.errors import ZooRankError
from zoo_rank.jobs import embed_checkpoint


def _header(path: Path) -> tuple[dict, bytes]:
    data = path.read_bytes()
    size = int.from_bytes(data[:8], "little")
    return json.loads(data[8 : 8 + size]), data[8 + size :]


def _write_header(path: Path, header: dict, body: bytes) -> None:
    encoded = json.dumps(header).encode()
    path.write_bytes(len(encoded).to_bytes(8, "little") + encoded + body)


def _edit_config(folder: Path, change) -> None:
    config_path = folder / "adapter_config.json"
    config = json.loads(config_path.read_text())
    change(config)
    config_path.write_text(json.dumps(config))


def _first_lora_a(header: dict) -> str:
    return next(k for k in header if k.endswith("lora_A.weight"))


def _shape(value):
    def change(folder: Path) -> None:
        path = folder / "adapter_model.safetensors"
        header, body = _header(path)
        header[_first_lora_a(header)]["shape"] = value
        _write_header(path, header, body)
    return change


def _empty_huge(folder: Path) -> None:
    path = folder / "adapter_model.safetensors"
    header, body = _header(path)
    header[_first_lora_a(header)].update(shape=[2**32, 2**32], data_offsets=[0, 0])
    _write_header(path, header, body)


def _overlap(folder: Path) -> None:
    path = folder / "adapter_model.safetensors"
    header, body = _header(path)
    names = sorted((k for k in header if k != "__metadata__"), key=lambda k: header[k]["data_offsets"][0])
    first, second = header[names[0]], header[names[1]]
    if first["shape"] == second["shape"]:  # same size: point the second tensor at the first one's bytes
        second["data_offsets"] = list(first["data_offsets"])
    else:
        second["data_offsets"] = [first["data_offsets"][0], first["data_offsets"][0] + int(np.prod(second["shape"])) * 4]
    _write_header(path, header, body)


def _deep_header(folder: Path) -> None:
    path = folder / "adapter_model.safetensors"
    nested = ("[" * 200_000 + "]" * 200_000).encode()
    path.write_bytes(len(nested).to_bytes(8, "little") + nested)


def _zero_d(folder: Path) -> None:
    path = folder / "adapter_model.safetensors"
    header, body = _header(path)
    entry = header[_first_lora_a(header)]
    entry.update(shape=[], data_offsets=[entry["data_offsets"][0], entry["data_offsets"][0] + 4])
    _write_header(path, header, body)


def _rank_zero(folder: Path) -> None:
    path = folder / "adapter_model.safetensors"
    header, body = _header(path)
    for name in [k for k in header if "lora_" in k]:
        shape = header[name]["shape"]
        header[name].update(shape=[0, shape[1]] if "lora_A" in name else [shape[0], 0],
                            data_offsets=[header[name]["data_offsets"][0]] * 2)
    _write_header(path, header, body)


def _set(key, value):
    return lambda folder: _edit_config(folder, lambda c: c.__setitem__(key, value))


def _deep_config(folder: Path) -> None:
    (folder / "adapter_config.json").write_text('{"peft_type": "LORA", "x": ' + "[" * 200_000 + "]" * 200_000 + "}")


LORA_PROBES = {
    "negative shape": (_shape([-1, -1]), "negative dimension"),
    "2^32 x 2^32 in 0 bytes": (_empty_huge, "size does not match"),
    "overlapping offsets": (_overlap, "overlap"),
    "200k-deep header": (_deep_header, "nested too deeply"),
    "0-d lora_A": (_zero_d, "shape []"),
    "rank 0": (_rank_zero, "non-empty"),
    "lora_alpha 'sixteen'": (_set("lora_alpha", "sixteen"), "lora_alpha 'sixteen'"),
    "negative lora_alpha": (_set("lora_alpha", -16), "lora_alpha -16"),
    "nan lora_alpha": (_set("lora_alpha", float("nan")), "lora_alpha nan"),
    "alpha_pattern bad regex": (_set("alpha_pattern", {"q_lin(": 8}), "not a regular expression"),
    "alpha_pattern list": (_set("alpha_pattern", ["q_lin", 4]), "alpha_pattern of type list"),
    "deep config": (_deep_config, "adapter_config.json"),
}
PREFIX_PROBES = {f"num_layers {v!r}": (_set("num_layers", v), "num_layers") for v in (0, "six", -6)}


def _run_add(folder: Path):
    return CliRunner().invoke(cli, ["add", str(folder), "--name", "probe"])


def _assert_one_line(result, folder: Path, expected: str) -> None:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), result.exception
    (line,) = result.output.strip().splitlines()
    assert str(folder) in line and expected in line, line


@pytest.mark.parametrize("probe", sorted(LORA_PROBES))
def test_malformed_lora_is_one_line_through_add(zoo, checkpoint_copy, zoo_home, probe):
    from conftest import registry_state

    folder = checkpoint_copy(zoo["peft-lora"])
    breakage, expected = LORA_PROBES[probe]
    breakage(folder)
    before = registry_state(zoo_home)
    _assert_one_line(_run_add(folder), folder, expected)
    assert registry_state(zoo_home) == before


@pytest.mark.parametrize("probe", sorted(PREFIX_PROBES))
def test_malformed_prefix_is_one_line_through_add(zoo, checkpoint_copy, probe):
    folder = checkpoint_copy(zoo["peft-prefix"])
    breakage, expected = PREFIX_PROBES[probe]
    breakage(folder)
    _assert_one_line(_run_add(folder), folder, expected)


def test_a_negative_alpha_never_flips_the_embedding(zoo, checkpoint_copy):
    """Before: -16 was read as a scale of -2, negating the LoRA update and so the embedding."""
    folder = checkpoint_copy(zoo["peft-lora"])
    _set("lora_alpha", -8)(folder)
    with pytest.raises(ZooRankError, match="positive number"):
        embed_checkpoint(str(folder))


# --- fuzzing -----------------------------------------------------------------------------

_HOSTILE = [-1, 0, 1, 2**63, -(2**63), 1.5, float("inf"), float("nan"), "", "x", "F32", None, True, [], {}, [1],
            [[1]], {"a": 1}, "(", "[a-", 1e308]


def _mutate_header(folder: Path, rng: random.Random) -> str:
    path = next((p for p in folder.iterdir() if p.suffix == ".safetensors"), None)
    if path is None:  # a pickled checkpoint (AdapterHub writes .bin): break its config instead
        return _mutate_config(folder, rng)
    header, body = _header(path)
    names = [k for k in header if k != "__metadata__"]
    name = rng.choice(names)
    action = rng.randrange(5)
    if action == 0:
        field = rng.choice(["dtype", "shape", "data_offsets"])
        header[name][field] = rng.choice(_HOSTILE)
    elif action == 1:
        dims = header[name]["shape"]
        dims[rng.randrange(len(dims))] = rng.choice([0, -1, 1, 3, 2**31, 2**40])
    elif action == 2:
        start, end = header[name]["data_offsets"]
        header[name]["data_offsets"] = [start + rng.randint(-64, 64), end + rng.randint(-64, 64)]
    elif action == 3:
        other = rng.choice(names)
        header[name]["data_offsets"], header[other]["data_offsets"] = header[other]["data_offsets"], header[name]["data_offsets"]
    else:
        header[name]["dtype"] = rng.choice(["F16", "BF16", "I8", "U8", "BOOL", "F64", "I64", "C64"])
    _write_header(path, header, body)
    if rng.random() < 0.1:  # and sometimes a torn download on top
        data = path.read_bytes()
        path.write_bytes(data[: rng.randrange(len(data))])
    return f"header {name} action {action}"


def _leaves(value, trail=()):
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _leaves(item, trail + (key,))
    yield trail


def _mutate_config(folder: Path, rng: random.Random) -> str:
    config_path = folder / ("bitfit_config.json" if (folder / "bitfit_config.json").exists() else "adapter_config.json")
    config = json.loads(config_path.read_text())
    trail = rng.choice([t for t in _leaves(config) if t])
    parent = config
    for key in trail[:-1]:
        parent = parent[key]
    parent[trail[-1]] = rng.choice(_HOSTILE)
    config_path.write_text(json.dumps(config))
    return f"config {'.'.join(map(str, trail))}"


FUZZ_CASES = ["peft-lora", "peft-lora-rslora", "peft-prefix", "peft-ia3", "peft-prompt", "bitfit", "ah-lora",
              "ah-seq-bn", "ah-prefix"]


@pytest.mark.parametrize("case", FUZZ_CASES)
def test_fuzzed_checkpoints_read_cleanly_or_fail_in_one_line(zoo, checkpoint_copy, case):
    """Seeded mutations of real checkpoints' headers and configs, about 4 s per format."""
    if case not in zoo:
        pytest.skip(f"{case} needs the adapters library")
    rng = random.Random(f"fuzz-{case}")
    deadline, tried, refused = time.monotonic() + 4.0, 0, 0
    while time.monotonic() < deadline and tried < 400:
        folder = checkpoint_copy(zoo[case], name=f"fuzz{tried}")
        what = _mutate_header(folder, rng) if rng.random() < 0.6 else _mutate_config(folder, rng)
        tried += 1
        try:
            embed_checkpoint(str(folder))
        except ZooRankError as exc:  # anything else fails the test with its traceback
            refused += 1
            assert "\n" not in str(exc), (what, str(exc))
            assert str(folder) in str(exc), (what, str(exc))
    assert tried >= 20 and refused > 0, (tried, refused)
