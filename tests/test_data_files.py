"""Data files under abuse, met through the CLI: every bad file is one line naming the file and
line, refused before torch is imported; doubtful but usable files are trained with a warning."""

from __future__ import annotations

import json
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


ROWS = "".join(f"text {i},{'pos' if i % 2 else 'neg'}\n" for i in range(40))

MC = ('{"text": "a", "choices": ["x", "y"], "label": 0}\n'
      '{"text": "b", "choices": ["x", "y"], "label": 1}\n')
QA = ('{"question": "Who?", "context": "Ann came.", "answers": {"text": ["Ann"], "answer_start": [0]}}\n'
      '{"question": "When?", "context": "Ann came.", "answers": {"text": [], "answer_start": []}}\n')

BAD = [  # (file name, content or None for a file that is not there, what its one line says)
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
    # multiple choice and extractive QA (zoo_rank/datasets/records.py)
    ("one-choice.jsonl", MC + '{"text": "c", "choices": ["only"], "label": 0}\n',
     "line 3: 1 choice; a multiple-choice example needs at least 2"),
    ("label-range.jsonl", MC + '{"text": "c", "choices": ["x", "y", "z"], "label": 3}\n',
     "line 3: label 3 is out of range for 3 choices (0 to 2)"),
    ("label-text.jsonl", MC + '{"text": "c", "choices": ["x", "y"], "label": "y"}\n',
     "line 3: the label 'y' is not the index of a choice"),
    ("mixed.jsonl", MC + '{"text": "c", "label": "y"}\n', "line 3 is a text-and-label example in a multiple-choice file"),
    ("not-in-context.jsonl", QA + '{"question": "Where?", "context": "In Rome.", '
     '"answers": {"text": ["Paris"], "answer_start": [3]}}\n', "line 3: the answer 'Paris' is not in its context"),
    ("answers-shape.jsonl", QA + '{"question": "Where?", "context": "In Rome.", "answers": ["Rome"]}\n',
     'line 3: "answers" must be an object with a list "text"'),
]


@pytest.fixture(scope="module")
def refusals(tmp_path_factory) -> dict[str, str]:
    """``zoo-rank --target FILE`` for every file of ``BAD``, one after another in one fresh
    interpreter that never imports torch: {file name: its one stderr line}. (One interpreter for
    all: a fresh one per file cost the fast tier half a second each.)"""
    folder = tmp_path_factory.mktemp("bad")
    paths = [str(_write(folder, name, content) if content is not None else folder / name) for name, content, _ in BAD]
    probe = ("import contextlib, io, json, sys\n"
             "from zoo_rank.cli import main\n"
             "said = {}\n"
             "for path in sys.argv[1:]:\n"
             "    sys.argv, err = ['zoo-rank', '--target', path], io.StringIO()\n"
             "    with contextlib.redirect_stderr(err):\n"
             "        try:\n            main()\n            code = 0\n"
             "        except SystemExit as exit:\n            code = exit.code\n"
             "    said[path] = [code, err.getvalue()]\n"
             "assert 'torch' not in sys.modules, 'torch was imported'\n"
             "print(json.dumps(said))\n")
    result = subprocess.run([sys.executable, "-c", probe, *paths], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = {}
    for path, (code, stderr) in json.loads(result.stdout).items():
        assert code == 1, (path, code, stderr)
        (line,) = stderr.strip().splitlines()
        assert path in line
        lines[Path(path).name] = line
    return lines


@pytest.mark.parametrize("name, content, expected", BAD)
def test_bad_data_files_are_one_line_before_torch(refusals, name, content, expected):
    assert expected in refusals[name]


def test_utf16_hint_names_utf16_not_latin1(refusals):
    assert "iconv -f UTF-16" in refusals["utf16.csv"] and "latin1" not in refusals["utf16.csv"]


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


def _rows_file(tmp_path: Path, name: str, rows: list[tuple]) -> Path:
    import csv

    path = tmp_path / name
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "text_pair", "label"][: len(rows[0])] if len(rows[0]) == 3 else ["text", "label"])
        writer.writerows(rows)
    return path


@pytest.mark.parametrize("labels", ["classes", "numbers"])
def test_a_data_file_is_checked_without_holding_its_texts_and_gives_what_memory_gives(tmp_path, labels):
    """`--target big.csv` streams the file (#35): the checked file holds its labels, not its texts,
    and its samples, content hashes, warnings and label reading are exactly those of the file
    read into memory."""
    import random

    from zoo_rank.datasets import DataFile, load_data

    rng = random.Random(0)
    rows = [(f"text {rng.randrange(400)} \"quoted\"\nline é", f"pair {i % 7}",
             rng.choice(["pos", "neg", "neu"]) if labels == "classes" else f"{rng.random() * 5:.2f}")
            for i in range(3000)]
    path = _rows_file(tmp_path, "big.csv", rows)
    streamed, held = load_data(path), read_table(path)
    assert isinstance(streamed, DataFile)
    for n, seed in ((1000, 0), (37, 5), (2999, 1)):
        mine, theirs = streamed.sample(n, seed), held.sample(n, seed)
        assert (mine.texts, mine.pairs, mine.labels) == (theirs.texts, theirs.pairs, theirs.labels)
    assert (streamed.sha256(), streamed.examples_sha256()) == (held.sha256(), held.examples_sha256())
    assert streamed.warnings == held.warnings and streamed.label_reading() == held.label_reading()
    assert (len(streamed), streamed.task_type, streamed.label_names) == (len(held), held.task_type, held.label_names)
    if labels == "classes":
        assert any("repeat an earlier text with a different label" in w for w in streamed.warnings)
    assert "_loaded" not in vars(streamed)  # no step above held every text


def test_a_file_changed_between_two_reads_is_refused_in_one_line(tmp_path):
    from zoo_rank.datasets import load_data
    from zoo_rank.errors import DataError

    path = _rows_file(tmp_path, "d.csv", [(f"t{i}", "ab"[i % 2]) for i in range(100)])
    data = load_data(path)
    with path.open("a") as handle:
        handle.write("late row,a\n")
    with pytest.raises(DataError, match="changed since it was read"):
        data.sample(10)


def test_more_distinct_labels_than_a_classifier_has_are_numbers_or_one_line(tmp_path, monkeypatch):
    """Labels are pooled while they are few; past the pool's cap they are read as numbers (a
    regression file of 10⁷ distinct scores costs 8 bytes a row), or refused when they are not."""
    from zoo_rank.datasets import collect, load_data
    from zoo_rank.errors import DataError

    monkeypatch.setattr(collect, "POOL_CAP", 50)
    scores = _rows_file(tmp_path, "s.csv", [(f"t{i}", f"{i * 0.5}") for i in range(200)])
    data = load_data(scores)
    assert data.task_type == "regression" and data.labels == [i * 0.5 for i in range(200)]
    assert data.label_reading().startswith("labels read as numbers (regression, 0 to 99.5)")
    words = _rows_file(tmp_path, "w.csv", [(f"t{i}", f"word{i}") for i in range(200)])
    with pytest.raises(DataError, match="distinct labels"):
        load_data(words)
    late = _rows_file(tmp_path, "late.csv", [(f"t{i}", f"{i}.5") for i in range(200)] + [("x", "oops")])
    with pytest.raises(DataError, match=r"over 50 distinct labels, and 'oops' at row 202 is not a number"):
        load_data(late)
    with pytest.raises(DataError, match="label 'oops' at row 202 is not a number, but the task is regression"):
        load_data(late, task_type="regression")


def test_json_true_is_not_the_class_1(tmp_path):
    """Before: a JSON `true` label was pooled with `1` (they are equal in Python) and read as 1."""
    from zoo_rank.datasets import load_data

    path = tmp_path / "b.jsonl"
    path.write_text("".join(f'{{"text": "t{i}", "label": {["true", "1", "0"][i % 3]}}}\n' for i in range(30)))
    assert load_data(path).label_names == ["0", "1", "True"]


@pytest.mark.parametrize("document, expected", [
    ('[{"text": "a", "label": "x"},]', "is not valid JSON (Expecting value at line 1)"),
    ('[{"text": "a", "label": "x"}', "is not valid JSON (the array is never closed)"),
    ('[{"text": "a", "label": "x"}] [', "is not valid JSON (extra data after the array at line 1)"),
    ('{"text": "a", "label": "x"}', "must hold a JSON array of objects"),
    ('[{"text": "a", "label": "x"}, 3]', "must hold a JSON array of objects"),
    ('[\n{"text": "a", "label": "x"},\n{"text": "' + "b" * 300 + '", "label": "y"}]', "an item at line 3 is over"),
    ("[" * 5000, "nested too deeply"),
])
def test_a_json_array_is_streamed_and_its_faults_are_one_line(tmp_path, monkeypatch, document, expected):
    from zoo_rank import jsontext
    from zoo_rank.datasets import load_data
    from zoo_rank.errors import DataError

    monkeypatch.setattr(jsontext, "MAX_ITEM", 200)
    path = _write(tmp_path, "d.json", document)
    with pytest.raises(DataError) as error:
        load_data(path)
    assert expected in str(error.value) and "\n" not in str(error.value)


def test_a_json_array_read_in_small_chunks_is_the_array():
    """Items, numbers and escapes cut at any chunk boundary read as json.loads reads the whole."""
    import io
    import json

    from zoo_rank.jsontext import array_items

    items = [{"text": f"t{i} \"é\" \\ \u2028", "label": 10 ** i + 0.5, "n": [i, {"x": None}]} for i in range(12)]
    text = json.dumps(items, indent=1, ensure_ascii=False)
    for chunk in (1, 2, 3, 7, 64, 1 << 20):
        assert [value for _, value in array_items(io.StringIO(text), chunk=chunk)] == items
    lines = [line for line, _ in array_items(io.StringIO(text), chunk=5)]
    assert lines == [text.count("\n", 0, at) + 1 for at in _starts(text)]


def _starts(text: str) -> list[int]:
    """Where each top-level item of an indented array starts."""
    depth, starts = 0, []
    for at, char in enumerate(text):
        if char in "[{":
            if depth == 1 and char == "{":
                starts.append(at)
            depth += 1
        elif char in "]}":
            depth -= 1
    return starts
