"""The checks of a data set's examples, made one row at a time.

The same rules serve lists already in memory (built-in tasks, task folders) and a data file
streamed from disk: a row costs the collector a label id, a text key and a row number (16 bytes),
never its text, so a 200 MB file is checked in the memory of its labels. Each check that depends
on a label (is it missing, a number, finite, which class) is made once per distinct label.
"""

from __future__ import annotations

import math
import random
from array import array
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import DataError

TASK_TYPES = ("classification", "regression")
# the task types whose examples are records, not a text and a label (``records.py``)
MULTIPLE_CHOICE, EXTRACTIVE_QA = "multiple-choice", "extractive-qa"
RECORD_TYPES = (MULTIPLE_CHOICE, EXTRACTIVE_QA)
MAX_CLASSES = 1000
AUTO_MAX_CLASSES = 20  # more distinct numeric labels than this: regression
POOL_CAP = 50_000  # more distinct labels than this: numbers (regression), or an error
TINY = 32  # fewer examples than this: an embedding of mostly noise
CONTRADICTION_SHARE = 0.01  # texts given two labels: annotation noise below this share, a wrong column above


def choice_counts(choices: list[list[str]]) -> str:
    """How many choices multiple-choice examples have: "2", or "2 to 4" where they differ."""
    counts = sorted({len(c) for c in choices})
    return f"{counts[0]}" if len(counts) == 1 else f"{counts[0]} to {counts[-1]}"


@dataclass
class Checked:
    """What the checks decided: the task type, the classes, and each row's label as a class index
    (classification) or a number (regression)."""

    task_type: str
    label_names: list[str] | None
    classes: np.ndarray | None  # int32 per row
    values: np.ndarray | None  # float64 per row
    warnings: list[str]

    def __len__(self) -> int:
        return len(self.classes if self.classes is not None else self.values)

    def labels(self) -> list:
        """Every row's label: class names (shared string objects, not one per row) or floats."""
        if self.values is not None:
            return self.values.tolist()
        names = self.label_names
        return [names[c] for c in self.classes.tolist()]

    def labels_of(self):
        """A function from a row index to its label, as ``labels`` gives it."""
        if self.values is not None:
            values = self.values
            return lambda i: float(values[i])
        names, classes = self.label_names, self.classes
        return lambda i: names[classes[i]]

    def members(self) -> dict[str, Sequence[int]] | None:
        """The row indices of each class, for a per-class sample; None for regression."""
        if self.classes is None:
            return None
        return {name: _Indices(np.flatnonzero(self.classes == c)) for c, name in enumerate(self.label_names)}


class Collector:
    """Feed it rows with ``add``; ``finish`` raises the first problem as one ``DataError`` naming
    the source and the row, or returns the ``Checked`` outcome. Problems are reported in the order
    a reader expects: empty texts, missing labels, non-finite labels, then the task type's."""

    def __init__(self, source: str, task_type: str | None = None, pairs: bool = False) -> None:
        if task_type is not None and task_type not in TASK_TYPES:
            raise DataError(source, f"unknown task type {task_type!r}", hint=f"use one of: {', '.join(TASK_TYPES)}")
        self.source, self.task_type, self.pairs = source, task_type, pairs
        self.count = 0
        self._empty: dict[str, list] = {"text": [0, []], "second text": [0, []]}  # [count, first five rows]
        self._pool: dict = {}  # (type, raw label) -> id, in order of first appearance
        self._raw: list = []  # id -> raw label
        self._first_row: list[int] = []  # id -> the row it first appears on
        self._ids = array("i")  # row -> label id; while the labels are few
        self._floats: array | None = None  # row -> number; once they are too many to pool (regression)
        self._keys = array("q")  # row -> hash of its texts, to find one text given two labels
        self._rows = array("I")  # row -> its line in the source, for messages
        self._late: tuple | None = None  # (kind, row, label): a problem met after the pool was given up
        self._late_missing = 0

    def add(self, row: int, text, pair, label) -> None:
        """One example; ``row`` is its line in the source (for messages)."""
        self.count += 1
        if text is None or not str(text).strip():
            self._note_empty("text", row)
        if self.pairs and (pair is None or not str(pair).strip()):
            self._note_empty("second text", row)
        try:
            self._keys.append(hash((text, pair)))
        except TypeError:  # an unhashable text from a library caller
            self._keys.append(hash(repr((text, pair))))
        self._rows.append(row)
        if self._floats is not None:
            self._add_number(row, label)
            return
        try:
            key = (label.__class__, label)
            ident = self._pool.get(key)
        except TypeError:  # an unhashable label from a library caller: compared by its text
            key = (label.__class__, repr(label))
            ident = self._pool.get(key)
        if ident is None:
            ident = len(self._raw)
            self._pool[key] = ident
            self._raw.append(label)
            self._first_row.append(row)
        self._ids.append(ident)
        if len(self._raw) > POOL_CAP:
            self._give_up_pool()

    def _note_empty(self, column: str, row: int) -> None:
        seen = self._empty[column]
        seen[0] += 1
        if len(seen[1]) < 6:
            seen[1].append(row)

    def _give_up_pool(self) -> None:
        """More distinct labels than any classifier has: numbers from here on (regression), or
        the problem said now."""
        numbers = [as_number(label) for label in self._raw]
        if self.task_type == "classification" or any(x is None for x in numbers):
            self.finish()  # raises: too many classes, or the labels that are no numbers
            raise DataError(self.source, f"has over {POOL_CAP:,} distinct labels")
        self._floats = array("d", (numbers[i] for i in self._ids))
        self._ids, self._pool, self._raw, self._first_row = array("i"), {}, [], []

    def _add_number(self, row: int, label) -> None:
        number = as_number(label)
        if number is None:
            if _missing(label):
                self._late_missing += 1
            if self._late is None:
                kind = "missing" if _missing(label) else "non-finite" if _non_finite(label) else "not a number"
                self._late = (kind, row, label)
            number = math.nan
        self._floats.append(number)

    def finish(self) -> Checked:
        """The outcome, or the first problem as one ``DataError``."""
        source = self.source
        if not self.count:
            raise DataError(source, "has no examples", hint="check that the file is not empty and has a header row")
        for column in ("text", "second text"):
            count, rows = self._empty[column]
            if count:
                listed = ", ".join(map(str, rows[:5])) + (" …" if count > 5 else "")
                raise DataError(source, f"{count} empty {column} value(s), at row {listed}",
                                hint="remove or fill those rows")
        if self._floats is not None:
            raw, ids = self._numbers_as_labels()
        else:
            raw, ids = self._raw, np.frombuffer(self._ids, dtype=np.int32)
        uses = np.bincount(ids, minlength=len(raw))
        missing = [i for i, label in enumerate(raw) if _missing(label) and uses[i]]
        if missing:
            raise _no_label(source, int(sum(uses[i] for i in missing)), self._first_row[missing[0]])
        infinite = next((i for i, label in enumerate(raw) if _non_finite(label) and uses[i]), None)
        if infinite is not None:
            raise _not_finite(source, raw[infinite], self._first_row[infinite])
        numbers = [as_number(label) for label in raw]
        all_numeric = all(x is not None for x in numbers)
        task_type = self.task_type
        if task_type is None:
            fractional = all_numeric and any(not float(x).is_integer() for x in numbers)
            distinct = len(set(numbers)) if all_numeric else 0
            task_type = "regression" if all_numeric and (fractional or distinct > AUTO_MAX_CLASSES) else "classification"
        if task_type == "regression":
            if not all_numeric:
                bad = next(i for i, x in enumerate(numbers) if x is None)
                raise _not_a_number(source, raw[bad], self._first_row[bad])
            return self._regression(np.asarray(numbers, dtype=np.float64)[ids])
        texts = [label_text(x) for x in (numbers if all_numeric else raw)]
        names = sorted(set(texts), key=_class_order)
        _check_classes(source, names)
        index = {name: i for i, name in enumerate(names)}
        classes = np.asarray([index[t] for t in texts], dtype=np.int32)[ids]
        return Checked("classification", names, classes, None, self._warnings(classes))

    def _numbers_as_labels(self) -> tuple[list, np.ndarray]:
        """After the pool was given up: the distinct numbers as the labels, each row's as its id."""
        if self._late is not None:
            kind, row, label = self._late
            if kind == "missing":
                raise _no_label(self.source, self._late_missing, row)
            if kind == "non-finite":
                raise _not_finite(self.source, label, row)
            if self.task_type == "regression":
                raise _not_a_number(self.source, label, row)
            raise DataError(self.source, f"has over {POOL_CAP:,} distinct labels, and {label!r} at row {row} is "
                                         "not a number", hint="check the label column")
        distinct, ids = np.unique(np.frombuffer(self._floats, dtype=np.float64), return_inverse=True)
        self._first_row = [0] * len(distinct)  # every label is a finite number: no message names one
        return distinct.tolist(), ids.astype(np.int32)

    def _regression(self, values: np.ndarray) -> Checked:
        if not (values != values[0]).any():
            raise DataError(self.source, "all regression labels are equal", hint="a task needs labels that vary")
        return Checked("regression", None, None, values, self._warnings(None))

    def _warnings(self, classes: np.ndarray | None) -> list[str]:
        """What makes a data set usable but its embedding doubtful: too few rows, or the same
        text given different labels (a label column that is not the label, or noisy annotation)."""
        said = []
        if self.count < TINY:
            said.append(f"only {self.count} examples: an embedding trained on so few says little about the task "
                        f"(1,000 are used when there are enough)")
        if classes is None:  # regression: one text rated twice is noise, not a contradiction
            return said
        clash = _clashes(np.frombuffer(self._keys, dtype=np.int64), classes)
        if clash is not None:
            clashes, earlier, at = clash
            if clashes >= CONTRADICTION_SHARE * self.count:
                said.append(f"{clashes} row(s) repeat an earlier text with a different label (first: rows "
                            f"{self._rows[earlier]} and {self._rows[at]}); check that the label column is the label")
        return said


def _clashes(keys: np.ndarray, classes: np.ndarray, parts: int = 16) -> tuple[int, int, int] | None:
    """``_first_clash`` over every row, a sixteenth of the rows at a time (split by their text
    key, so a text's rows stay together): the sort's copies cost a sixteenth of the rows."""
    part = np.empty(len(keys), dtype=np.uint8)
    for start in range(0, len(keys), 1 << 20):
        part[start:start + (1 << 20)] = keys[start:start + (1 << 20)] & (parts - 1)
    total, first = 0, None
    for p in range(parts):
        rows = np.flatnonzero(part == p)
        found = _first_clash(keys[rows], classes[rows]) if len(rows) else None
        if found is not None:
            total += found[0]
            earlier, at = int(rows[found[1]]), int(rows[found[2]])
            if first is None or at < first[1]:
                first = (earlier, at)
    return (total, *first) if first is not None else None


def _first_clash(keys: np.ndarray, classes: np.ndarray) -> tuple[int, int, int] | None:
    """(rows whose label differs from the first label of the same text, the first such text's
    first row, the first such row), all as row indices; None when no text has two labels."""
    order = np.argsort(keys, kind="stable")  # a text's rows stay in order: its first row leads its group
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    del sorted_keys
    sorted_classes = classes[order]
    first = np.repeat(sorted_classes[starts], np.diff(np.r_[starts, len(keys)]))
    differs = np.flatnonzero(sorted_classes != first)
    if not len(differs):
        return None
    at_sorted = differs[np.argmin(order[differs])]
    group_start = starts[np.searchsorted(starts, at_sorted, side="right") - 1]
    return len(differs), int(order[group_start]), int(order[at_sorted])


def _check_classes(source: str, names: list[str]) -> None:
    if len(names) < 2:
        raise DataError(source, f"has one class only ({names[0]!r})",
                        hint="a classifier needs at least two classes; check the label column")
    if len(names) > MAX_CLASSES:
        raise DataError(source, f"has {len(names)} distinct labels",
                        hint="if the labels are scores, pass --task-type regression")


def _no_label(source: str, count: int, row: int) -> DataError:
    return DataError(source, f"{count} row(s) have no label, first at row {row}", hint="remove or label those rows")


def _not_finite(source: str, label, row: int) -> DataError:
    return DataError(source, f"label {label!r} at row {row} is not a finite number",
                     hint="remove that row or give it a real label (a missing value written as NaN is not a class)")


def _not_a_number(source: str, label, row: int) -> DataError:
    return DataError(source, f"label {label!r} at row {row} is not a number, but the task is regression",
                     hint="fix that label, or use --task-type classification")


def draw(total: int, n: int, seed: int, members: dict[str, Sequence[int]] | None) -> list[int]:
    """The sorted row indices of a sample of ``n`` of ``total`` rows, drawn with a fixed seed: per
    class in proportion (at least one of each) when ``members`` gives each class's rows."""
    rng = random.Random(seed)
    if members is None:
        return sorted(rng.sample(range(total), n))
    chosen: list[int] = []
    for label in sorted(members):
        rows = members[label]
        share = max(1, round(n * len(rows) / total))
        chosen += rng.sample(rows, min(share, len(rows)))
    rng.shuffle(chosen)
    return sorted(chosen[:n])


class _Indices(Sequence):
    """An index array as the sequence ``random.sample`` draws from: the same draws as a list."""

    def __init__(self, values: np.ndarray) -> None:
        self._values = values

    def __len__(self) -> int:
        return len(self._values)

    def __getitem__(self, i):
        return int(self._values[i])


def label_reading(task_type: str, label_names: list[str] | None, low: float = 0.0, high: float = 0.0) -> str:
    """How the labels were read, in words, with the option that reads them the other way: a
    column of 1-5 star ratings is classes or scores, and the embedding differs."""
    if task_type == "regression":
        return (f"labels read as numbers (regression, {low:g} to {high:g}); --task-type classification reads "
                "them as classes")
    names = label_names or []
    shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
    numeric = all(as_number(name) is not None for name in names)
    return f"labels read as {len(names)} classes ({shown})" + (
        "; --task-type regression reads them as numbers" if numeric else "")


def plain_label(label) -> str:
    """A label as the task-type-free content hash writes it: "3", 3 and 3.0 alike."""
    return label_text(number if (number := as_number(label)) is not None else label)


def _missing(label) -> bool:
    return label is None or str(label).strip() == ""


def _non_finite(value) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, str):
        try:
            return not math.isfinite(float(value.strip()))
        except ValueError:
            return False
    return False


def as_number(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        try:
            return float(value) if math.isfinite(value) else None
        except OverflowError:  # an integer beyond a float
            return None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def label_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _class_order(name: str):
    number = as_number(name)
    return (0, number, name) if number is not None else (1, 0.0, name)
