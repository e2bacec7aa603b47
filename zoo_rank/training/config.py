"""Training settings: the paper's choices as defaults, every one of them overridable."""

from __future__ import annotations

import hashlib
import json
from dataclasses import Field, asdict, dataclass, fields, replace

from ..families import BUILTIN, family_of, trainable

# Learning rates searched by Zhou et al. (2022) for each method ("early" uses the first), from
# each trained family's module (zoo_rank/families/); plugin families bring their own
PAPER_LEARNING_RATES: dict[str, tuple[float, ...]] = {n: f.learning_rates for n, f in BUILTIN.items() if f.recipe}
METHOD_NAMES = tuple(PAPER_LEARNING_RATES)  # zoo-rank's own; ``trainable()`` adds plugin families'

MODES = ("early", "best")
TRAINING_FILE = "zoo_rank_training.json"  # beside each checkpoint zoo-rank trains: how it was trained
VALIDATION_EXAMPLES = 500
# --until-learned: never judged before this many steps (a smoothed loss needs some), and capped
LEARNED_MIN_STEPS = 32
LEARNED_MAX_STEPS = 400
# early mode without --epochs or --steps ends by the rule at this fraction: chosen on the 8-task
# built-in matrix (docs/method.md, "The early rule"), reported on the CR matrix without change; #37's
# cheaper candidate (0.05, batch 8, cap 200) lost the quickstart's own task (docs/method.md)
DEFAULT_UNTIL_LEARNED = 0.1
BATCH_SIZE = 32  # the paper's, for every recipe (#37's batch-8 early recipe was not shipped: docs/method.md)
# --until-learned: the fresh task head's learning rate, whatever the method's (docs/training.md)
EARLY_HEAD_LR = 1e-2
# --patience: the early rule's no-progress stop counts an improvement of its smoothed loss only when
# it beats the best so far by this fraction of the chance loss (a tenth of the rule's 0.1)
NO_PROGRESS_THRESHOLD = 0.01
# A run ended by the early rule, unless told otherwise: no dropout, and a no-progress stop after 64
# steps (#37's recipe E, docs/method.md; None would mean the model's dropout / no stop). Other runs
# (a fixed length, best mode) keep the paper's recipe: the model's dropout and no stop.
EARLY_DROPOUT: float | None = 0.0
EARLY_PATIENCE: int | None = 64
# ``TrainConfig(dropout=..., patience=...)`` left at this: the run's recipe decides (the early rule's
# ``EARLY_DROPOUT`` / ``EARLY_PATIENCE``, else none); None given says "the model's own" / "never"
DEFAULT = "default"


def training_settings() -> list[tuple[str, Field]]:
    """(family, field) for each setting of zoo-rank's trained families (LoRA's rank, alpha and
    modules; the prefix length): what ``zoo-rank train`` makes its ``--lora-r``-style options of,
    from the families' own settings dataclasses."""
    return [(family.name, f) for family in BUILTIN.values() if family.recipe is not None and family.settings
            for f in fields(family.settings)]


def family_settings(**given) -> tuple:
    """The settings dataclasses of the trained families (``LoraSettings(lora_r=4)``…) from values
    named as their fields (``lora_r=4``, ``prefix_length=7``: what the CLI's options give); a family
    none of whose fields is given is left out (it runs at its defaults)."""
    from ..errors import TrainingError

    made, used = [], set()
    for family in trainable().values():
        if family.settings is None:
            continue
        mine = {f.name: given[f.name] for f in fields(family.settings) if f.name in given}
        if mine:
            made.append(family.settings(**mine))
            used |= set(mine)
    unknown = sorted(set(given) - used)
    if unknown:
        raise TrainingError(f"no trained method family has the setting(s) {', '.join(unknown)}",
                            hint=f"settings: {', '.join(f.name for _, f in training_settings())}")
    return tuple(made)


def run_steps(config, examples: int) -> int:
    """Optimiser steps of one run (one learning rate) over ``examples`` training examples, for any
    schedule with ``steps``, ``batch_size`` and ``num_epochs`` (a ``TrainConfig``, the evaluation's);
    ended by the early rule (``learned_fraction``), the most it may take (its cap)."""
    if getattr(config, "learned_fraction", None):
        return config.steps or LEARNED_MAX_STEPS
    return config.steps or -(-examples // config.batch_size) * config.num_epochs


@dataclass(frozen=True)
class TrainConfig:
    """How one task embedding is trained.

    ``mode="early"`` is the cheap embedding, at the method's first learning rate. By default it
    ends by training progress, the same rule for any data size: once the smoothed training loss
    is ``until_learned`` (``DEFAULT_UNTIL_LEARNED``, 0.1) below the loss of a model that learned
    nothing (``chance_loss``), at least ``LEARNED_MIN_STEPS`` steps in, at most ``steps``
    (default ``LEARNED_MAX_STEPS``). Given ``epochs`` or ``steps`` without ``until_learned``, it
    runs that fixed length instead (the paper's recipe: 2 epochs). With ``patience``, a run that
    goes that many steps without its smoothed loss beating its best by ``NO_PROGRESS_THRESHOLD``
    of chance stops there too (a task it does not learn, without waiting for the cap).
    ``dropout`` and ``patience`` left at ``DEFAULT`` are the early rule's ``EARLY_DROPOUT`` and
    ``EARLY_PATIENCE`` for a run it ends and None (the model's dropout, no stop) for any other;
    they are resolved when the config is made, so a config's fields are always the run's own.
    ``mode="best"`` trains ``epochs`` passes at each learning rate of the paper's grid (or
    ``lr``), scores a held-out validation split after every epoch, and keeps the best state. ``seed`` fixes the head and the PEFT
    module initialisation and the data order, so every task in a space starts from the same
    point (what makes the raw ``tupate`` embedding meaningful).
    """

    method: str = "bitfit"
    mode: str = "early"
    epochs: int | None = None  # default: 2 (early), 5 (best)
    steps: int | None = None
    lr: float | None = None
    batch_size: int = BATCH_SIZE
    max_length: int = 128
    max_examples: int | None = 1000
    seed: int = 0
    until_learned: float | None = None  # early mode: the rule's fraction; None: DEFAULT_UNTIL_LEARNED unless a length is given
    dropout: float | str | None = DEFAULT  # every dropout layer (model, head, PEFT module) at this rate; None: the model's own
    patience: int | str | None = DEFAULT  # early rule: stop after this many steps without progress (``LearnedRule``); None: never
    head_lr: float | None = None  # None: EARLY_HEAD_LR under the early rule, else the method's learning rate
    validation_examples: int = VALIDATION_EXAMPLES  # best mode: held-out examples scored after every epoch
    device: str = "auto"
    # the method families' own settings dataclasses (``LoraSettings(lora_r=4)``, ``PrefixSettings(...)``;
    # ``family_settings(lora_r=4)`` makes them from option names); a family not here runs at its defaults
    family_settings: tuple = ()

    def __post_init__(self) -> None:
        from ..errors import TrainingError

        if self.method not in trainable() and family_of(self.method) in trainable():
            object.__setattr__(self, "method", family_of(self.method))  # the vocabulary's names: prefix_tuning is prefix
        if self.method not in trainable():
            raise TrainingError(f"unknown method {self.method!r}", hint=f"choose one of: {', '.join(trainable())}")
        if self.mode not in MODES:
            raise TrainingError(f"unknown mode {self.mode!r}", hint=f"choose one of: {', '.join(MODES)}")
        for name in ("epochs", "steps", "batch_size", "max_length", "max_examples", "validation_examples"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise TrainingError(f"{name.replace('_', '-')} must be at least 1, got {value}")
        for name in ("lr", "head_lr"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise TrainingError(f"{'head ' if name == 'head_lr' else ''}learning rate must be positive, got {value}")
        owners = [_owner(settings) for settings in self.family_settings]
        if len(set(owners)) < len(owners):
            raise TrainingError("family_settings holds two settings of one family")
        rule = self.mode == "early" and self.learned_fraction is not None
        if self.dropout == DEFAULT:
            object.__setattr__(self, "dropout", EARLY_DROPOUT if rule else None)
        if self.patience == DEFAULT:
            object.__setattr__(self, "patience", EARLY_PATIENCE if rule else None)
        if self.dropout is not None and not 0.0 <= self.dropout < 1.0:
            raise TrainingError(f"dropout must be a rate from 0 up to 1, got {self.dropout}")
        if self.patience is not None:
            if self.patience < 1:
                raise TrainingError(f"patience must be at least 1 step, got {self.patience}")
            if not self.learned_fraction:
                raise TrainingError("patience stops a run ended by the early rule, and this run has a fixed length",
                                    hint="drop --epochs/--steps or --patience (best mode has no early rule)")
        if self.until_learned is not None:
            if not 0.0 < self.until_learned < 1.0:
                raise TrainingError(f"until-learned must be a fraction between 0 and 1, got {self.until_learned}")
            if self.mode != "early":
                raise TrainingError("until-learned ends an early run; best mode picks its checkpoint on held-out data")

    @property
    def num_epochs(self) -> int:
        return self.epochs or (2 if self.mode == "early" else 5)

    @property
    def learning_rates(self) -> tuple[float, ...]:
        if self.lr is not None:
            return (self.lr,)
        grid = trainable()[self.method].learning_rates
        return grid[:1] if self.mode == "early" else grid

    @property
    def learned_fraction(self) -> float | None:
        """The early rule's fraction this run ends by, or None for a run of fixed length (best mode,
        or early mode given ``epochs`` or ``steps`` and no ``until_learned``)."""
        if self.until_learned is not None:
            return self.until_learned
        if self.mode == "early" and self.epochs is None and self.steps is None:
            return DEFAULT_UNTIL_LEARNED
        return None

    @property
    def head_learning_rate(self) -> float | None:
        """The task head's learning rate; None: the same as the method's (the paper's recipe).

        A fresh head at the method's rate (4e-4 for BitFit) hardly moves in the first hundred
        steps, and while it is random the gradient reaching the method's parameters is mostly
        noise, so the loss stays at chance and an early embedding describes the initialisation,
        not the task. A run ended by the early rule can only end once the head has learned, so
        it trains the head at ``EARLY_HEAD_LR`` (prefix tuning's own rate) unless ``head_lr`` says
        otherwise; the other recipes keep the paper's single rate.
        """
        if self.head_lr is not None:
            return self.head_lr
        return EARLY_HEAD_LR if self.learned_fraction else None

    def planned_steps(self, examples: int) -> int:
        """Optimiser steps a run on ``examples`` examples will take (over every learning rate),
        before any data is encoded: what a time estimate multiplies by a measured rate."""
        n = examples if self.mode == "early" else max(1, round(examples * 0.9))  # best holds 10% out
        return run_steps(self, min(n, self.max_examples or n)) * len(self.learning_rates)

    @property
    def settings(self) -> object | None:
        """This run's method family's own settings (``Family.settings``: LoRA's rank and alpha, the
        prefix length): the one ``family_settings`` holds, else the family's defaults."""
        return self.settings_of(trainable()[self.method])

    def settings_of(self, family) -> object | None:
        """``family``'s settings in this config: given in ``family_settings``, else its defaults."""
        if family.settings is None:
            return None
        return next((s for s in self.family_settings if isinstance(s, family.settings)), None) or family.settings()

    @classmethod
    def from_record(cls, config: dict) -> TrainConfig:
        """The config a run's recorded ``config`` (``to_dict``: its checkpoint's record, its registry
        entry) was made from, defaults resolved here; keys that are no field of it (a family's own
        settings, the label scale) are left out. Raises ``TrainingError`` (or ``TypeError``) for a
        record this version cannot make a config of, such as a plugin family's that is not installed."""
        known = {f.name for f in fields(cls)} - {"family_settings"}  # a family's own are another space
        # a record without them was made with the model's dropout and no stop (``to_dict`` leaves out
        # None, and every run before these settings existed had them so), whatever today's defaults
        return cls(**{"dropout": None, "patience": None, **{name: value for name, value in config.items() if name in known}})

    def with_method(self, method: str) -> "TrainConfig":
        return replace(self, method=method)

    def to_dict(self) -> dict:
        """The settings as one flat record (what a registered run's metadata says and its key hashes):
        the run's fields, and the settings of zoo-rank's trained families as they were before each
        family held its own (every run carried LoRA's and the prefix length: so keys and records of
        runs registered then still match), plus a plugin family's own for its runs."""
        flat = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "family_settings"}
        for name in ("dropout", "patience"):
            if flat[name] is None:
                del flat[name]  # the default, as every run was before the setting: records stay as they were
        own = [family for family in BUILTIN.values() if family.recipe is not None]
        if self.method not in BUILTIN:
            own.append(trainable()[self.method])
        for family in own:
            settings = self.settings_of(family)
            if settings is not None:
                flat.update(asdict(settings))
        return flat

    def key(self, data_sha256: str, base_model: str) -> str:
        """Identity of a training run's result: same data, model and settings → same embedding."""
        settings = {k: v for k, v in self.to_dict().items() if k != "device"}
        if self.mode == "early" or self.validation_examples == VALIDATION_EXAMPLES:
            # unused in early mode; at its default, the key of a run registered before the setting existed
            del settings["validation_examples"]
        settings["until_learned"] = self.learned_fraction
        settings["head_lr"] = self.head_learning_rate
        for name in ("lora_target_modules", "until_learned", "head_lr", "dropout", "patience"):
            if settings.get(name, 0) is None:
                del settings[name]  # the default: keys of runs made before the setting existed
        blob = json.dumps({"data": data_sha256, "base_model": base_model, **settings}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()


def _owner(settings: object) -> str:
    """The trained family whose settings dataclass ``settings`` is."""
    from ..errors import TrainingError

    for family in trainable().values():
        if family.settings is not None and isinstance(settings, family.settings):
            return family.name
    raise TrainingError(f"{type(settings).__name__} is no trained method family's settings",
                        hint="give the settings dataclasses of zoo_rank.families (LoraSettings, PrefixSettings)")
