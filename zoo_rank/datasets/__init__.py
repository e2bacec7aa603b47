"""Training data: the user's files (CSV, TSV, JSONL) and the built-in tasks.

    >>> from zoo_rank.datasets import load_data
    >>> load_data("reviews.csv", label_column="stars")     # a file
    >>> load_data("hedge", split="train")                   # a built-in task
"""

from __future__ import annotations

from pathlib import Path

from ..errors import DataError
from .base import TASK_TYPES, Dataset, build_dataset
from .builtin import SPLITS, TASKS, BuiltinTask, BuiltinTasks, load_builtin
from .files import SUFFIXES, read_table
from .taskdir import TaskCollection, TaskFolder, is_task_folder

__all__ = ["Dataset", "BuiltinTask", "TASKS", "TASK_TYPES", "SPLITS", "build_dataset", "load_builtin", "load_data",
           "read_table", "is_data_spec", "BuiltinTasks", "TaskCollection", "TaskFolder", "is_task_folder", "task_source"]


def task_source(tasks_dir: str | Path | None = None, home: str | Path | None = None):
    """The tasks a benchmark draws from: the folders under ``tasks_dir``, else the built-in tasks."""
    return TaskCollection(tasks_dir) if tasks_dir is not None else BuiltinTasks(home)


def is_data_spec(spec: str | Path) -> bool:
    """Whether ``spec`` names training data (a data file or a built-in task) rather than a checkpoint."""
    path = Path(spec)
    return (path.suffix.lower() in SUFFIXES and path.is_file()) or (not path.exists() and str(spec) in TASKS)


def load_data(spec: str | Path, *, split: str = "all", home: str | Path | None = None, **columns) -> Dataset:
    """A data file (``**columns``: text_column, pair_column, label_column, task_type, name) or a built-in task."""
    path = Path(spec)
    if path.exists():
        return read_table(path, **columns)
    if str(spec) in TASKS:
        return load_builtin(str(spec), split=split, home=home)
    raise DataError(spec, "is neither a data file nor a built-in task",
                    hint="give a .csv/.tsv/.jsonl path, or run `zoo-rank datasets` for the built-in names")
