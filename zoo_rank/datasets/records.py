"""Multiple-choice and extractive-QA examples: read from JSON records and checked, one line per problem.

Two task types whose examples are not a text and a label:

* **multiple choice** (COPA, PIQA, HellaSwag, WinoGrande, Social IQa, Cosmos QA):
  ``{"text": <context / question>, "choices": [2 or more strings], "label": <index of the right one>}``
  (``choices`` may also be named ``endings`` or ``options``, ``label`` ``answer``);
* **extractive QA** (SQuAD, SQuAD 2.0):
  ``{"question", "context", "answers": {"text": [...], "answer_start": [...]}}``, as the Hugging Face
  ``squad`` datasets write it; empty lists mark an unanswerable question (SQuAD 2.0).

A ``Dataset`` of these types holds, for multiple choice, the context in ``texts``, the choices in
``choices`` and the right choice's index in ``labels``; for extractive QA the question in
``texts``, the context in ``pairs`` and one ``Answer`` per example in ``labels`` (the first
answer: training needs one span, as in transformers' ``run_qa``). An ``answer_start`` that does
not point at its answer (datasets rebuilt from the text often keep the first occurrence) is moved
to the nearest occurrence and counted in a warning; an answer that does not occur in its context
is an error, as are a choice list of one and a label that is no choice's index.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from ..errors import DataError
from .collect import EXTRACTIVE_QA, MULTIPLE_CHOICE, TINY

CHOICE_KEYS = ("choices", "endings", "options")
MC_LABEL_KEYS = ("label", "answer")
MAX_CHOICES = 26


class Answer(NamedTuple):
    """An answer span of an extractive-QA example: character offset and text; ``start`` −1 and
    empty text: the question has no answer in its context."""

    start: int
    text: str

    @property
    def answerable(self) -> bool:
        return self.start >= 0


NO_ANSWER = Answer(-1, "")


def record_type(record: dict) -> str | None:
    """The task type a JSON record's fields say, or None for a text-and-label record."""
    if any(key in record for key in CHOICE_KEYS):
        return MULTIPLE_CHOICE
    if "answers" in record and "context" in record:
        return EXTRACTIVE_QA
    return None


class Records:
    """Feed it ``(line, record)`` with ``add``; ``dataset`` checks what the rows share and builds the
    ``Dataset``. Every problem is one ``DataError`` naming the file and the line."""

    def __init__(self, source: str, task_type: str) -> None:
        self.source, self.task_type = source, task_type
        self.texts: list[str] = []
        self.pairs: list[str] = []
        self.choices: list[list[str]] = []
        self.labels: list = []
        self.moved = 0  # answer_start values moved to where their answer is
        self.first_moved: int | None = None

    def __len__(self) -> int:
        return len(self.texts)

    def add(self, line: int, record: dict) -> None:
        found = record_type(record)
        if found != self.task_type:
            said = f"a {found} example" if found else "a text-and-label example"
            raise DataError(self.source, f"line {line} is {said} in a {self.task_type} file",
                            hint="a file holds one task type")
        if self.task_type == MULTIPLE_CHOICE:
            self._add_choice(line, record)
        else:
            self._add_question(line, record)

    def _add_choice(self, line: int, record: dict) -> None:
        key = next(k for k in CHOICE_KEYS if k in record)
        choices = record[key]
        text = record.get("text", record.get("question", record.get("context")))
        if not isinstance(text, str) or not text.strip():
            raise DataError(self.source, f"line {line}: the context (\"text\") is missing or empty",
                            hint="give each example its context or question as a string \"text\"")
        if not isinstance(choices, list) or not all(isinstance(c, str) for c in choices):
            raise DataError(self.source, f"line {line}: \"{key}\" must be a list of strings")
        if len(choices) < 2:
            raise DataError(self.source, f"line {line}: {len(choices)} choice{'' if len(choices) == 1 else 's'}; "
                                         "a multiple-choice example needs at least 2",
                            hint="drop the line, or add the wrong choices it was asked with")
        if len(choices) > MAX_CHOICES:
            raise DataError(self.source, f"line {line}: {len(choices)} choices (at most {MAX_CHOICES})",
                            hint="is this a ranking task? rank a shortlist of candidates instead")
        empty = next((i for i, c in enumerate(choices) if not c.strip()), None)
        if empty is not None:
            raise DataError(self.source, f"line {line}: choice {empty} is empty")
        label_key = next((k for k in MC_LABEL_KEYS if k in record), None)
        label = record.get(label_key) if label_key else None
        if isinstance(label, str) and label.strip().lstrip("-").isdigit():
            label = int(label)
        if isinstance(label, float) and label.is_integer():
            label = int(label)
        if isinstance(label, bool) or not isinstance(label, int):
            raise DataError(self.source, f"line {line}: the label {label!r} is not the index of a choice",
                            hint=f"give \"label\" as the 0-based index of the right choice (0 to {len(choices) - 1})")
        if not 0 <= label < len(choices):
            raise DataError(self.source, f"line {line}: label {label} is out of range for {len(choices)} choices "
                                         f"(0 to {len(choices) - 1})",
                            hint="labels are 0-based indices into \"choices\"; a 1-based file needs 1 taken off")
        self.texts.append(text)
        self.choices.append(list(choices))
        self.labels.append(label)

    def _add_question(self, line: int, record: dict) -> None:
        question, context, answers = record.get("question"), record.get("context"), record.get("answers")
        for name, value in (("question", question), ("context", context)):
            if not isinstance(value, str) or not value.strip():
                raise DataError(self.source, f"line {line}: the {name} is missing or empty")
        if not isinstance(answers, dict) or not isinstance(answers.get("text"), list):
            raise DataError(self.source, f"line {line}: \"answers\" must be an object with a list \"text\" "
                                         "(and \"answer_start\")",
                            hint='as in SQuAD: {"text": ["Denver Broncos"], "answer_start": [177]}')
        texts = answers["text"]
        starts = answers.get("answer_start", [None] * len(texts))
        if not isinstance(starts, list) or len(starts) != len(texts):
            raise DataError(self.source, f"line {line}: \"answer_start\" must list one offset per answer text")
        answer = NO_ANSWER
        if texts:
            text, start = texts[0], starts[0]
            if not isinstance(text, str) or not text.strip():
                raise DataError(self.source, f"line {line}: the answer {text!r} is not a non-empty string",
                                hint="an unanswerable question has empty \"text\" and \"answer_start\" lists")
            if start is not None and (isinstance(start, bool) or not isinstance(start, int)):
                raise DataError(self.source, f"line {line}: answer_start {start!r} is not a character offset")
            answer = Answer(self._locate(line, context, text, start), text)
        self.texts.append(question)
        self.pairs.append(context)
        self.labels.append(answer)

    def _locate(self, line: int, context: str, text: str, start: int | None) -> int:
        """Where ``text`` is in ``context``: at ``start`` when it is there, else its nearest occurrence."""
        if start is not None and context[start : start + len(text)] == text:
            return start
        found, at = [], context.find(text)
        while at >= 0:
            found.append(at)
            at = context.find(text, at + 1)
        if not found:
            raise DataError(self.source, f"line {line}: the answer {_short(text)!r} is not in its context",
                            hint="an extractive answer must be a span of the context; fix or drop the line")
        self.moved += 1
        self.first_moved = self.first_moved or line
        return min(found, key=lambda offset: abs(offset - (start or 0)))

    def dataset(self, name: str, info: dict | None = None):
        """The ``Dataset`` of every example added, after the checks over all rows."""
        from .base import Dataset

        if len(self) < 2:
            raise DataError(self.source, f"has {len(self)} example{'' if len(self) == 1 else 's'}",
                            hint="at least two labelled examples are needed")
        warnings = []
        if len(self) < TINY:
            warnings.append(f"only {len(self)} examples: the embedding will be mostly noise")
        if self.moved:
            warnings.append(f"{self.moved} answer_start value(s) did not point at their answer (first on line "
                            f"{self.first_moved}); the nearest occurrence of the answer is used")
        if self.task_type == EXTRACTIVE_QA and not any(a.answerable for a in self.labels):
            raise DataError(self.source, "has no answerable question",
                            hint="an extractive-QA task needs answers that are spans of their contexts")
        return Dataset(name, self.source, self.task_type, self.texts, self.labels,
                       self.pairs if self.task_type == EXTRACTIVE_QA else None, None, dict(info or {}), warnings,
                       choices=self.choices if self.task_type == MULTIPLE_CHOICE else None)


def read_records(source: str, task_type: str, rows: Iterable[tuple[int, dict]], name: str, info: dict | None = None):
    """A multiple-choice or extractive-QA ``Dataset`` from ``(line, record)`` pairs."""
    records = Records(source, task_type)
    for line, record in rows:
        records.add(line, record)
    return records.dataset(name, info)


def join(first, second, name: str | None = None):
    """Two splits of one multiple-choice or extractive-QA task as one ``Dataset`` (``second`` last)."""
    from .base import Dataset

    return Dataset(name or first.name, first.source, first.task_type, first.texts + second.texts,
                   first.labels + second.labels,
                   first.pairs + second.pairs if first.pairs is not None else None, None, dict(first.info),
                   list(first.warnings), choices=first.choices + second.choices if first.choices is not None else None)


def to_record(dataset, i: int) -> dict:
    """Example ``i`` of a multiple-choice or extractive-QA ``Dataset`` as the JSON record it is read from."""
    if dataset.task_type == MULTIPLE_CHOICE:
        return {"text": dataset.texts[i], "choices": dataset.choices[i], "label": dataset.labels[i]}
    answer = dataset.labels[i]
    spans = {"text": [answer.text], "answer_start": [answer.start]} if answer.answerable else \
        {"text": [], "answer_start": []}
    return {"question": dataset.texts[i], "context": dataset.pairs[i], "answers": spans}


def _short(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"
