"""What every method family declares, and the parts of training its recipes share.

A ``Family`` holds, in one place: the checkpoint methods that belong to it (whose embeddings
are comparable), its invariant view, how the behaviour embedder applies it to a base model,
and, for the families zoo-rank trains, the training recipe (a ``Method`` subclass), its
settings and the paper's learning-rate grid. Readers stay one per file
format (``zoo_rank/readers/``); a family is what they read into.

Nothing here imports torch: recipes import it inside their methods.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

if TYPE_CHECKING:
    from ..embedders.behaviour.apply import Applying
    from ..terms import Term
    from ..training.config import TrainConfig
    from ..weights import AdapterWeights


@dataclass(frozen=True)
class Family:
    """One method family: ``methods`` as checkpoints declare them (``AdapterWeights.method``).

    ``settings`` is the family's own training-settings dataclass (LoRA's rank and alpha, the
    prefix length): ``TrainConfig.family_settings`` carries an instance of it as it is (and its
    key hashes it), and ``zoo-rank train`` makes one option of each field (``--lora-r`` sets
    ``lora_r``). Its ``__post_init__`` checks its own values.
    """

    name: str
    methods: tuple[str, ...]
    view: Callable[["AdapterWeights"], Iterator["Term"]]
    recipe: type["Method"] | None = None  # how zoo-rank trains it; None: read, never trained here
    learning_rates: tuple[float, ...] = ()  # the paper's grid; the first is early mode's
    settings: type | None = None  # a dataclass of the recipe's settings; None: it has none
    # how the behaviour embedder puts a checkpoint into a loaded base model: apply(applying) with an
    # ``embedders.behaviour.apply.Applying``; returns None or a runner dict. None: not behaviour-embedded
    apply: Callable[["Applying"], dict | None] | None = None


def at_least_one(settings: object, *names: str) -> None:
    """A settings dataclass's check that each of ``names`` is a whole number of at least 1."""
    from ..errors import TrainingError

    for name in names:
        value = getattr(settings, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise TrainingError(f"{name.replace('_', '-')} must be at least 1, got {value}")


def head_prefixes(model) -> list[str]:
    """Top-level modules outside the base model: the task head (``classifier``, ``score``…)."""
    prefix = model.base_model_prefix
    return sorted({name.split(".", 1)[0] for name, _ in model.named_parameters() if not name.startswith(prefix + ".")})


def is_head_parameter(name: str, heads: list[str]) -> bool:
    """Whether a parameter belongs to the task head, before or after peft wrapped the model
    (``classifier.weight``; ``base_model.model.classifier.modules_to_save.default.weight``)."""
    return any(part in heads for part in name.split(".")[:3])


class Method:
    """Prepare a model for training one method, and save what it trained.

    ``settings`` holds the family's own settings (``Family.settings``), ``config`` the run's."""

    name: str = ""
    family: Family | None = None  # set when the family is registered (families/__init__.py)

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.settings = config.settings_of(self.family) if self.family is not None else None

    def prepare(self, model):
        """Return the model to train, with only this method's parameters and the head trainable."""
        raise NotImplementedError

    def save(self, model, directory: Path) -> None:
        raise NotImplementedError

    def trainable_state(self, model) -> dict:
        """A copy of the trainable parameters (to keep the best epoch's state)."""
        return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}

    def load_state(self, model, state: dict) -> None:
        import torch

        params = dict(model.named_parameters())
        with torch.no_grad():
            for name, value in state.items():
                params[name].copy_(value)


class PeftMethod(Method):
    """A recipe that peft builds (``peft_config``) and saves in its own checkpoint format."""

    @staticmethod
    def task_type(model):
        """peft's task type for ``model``'s head: question answering (its head is ``qa_outputs``,
        saved beside the adapter), else sequence classification (multiple choice included: a
        one-output classification head scores each choice)."""
        from peft import TaskType

        return TaskType.QUESTION_ANS if type(model).__name__.endswith("ForQuestionAnswering") else TaskType.SEQ_CLS

    def peft_config(self, model):
        raise NotImplementedError

    def prepare(self, model):
        from peft import get_peft_model

        return get_peft_model(model, self.peft_config(model))

    def save(self, model, directory: Path) -> None:
        # save_embedding_layers=False: "auto" would look the base model up on the hub.
        model.save_pretrained(str(directory), safe_serialization=True, save_embedding_layers=False)
        sort_config_lists(directory / "adapter_config.json")


def sort_config_lists(path: Path) -> None:
    """peft keeps target_modules and modules_to_save in sets, so their JSON order changes from
    process to process (string hashing is randomised); sorted, the same run writes the same
    bytes. Written as peft writes it (indent 2, sorted keys)."""
    import json

    config = json.loads(path.read_text())
    for key in ("target_modules", "modules_to_save"):
        if isinstance(config.get(key), list):
            config[key] = sorted(config[key])
    path.write_text(json.dumps(config, indent=2, sort_keys=True))
