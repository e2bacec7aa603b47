"""Seeded fuzzing of the inputs users and third parties write, beside the checkpoint fuzz in test_malformed.py:
data files (CSV, TSV, JSONL, JSON), task folders and catalogs are mutated (bytes, JSON shapes, sizes, names)
and each must read cleanly or fail with zoo-rank's own one-line error: never another exception, never a NaN
label, and never past a time bound. numpy only: the fast tier."""

from __future__ import annotations

import json
import math
import random
import time
from pathlib import Path

import pytest
from synthetic import sentiment_rows, write_csv

from zoo_rank.catalog import CatalogError, load_catalog
from zoo_rank.datasets import load_data
from zoo_rank.errors import ZooRankError

pytestmark = pytest.mark.core

ROUNDS = 60  # per case; each reads a file of a few KB
SECONDS = 20  # the whole case, on a 2-core machine


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
        _check(load_data, path, (ZooRankError,))
    assert time.monotonic() - started < SECONDS


def test_fuzzed_catalogs_read_cleanly_or_fail_in_one_line(tmp_path):
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
