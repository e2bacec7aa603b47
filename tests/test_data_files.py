"""Data files under abuse, met through the CLI: every bad file is one line naming the file and
line, refused before torch is imported; doubtful but usable files are trained with a warning."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from zoo_rank.cli import cli
from zoo_rank.datasets import read_table

pytestmark = pytest.mark.core  # numpy-only: the fast tier


def _write(tmp_path: Path, name: str, content: bytes | str) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def _refusal(path: Path, *args: str) -> str:
    """``zoo-rank --target PATH`` in a fresh interpreter: (the one stderr line); torch never imported."""
    probe = ("import sys, runpy\n"
             "sys.argv = ['zoo-rank', '--target', sys.argv[1], *sys.argv[2:]]\n"
             "try:\n    runpy.run_module('zoo_rank.cli', run_name='__main__')\n"
             "except SystemExit as exit:\n"
             "    assert 'torch' not in sys.modules, 'torch was imported'\n    raise\n")
    result = subprocess.run([sys.executable, "-c", probe, str(path), *args], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 1, (result.returncode, result.stderr)
    (line,) = result.stderr.strip().splitlines()
    assert str(path) in line
    return line


ROWS = "".join(f"text {i},{'pos' if i % 2 else 'neg'}\n" for i in range(40))


@pytest.mark.parametrize("name, content, expected", [
    ("nan.csv", "text,label\n" + ROWS + "bad,NaN\n", "label 'NaN' at row 42 is not a finite number"),
    ("inf.csv", "text,label\n" + "".join(f"t{i},{i * 0.5}\n" for i in range(30)) + "x,inf\n",
     "label 'inf' at row 32 is not a finite number"),
    ("list.jsonl", '{"text": "a", "label": "x"}\n{"text": ["b", "c"], "label": "y"}\n',
     "line 2: the text is a JSON array"),
    ("dict.jsonl", '{"text": "a", "label": "x"}\n{"text": "b", "label": {"y": 1}}\n',
     "line 2: the label is a JSON object"),
    ("dup.csv", "text,label,label\na,x,y\nb,y,x\n", "line 1 names the column 'label' twice"),
    ("utf16.csv", "text,label\nä,x\nb,y\n".encode("utf-16"), "is UTF-16"),
    ("utf16-nobom.csv", "text,label\nab,x\nbc,y\n".encode("utf-16-le"), "looks like UTF-16 without a byte-order mark"),
    ("latin1.csv", "text,label\ncaf\xe9,a\nok,b\n".encode("latin-1"), "not UTF-8 (byte 0xe9 on line 2)"),
    ("missing.csv", None, "not found"),
])
def test_bad_data_files_are_one_line_before_torch(tmp_path, name, content, expected):
    path = _write(tmp_path, name, content) if content is not None else tmp_path / name
    assert expected in _refusal(path)


def test_utf16_hint_names_utf16_not_latin1(tmp_path):
    line = _refusal(_write(tmp_path, "u.csv", "text,label\nä,x\nb,y\n".encode("utf-16")))
    assert "iconv -f UTF-16" in line and "latin1" not in line


def test_a_long_field_is_a_document_not_a_quoting_problem(tmp_path):
    long = "word " * 40_000  # 200 KB in one field: csv's default limit is 128 KB
    path = _write(tmp_path, "long.csv", f'text,label\n"{long}",a\nshort,b\n')
    data = read_table(path)
    assert len(data.texts[0]) == len(long) and data.labels == ["a", "b"]


def test_an_unclosed_quote_is_named_with_its_line(tmp_path):
    path = _write(tmp_path, "quote.csv", 'text,label\nok,a\n"never closed,b\n' + "more,a\n" * 10)
    data_or_error = CliRunner().invoke(cli, ["train", str(path)])
    assert data_or_error.exit_code == 1
    (line,) = data_or_error.output.strip().splitlines()
    assert str(path) in line and ("line 3" in line or "no label" in line)


def test_tiny_and_contradictory_data_are_said_out_loud(tmp_path):
    rows = "".join(f"same text {i % 5},{'a' if i < 10 else 'b'}\n" for i in range(20))
    data = read_table(_write(tmp_path, "odd.csv", "text,label\n" + rows))
    said = " | ".join(data.warnings)
    assert "only 20 examples" in said
    assert "10 row(s) repeat an earlier text with a different label (first: rows 2 and 12)" in said


def test_stream_reading_gives_the_same_dataset_as_before(tmp_path):
    """The streaming reader keeps only the chosen columns; the examples, their order, labels
    and content hash are what reading the whole file gives (checked against csv.DictReader)."""
    import csv

    lines = ["id,review,stars,extra"] + [f'{i},"line {i}, with ""quotes""\nand a newline",{i % 3},junk{i}'
                                          for i in range(300)]
    path = _write(tmp_path, "r.csv", "\n".join(lines) + "\n")
    data = read_table(path, text_column="review", label_column="stars")
    with path.open(newline="") as handle:
        expected = [(r["review"], r["stars"]) for r in csv.DictReader(handle)]
    assert list(zip(data.texts, data.labels)) == expected
    assert data.task_type == "classification" and data.label_names == ["0", "1", "2"]


@pytest.mark.core
def test_how_labels_were_read_is_said_with_the_option_that_reads_them_the_other_way(tmp_path):
    """Before: nothing said whether a column of 1-5 stars became five classes or a score."""
    from synthetic import write_csv
    from zoo_rank.datasets import load_data

    stars = write_csv(tmp_path / "stars.csv", [{"text": f"review {i}", "label": str(i % 5 + 1)} for i in range(40)])
    assert load_data(stars).label_reading() == ("labels read as 5 classes (1, 2, 3, 4, 5); --task-type regression "
                                                "reads them as numbers")
    scores = write_csv(tmp_path / "scores.csv", [{"text": f"review {i}", "label": i / 10} for i in range(40)])
    assert load_data(scores).label_reading() == ("labels read as numbers (regression, 0 to 3.9); --task-type "
                                                 "classification reads them as classes")
    words = write_csv(tmp_path / "words.csv", [{"text": f"review {i}", "label": "ab"[i % 2]} for i in range(40)])
    assert load_data(words).label_reading() == "labels read as 2 classes (a, b)"


@pytest.mark.core
def test_numeric_class_labels_are_one_class_per_value_in_every_format(tmp_path):
    """Before: CSV labels `1` and `1.0` became two classes (JSONL merged them)."""
    import json

    from synthetic import write_csv
    from zoo_rank.datasets import load_data

    values = ["1", "1.0", "2", "2.00", "3"] * 8
    csv = load_data(write_csv(tmp_path / "l.csv", [{"text": f"t{i}", "label": v} for i, v in enumerate(values)]),
                    task_type="classification")
    jsonl = tmp_path / "l.jsonl"
    jsonl.write_text("".join(json.dumps({"text": f"t{i}", "label": float(v) if "." in v else int(v)}) + "\n"
                             for i, v in enumerate(values)))
    lines = load_data(jsonl, task_type="classification")
    assert csv.label_names == lines.label_names == ["1", "2", "3"]
    assert csv.labels == lines.labels and csv.sha256() == lines.sha256()
    mixed = load_data(write_csv(tmp_path / "m.csv", [{"text": f"t{i}", "label": v} for i, v in
                                                     enumerate(["1", "one", "2.0"] * 10)]))
    assert mixed.label_names == ["1", "2.0", "one"]  # not all numbers: the labels are text, kept as written
