"""A labelled text dataset, checked once so that training never meets surprises halfway."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import repeat

from .collect import (EXTRACTIVE_QA, MAX_CLASSES, MULTIPLE_CHOICE, TASK_TYPES, Collector, choice_counts, draw,
                      label_reading, plain_label)

__all__ = ["MAX_CLASSES", "TASK_TYPES", "Dataset", "build_dataset", "digests"]


@dataclass
class Dataset:
    """Texts (and optional second texts) with one label each.

    ``labels`` are strings for classification (``label_names`` lists the classes, sorted)
    and floats for regression. ``source`` is the file path or ``builtin:<task>``. Multiple choice
    keeps each example's ``choices`` and the right one's index as its label; extractive QA the
    question in ``texts``, the context in ``pairs`` and an ``Answer`` as its label (``records.py``).
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
    choices: list[list[str]] | None = None  # multiple choice: each example's candidate answers

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def num_labels(self) -> int:
        return 1 if self.task_type == "regression" else len(self.label_names or ())

    def label_reading(self) -> str:
        """How the labels were read, in words, with the option that reads them the other way."""
        if self.task_type == MULTIPLE_CHOICE:
            return (f"multiple choice: {choice_counts(self.choices)} choices an example, the label is the right "
                    "one's index")
        if self.task_type == EXTRACTIVE_QA:
            answerable = sum(a.answerable for a in self.labels)
            return (f"extractive QA: {answerable} questions answered by a span of their context, "
                    f"{len(self) - answerable} unanswerable")
        if self.task_type == "regression":
            return label_reading(self.task_type, None, min(self.labels), max(self.labels))
        return label_reading(self.task_type, self.label_names)

    def sha256(self) -> str:
        """Content hash of the examples: the same data under another file name is the same task."""
        return digests(self.task_type, self._examples(), plain=False)[0]

    def examples_sha256(self) -> str:
        """Content hash of the examples whatever the task type: the same file read as
        classification or as regression (labels "3" and 3.0 alike) hashes the same, so an
        embedding trained with ``--task-type regression`` is found again by a plain ``--target``."""
        return self.content_hashes()[1]

    def content_hashes(self) -> tuple[str, str]:
        """(``sha256()``, ``examples_sha256()``) in one pass over the examples."""
        return digests(self.task_type, self._examples())

    def _examples(self):
        if self.choices is not None:  # the choices hash in the second text's place
            return zip(self.texts, self.choices, self.labels)
        return zip(self.texts, self.pairs or repeat(None), self.labels)

    def subset(self, indices: Sequence[int], name: str | None = None) -> "Dataset":
        return Dataset(
            name=name or self.name, source=self.source, task_type=self.task_type,
            texts=[self.texts[i] for i in indices], labels=[self.labels[i] for i in indices],
            pairs=[self.pairs[i] for i in indices] if self.pairs is not None else None,
            label_names=self.label_names, info=dict(self.info), warnings=list(self.warnings),
            choices=[self.choices[i] for i in indices] if self.choices is not None else None,
        )

    def load(self) -> "Dataset":
        """Every example in memory: this one (as ``DataFile.load``)."""
        return self

    def sample(self, n: int | None, seed: int = 0) -> "Dataset":
        """At most ``n`` examples, drawn with a fixed seed: per class for classification, per right
        choice's position for multiple choice, answerable and unanswerable apart for extractive QA."""
        if not n or n >= len(self):
            return self
        members = None
        if self.task_type != "regression":
            members = {}
            for i, label in enumerate(self.labels):
                stratum = label.answerable if self.task_type == EXTRACTIVE_QA else label
                members.setdefault(str(stratum), []).append(i)
        return self.subset(draw(len(self), n, seed, members))

    def split(self, test_fraction: float = 0.2, salt: str = "") -> tuple["Dataset", "Dataset"]:
        """(train, test) by a hash of each example's text: stable under reordering and growth.

        A different ``salt`` gives an independent split (a validation split inside a train split).
        """
        buckets = 1000
        cut = int(round(test_fraction * buckets))
        test, train = [], []
        pairs = self.pairs or ["\x00".join(c) for c in self.choices or ()] or [""] * len(self)
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
    collector = Collector(source, task_type, pairs=pairs is not None)
    for row, text, pair, label in zip(rows or range(1, len(texts) + 1), texts, pairs or repeat(None), labels):
        collector.add(row, text, pair, label)
    checked = collector.finish()
    return Dataset(name, source, checked.task_type, list(map(str, texts)), checked.labels(),
                   list(map(str, pairs)) if pairs is not None else None, checked.label_names, dict(info or {}),
                   checked.warnings)


def digests(task_type: str, examples: Iterable[tuple], *, plain: bool = True) -> tuple[str, str | None]:
    """(content hash, task-type-free content hash) of (text, pair, label) examples; ``plain``
    False: the content hash alone (None in its place).

    Each hashes every row as ``json.dumps([text, pair, label], ensure_ascii=False)``; a row is
    written once when both hashes see the same label, and a text with nothing to escape is
    written without the encoder (the same bytes, at a third of the cost on a 10⁷-row file).
    """
    typed, untyped = hashlib.sha256(task_type.encode()), hashlib.sha256(b"examples-v1") if plain else None
    forms: dict = {}  # label -> (its JSON, its plain form's JSON or None when the same)
    for text, pair, label in examples:
        form = forms.get(label)
        if form is None:
            other = plain_label(label)
            form = (json.dumps(label, ensure_ascii=False), None if other == label else json.dumps(other, ensure_ascii=False))
            if len(forms) < 4096:  # regression has as many labels as rows
                forms[label] = form
        head = f"[{_json_string(text)}, {'null' if pair is None else _json_string(pair)}, "
        row = (head + form[0] + "]").encode()
        typed.update(row)
        if untyped is not None:
            untyped.update(row if form[1] is None else (head + form[1] + "]").encode())
    return typed.hexdigest(), untyped.hexdigest() if untyped is not None else None


_ESCAPED = re.compile(r'[\x00-\x1f"\\]')  # what json.dumps(ensure_ascii=False) escapes in a string


def _json_string(value) -> str:
    if isinstance(value, str) and not _ESCAPED.search(value):
        return f'"{value}"'
    return json.dumps(value, ensure_ascii=False)
