"""The training recipe an entry zoo-rank trained was made with, and whether a ranking compares
embeddings of different recipes.

Two runs on the same task land far apart when their recipes differ (another token limit, batch,
dropout rate, seed or stopping rule moves every bias), so a cosine between a target trained one
way and candidates trained another measures the recipes' difference as well as the tasks'. The
ranking still runs; it says so, as it says so for a space too small to centre.
"""

from __future__ import annotations

from collections.abc import Mapping

from .registry import Entry

# The settings that change what a run's embedding is, by the option that sets each on `zoo-rank
# train` or `--target`. Not here: the sample size (the rule adapts to it), the device, a method's
# own settings (another LoRA rank is another space already) and --patience (a run it does not stop
# is the run without it; one it stops did not learn, which its training said).
RECIPE_OPTIONS = {"mode": "--mode", "until_learned": "--until-learned", "epochs": "--epochs", "steps": "--steps",
                  "batch_size": "--batch-size", "max_length": "--max-length", "dropout": "--dropout",
                  "seed": "--seed", "lr": "--lr", "head_lr": "--head-lr"}
UNSET = {"until_learned": "a fixed length", "epochs": "no --epochs", "steps": "the rule's cap",
         "dropout": "the model's dropout (--dropout model)", "lr": "the paper's --lr", "head_lr": "the default --head-lr"}


def recipe_of(run: Entry | Mapping) -> dict | None:
    """The recipe of an entry zoo-rank trained (or of a run's own record, the
    ``zoo_rank_training.json`` beside its checkpoint), its defaults resolved as ``TrainConfig``
    resolves them (None for one it did not train, a hub adapter or an added folder, or whose record
    no longer makes a config here, such as a plugin family's that is not installed)."""
    training = run if isinstance(run, Mapping) else ((run.metadata or {}).get("training") or {})
    config = training.get("config") if isinstance(training, Mapping) else None
    if not isinstance(config, dict):
        return None
    from .errors import ZooRankError
    from .training.config import TrainConfig

    try:
        run = TrainConfig.from_record(config)
    except (ZooRankError, TypeError):
        return None
    recipe = {name: getattr(run, name) for name in RECIPE_OPTIONS}
    recipe["until_learned"] = run.learned_fraction
    if run.learned_fraction is None and run.steps is None:
        recipe["epochs"] = run.num_epochs
    return recipe


def _said(name: str, value) -> str:
    if value is None:
        return UNSET.get(name, f"no {RECIPE_OPTIONS[name]}")
    return f"{RECIPE_OPTIONS[name]} {value:g}" if isinstance(value, float) else f"{RECIPE_OPTIONS[name]} {value}"


def recipe_warning(label: str, target: list[Entry | Mapping], candidates: list[Entry]) -> str | None:
    """One line when ``candidates`` (the entries a ranking lists) hold runs whose recipe differs
    from the target's (``target``: the entries whose embeddings are the target, or the record of
    an unregistered checkpoint folder), naming the
    settings that differ; None when every candidate zoo-rank trained was trained like the target,
    or zoo-rank did not train the target."""
    mine = [r for r in map(recipe_of, target) if r is not None]
    if not mine:
        return None
    own = mine[0]
    differ: dict[str, set] = {}
    trained = [r for r in map(recipe_of, candidates) if r is not None]
    others = 0
    for theirs in trained:
        changed = [name for name in RECIPE_OPTIONS if theirs[name] != own[name]]
        others += bool(changed)
        for name in changed:
            differ.setdefault(name, set()).add(_said(name, theirs[name]))
    if not others:
        return None
    where = "; ".join(f"{_said(name, own[name])} against {', '.join(sorted(values))}" for name, values in differ.items())
    return (f"{label} was trained with another recipe than {others} of the {len(trained)} candidates listed "
            f"({where}): a cosine across recipes measures the recipes' difference as well as the tasks', so that "
            f"order is not advice; train the target with the candidates' settings, or them with its")
