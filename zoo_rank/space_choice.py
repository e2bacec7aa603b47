"""Which embedder ranks a target when the user names none (``--embedder auto``, the default).

Embeddings zoo-rank trains itself all start from one seeded initialisation, so their weights
line up and the invariant weight space ranks them (the default chosen on the gain matrices;
there, behaviour was no better). Adapters from elsewhere (added, pulled, or a checkpoint folder)
were trained from other initialisations, ranks and modules: in weight space two of them score
about 0 whatever their tasks (AG News LoRAs by two authors: 0.0002). What an adapter *does* to
the base model does not depend on any of that, so such a target is ranked in the behaviour space
when its base model is on this machine; when it is not, the ranking says so and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .registry import Entry, Registry, lookup

AUTO = "auto"
BEHAVIOUR = "behaviour"
WEIGHTS = "invariant"
NEAR_ZERO = {
    WEIGHTS: "In this weight space, adapters trained apart (other seeds, ranks, modules, authors) score near 0 "
             "whatever their tasks: a score near 0 says little; only adapters trained from one initialisation "
             "(as zoo-rank trains them) line up.",
    BEHAVIOUR: "Behaviour space: the cosine of what two adapters do to the base model's hidden states on 202 probe "
               "texts, whatever their method, rank, seed or author; near 0: unrelated changes.",
}


@dataclass
class EmbedderChoice:
    """The embedder to rank with, why, and the registered entries that need its vectors first."""

    embedder: str
    notes: list[str] = field(default_factory=list)  # for the caption
    warnings: list[str] = field(default_factory=list)
    to_embed: list[str] = field(default_factory=list)


def trained_by_zoo_rank(entry: Entry) -> bool:
    """Trained by ``zoo-rank train`` (here or for the shipped built-in set): one initialisation."""
    from .builtin_registry import SOURCE_PREFIX

    return bool(entry.metadata.get("train_key")) or entry.source.startswith(SOURCE_PREFIX)


def wild_target(registry: Registry, resolved, target) -> bool:
    """Whether ``resolved`` (a ``targets.Target``) stands for adapters zoo-rank did not train."""
    from .training.config import TRAINING_FILE

    if resolved.kind == "data":
        return False
    if resolved.kind == "checkpoint":
        folder = Path(target)
        known = lookup(registry, resolved.exclude).values()
        return not (folder / TRAINING_FILE).is_file() and not any(trained_by_zoo_rank(e) for e in known)
    entries = list(lookup(registry, resolved.exclude).values())
    return bool(entries) and not any(trained_by_zoo_rank(e) for e in entries)


def behaviour_blocker(base_model: str, fetch: bool) -> str | None:
    """Why the behaviour embedder cannot run for ``base_model`` here (None: it can). With
    ``fetch``, a base model missing from the Hugging Face cache is downloaded first."""
    from .base_models import locate_base_model
    from .errors import BaseModelMissing
    from .training.stack import missing_training_packages

    missing = [m for m in missing_training_packages() if m != "peft"]
    if missing:
        return f"ranking by behaviour runs the base model and needs {', '.join(missing)} (zoo-rank[train])"
    try:
        locate_base_model(base_model, "the target")
        return None
    except BaseModelMissing:
        if base_model.startswith("unknown:"):
            return "its checkpoint names no base model: pass --base-model"
        if not fetch:
            return (f"its base model {base_model} is not on this machine: add --fetch-base-model to download it "
                    f"once (or `hf download {base_model}`)")
    from .pipeline.hub import fetch_base_model

    fetch_base_model(base_model)
    return None


def choose_embedder(registry: Registry, resolved, target, *, fetch_base_model: bool = False) -> EmbedderChoice:
    """The embedder for ``--embedder auto``: behaviour for adapters zoo-rank did not train whose base
    model is here (or fetched, with ``fetch_base_model``), the invariant weight space otherwise."""
    if not wild_target(registry, resolved, target) or not resolved.embeddings:
        return EmbedderChoice(WEIGHTS)
    base_model = resolved.embeddings[0].space.base_model
    blocker = behaviour_blocker(base_model, fetch_base_model)
    if blocker is not None:
        return EmbedderChoice(WEIGHTS, notes=[NEAR_ZERO[WEIGHTS]], warnings=[
            f"{resolved.label} was not trained by zoo-rank: ranked by its weights, where adapters trained apart score "
            f"near 0 whatever their tasks. Ranking by behaviour (what adapters do) compares them, but {blocker}"])
    return EmbedderChoice(BEHAVIOUR, notes=[NEAR_ZERO[BEHAVIOUR]], to_embed=_lacking_behaviour(registry, base_model),
                          warnings=[f"{resolved.label} was not trained by zoo-rank: ranked by behaviour (what each "
                                    f"adapter does to {base_model}), where adapters trained apart are comparable; "
                                    "--embedder invariant ranks by weights instead"])


def _lacking_behaviour(registry: Registry, base_model: str) -> list[str]:
    """Registered entries of ``base_model`` without a current behaviour vector whose checkpoint files are
    here: what ``embed_registered`` gives one before the ranking (once; the vectors are kept)."""
    from .pipeline.backfill import checkpoint_folder, has_current

    names = []
    for entry in registry.entries():
        if entry.base_model != base_model or has_current(entry, BEHAVIOUR):
            continue
        folder = checkpoint_folder(entry)
        if folder is not None and folder.exists():
            names.append(entry.name)
    return names
