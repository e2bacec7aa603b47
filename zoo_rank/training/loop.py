"""One training run: data → tuned PEFT module → checkpoint folder.

Kept deliberately plain (no ``Trainer``): a run is a few hundred steps, and owning the loop
keeps the seeding, the "early"/"best" snapshots, the device handling and the progress
reporting explicit.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable

from ..datasets import Dataset
from ..errors import TrainingError
from ..stopwatch import Stopwatch
from .config import LEARNED_MIN_STEPS, TRAINING_FILE, TrainConfig, run_steps
from .methods import head_prefixes, is_head_parameter, recipe
from .models import BaseModel, load_for_classification, resolve_device

# progress(description, steps done, steps in total, latest loss)
Progress = Callable[[str, int, int, "float | None"], None]

# Padded tokens in one forward pass on a CPU. A batch is split into passes of similar length and
# their gradients summed, so the step is the same but padding and activations shrink: on the
# quickstart's data 2.3x fewer seconds a step and 2.7x less peak memory (docs/benchmarks.md).
# On a GPU one pass a batch is faster, so the budget there only caps a batch of long texts.
MICRO_BATCH_TOKENS = {"cpu": 512}
GPU_MICRO_BATCH_TOKENS = 16384


@dataclass
class TrainResult:
    method: str
    checkpoint: Path
    base_model: str
    device: str
    seconds: float
    steps: int
    learning_rate: float
    train_examples: int
    metrics: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)
    cpu_seconds: float | None = None  # this process's CPU time for the run (``seconds`` is wall time)
    model: object = field(default=None, repr=False, compare=False)  # the trained model, in memory

    def to_dict(self) -> dict:
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "model"}  # no deepcopy of the model
        return {**values, "checkpoint": str(self.checkpoint)}


def train_checkpoint(
    dataset: Dataset,
    directory: str | Path,
    config: TrainConfig,
    base: BaseModel,
    *,
    progress: Progress | None = None,
) -> TrainResult:
    """Train ``config.method`` on ``dataset`` and write its checkpoint into ``directory``.

    ``directory`` must not exist yet; callers write into a temporary folder and move it into
    place only once the run finished, so an interrupted run leaves nothing behind.
    """
    import torch

    clock = Stopwatch()
    device = resolve_device(config.device)
    directory = Path(directory)
    if directory.exists():
        raise TrainingError(f"{directory}: already exists", hint="choose a new output folder")
    train_set, val_set = _splits(dataset, config)
    regression = dataset.task_type == "regression"
    targets, scale = label_targets(train_set, regression)
    tokenizer = model = encoded = None
    best: dict | None = None
    steps_total = 0  # over every learning rate tried
    for lr in config.learning_rates:
        torch.manual_seed(config.seed)  # same head and module initialisation for every task
        tokenizer, model = load_for_classification(base, dataset.num_labels, regression)
        heads = head_prefixes(model)
        method = recipe(config.method)(config)
        torch.manual_seed(config.seed)
        model = method.prepare(model).to(device)
        if encoded is None:  # every learning rate's tokenizer is the same: tokenise once
            encoded = encode(tokenizer, train_set, config.max_length)
        label = f"{config.method} lr={lr:g}" if len(config.learning_rates) > 1 else config.method
        fraction = config.learned_fraction
        rule = LearnedRule(fraction, chance_loss(targets, regression)) if fraction else None
        epochs = run_epochs(model, encoded, targets, regression, config, lr, device, progress, label, rule,
                            heads=heads, head_lr=config.head_learning_rate)
        for epoch, steps_done, loss in epochs:
            if config.mode == "best":
                score = held_out_score(model, tokenizer, val_set, regression, scale, config, device)
                if best is None or score > best["score"]:
                    best = {"score": score, "lr": lr, "epoch": epoch, "state": method.trainable_state(model),
                            "loss": loss}
            else:
                best = {"lr": lr, "epoch": epoch, "loss": loss}
        steps_total += steps_done
    if config.mode == "best":
        method.load_state(model, best.pop("state"))
    directory.mkdir(parents=True)
    method.save(model, directory)
    metrics = {"train_loss": best["loss"], "epochs": best["epoch"], "chance_loss": chance_loss(targets, regression)}
    if rule is not None:
        metrics.update(chance_loss=rule.chance, smoothed_loss=rule.smoothed,
                       stopped_by="learned" if rule.reached else "cap")
    if config.mode == "best":
        metrics["validation_" + ("pearson" if regression else "accuracy")] = best["score"]
        metrics["validation_examples"] = len(val_set)
    result = TrainResult(
        method=config.method, checkpoint=directory, base_model=base.name, device=str(device),
        seconds=clock.wall(), steps=steps_total, learning_rate=best["lr"],
        train_examples=len(train_set), metrics=metrics, config={**config.to_dict(), "label_scale": scale},
        cpu_seconds=clock.cpu(), model=model.eval(),
    )
    (directory / TRAINING_FILE).write_text(json.dumps(
        {**result.to_dict(), "checkpoint": None, "dataset": {"name": dataset.name, "source": dataset.source,
                                                            "sha256": dataset.sha256(), "task_type": dataset.task_type,
                                                            "labels": dataset.label_names}}, indent=2) + "\n")
    return result


def _splits(dataset: Dataset, config: TrainConfig) -> tuple[Dataset, Dataset | None]:
    if config.mode == "early":
        return dataset.sample(config.max_examples, config.seed), None
    train, val = dataset.split(0.1, salt="validation")
    if len(val) < 2 or len(train) < 2:
        raise TrainingError(f"{dataset.source}: too few examples ({len(dataset)}) to hold out a validation split",
                            hint="use --mode early")
    return train.sample(config.max_examples, config.seed), val.sample(config.validation_examples, config.seed)


def label_targets(train_set: Dataset, regression: bool) -> tuple[list, list[float] | None]:
    """Class indices, or regression labels standardised (mean 0, std 1) for a stable loss."""
    if not regression:
        index = {name: i for i, name in enumerate(train_set.label_names)}
        return [index[label] for label in train_set.labels], None
    mean = sum(train_set.labels) / len(train_set)
    std = math.sqrt(sum((y - mean) ** 2 for y in train_set.labels) / len(train_set)) or 1.0
    return [(y - mean) / std for y in train_set.labels], [mean, std]


def encode(tokenizer, data: Dataset, max_length: int) -> dict[str, list]:
    return dict(tokenizer(data.texts, data.pairs, truncation=True, max_length=max_length))


def collate(tokenizer_pad_id: int, encoded: dict[str, list], indices: list[int], device):
    """Right-padded tensors for ``indices`` (padding each batch only to its longest example)."""
    import torch

    width = max(len(encoded["input_ids"][i]) for i in indices)
    batch = {}
    for key, values in encoded.items():
        pad = tokenizer_pad_id if key == "input_ids" else 0
        rows = [values[i] + [pad] * (width - len(values[i])) for i in indices]
        batch[key] = torch.tensor(rows, dtype=torch.long, device=device)
    return batch


def micro_batches(lengths: list[int], indices: list[int], budget: int) -> list[list[int]]:
    """``indices`` (one batch) in forward passes of at most ``budget`` padded tokens each (a
    longer example gets a pass of its own), shortest examples first so each pass pads little."""
    parts: list[list[int]] = [[]]
    for i in sorted(indices, key=lambda i: lengths[i]):
        if parts[-1] and (len(parts[-1]) + 1) * lengths[i] > budget:  # ascending: i is the widest so far
            parts.append([])
        parts[-1].append(i)
    return parts


def _autocast(device):
    import contextlib

    import torch

    if device.type != "cuda":
        return contextlib.nullcontext(), None
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda") if dtype == torch.float16 else None
    return torch.autocast("cuda", dtype=dtype), scaler


def chance_loss(targets: list, regression: bool) -> float:
    """The training loss of a model that learned only the label distribution: the entropy of the
    class frequencies (cross-entropy), or 1 for regression (MSE on standardised labels)."""
    if regression:
        return 1.0
    counts = Counter(targets)
    return -sum(c / len(targets) * math.log(c / len(targets)) for c in counts.values())


class LearnedRule:
    """``until_learned``: an exponential moving average of the loss (span 16 steps) is compared
    with ``(1 - fraction) × chance`` after every step from ``LEARNED_MIN_STEPS`` on."""

    def __init__(self, fraction: float, chance: float) -> None:
        self.threshold = (1.0 - fraction) * chance
        self.chance = chance
        self.smoothed: float | None = None
        self.reached = False  # the run stopped because it had learned (not at its cap)

    def learned(self, step: int, loss: float) -> bool:
        alpha = 2.0 / (16 + 1)
        self.smoothed = loss if self.smoothed is None else alpha * loss + (1 - alpha) * self.smoothed
        self.reached = step >= LEARNED_MIN_STEPS and self.smoothed <= self.threshold
        return self.reached


def run_epochs(model, encoded, targets, regression, config: TrainConfig, lr, device, progress, label,
               rule: LearnedRule | None = None, *, heads: list[str] = (), head_lr: float | None = None):
    """Train; yields (epoch, steps done, mean loss of the epoch) at the end of each epoch, and
    (with ``rule``) when the rule says the run has learned, mid-epoch. The parameters of
    ``heads`` train at ``head_lr`` when it is given, the rest at ``lr``."""
    import torch

    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    in_head = [head_lr is not None and is_head_parameter(n, heads) for n, _ in trainable]
    groups = [{"params": [p for (_, p), h in zip(trainable, in_head) if not h], "lr": lr}]
    if any(in_head):
        groups.append({"params": [p for (_, p), h in zip(trainable, in_head) if h], "lr": head_lr})
    optimizer = torch.optim.AdamW(groups, lr=lr, weight_decay=0.0)
    n = len(targets)
    total = run_steps(config, n)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: max(0.0, 1.0 - step / total))
    amp, scaler = _autocast(device)
    label_dtype = torch.float32 if regression else torch.long
    pad_id = model.config.pad_token_id if model.config.pad_token_id is not None else 0
    rng = random.Random(config.seed)
    lengths = [len(ids) for ids in encoded["input_ids"]]
    budget = MICRO_BATCH_TOKENS.get(device.type, GPU_MICRO_BATCH_TOKENS)
    model.train()
    step, epoch = 0, 0
    if progress:
        progress(label, 0, total, None)
    while step < total:
        epoch += 1
        order = list(range(n))
        rng.shuffle(order)
        losses = []
        for start in range(0, n, config.batch_size):
            indices = order[start : start + config.batch_size]
            batch_loss = 0.0
            for part in micro_batches(lengths, indices, budget):
                labels = torch.tensor([targets[i] for i in part], dtype=label_dtype, device=device)
                with amp:  # the batch's mean loss is the passes' means weighted by their share of it
                    loss = model(**collate(pad_id, encoded, part, device), labels=labels).loss * (len(part) / len(indices))
                if not torch.isfinite(loss):
                    raise TrainingError(f"training diverged at step {step + 1} (loss {loss.item()})",
                                        hint="lower the learning rate with --lr")
                (scaler.scale(loss) if scaler else loss).backward()
                batch_loss += loss.item()
            if scaler:
                scaler.step(optimizer)
                scaler.update()
            else:
                optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            schedule.step()
            step += 1
            losses.append(batch_loss)
            if progress:
                progress(label, step, total, losses[-1])
            if step >= total or (rule is not None and rule.learned(step, losses[-1])):
                break
        yield epoch, step, sum(losses) / len(losses)
        if rule is not None and rule.reached:
            return
        model.train()


def held_out_predictions(model, tokenizer, data: Dataset, regression: bool, config, device) -> list:
    """The model's outputs on held-out data: class indices, or the regression value."""
    import torch

    encoded = encode(tokenizer, data, config.max_length)
    pad_id = model.config.pad_token_id if model.config.pad_token_id is not None else 0
    model.eval()
    outputs = []
    amp, _ = _autocast(device)
    with torch.no_grad(), amp:
        for start in range(0, len(data), 64):
            indices = list(range(start, min(start + 64, len(data))))
            logits = model(**collate(pad_id, encoded, indices, device)).logits.float().cpu()
            outputs += logits[:, 0].tolist() if regression else logits.argmax(-1).tolist()
    return outputs


def held_out_metrics(model, tokenizer, data: Dataset, regression: bool, config, device,
                     positive: str | None = None) -> dict[str, float]:
    """Every metric of ``zoo_rank.datasets.scoring`` that fits the task type (F1 of class ``positive``)."""
    from ..datasets.scoring import classification_scores, regression_scores

    outputs = held_out_predictions(model, tokenizer, data, regression, config, device)
    if regression:
        return regression_scores(outputs, data.labels)
    index = {name: i for i, name in enumerate(data.label_names)}
    positive_index = index.get(positive, len(index) - 1) if positive is not None else len(index) - 1
    return classification_scores(outputs, [index[y] for y in data.labels], positive_index)


def held_out_score(model, tokenizer, data: Dataset, regression: bool, scale, config: TrainConfig, device) -> float:
    """Accuracy, or Pearson correlation for regression, on held-out data (best mode's checkpoint choice)."""
    metrics = held_out_metrics(model, tokenizer, data, regression, config, device)
    return metrics["pearson" if regression else "accuracy"]
