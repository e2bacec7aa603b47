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

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def num_labels(self) -> int:
        return 1 if self.task_type == "regression" else len(self.label_names or ())

    def sha256(self) -> str:
        """Content hash of the examples: the same data under another file name is the same task."""
        digest = hashlib.sha256(self.task_type.encode())
        pairs = self.pairs or [None] * len(self.texts)
        for text, pair, label in zip(self.texts, pairs, self.labels):
            digest.update(json.dumps([text, pair, label], ensure_ascii=False).encode())
        return digest.hexdigest()

    def subset(self, indices: Sequence[int], name: str | None = None) -> "Dataset":
        return Dataset(
            name=name or self.name, source=self.source, task_type=self.task_type,
            texts=[self.texts[i] for i in indices], labels=[self.labels[i] for i in indices],
            pairs=[self.pairs[i] for i in indices] if self.pairs is not None else None,
            label_names=self.label_names, info=dict(self.info),
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
    rows: list[int] | None = None,
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
                       list(map(str, pairs)) if pairs is not None else None, None, dict(info or {}))
    classes = [_label_text(label) for label in labels]
    names = sorted(set(classes), key=_class_order)
    if len(names) < 2:
        raise DataError(source, f"has one class only ({names[0]!r})",
                        hint="a classifier needs at least two classes; check the label column")
    if len(names) > MAX_CLASSES:
        raise DataError(source, f"has {len(names)} distinct labels",
                        hint="if the labels are scores, pass --task-type regression")
    return Dataset(name, source, "classification", list(map(str, texts)), classes,
                   list(map(str, pairs)) if pairs is not None else None, names, dict(info or {}))


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
