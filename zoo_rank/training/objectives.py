"""What a model is trained to do, per task type: its head, its inputs, its loss, its "learned".

* classification and regression: a sequence-classification head on the text (and second text);
* multiple choice: the same head with one output, scoring each (context, choice) pair; the loss
  is the cross-entropy over an example's choice scores (transformers' ``*ForMultipleChoice`` in
  effect, kept a sequence-classification model so that every PEFT method and any architecture
  with such a head trains it, and an example may have its own number of choices);
* extractive QA: a question-answering head (start and end logits per token) over the question
  and one window of the context (the window holding the answer; the first for an unanswerable
  question, whose target is the first token, as in transformers' ``run_qa``).

Each objective says what a model that learned nothing would score (``chance``), which the early
rule (``LearnedRule``) compares the training loss with (docs/training.md, "When a run has learned"):
the entropy of the class frequencies, 1 for standardised regression labels, log(number of
choices) for multiple choice (a per-choice scorer cannot learn the right choice's position), and
for extractive QA the log of the number of places an answer can be (the window's context tokens
and the no-answer token), for the start and the end alike.
"""

from __future__ import annotations

import math
import re
import string
from collections import Counter
from dataclasses import dataclass

from ..datasets import Dataset
from ..datasets.collect import EXTRACTIVE_QA, MULTIPLE_CHOICE
from ..datasets.records import NO_ANSWER
from ..errors import TrainingError

MAX_ANSWER_TOKENS = 30  # the longest answer span a QA prediction may pick (run_qa's default)


@dataclass
class Encoded:
    """A task's examples as model inputs. ``rows`` holds the tokenizer's fields per input row;
    ``groups[i]`` the rows of example ``i`` (multiple choice: one per choice; else example ``i``
    is row ``i``); ``spans`` the QA target (start, end) token of each example's row, and
    ``offsets``/``contexts`` what maps a predicted span back to the context's characters."""

    rows: dict[str, list]
    groups: list[list[int]] | None = None
    spans: list[tuple[int, int]] | None = None
    offsets: list[list] | None = None
    places: list[int] | None = None  # QA: where an answer can be in each row (context tokens + 1)
    unplaced: int = 0  # QA: answerable examples whose answer no window holds whole (they train as no-answer)

    def __len__(self) -> int:
        return len(self.groups) if self.groups is not None else len(self.rows["input_ids"])

    def rows_of(self, examples: list[int]) -> list[int]:
        if self.groups is None:
            return examples
        return [row for i in examples for row in self.groups[i]]

    def lengths(self) -> list[int]:
        """Each example's padded-token cost in one forward pass (all its rows at its widest)."""
        widths = [len(ids) for ids in self.rows["input_ids"]]
        if self.groups is None:
            return widths
        return [len(rows) * max(widths[r] for r in rows) for rows in self.groups]


def collate(pad_id: int, rows: dict[str, list], indices: list[int], device):
    """Right-padded tensors for the input rows ``indices`` (padding only to the longest of them)."""
    import torch

    width = max(len(rows["input_ids"][i]) for i in indices)
    batch = {}
    for key, values in rows.items():
        pad = pad_id if key == "input_ids" else 0
        batch[key] = torch.tensor([values[i] + [pad] * (width - len(values[i])) for i in indices],
                                  dtype=torch.long, device=device)
    return batch


class Objective:
    """What every task type's objective has: a head (``load``), inputs (``encode``), training
    targets and their ``chance`` loss, a ``loss``, and held-out ``outputs`` and ``scores``. The
    subclasses below fill it in per task type; the inputs default to the text (and second text)."""

    task_types: tuple[str, ...] = ()
    score_name = "accuracy"  # what best mode keeps the best epoch by

    def load(self, base, data: Dataset):
        """(tokenizer, model with a fresh head) for ``data``'s task type."""
        raise NotImplementedError

    def encode(self, tokenizer, data: Dataset, max_length: int) -> Encoded:
        return Encoded(dict(tokenizer(data.texts, data.pairs, truncation=True, max_length=max_length)))

    def targets(self, data: Dataset) -> tuple[list, list[float] | None]:
        """The training targets, and the scale of standardised regression labels (None otherwise)."""
        raise NotImplementedError

    def chance(self, targets: list, encoded: Encoded | None) -> float:
        """The training loss of a model that learned nothing about the task (the early rule's yardstick)."""
        raise NotImplementedError

    def loss(self, model, encoded: Encoded, targets: list, part: list[int], device, pad_id: int):
        """The mean loss over the examples ``part``."""
        raise NotImplementedError

    def outputs(self, model, encoded: Encoded, device, pad_id: int, data: Dataset) -> list:
        """The model's prediction for every example of ``encoded``."""
        raise NotImplementedError

    def scores(self, outputs: list, data: Dataset, positive: str | None = None) -> dict[str, float]:
        """Every metric of the task type for ``outputs`` against ``data``'s labels."""
        raise NotImplementedError

    def predict(self, model, tokenizer, data: Dataset, max_length: int, device) -> list:
        """The model's prediction for every example of held-out ``data``."""
        pad_id = model.config.pad_token_id if model.config.pad_token_id is not None else 0
        model.eval()
        return self.outputs(model, self.encode_held_out(tokenizer, data, max_length), device, pad_id, data)

    def encode_held_out(self, tokenizer, data: Dataset, max_length: int) -> Encoded:
        """The inputs of held-out examples: what training sees, less anything drawn from the answer."""
        return self.encode(tokenizer, data, max_length)

    @staticmethod
    def _passes(model, encoded: Encoded, device, pad_id: int):
        """(input rows, the model's output on them) for every input row, 64 rows a pass, without gradients."""
        import torch

        from .models import autocast

        amp, _ = autocast(device)
        total = len(encoded.rows["input_ids"])
        with torch.no_grad(), amp:
            for start in range(0, total, 64):
                part = list(range(start, min(start + 64, total)))
                yield part, model(**collate(pad_id, encoded.rows, part, device))

    def _logits(self, model, encoded: Encoded, device, pad_id: int):
        """Logits of every input row as float32 on the CPU."""
        import torch

        return torch.cat([out.logits.float().cpu() for _, out in self._passes(model, encoded, device, pad_id)])


class Classification(Objective):
    task_types = ("classification",)

    def load(self, base, data: Dataset):
        from .models import load_pretrained

        return load_pretrained(base, "sequence-classification", num_labels=data.num_labels,
                               problem_type="single_label_classification")

    def targets(self, data: Dataset) -> tuple[list, list[float] | None]:
        index = {name: i for i, name in enumerate(data.label_names)}
        return [index[label] for label in data.labels], None

    def chance(self, targets: list, encoded: Encoded | None) -> float:
        """The entropy of the class frequencies: the loss of predicting the label distribution."""
        counts = Counter(targets)
        return -sum(c / len(targets) * math.log(c / len(targets)) for c in counts.values())

    def loss(self, model, encoded: Encoded, targets: list, part: list[int], device, pad_id: int):
        import torch

        labels = torch.tensor([targets[i] for i in part], dtype=torch.long, device=device)
        return model(**collate(pad_id, encoded.rows, part, device), labels=labels).loss

    def outputs(self, model, encoded: Encoded, device, pad_id: int, data: Dataset) -> list:
        """A class index per example."""
        return [int(row.argmax()) for row in self._logits(model, encoded, device, pad_id)]

    def scores(self, outputs: list, data: Dataset, positive: str | None = None) -> dict[str, float]:
        from ..datasets.scoring import classification_scores

        index = {name: i for i, name in enumerate(data.label_names)}
        positive_index = index.get(positive, len(index) - 1) if positive is not None else len(index) - 1
        return classification_scores(outputs, [index[y] for y in data.labels], positive_index)


class Regression(Objective):
    task_types = ("regression",)
    score_name = "pearson"

    def load(self, base, data: Dataset):
        from .models import load_pretrained

        return load_pretrained(base, "sequence-classification", num_labels=1, problem_type="regression")

    def targets(self, data: Dataset) -> tuple[list, list[float] | None]:
        """Labels standardised (mean 0, std 1) for a stable loss."""
        mean = sum(data.labels) / len(data)
        std = math.sqrt(sum((y - mean) ** 2 for y in data.labels) / len(data)) or 1.0
        return [(y - mean) / std for y in data.labels], [mean, std]

    def chance(self, targets: list, encoded: Encoded | None) -> float:
        return 1.0  # the MSE of predicting the mean of standardised labels

    def loss(self, model, encoded: Encoded, targets: list, part: list[int], device, pad_id: int):
        import torch

        labels = torch.tensor([targets[i] for i in part], dtype=torch.float32, device=device)
        return model(**collate(pad_id, encoded.rows, part, device), labels=labels).loss

    def outputs(self, model, encoded: Encoded, device, pad_id: int, data: Dataset) -> list:
        return self._logits(model, encoded, device, pad_id)[:, 0].tolist()

    def scores(self, outputs: list, data: Dataset, positive: str | None = None) -> dict[str, float]:
        from ..datasets.scoring import regression_scores

        return regression_scores(outputs, data.labels)


class MultipleChoice(Objective):
    task_types = (MULTIPLE_CHOICE,)

    def load(self, base, data: Dataset):
        from .models import load_pretrained

        return load_pretrained(base, "sequence-classification", num_labels=1, problem_type="regression")

    def encode(self, tokenizer, data: Dataset, max_length: int) -> Encoded:
        contexts = [text for text, choices in zip(data.texts, data.choices) for _ in choices]
        endings = [choice for choices in data.choices for choice in choices]
        rows = dict(tokenizer(contexts, endings, truncation=True, max_length=max_length))
        groups, at = [], 0
        for choices in data.choices:
            groups.append(list(range(at, at + len(choices))))
            at += len(choices)
        return Encoded(rows, groups)

    def targets(self, data: Dataset) -> tuple[list, list[float] | None]:
        return list(data.labels), None

    def chance(self, targets: list, encoded: Encoded | None) -> float:
        return sum(math.log(len(rows)) for rows in encoded.groups) / len(encoded.groups)

    def _choice_scores(self, logits, encoded: Encoded, part: list[int]):
        """(examples × most choices) scores, −inf where an example has fewer choices."""
        import torch

        widest = max(len(encoded.groups[i]) for i in part)
        scores = torch.full((len(part), widest), float("-inf"), dtype=logits.dtype, device=logits.device)
        at = 0
        for row, i in enumerate(part):
            n = len(encoded.groups[i])
            scores[row, :n] = logits[at : at + n]
            at += n
        return scores

    def loss(self, model, encoded: Encoded, targets: list, part: list[int], device, pad_id: int):
        import torch

        logits = model(**collate(pad_id, encoded.rows, encoded.rows_of(part), device)).logits[:, 0]
        labels = torch.tensor([targets[i] for i in part], dtype=torch.long, device=device)
        return torch.nn.functional.cross_entropy(self._choice_scores(logits.float(), encoded, part), labels)

    def outputs(self, model, encoded: Encoded, device, pad_id: int, data: Dataset) -> list:
        logits = self._logits(model, encoded, device, pad_id)[:, 0]
        scores = self._choice_scores(logits, encoded, list(range(len(encoded))))
        return scores.argmax(-1).tolist()

    def scores(self, outputs: list, data: Dataset, positive: str | None = None) -> dict[str, float]:
        right = sum(int(p == y) for p, y in zip(outputs, data.labels))
        return {"accuracy": right / len(data) if len(data) else 0.0}


class ExtractiveQA(Objective):
    task_types = (EXTRACTIVE_QA,)
    score_name = "token_f1"

    def load(self, base, data: Dataset):
        from .models import load_pretrained

        # two outputs (start, end) whatever the base model's config says (a classifier as base may say 3)
        return load_pretrained(base, "question-answering", num_labels=2)

    def encode(self, tokenizer, data: Dataset, max_length: int) -> Encoded:
        """One row per example: the question (at most half the length) and the first window of the
        context that holds the whole answer (windows overlap by a quarter); target token 0 when the
        question has no answer or no window holds it (counted in ``Encoded.unplaced``)."""
        if not getattr(tokenizer, "is_fast", False):
            raise TrainingError(f"{data.source}: extractive QA needs a fast tokenizer (character offsets) and "
                                f"{type(tokenizer).__name__} is not one", hint="use a base model with a fast tokenizer")
        questions = _clip(tokenizer, data.texts, max_length // 2)
        windows = tokenizer(questions, data.pairs, truncation="only_second", max_length=max_length,
                            stride=max_length // 4, return_overflowing_tokens=True, return_offsets_mapping=True)
        first: dict[int, list[int]] = {}
        for window, example in enumerate(windows["overflow_to_sample_mapping"]):
            first.setdefault(example, []).append(window)
        keep = [key for key in windows if key not in ("offset_mapping", "overflow_to_sample_mapping")]
        rows: dict[str, list] = {key: [] for key in keep}
        spans, offsets, places, unplaced = [], [], [], 0
        for i, answer in enumerate(data.labels):
            chosen, span = first[i][0], (0, 0)
            if answer.answerable:
                end_char = answer.start + len(answer.text)
                for window in first[i]:
                    found = _token_span(windows.sequence_ids(window), windows["offset_mapping"][window],
                                        answer.start, end_char)
                    if found is not None:
                        chosen, span = window, found
                        break
                unplaced += span == (0, 0)
            sequence = windows.sequence_ids(chosen)
            for key in keep:
                rows[key].append(list(windows[key][chosen]))
            spans.append(span)
            offsets.append([tuple(o) if s == 1 else None for s, o in zip(sequence, windows["offset_mapping"][chosen])])
            places.append(sum(1 for s in sequence if s == 1) + 1)
        return Encoded(rows, spans=spans, offsets=offsets, places=places, unplaced=unplaced)

    def targets(self, data: Dataset) -> tuple[list, list[float] | None]:
        return list(range(len(data))), None  # the example's own index: its span is in ``Encoded.spans``

    def chance(self, targets: list, encoded: Encoded | None) -> float:
        return sum(math.log(encoded.places[i]) for i in targets) / len(targets)

    def loss(self, model, encoded: Encoded, targets: list, part: list[int], device, pad_id: int):
        import torch

        out = model(**collate(pad_id, encoded.rows, part, device))
        starts = torch.tensor([encoded.spans[targets[i]][0] for i in part], dtype=torch.long, device=device)
        ends = torch.tensor([encoded.spans[targets[i]][1] for i in part], dtype=torch.long, device=device)
        cross = torch.nn.functional.cross_entropy
        return (cross(out.start_logits.float(), starts) + cross(out.end_logits.float(), ends)) / 2

    def outputs(self, model, encoded: Encoded, device, pad_id: int, data: Dataset) -> list:
        """Each example's predicted answer text ("" for no answer): the best span of at most
        ``MAX_ANSWER_TOKENS`` context tokens, unless the no-answer score (token 0's) beats it."""
        texts = []
        for part, out in self._passes(model, encoded, device, pad_id):
            for row, i in enumerate(part):
                texts.append(_best_span(out.start_logits[row].float().cpu(), out.end_logits[row].float().cpu(),
                                        encoded.offsets[i], data.pairs[i]))
        return texts

    def encode_held_out(self, tokenizer, data: Dataset, max_length: int) -> Encoded:
        """The first window of every context, wherever its answer is (the window chosen for
        training knows where the answer is; a held-out prediction may not)."""
        unanswered = Dataset(data.name, data.source, data.task_type, data.texts, [NO_ANSWER] * len(data), data.pairs)
        return self.encode(tokenizer, unanswered, max_length)

    def scores(self, outputs: list, data: Dataset, positive: str | None = None) -> dict[str, float]:
        """SQuAD's exact match and token F1 against the example's first answer ("" when it has none)."""
        exact = [float(_normal(p) == _normal(a.text)) for p, a in zip(outputs, data.labels)]
        f1 = [_token_f1(p, a.text) for p, a in zip(outputs, data.labels)]
        n = len(data) or 1
        return {"exact_match": sum(exact) / n, "token_f1": sum(f1) / n}


def _clip(tokenizer, texts: list[str], most: int) -> list[str]:
    """Each text cut to its first ``most`` tokens (at a token's end), so a long question leaves room."""
    encoded = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
    return [text if len(spans) <= most else text[: spans[most - 1][1]]
            for text, spans in zip(texts, encoded["offset_mapping"])]


def _token_span(sequence: list, offsets: list, start: int, end: int) -> tuple[int, int] | None:
    """The first and last context token of ``[start, end)`` in one window, or None if it is not all there."""
    context = [i for i, s in enumerate(sequence) if s == 1]
    if not context or offsets[context[0]][0] > start or offsets[context[-1]][1] < end:
        return None
    first = next(i for i in context if offsets[i][1] > start)
    last = next(i for i in reversed(context) if offsets[i][0] < end)
    return first, last


def _best_span(start_logits, end_logits, offsets: list, context: str) -> str:
    import torch

    allowed = torch.tensor([o is not None for o in offsets])
    null = float(start_logits[0] + end_logits[0])
    starts = torch.where(allowed, start_logits, torch.tensor(float("-inf")))
    ends = torch.where(allowed, end_logits, torch.tensor(float("-inf")))
    pair = starts[:, None] + ends[None, :]
    n = len(offsets)
    band = torch.triu(torch.ones(n, n, dtype=torch.bool)) & ~torch.triu(torch.ones(n, n, dtype=torch.bool),
                                                                        MAX_ANSWER_TOKENS)
    pair = torch.where(band, pair, torch.tensor(float("-inf")))
    best = int(pair.argmax())
    if not math.isfinite(float(pair.flatten()[best])) or float(pair.flatten()[best]) < null:
        return ""
    first, last = divmod(best, n)
    return context[offsets[first][0] : offsets[last][1]]


def _normal(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, no articles, single spaces."""
    text = "".join(ch for ch in text.lower() if ch not in set(string.punctuation))
    return " ".join(re.sub(r"\b(a|an|the)\b", " ", text).split())


def _token_f1(predicted: str, gold: str) -> float:
    p, g = _normal(predicted).split(), _normal(gold).split()
    if not p or not g:
        return float(p == g)
    common = sum((Counter(p) & Counter(g)).values())
    if not common:
        return 0.0
    precision, recall = common / len(p), common / len(g)
    return 2 * precision * recall / (precision + recall)


OBJECTIVES: dict[str, Objective] = {}
for _objective in (Classification(), Regression(), MultipleChoice(), ExtractiveQA()):
    OBJECTIVES.update(dict.fromkeys(_objective.task_types, _objective))


def objective_for(data) -> Objective:
    """The objective of a dataset's task type."""
    try:
        return OBJECTIVES[data.task_type]
    except KeyError:
        raise TrainingError(f"{data.source}: zoo-rank cannot train a {data.task_type} task",
                            hint=f"its task types: {', '.join(OBJECTIVES)}") from None
