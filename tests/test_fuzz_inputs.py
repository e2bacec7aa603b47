"""Seeded fuzzing of the inputs users and third parties write, beside the checkpoint fuzz in test_malformed.py:
data files (CSV, TSV, JSONL, JSON), task folders and catalogs are mutated (bytes, JSON shapes, sizes, names)
and each must read cleanly or fail with zoo-rank's own one-line error: never another exception, never a NaN
label, never past a time bound, and never over a memory cap: each case runs in a fresh interpreter whose
peak RSS is read from /proc. Beside it, the memory a large data file costs. numpy only, but an interpreter
per case (~15 s in all): the full tier, not the fast one."""

from __future__ import annotations

import json
import math
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from synthetic import sentiment_rows, write_csv

from zoo_rank.catalog import CatalogError, load_catalog
from zoo_rank.datasets import load_data
from zoo_rank.errors import ZooRankError

ROUNDS = 60  # per case; each reads a file of a few KB
SECONDS = 20  # the whole case, on a 2-core machine
RSS_CAP_MIB = 150  # the whole case's interpreter; reading the 4 MB round's file whole would not pass a smaller one
INFLATED = 4 << 20  # round 0 grows the clean file to this size


def _in_fresh_process(case: str, *args) -> None:
    """Run ``case(*args)`` of this module in a new interpreter: its failure is the test's, and its
    peak RSS (VmHWM, the process's own high-water mark since exec) must stay under the cap."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import test_fuzz_inputs as fuzz; "
            f"fuzz.{case}(*sys.argv[2:]); print(open('/proc/self/status').read())")
    result = subprocess.run([sys.executable, "-c", code, str(Path(__file__).parent), *map(str, args)],
                            capture_output=True, text=True, timeout=SECONDS * 6, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    peak = re.search(r"VmHWM:\s+(\d+) kB", result.stdout)
    if peak is not None:  # Linux; elsewhere the time and output checks stand alone
        assert int(peak.group(1)) >> 10 < RSS_CAP_MIB, f"{case}{args}: peak RSS {int(peak.group(1)) >> 10} MiB"


def _mutate_bytes(data: bytes, rng: random.Random) -> bytes:
    """One of: flip bytes, cut, duplicate a slice, insert hostile bytes (NUL, quotes, ESC, invalid UTF-8)."""
    data = bytearray(data)
    kind = rng.randrange(5)
    if kind == 0 and data:
        for _ in range(rng.randint(1, 8)):
            data[rng.randrange(len(data))] = rng.randrange(256)
    elif kind == 1 and data:
        del data[rng.randrange(len(data)):]
    elif kind == 2 and data:
        start = rng.randrange(len(data))
        data[start:start] = data[start : start + rng.randint(1, 200)] * rng.randint(1, 50)
    elif kind == 3:
        at = rng.randrange(len(data) + 1)
        data[at:at] = rng.choice([b"\x00", b'"', b'""', b"\x1b[2J", b"\xff\xfe", b"\r", b"\t", b",,,", b"\n\n"])
    else:
        at = rng.randrange(len(data) + 1)
        data[at:at] = rng.choice([b"NaN", b"1e309", b"-inf", b"9" * 5000, b"[" * 3000, b"{}", b"null", b"true"])
    return bytes(data)


def _mutate_json(value, rng: random.Random):
    """Replace one value somewhere in a JSON document by another type, a huge number or a deep nesting."""
    replacements = [None, True, 1.5, -1, 10**30, "", "x" * 10_000, [], {}, [[[]]], float("nan"), "\x1b]0;t\x07"]
    if isinstance(value, dict) and value and rng.random() < 0.8:
        key = rng.choice(list(value))
        return {**value, key: _mutate_json(value[key], rng)}
    if isinstance(value, list) and value and rng.random() < 0.8:
        i = rng.randrange(len(value))
        return value[:i] + [_mutate_json(value[i], rng)] + value[i + 1:]
    return rng.choice(replacements)


def _check(load, path: Path, error_types: tuple[type, ...]) -> None:
    try:
        data = load(path)
    except error_types as exc:
        message = str(exc)
        assert message and "\n" not in message and "Traceback" not in message, message
        return
    labels = getattr(data, "labels", None)
    if labels and isinstance(labels[0], float):
        assert all(math.isfinite(x) for x in labels), path  # a NaN label is never read as data


@pytest.mark.parametrize("kind", ["csv", "tsv", "jsonl", "json"])
def test_fuzzed_data_files_read_cleanly_or_fail_in_one_line(tmp_path, kind):
    _in_fresh_process("fuzz_data_files", kind, tmp_path)


def fuzz_data_files(kind: str, folder: str) -> None:
    tmp_path = Path(folder)
    rng = random.Random(f"data-{kind}")
    rows = sentiment_rows(40, seed=1) + [{"text": 'a "quoted", text\nover lines', "label": "pos"}]
    source = tmp_path / f"source.{kind}"
    if kind in ("csv", "tsv"):
        write_csv(source, rows, delimiter="," if kind == "csv" else "\t")
    elif kind == "jsonl":
        source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    else:
        source.write_text(json.dumps(rows))
    started = time.monotonic()
    for round_ in range(ROUNDS):
        path = tmp_path / f"case{round_}.{kind}"
        if kind in ("jsonl", "json") and rng.random() < 0.5:
            document = [_mutate_json(r, rng) if rng.random() < 0.2 else r for r in rows]
            lines = "".join(json.dumps(r) + "\n" for r in document)
            path.write_text(lines if kind == "jsonl" else json.dumps(document))
        else:
            path.write_bytes(_mutate_bytes(source.read_bytes(), rng))
        if round_ == 0:  # the clean file grown large: memory must follow the labels, not the bytes
            path.write_bytes(source.read_bytes())
            _inflate(path, kind)
        _check(load_data, path, (ZooRankError,))
    assert time.monotonic() - started < SECONDS


def _inflate(path: Path, kind: str) -> None:
    """The file's rows repeated (with a new text each) until it is ``INFLATED`` bytes."""
    text = path.read_text(encoding="utf-8", errors="replace")
    lines = text.splitlines(keepends=True)
    if kind == "json":
        try:
            rows = json.loads(text)
        except (ValueError, RecursionError):
            rows = None
        if isinstance(rows, list) and rows and all(isinstance(r, dict) for r in rows):
            copies = INFLATED // len(json.dumps(rows)) + 1
            path.write_text(json.dumps([{**r, "text": f"{r.get('text')} {i}"} for i in range(copies) for r in rows]))
        return
    body = "".join(lines[1:] if kind in ("csv", "tsv") else lines) or "x\n"
    with path.open("a", encoding="utf-8") as handle:
        for i in range(INFLATED // len(body) + 1):
            handle.write(body.replace("\n", f" {i}\n", 1))


def test_fuzzed_catalogs_read_cleanly_or_fail_in_one_line(tmp_path):
    _in_fresh_process("fuzz_catalogs", tmp_path)


def fuzz_catalogs(folder: str) -> None:
    tmp_path = Path(folder)
    rng = random.Random("catalog")
    source = Path(__file__).parents[1] / "registry.json"
    document = json.loads(source.read_text(encoding="utf-8"))
    started = time.monotonic()
    for round_ in range(ROUNDS):
        path = tmp_path / f"catalog{round_}.json"
        if rng.random() < 0.5:
            path.write_text(json.dumps(_mutate_json(document, rng)))
        else:
            path.write_bytes(_mutate_bytes(source.read_bytes(), rng))
        _check(load_catalog, path, (CatalogError,))
    assert time.monotonic() - started < SECONDS


def test_memory_follows_the_labels_not_the_file(tmp_path):
    """#35: a data target is read, checked, hashed and sampled in memory that grows by bytes per
    row, not by the row: 400,000 short rows (8 MB) add under 40 MiB (reading them whole added
    ~65 MiB; a 200 MB file took 1.7 GB). Peak from /proc (VmHWM) in a fresh interpreter."""
    if not Path("/proc/self/status").exists():
        pytest.skip("reads the peak from /proc")
    path = tmp_path / "short.csv"
    with path.open("w") as handle:
        handle.write("text,label\n")
        handle.writelines(f"w{i % 5003} w{i % 7919} w{i},{'ab'[i % 2]}\n" for i in range(400_000))
    probe = ("import re, sys\n"
             "from zoo_rank.datasets import load_data\n"
             "def peak():\n"
             "    return int(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)) >> 10\n"
             "before = peak()\n"
             "data = load_data(sys.argv[1]); data.sha256(); sample = data.sample(1000, seed=0)\n"
             "assert len(data) == 400_000 and len(sample) == 1000\n"
             "print(peak() - before)\n")
    result = subprocess.run([sys.executable, "-c", probe, str(path)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert int(result.stdout) < 40, f"reading 400,000 rows added {result.stdout.strip()} MiB"
