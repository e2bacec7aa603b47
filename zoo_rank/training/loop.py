"""One training run: data → tuned PEFT module → checkpoint folder.

Kept deliberately plain (no ``Trainer``): a run is a few hundred steps, and owning the loop
keeps the seeding, the "early"/"best" snapshots, the device handling and the progress
reporting explicit.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable

from ..datasets import Dataset
from ..errors import TrainingError
from ..stopwatch import Stopwatch
from .config import LEARNED_MIN_STEPS, NO_PROGRESS_THRESHOLD, TRAINING_FILE, TrainConfig, run_steps
from .methods import head_prefixes, is_head_parameter, recipe
from .models import BaseModel, autocast, resolve_device, set_dropout
from .objectives import Encoded, Objective, objective_for
from .objectives import collate as collate_rows

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
    # every step's training loss, one list per learning rate tried, in order: what the early rule
    # read (transformers' ``log_history``); kept in the checkpoint's record, not the registry's
    loss_history: list = field(default_factory=list)
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
    objective = objective_for(dataset)
    targets, scale = objective.targets(train_set)
    tokenizer = model = encoded = None
    best: dict | None = None
    steps_total = 0  # over every learning rate tried
    history: list[dict] = []
    for lr in config.learning_rates:
        torch.manual_seed(config.seed)  # same head and module initialisation for every task
        tokenizer, model = objective.load(base, dataset)
        heads = head_prefixes(model)
        method = recipe(config.method)(config)
        torch.manual_seed(config.seed)
        model = method.prepare(model).to(device)
        if config.dropout is not None:
            set_dropout(model, config.dropout)
        if encoded is None:  # every learning rate's tokenizer is the same: tokenise once
            encoded = objective.encode(tokenizer, train_set, config.max_length)
        label = f"{config.method} lr={lr:g}" if len(config.learning_rates) > 1 else config.method
        fraction = config.learned_fraction
        chance = objective.chance(targets, encoded)
        rule = LearnedRule(fraction, chance, config.patience) if fraction else None
        history.append({"learning_rate": lr, "losses": []})
        epochs = run_epochs(model, encoded, targets, objective, config, lr, device, progress, label, rule,
                            heads=heads, head_lr=config.head_learning_rate, curve=history[-1]["losses"])
        for epoch, steps_done, loss in epochs:
            if config.mode == "best":
                score = held_out_score(model, tokenizer, val_set, config, device)
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
    metrics = {"train_loss": best["loss"], "epochs": best["epoch"], "chance_loss": chance}
    if encoded.unplaced:
        metrics["answers_in_no_window"] = encoded.unplaced
    if rule is not None:
        metrics.update(chance_loss=rule.chance, smoothed_loss=rule.smoothed,
                       stopped_by=rule.ended_by)
    if config.mode == "best":
        metrics["validation_" + objective.score_name] = best["score"]
        metrics["validation_examples"] = len(val_set)
    result = TrainResult(
        method=config.method, checkpoint=directory, base_model=base.name, device=str(device),
        seconds=clock.wall(), steps=steps_total, learning_rate=best["lr"],
        train_examples=len(train_set), metrics=metrics, config={**config.to_dict(), "label_scale": scale},
        cpu_seconds=clock.cpu(), loss_history=history, model=model.eval(),
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


def encode(tokenizer, data: Dataset, max_length: int) -> Encoded:
    """``data`` as model inputs, by its task type's objective."""
    return objective_for(data).encode(tokenizer, data, max_length)


def collate(tokenizer_pad_id: int, encoded: Encoded, indices: list[int], device):
    """Right-padded tensors for the examples ``indices`` (every input row of each)."""
    return collate_rows(tokenizer_pad_id, encoded.rows, encoded.rows_of(indices), device)


def micro_batches(lengths: list[int], indices: list[int], budget: int) -> list[list[int]]:
    """``indices`` (one batch) in forward passes of at most ``budget`` padded tokens each (a
    longer example gets a pass of its own), shortest examples first so each pass pads little."""
    parts: list[list[int]] = [[]]
    for i in sorted(indices, key=lambda i: lengths[i]):
        if parts[-1] and (len(parts[-1]) + 1) * lengths[i] > budget:  # ascending: i is the widest so far
            parts.append([])
        parts[-1].append(i)
    return parts


class LearnedRule:
    """``until_learned``: an exponential moving average of the loss (span 16 steps) is compared
    with ``(1 - fraction) × chance`` after every step from ``LEARNED_MIN_STEPS`` on.

    With ``patience`` it also gives up, as transformers' ``EarlyStoppingCallback`` does: once the
    average has gone ``patience`` steps without beating its best by ``NO_PROGRESS_THRESHOLD`` of
    chance (and ``LEARNED_MIN_STEPS`` are done), the run stops, ``stalled``. The learning-rate
    schedule is untouched, so a run it does not stop is the run without it, step for step."""

    def __init__(self, fraction: float, chance: float, patience: int | None = None) -> None:
        self.threshold = (1.0 - fraction) * chance
        self.chance = chance
        self.smoothed: float | None = None
        self.reached = False  # the run stopped because it had learned (not at its cap)
        self.patience = patience
        self.stalled = False  # the run stopped because it made no progress for ``patience`` steps
        self.best: float | None = None
        self.best_step = 0

    @property
    def ended_by(self) -> str:
        return "learned" if self.reached else "no progress" if self.stalled else "cap"

    def learned(self, step: int, loss: float) -> bool:
        alpha = 2.0 / (16 + 1)
        self.smoothed = loss if self.smoothed is None else alpha * loss + (1 - alpha) * self.smoothed
        self.reached = step >= LEARNED_MIN_STEPS and self.smoothed <= self.threshold
        return self.reached

    def done(self, step: int, loss: float) -> bool:
        """Read step ``step``'s loss: whether the run ends here, learned or stalled."""
        if self.learned(step, loss):
            return True
        if self.patience is None:
            return False
        if self.best is None or self.smoothed < self.best - NO_PROGRESS_THRESHOLD * self.chance:
            self.best, self.best_step = self.smoothed, step
        self.stalled = step >= LEARNED_MIN_STEPS and step - self.best_step >= self.patience
        return self.stalled


def run_epochs(model, encoded: Encoded, targets, objective: Objective, config: TrainConfig, lr, device, progress,
               label, rule: LearnedRule | None = None, *, heads: list[str] = (), head_lr: float | None = None,
               curve: list[float] | None = None):
    """Train ``objective``; yields (epoch, steps done, mean loss of the epoch) at the end of each epoch, and
    (with ``rule``) when the rule ends the run (learned, or stalled), mid-epoch. The parameters of
    ``heads`` train at ``head_lr`` when it is given, the rest at ``lr``; each step's loss is
    appended to ``curve`` when it is given."""
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
    amp, scaler = autocast(device)
    pad_id = model.config.pad_token_id if model.config.pad_token_id is not None else 0
    rng = random.Random(config.seed)
    lengths = encoded.lengths()
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
                with amp:  # the batch's mean loss is the passes' means weighted by their share of it
                    loss = objective.loss(model, encoded, targets, part, device, pad_id) * (len(part) / len(indices))
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
            if curve is not None:
                curve.append(batch_loss)
            if progress:
                progress(label, step, total, losses[-1])
            ended = rule is not None and rule.done(step, losses[-1])  # read at the cap's step too
            if ended or step >= total:
                break
        yield epoch, step, sum(losses) / len(losses)
        if rule is not None and (rule.reached or rule.stalled):
            return
        model.train()


def held_out_metrics(model, tokenizer, data: Dataset, config, device, positive: str | None = None) -> dict[str, float]:
    """Every metric of the task type on held-out data (``datasets.scoring``; F1 of class ``positive``)."""
    objective = objective_for(data)
    outputs = objective.predict(model, tokenizer, data, config.max_length, device)
    return objective.scores(outputs, data, positive)


def held_out_score(model, tokenizer, data: Dataset, config: TrainConfig, device) -> float:
    """The task type's score on held-out data (accuracy, Pearson, token F1): best mode's checkpoint choice."""
    return held_out_metrics(model, tokenizer, data, config, device)[objective_for(data).score_name]
