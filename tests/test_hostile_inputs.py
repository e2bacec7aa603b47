"""Inputs that once gave a traceback or a misleading line (issue 35): each is now one line that names
the file or setting and says what to do, with a non-zero exit, or simply works. numpy only: the fast tier."""

from __future__ import annotations

import json
import re
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import registry_state
from synthetic import sentiment_rows, write_csv

from zoo_rank.cli import cli

pytestmark = pytest.mark.core


def run(*args, env: dict | None = None):
    return CliRunner(env=env).invoke(cli, ["--no-builtin", *map(str, args)])


def one_line(result, *expected: str) -> str:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


def _bitfit(folder, seed: int = 0) -> Path:
    from zoo_rank.readers.bitfit import save_bitfit

    rng = np.random.default_rng(seed)
    deltas = {f"bert.encoder.layer.{layer}.{module}.bias": rng.normal(0, 0.01, 8).astype(np.float32)
              for layer in range(2) for module in ("attention.self.query", "output.dense")}
    save_bitfit(folder, deltas, base_model="zoo-rank/tiny-bert")
    return Path(folder)


def test_adding_a_weight_file_adds_its_checkpoint_folder(tmp_path, zoo_home):
    """Before: `add path/adapter_model.safetensors` ended in a ValueError traceback (relative_to)."""
    folder = _bitfit(tmp_path / "my-adapter")
    result = run("add", folder / "bitfit_model.safetensors")
    assert result.exit_code == 0, result.output
    assert "added my-adapter (bitfit" in result.output


def test_a_folder_name_that_is_not_utf8_is_skipped_alone_by_keep_going(tmp_path, zoo_home):
    """Before: a UnicodeEncodeError traceback that aborted the whole `add --keep-going` batch."""
    _bitfit(tmp_path / "good", 1)
    bad = os.fsdecode(os.fsencode(str(tmp_path)) + b"/bad\xff")
    _bitfit(Path(bad), 2)
    result = run("add", tmp_path, "--keep-going")
    assert result.exit_code == 0, result.output
    assert "added good" in result.output and "bad\\xff: has a name that is not valid UTF-8" in result.output
    assert "Traceback" not in result.output


def test_a_path_longer_than_the_file_system_takes_is_one_line(tmp_path, zoo_home):
    long = tmp_path / ("a" * 5000)
    line = one_line(run("add", long), "cannot be read (File name too long)")
    assert len(line) < 600  # the path is shortened, not printed whole
    one_line(run("--target", f"{long}.csv"), "File name too long")


@pytest.mark.parametrize("name, content", [
    ("deep.jsonl", '{"text": "a", "label": ' + "[" * 100_000 + "]" * 100_000 + "}\n"),
    ("deep.json", "[" + "[" * 100_000 + "]" * 100_000 + "]"),
    ("digits.jsonl", '{"text": "a", "label": 1}\n{"text": "b", "label": ' + "9" * 5000 + "}\n"),
])
def test_json_nested_too_deep_or_with_huge_integers_is_one_line(tmp_path, zoo_home, name, content):
    """Before: RecursionError and "Exceeds the limit (4300 digits)" tracebacks."""
    path = tmp_path / name
    path.write_text(content)
    expected = "holds a number too long to read" if "digits" in name else "nested too deeply"
    one_line(run("--target", path), f"{name}: ", "is not valid JSON", expected)
    task = tmp_path / "task"
    task.mkdir()
    if name.endswith(".jsonl"):
        (task / "train.jsonl").write_text(content)
        (task / "validation.jsonl").write_text('{"text": "a", "label": "x"}\n')
        one_line(run("--target", task), "train.jsonl", expected)


def test_a_catalog_nested_too_deep_or_with_a_bool_size_is_one_line_that_says_what_is_wrong(tmp_path):
    deep = tmp_path / "deep.json"
    deep.write_text('{"schema_version": 1, "sources": ' + "[" * 100_000 + "]" * 100_000 + "}")
    one_line(run("catalog", deep), "deep.json: is not valid JSON (nested too deeply")
    document = json.loads((Path(__file__).parents[1] / "registry.json").read_text(encoding="utf-8"))
    document["sources"][0]["train_size"] = True
    boolean = tmp_path / "bool.json"
    boolean.write_text(json.dumps(document))
    # before: "train_size must be a string or null"
    one_line(run("catalog", boolean), "train_size must be an integer or null (got bool True)")


def test_a_quote_that_is_never_closed_is_named_not_taken_for_a_missing_label(tmp_path, zoo_home):
    """Before: "1 row(s) have no label" for a CSV whose quote swallowed the rest of the file."""
    path = tmp_path / "quote.csv"
    path.write_text('text,label\nfine,a\n"unclosed,b\nmore,a\nrest,b\n')
    one_line(run("--target", path), "quote.csv: a quote on line 3 is never closed", "Close the quote")
    ok = write_csv(tmp_path / "ok.csv", [{"text": 'multi\nline "quoted" text', "label": "a"}] + sentiment_rows(20))
    from zoo_rank.datasets import load_data

    assert load_data(ok).texts[0] == 'multi\nline "quoted" text'  # a closed quote may span lines


def test_a_bad_cache_size_setting_is_one_line_naming_it(tmp_path, zoo_home):
    _bitfit(tmp_path / "a", 1)
    _bitfit(tmp_path / "b", 2)
    assert run("add", tmp_path / "a", tmp_path / "b").exit_code == 0
    one_line(run("--target", "a", "--embedder", "invariant", env={"ZOO_RANK_CACHE_F32_MAX": "abc"}),
             "ZOO_RANK_CACHE_F32_MAX='abc' is not a number of bytes")


def test_a_schema_version_reset_to_zero_is_said_as_such_not_as_read_only(tmp_path, zoo_home):
    _bitfit(tmp_path / "a", 1)
    assert run("add", tmp_path / "a").exit_code == 0
    with sqlite3.connect(zoo_home / "registry.db") as db:
        db.execute("PRAGMA user_version = 0")
    before = registry_state(zoo_home)
    line = one_line(run("list"), "registry.db: holds zoo-rank's tables but says schema version 0",
                    "Restore registry.db")
    assert "read-only" not in line and registry_state(zoo_home) == before


def _cli(*args, **popen) -> subprocess.CompletedProcess:
    code = "import sys; from zoo_rank.cli import main; sys.argv = ['zoo-rank', *sys.argv[1:]]; main()"
    streams = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **popen}
    return subprocess.run([sys.executable, "-c", code, "--no-builtin", *map(str, args)], timeout=120, **streams)


def test_output_the_terminal_cannot_encode_or_cannot_take_is_no_traceback(tmp_path, zoo_home):
    """Before: PYTHONIOENCODING=ascii crashed on the table's "–"; stdout at /dev/full ended in a traceback."""
    _bitfit(tmp_path / "a", 1)
    assert run("add", tmp_path / "a").exit_code == 0
    env = {**os.environ, "ZOO_RANK_HOME": str(zoo_home), "PYTHONIOENCODING": "ascii"}
    ascii_only = _cli("list", env=env)
    assert ascii_only.returncode == 0 and b"\\u2013" in ascii_only.stdout, ascii_only.stderr
    with open(os.devnull if not Path("/dev/full").exists() else "/dev/full", "w") as full:
        done = _cli("list", stdout=full, stderr=subprocess.PIPE, env={**env, "PYTHONIOENCODING": "utf-8"})
    if Path("/dev/full").exists():
        assert done.returncode == 1 and b"Traceback" not in done.stderr
        assert done.stderr.decode().strip() == "Error: cannot write the output (No space left on device)"


def test_a_hub_that_answers_something_else_than_json_is_said_to_be_no_hub(tmp_path, monkeypatch):
    """Before: "the hub answered HTTP 200" (and nothing about what it answered)."""
    import http.server
    import threading

    import huggingface_hub.constants

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the http.server name
            body = b"<html>a login page</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    try:
        result = run("search", "--base-model", "bert-base-uncased", "--endpoint",
                     f"http://127.0.0.1:{server.server_address[1]}", "--retries", "1")
    finally:
        server.shutdown()
    line = one_line(result, "answered with something that is not JSON (text/html", "HF_ENDPOINT")
    assert "answered HTTP 200" not in line


def test_a_bin_that_would_inflate_far_past_its_size_is_refused_before_torch_reads_it(tmp_path, zoo_home):
    """Before: a 1 MB deflate-bombed adapter_model.bin peaked at 2.27 GB."""
    import zipfile

    folder = tmp_path / "bomb"
    folder.mkdir()
    (folder / "adapter_config.json").write_text(json.dumps({
        "peft_type": "LORA", "r": 4, "lora_alpha": 8, "target_modules": ["query"],
        "base_model_name_or_path": "zoo-rank/tiny-bert"}))
    with zipfile.ZipFile(folder / "adapter_model.bin", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        with archive.open("archive/data/0", "w", force_zip64=True) as member:
            zeros = bytes(1 << 20)
            for _ in range(256):  # 256 MiB of zeros: a few hundred KB on disk
                member.write(zeros)
    assert (folder / "adapter_model.bin").stat().st_size < 2 << 20
    one_line(run("add", folder), "adapter_model.bin: would inflate to 0.2 GiB from", "no adapter written by torch")


def test_each_way_json_fails_is_named_for_what_it_is():
    """JSON bytes that are not UTF-8 were once said to hold "a number too long to read" (UnicodeDecodeError is a
    ValueError, like the 4,300-digit refusal)."""
    from zoo_rank.jsontext import JSONProblem, parse

    for text, said in ((b'{"a": "\xff"}', "not UTF-8 text (byte b'\\xff' at 7)"), ("[1,", "Expecting value"),
                       ("[" * 100_000, "nested too deeply"), ("9" * 5000, "holds a number too long to read")):
        with pytest.raises(JSONProblem, match=re.escape(said)):
            parse(text)
