"""The Python API behind every CLI command: add checkpoints, train embeddings, rank a target.
A façade: entries come in through ``zoo_rank.pipeline`` (``add``, ``train``; ``pull`` and
``refresh`` in ``pipeline/hub.py``); ranking is ``rank`` here, over ``targets`` and ``ranker``.

    >>> import zoo_rank
    >>> zoo_rank.add(["path/to/adapters"], task="sst2")
    >>> zoo_rank.rank("my-adapter", top=5).candidates
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from .embedders import get_embedder
from .errors import RankingError, ZooRankError
from .pipeline.ingest import AddResult  # noqa: F401 - what add returns
from .pipeline.local import add  # noqa: F401 - the API's add, where it is
from .pipeline.train import Trained, reused_line, train  # noqa: F401 - the API's train, where it is
from .ranker import Ranking, rank_embeddings
from .registry import Registry, lookup
from .space_choice import AUTO
from .targets import resolve_target
from .weights import canonical_base_model


def rank(
    target: str | Path,
    *,
    registry: Registry | None = None,
    embedder: str = AUTO,
    center: bool = False,
    top: int | None = 10,
    task_type: str | None = None,
    method: str | Sequence[str] | None = None,
    base_model: str | None = None,
    ensemble: bool | None = None,
    training: dict | None = None,
    index: str = "auto",
    prior: float = 0.0,
    fetch_base_model: bool = False,
    progress: Callable[[str], None] | None = None,
) -> Ranking:
    """Rank registered candidates for ``target`` (see ``resolve_target`` for what it may be).

    ``embedder="auto"`` ranks what zoo-rank trained (data targets, built-in tasks) in the
    invariant weight space, and adapters it did not train in the behaviour space when their base
    model is on this machine (``fetch_base_model``: download it when it is not); the ranking's
    ``warnings`` and ``notes`` say which and why (``space_choice``). ``base_model`` names the
    base model of a checkpoint-folder target whose config does not, and restricts any target to
    that base model's spaces. ``ensemble`` (default: automatic when the target has several
    methods) averages each candidate task's scores over methods, on one scale. ``prior`` (0..1)
    blends in the shipped source prior (``zoo_rank.prior``); a target whose own task was
    measured is left out of it. ``progress`` hears of entries embedded on demand.
    """
    from .space_choice import NEAR_ZERO, WEIGHTS, choose_embedder, wild_target

    registry = registry or Registry()
    if embedder != AUTO:
        get_embedder(embedder)  # an unknown name is an error before anything is trained
    if not 0.0 <= prior <= 1.0:
        raise ZooRankError(f"--prior {prior} is not a weight", hint="give a number from 0 (similarity only) to 1")
    resolved = resolve_target(registry, target, WEIGHTS if embedder == AUTO else embedder, base_model, training)
    options = dict(center=center, top=top, task_type=task_type, method=method, base_model=base_model,
                   ensemble=ensemble, index=index, prior=prior)
    if embedder != AUTO:
        ranking = _rank_resolved(registry, resolved, **options)
        if embedder in NEAR_ZERO and (embedder != WEIGHTS or wild_target(registry, resolved, target)):
            ranking.notes.append(NEAR_ZERO[embedder])
        ranking.warnings += _recipe_warnings(registry, resolved, ranking)
        return ranking
    choice = choose_embedder(registry, resolved, target, fetch_base_model=fetch_base_model)
    said = list(choice.warnings)
    if choice.embedder != WEIGHTS:
        from .pipeline.backfill import embed_registered

        if choice.to_embed and progress is not None:
            progress(f"embedding {len(choice.to_embed)} registered adapter(s) by behaviour, once (the vectors are "
                     "kept)")
        embed_registered(registry, choice.embedder, choice.to_embed)
        try:
            ranking = _rank_resolved(registry, resolve_target(registry, target, choice.embedder, base_model, training),
                                     **options)
        except RankingError as exc:  # nothing to compare with there: the weight space, said so
            said = [f"{resolved.label}: no ranking by behaviour ({exc}); ranked in weight space instead, where "
                    "adapters trained apart score near 0 whatever their tasks"]
            choice.notes = [NEAR_ZERO[WEIGHTS]]
            ranking = _rank_resolved(registry, resolved, **options)
    else:
        ranking = _rank_resolved(registry, resolved, **options)
    ranking.warnings[:0] = said
    ranking.notes += choice.notes
    ranking.warnings += _recipe_warnings(registry, resolved, ranking)
    return ranking


RECIPE_CHECKED = 100  # candidates whose training recipe is compared with the target's, from the top


def _recipe_warnings(registry: Registry, resolved, ranking: Ranking) -> list[str]:
    """A line when the listed candidates include runs trained with another recipe than the target."""
    from .recipes import recipe_warning

    trained_as = resolved.entries or ([resolved.training] if resolved.training else [])
    if not trained_as:
        return []
    names = [name for c in ranking.candidates[:RECIPE_CHECKED] for name in (c.entries or [c.name])]
    candidates = [entry for entry in map(registry.get, dict.fromkeys(names)) if entry is not None]
    line = recipe_warning(resolved.label, trained_as, candidates)
    return [line] if line else []


def _rank_resolved(registry: Registry, resolved, *, center, top, task_type, method, base_model, ensemble, index,
                   prior) -> Ranking:
    embeddings = resolved.embeddings
    if base_model is not None:  # a filter too: only the spaces of that base model
        embeddings = [e for e in embeddings if e.space.base_model == canonical_base_model(base_model)]
        if not embeddings:
            raise RankingError(f"target {resolved.label!r} has no embedding for base model {base_model!r}",
                               hint="run `zoo-rank show` on the target to see its spaces")
    own_tasks = {e.task for e in lookup(registry, resolved.exclude).values() if e.task} if prior else set()
    return rank_embeddings(
        registry, embeddings, label=resolved.label, exclude=resolved.exclude, center=center, top=top,
        task_type=task_type, method=method, ensemble=ensemble, index=index, prior=prior,
        prior_leave_out=next(iter(own_tasks)) if len(own_tasks) == 1 else None,
    )
