"""A labelled text dataset, checked once so that training never meets surprises halfway."""

from __future__ import annotations

import hashlib
import json
import math
import random
from dataclasses import dataclass, field
from typing import Sequence

from ..errors import DataError

TASK_TYPES = ("classification", "regression")
MAX_CLASSES = 1000
_AUTO_MAX_CLASSES = 20  # more distinct numeric labels than this: regression


@dataclass
class Dataset:
    """Texts (and optional second texts) with one label each.

    ``labels`` are strings for classification (``label_names`` lists the classes, sorted)
    and floats for regression. ``source`` is the file path or ``builtin:<task>``.
    """

    name: str
    source: str
    task_type: str
    texts: list[str]
    labels: list
    pairs: list[str] | None = None
    label_names: list[str] | None = None
    info: dict = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # usable, but worth saying (tiny, contradictory)

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def num_labels(self) -> int:
        return 1 if self.task_type == "regression" else len(self.label_names or ())

    def label_reading(self) -> str:
        """How the labels were read, in words, with the option that reads them the other way: a
        column of 1-5 star ratings is classes or scores, and the embedding differs."""
        if self.task_type == "regression":
            low, high = min(self.labels), max(self.labels)
            return (f"labels read as numbers (regression, {low:g} to {high:g}); --task-type classification reads "
                    "them as classes")
        names = self.label_names or []
        shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
        numeric = all(_as_number(name) is not None for name in names)
        return f"labels read as {len(names)} classes ({shown})" + (
            "; --task-type regression reads them as numbers" if numeric else "")

    def sha256(self) -> str:
        """Content hash of the examples: the same data under another file name is the same task."""
        return self._digest(self.task_type.encode(), self.labels)

    def examples_sha256(self) -> str:
        """Content hash of the examples whatever the task type: the same file read as
        classification or as regression (labels "3" and 3.0 alike) hashes the same, so an
        embedding trained with ``--task-type regression`` is found again by a plain ``--target``."""
        plain = (_label_text(number if (number := _as_number(label)) is not None else label) for label in self.labels)
        return self._digest(b"examples-v1", plain)

    def _digest(self, seed: bytes, labels) -> str:
        digest = hashlib.sha256(seed)
        pairs = self.pairs or [None] * len(self.texts)
        for text, pair, label in zip(self.texts, pairs, labels):
            digest.update(json.dumps([text, pair, label], ensure_ascii=False).encode())
        return digest.hexdigest()

    def subset(self, indices: Sequence[int], name: str | None = None) -> "Dataset":
        return Dataset(
            name=name or self.name, source=self.source, task_type=self.task_type,
            texts=[self.texts[i] for i in indices], labels=[self.labels[i] for i in indices],
            pairs=[self.pairs[i] for i in indices] if self.pairs is not None else None,
            label_names=self.label_names, info=dict(self.info), warnings=list(self.warnings),
        )

    def sample(self, n: int | None, seed: int = 0) -> "Dataset":
        """At most ``n`` examples, drawn with a fixed seed (per class, for classification)."""
        if not n or n >= len(self):
            return self
        rng = random.Random(seed)
        if self.task_type == "regression":
            return self.subset(sorted(rng.sample(range(len(self)), n)))
        by_class: dict[str, list[int]] = {}
        for i, label in enumerate(self.labels):
            by_class.setdefault(label, []).append(i)
        chosen: list[int] = []
        for label in sorted(by_class):  # proportional, at least one of each class
            members = by_class[label]
            share = max(1, round(n * len(members) / len(self)))
            chosen += rng.sample(members, min(share, len(members)))
        rng.shuffle(chosen)
        return self.subset(sorted(chosen[:n]))

    def split(self, test_fraction: float = 0.2, salt: str = "") -> tuple["Dataset", "Dataset"]:
        """(train, test) by a hash of each example's text: stable under reordering and growth.

        A different ``salt`` gives an independent split (a validation split inside a train split).
        """
        buckets = 1000
        cut = int(round(test_fraction * buckets))
        test, train = [], []
        pairs = self.pairs or [""] * len(self)
        for i, (text, pair) in enumerate(zip(self.texts, pairs)):
            h = int.from_bytes(hashlib.sha1(f"{salt}{text}\x00{pair}".encode()).digest()[:4], "big") % buckets
            (test if h < cut else train).append(i)
        return self.subset(train, f"{self.name}"), self.subset(test, f"{self.name}")


def build_dataset(
    name: str,
    source: str,
    texts: list[str],
    labels: list,
    *,
    pairs: list[str] | None = None,
    task_type: str | None = None,
    rows: Sequence[int] | None = None,
    info: dict | None = None,
) -> Dataset:
    """Validate raw columns and decide the task type; errors name the source and the row.

    ``rows`` gives each example's row number in the file, for error messages.
    """
    rows = rows or list(range(1, len(texts) + 1))
    if not texts:
        raise DataError(source, "has no examples", hint="check that the file is not empty and has a header row")
    if task_type is not None and task_type not in TASK_TYPES:
        raise DataError(source, f"unknown task type {task_type!r}", hint=f"use one of: {', '.join(TASK_TYPES)}")
    for column, values in (("text", texts), ("second text", pairs)):
        if values is None:
            continue
        empty = [rows[i] for i, value in enumerate(values) if value is None or not str(value).strip()]
        if empty:
            listed = ", ".join(map(str, empty[:5])) + (" …" if len(empty) > 5 else "")
            raise DataError(source, f"{len(empty)} empty {column} value(s), at row {listed}",
                            hint="remove or fill those rows")
    missing = [rows[i] for i, label in enumerate(labels) if label is None or str(label).strip() == ""]
    if missing:
        raise DataError(source, f"{len(missing)} row(s) have no label, first at row {missing[0]}",
                        hint="remove or label those rows")
    infinite = next((i for i, label in enumerate(labels) if _non_finite(label)), None)
    if infinite is not None:
        raise DataError(source, f"label {labels[infinite]!r} at row {rows[infinite]} is not a finite number",
                        hint="remove that row or give it a real label (a missing value written as NaN is not a class)")
    numbers = [_as_number(label) for label in labels]
    all_numeric = all(x is not None for x in numbers)
    if task_type is None:
        distinct = len(set(numbers)) if all_numeric else 0
        fractional = all_numeric and any(not float(x).is_integer() for x in numbers)
        task_type = "regression" if all_numeric and (fractional or distinct > _AUTO_MAX_CLASSES) else "classification"
    if task_type == "regression":
        if not all_numeric:
            bad = next(i for i, x in enumerate(numbers) if x is None)
            raise DataError(source, f"label {labels[bad]!r} at row {rows[bad]} is not a number, but the task is regression",
                            hint="fix that label, or use --task-type classification")
        values = [float(x) for x in numbers]
        if len(set(values)) < 2:
            raise DataError(source, "all regression labels are equal", hint="a task needs labels that vary")
        return Dataset(name, source, "regression", list(map(str, texts)), values,
                       list(map(str, pairs)) if pairs is not None else None, None, dict(info or {}),
                       _warnings(texts, pairs, None, rows))
    interned: dict = {}
    if all_numeric:  # numbers are classes by their value, whatever the format wrote: "1", "1.0" and 1 are one class
        labels = numbers
    classes = [interned.setdefault(label, _label_text(label)) if isinstance(label, (str, int, float, bool))
               else _label_text(label) for label in labels]
    names = sorted(set(classes), key=_class_order)
    if len(names) < 2:
        raise DataError(source, f"has one class only ({names[0]!r})",
                        hint="a classifier needs at least two classes; check the label column")
    if len(names) > MAX_CLASSES:
        raise DataError(source, f"has {len(names)} distinct labels",
                        hint="if the labels are scores, pass --task-type regression")
    return Dataset(name, source, "classification", list(map(str, texts)), classes,
                   list(map(str, pairs)) if pairs is not None else None, names, dict(info or {}),
                   _warnings(texts, pairs, classes, rows))


TINY = 32  # fewer examples than this: an embedding of mostly noise
CONTRADICTION_SHARE = 0.01  # texts given two labels: annotation noise below this share, a wrong column above


def _warnings(texts: list, pairs: list | None, labels: list | None, rows: Sequence[int]) -> list[str]:
    """What makes a data set usable but its embedding doubtful: too few rows, or the same
    text given different labels (a label column that is not the label, or noisy annotation)."""
    said = []
    if len(texts) < TINY:
        said.append(f"only {len(texts)} examples: an embedding trained on so few says little about the task "
                    f"(1,000 are used when there are enough)")
    if labels is None:  # regression: one text rated twice is noise, not a contradiction
        return said
    def keys():
        return zip(texts, pairs) if pairs is not None else iter(texts)

    first: dict = {}  # text -> its first label (labels are shared objects: no per-row allocation)
    clashes, clash = 0, None
    for i, key in enumerate(keys()):
        label = first.setdefault(key, labels[i])
        if label != labels[i]:
            clashes += 1
            clash = clash if clash is not None else i
    if clashes and clashes >= CONTRADICTION_SHARE * len(texts):
        key = (texts[clash], pairs[clash]) if pairs is not None else texts[clash]
        earlier = next(i for i, k in enumerate(keys()) if k == key)
        said.append(f"{clashes} row(s) repeat an earlier text with a different label (first: rows {rows[earlier]} "
                    f"and {rows[clash]}); check that the label column is the label")
    return said


def _non_finite(value) -> bool:
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, str):
        try:
            return not math.isfinite(float(value.strip()))
        except ValueError:
            return False
    return False


def _as_number(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    try:
        number = float(str(value).strip())
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _label_text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _class_order(name: str):
    number = _as_number(name)
    return (0, number, name) if number is not None else (1, 0.0, name)
