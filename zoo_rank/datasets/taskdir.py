"""Task folders: a directory of ``<task>/{train,validation}.jsonl`` used like the built-in tasks.

This is how benchmark collections travel (GLUE-style tasks exported one folder each): every
line is ``{"text": ..., "text_pair": ... (pair tasks only), "label": ...}``; string labels
are classes, numeric labels follow the rule of data files (fractional or more than 20 distinct
values: regression), and an optional ``SOURCE.json`` records provenance and may set
``task_type``, ``metric`` (accuracy, f1, mcc, pearson, spearman) and ``positive_label``.
``train.jsonl`` is the training split; ``validation.jsonl`` is the held-out split that a task
is scored on (the ``test`` split, in the words of the built-in tasks). A folder with
``validation.jsonl`` only (a task whose official training split could not be had) is split in
two by a hash of each example: half trains (``carved``), half stays held out; ``describe()`` and
the split's info say so.

The files are checked whole before anything trains, and each problem is one line that names
the file and the line: a long benchmark must not die in its fourth hour on a stray label.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain
from pathlib import Path

from ..jsontext import JSONProblem, parse
from ..errors import DataError
from .base import Dataset, build_dataset
from .collect import EXTRACTIVE_QA, RECORD_TYPES, choice_counts
from .records import read_records, record_type
from .records import join as join_records
from .scoring import METRICS, default_metric, positive_label

TRAIN_FILE, VALIDATION_FILE, SOURCE_FILE = "train.jsonl", "validation.jsonl", "SOURCE.json"
CARVED_FRACTION = 0.5  # of a validation-only task, held out; the rest is its training split
CARVE_SALT = "carved-train"
_SPLIT_FILES = {"train": TRAIN_FILE, "validation": VALIDATION_FILE, "test": VALIDATION_FILE}


def is_task_folder(path: Path) -> bool:
    return (path / TRAIN_FILE).is_file() or (path / VALIDATION_FILE).is_file()


@dataclass
class TaskFolder:
    """One task: its two JSON-lines files, read and checked on first use."""

    path: Path
    name: str = ""
    info: dict = field(default_factory=dict)  # SOURCE.json, when there is one

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.name = self.name or self.path.name
        source = self.path / SOURCE_FILE
        if source.is_file():
            try:
                self.info = parse(source.read_text(encoding="utf-8"))
            except (UnicodeDecodeError, JSONProblem) as exc:
                raise DataError(source, f"is not valid JSON ({exc})", hint="fix or remove it; it is optional") from None
            if not isinstance(self.info, dict):
                raise DataError(source, "must hold a JSON object")
        if not (self.path / VALIDATION_FILE).is_file():
            raise DataError(self.path / VALIDATION_FILE, "is missing",
                            hint=f"a task folder needs {VALIDATION_FILE} (and {TRAIN_FILE}, or half of it trains)")
        wanted = self.info.get("metric")
        if wanted is not None and wanted not in METRICS:
            raise DataError(source, f"unknown metric {wanted!r}", hint=f"use one of: {', '.join(METRICS)}")

    @property
    def carved(self) -> bool:
        """True when the folder has no training split and half of its validation file trains."""
        return not (self.path / TRAIN_FILE).is_file()

    @cached_property
    def splits(self) -> dict[str, Dataset]:
        if self.carved:
            whole = _read(self.path / VALIDATION_FILE, self.name, self.info.get("task_type"))
            train, validation = whole.split(CARVED_FRACTION, salt=CARVE_SALT)
            for part in (train, validation):
                part.info = {**whole.info, "carved_from": VALIDATION_FILE}
            return {"train": train, "validation": validation}
        train = _read(self.path / TRAIN_FILE, self.name, self.info.get("task_type"))
        validation = _read(self.path / VALIDATION_FILE, self.name, train.task_type, train)
        return {"train": train, "validation": validation}

    def load(self, split: str = "train") -> Dataset:
        """``train``, ``validation`` (also called ``test``) or ``all`` (both, validation last)."""
        if split == "all":
            train, validation = self.splits["train"], self.splits["validation"]
            if train.task_type in RECORD_TYPES:
                return join_records(train, validation)
            both = build_dataset(self.name, str(self.path), train.texts + validation.texts,
                                 train.labels + validation.labels, task_type=train.task_type,
                                 pairs=(train.pairs + validation.pairs) if train.pairs is not None else None,
                                 info=train.info)
            both.label_names = train.label_names
            return both
        if split not in _SPLIT_FILES:
            raise DataError(self.path, f"has no split {split!r}", hint="use train, validation (test) or all")
        return self.splits["validation" if split == "test" else split]

    @property
    def task_type(self) -> str:
        return self.splits["train"].task_type

    @property
    def pair(self) -> bool:
        return self.splits["train"].pairs is not None

    @property
    def metric(self) -> str:
        return self.info.get("metric") or default_metric(self.name, self.task_type)

    @property
    def positive(self) -> str | None:
        """The class whose F1 is reported; None unless the task has two classes."""
        names = self.splits["train"].label_names
        if names is None or len(names) != 2:
            return None
        return str(self.info.get("positive_label") or positive_label(names))

    def digest(self) -> str:
        """sha256 over both files: results made on other data must not be mixed in."""
        h = hashlib.sha256()
        for split_file in (TRAIN_FILE, VALIDATION_FILE):
            if (self.path / split_file).is_file():
                h.update((self.path / split_file).read_bytes())
            else:
                h.update(f"{split_file}: carved from {VALIDATION_FILE} at {CARVED_FRACTION}".encode())
        return h.hexdigest()

    def describe(self) -> dict:
        train, validation = self.splits["train"], self.splits["validation"]
        return {"name": self.name, "title": self.info.get("type", ""), "task_type": self.task_type,
                "labels": " / ".join(train.label_names) if train.label_names else _label_kind(train),
                "size": len(train) + len(validation), "train": len(train), "validation": len(validation),
                "pair": self.pair and self.task_type not in RECORD_TYPES, "metric": self.metric, "source": str(self.path), "carved": self.carved,
                "licence": self.info.get("licence", "not stated"), "origin": self.info.get("citation", "")}


def _label_kind(data: Dataset) -> str:
    """What a task without classes predicts: a number, a choice or an answer span."""
    if data.choices is not None:
        return f"1 of {choice_counts(data.choices)} choices"
    return "answer span" if data.task_type == EXTRACTIVE_QA else "number"


class TaskCollection:
    """Every task folder under ``directory`` (or ``directory`` itself, if it is one task's folder).

    Sub-folders with neither data file are listed in ``missing`` (e.g. a task whose data
    could not be obtained, with only its SOURCE.json) and are not tasks.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        if not self.directory.is_dir():
            raise DataError(self.directory, "is not a folder", hint="give a folder of <task>/train.jsonl folders")
        folders = [self.directory] if is_task_folder(self.directory) else sorted(
            p for p in self.directory.iterdir() if p.is_dir() and not p.name.startswith("."))
        self.tasks: dict[str, TaskFolder] = {}
        self.missing: list[str] = []
        for folder in folders:
            if is_task_folder(folder):
                self.tasks[folder.name] = TaskFolder(folder)
            else:
                self.missing.append(folder.name)
        if not self.tasks:
            raise DataError(self.directory, f"holds no task folders (no */{TRAIN_FILE})",
                            hint=f"each task needs a folder with {TRAIN_FILE} and {VALIDATION_FILE}")

    def __contains__(self, name: str) -> bool:
        return name in self.tasks

    def __getitem__(self, name: str) -> TaskFolder:
        if name not in self.tasks:
            raise DataError(self.directory, f"has no task {name!r}",
                            hint=f"its tasks are: {', '.join(self.tasks)}")
        return self.tasks[name]

    def names(self) -> list[str]:
        return list(self.tasks)

    def load(self, name: str, split: str = "train") -> Dataset:
        return self[name].load(split)

    def metric(self, name: str) -> str:
        return self[name].metric

    def positive(self, name: str) -> str | None:
        return self[name].positive

    def digest(self, name: str) -> str:
        return self[name].digest()

    def train_size(self, name: str) -> int:
        """The task's official training-set size (SOURCE.json ``official_sizes.train``), else the train file's."""
        official = (self[name].info.get("official_sizes") or {}).get("train")
        return int(official) if isinstance(official, (int, float)) and official > 0 else len(self.load(name, "train"))


def _records(path: Path, raw: bytes) -> Iterator[tuple[int, dict]]:
    """(line number, record) of every non-blank line; a line that is not a JSON object is one error."""
    for number, line in enumerate(raw.split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            record = parse(line.decode("utf-8"))
        except UnicodeDecodeError:
            raise DataError(path, f"line {number} is not UTF-8", hint="re-encode the file as UTF-8") from None
        except JSONProblem as exc:
            raise DataError(path, f"line {number} is not valid JSON ({exc})",
                            hint="each line must be one JSON object") from None
        if not isinstance(record, dict):
            raise DataError(path, f"line {number} is not a JSON object")
        yield number, record


def _read(path: Path, name: str, task_type: str | None, train: Dataset | None = None) -> Dataset:
    """One split; ``train`` given: the validation split, whose labels must be the train split's."""
    raw = path.read_bytes()
    if not raw.strip():
        raise DataError(path, "is empty", hint="each line must be one labelled example")
    if raw.startswith(b"\xef\xbb\xbf"):
        raise DataError(path, "line 1 starts with a byte-order mark, which JSON lines does not allow",
                        hint="save the file as UTF-8 without BOM")
    lines = _records(path, raw)
    head = next(lines)
    structured = record_type(head[1])
    if structured is not None:
        if task_type not in (None, structured):
            raise DataError(path, f"holds {structured} examples, not {task_type}")
        dataset = read_records(str(path), structured, chain([head], lines), name,
                               info={"task_folder": str(path.parent)})
        if train is not None and dataset.task_type != train.task_type:
            raise DataError(path, f"holds {dataset.task_type} examples where train.jsonl holds {train.task_type}")
        return dataset
    if train is not None and train.task_type in RECORD_TYPES:
        raise DataError(path, f"holds text-and-label examples where train.jsonl holds {train.task_type}")
    texts, pairs, labels, rows = [], [], [], []
    first: dict | None = None
    for number, record in chain([head], lines):
        if not isinstance(record.get("text"), str) or "label" not in record:
            raise DataError(path, f"line {number} is not an object with a string \"text\" and a \"label\"")
        label = record["label"]
        if isinstance(label, bool) or not isinstance(label, (str, int, float)):
            raise DataError(path, f"line {number}: label {label!r} is neither a string nor a number")
        if first is None:
            first = record
        elif isinstance(label, str) != isinstance(first["label"], str):
            raise DataError(path, f"line {number}: label {label!r} mixes label types "
                                  f"(line {rows[0]} has {first['label']!r})",
                            hint="use strings for classes and numbers for regression, not both")
        elif ("text_pair" in record) != ("text_pair" in first):
            raise DataError(path, f"line {number}: \"text_pair\" is {'present' if 'text_pair' in record else 'missing'}"
                                  f" where line {rows[0]} has it {'present' if 'text_pair' in first else 'missing'}",
                            hint="a task is either single texts or pairs")
        texts.append(record["text"])
        pairs.append(record.get("text_pair"))
        labels.append(label)
        rows.append(number)
    dataset = build_dataset(name, str(path), texts, labels, pairs=pairs if "text_pair" in first else None,
                            task_type=task_type, rows=rows, info={"task_folder": str(path.parent)})
    if train is not None:
        if (dataset.pairs is None) != (train.pairs is None):
            raise DataError(path, "is a pair task where train.jsonl is not, or the other way round")
        if train.task_type == "classification":
            known = set(train.label_names)
            for label, row in zip(dataset.labels, rows):
                if label not in known:
                    raise DataError(path, f"line {row}: label {label!r} is not in train.jsonl "
                                          f"(its labels: {', '.join(train.label_names)})",
                                    hint="a model cannot predict a class it never saw; fix or drop that line")
            dataset.label_names = train.label_names
    return dataset
