"""Training data: the user's files (CSV, TSV, JSONL), task folders, and the built-in tasks.

    >>> from zoo_rank.datasets import load_data
    >>> load_data("reviews.csv", label_column="stars")     # a file
    >>> load_data("hedge", split="train")                   # a built-in task
"""

from __future__ import annotations

from pathlib import Path

from ..assets import ASSETS, DEFAULT_MODEL_ASSET, Asset
from ..errors import DataError, ZooRankError
from .base import TASK_TYPES, Dataset, build_dataset
from .builtin import SPLITS, TASKS, BuiltinTask, BuiltinTasks, load_builtin
from .collect import RECORD_TYPES
from .records import to_record
from .files import SUFFIXES, DataFile, read_table, scan_table
from .taskdir import TaskCollection, TaskFolder, is_task_folder

__all__ = ["Dataset", "BuiltinTask", "TASKS", "TASK_TYPES", "SPLITS", "build_dataset", "load_builtin", "load_data",
           "read_table", "scan_table", "DataFile", "is_data_spec", "BuiltinTasks", "TaskCollection", "TaskFolder", "is_task_folder", "task_source",
           "describe_tasks", "to_csv", "export_text", "needed_assets"]


def task_source(tasks_dir: str | Path | None = None, home: str | Path | None = None):
    """The tasks a benchmark draws from: the folders under ``tasks_dir``, else the built-in tasks."""
    return TaskCollection(tasks_dir) if tasks_dir is not None else BuiltinTasks(home)


def is_data_spec(spec: str | Path, tasks_dir: str | Path | None = None) -> bool:
    """Whether ``spec`` names training data (a data file, a task folder, a task of ``tasks_dir`` or a
    built-in task) rather than a checkpoint."""
    path = Path(spec)
    if path.is_dir():
        return is_task_folder(path)
    if path.exists():
        return path.suffix.lower() in SUFFIXES and path.is_file()
    return str(spec) in TASKS or (tasks_dir is not None and str(spec) in TaskCollection(tasks_dir))


def load_data(spec: str | Path, *, split: str = "all", home: str | Path | None = None,
              tasks_dir: str | Path | None = None, **columns) -> Dataset | DataFile:
    """A data file (``**columns``: text_column, pair_column, label_column, task_type, name), a task
    folder (``<dir>/{train,validation}.jsonl``), a task of the collection ``tasks_dir``, or a built-in task."""
    path = Path(spec)
    if path.is_dir() and is_task_folder(path):
        return TaskFolder(path).load(split)
    if path.exists():
        return scan_table(path, **columns)  # streamed: the examples trained on are read again, not held
    if tasks_dir is not None:
        collection = TaskCollection(tasks_dir)
        if str(spec) in collection:
            return collection.load(str(spec), split)
    if str(spec) in TASKS:
        return load_builtin(str(spec), split=split, home=home)
    from ..builtin_registry import shipped_cards

    card = shipped_cards().get(str(spec))
    if card is not None:
        raise DataError(spec, "is built in from a task collection whose data does not ship "
                              f"(from {card.get('provenance', 'not stated')})",
                        hint="pass --tasks-dir with the folder of that collection (e.g. ../shared/tasks)")
    raise DataError(spec, "is neither a data file, a task folder nor a built-in task" +
                    (f" or a task in {tasks_dir}" if tasks_dir else ""),
                    hint="give a .csv/.tsv/.jsonl path or a task folder, or run `zoo-rank datasets` for the task names")


def describe_tasks(tasks_dir: str | Path | None = None, home: str | Path | None = None) -> tuple[str, list[dict]]:
    """What `zoo-rank datasets` lists: a title and, per task, its card and whether its data is here.

    A ``tasks_dir`` is read and checked in full, so a bad file is named now rather than mid-benchmark.
    """
    if tasks_dir:
        collection = TaskCollection(tasks_dir)
        rows = [{**collection[name].describe(), "available": True} for name in collection.names()]
        missing = f" (no data: {', '.join(collection.missing)})" if collection.missing else ""
        return f"{len(rows)} tasks in {tasks_dir}{missing}", rows
    from ..assets import locate
    from ..builtin_registry import shipped_cards

    rows = [{**t.to_dict(), "available": all(locate(ASSETS[a], home) is not None for a in t.assets)}
            for t in TASKS.values()]
    cards = shipped_cards()
    rows += [{**card, "source": card.get("provenance", "not stated"), "available": False, "collection": True}
             for card in cards.values()]
    said = f" and {len(cards)} from a task collection (embeddings only; --tasks-dir reads their data)" if cards else ""
    return f"{len(rows) - len(cards)} built-in tasks (`zoo-rank fetch` downloads their data){said}", rows


def export_text(data: Dataset) -> str:
    """A dataset as the text `zoo-rank datasets export` writes: CSV for text-and-label tasks, JSON
    lines of the records zoo-rank reads for multiple-choice and extractive-QA tasks."""
    if data.task_type not in RECORD_TYPES:
        return to_csv(data)
    import json

    return "".join(json.dumps(to_record(data, i), ensure_ascii=False) + "\n" for i in range(len(data)))


def to_csv(data: Dataset) -> str:
    """A dataset as CSV text (text[, text_pair], label): what `zoo-rank datasets export` writes."""
    import csv
    import io

    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["text", "text_pair", "label"] if data.pairs else ["text", "label"])
    for i, (text, label) in enumerate(zip(data.texts, data.labels)):
        writer.writerow([text, data.pairs[i], label] if data.pairs else [text, label])
    return buffer.getvalue()


def needed_assets(items: list[str] | tuple[str, ...] = ()) -> list[Asset]:
    """What `zoo-rank fetch ITEMS` downloads: ``model`` (the default base model), built-in task
    names (with every archive their data is read from) or asset names; everything for none."""
    wanted: dict[str, None] = {}
    for item in items or ["model", *TASKS]:
        if item == "model":
            wanted[DEFAULT_MODEL_ASSET] = None
        elif item in TASKS:
            wanted.update(dict.fromkeys(TASKS[item].assets))
        elif item in ASSETS:
            wanted[item] = None
        else:
            raise ZooRankError(f"unknown {item!r}: use `model`, a built-in task (`zoo-rank datasets`) or one of "
                               f"{', '.join(ASSETS)}")
    return [ASSETS[name] for name in wanted]
