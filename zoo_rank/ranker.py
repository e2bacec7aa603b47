"""Ranking candidate source tasks by similarity to a target, within a space or across methods.

Scores are cosine similarities, optionally centred on the space mean: TuPaTE's released
embeddings have raw cosines of 0.95–0.99 between all tasks, and centring removes that shared
component. When the target has embeddings from several methods (a task trained with BitFit,
LoRA and prefix tuning), candidates are grouped by task and their per-method scores
averaged: the paper's ensemble.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Sequence

import numpy as np

from .embedders import all_embedders
from .spaces import TaskEmbedding
from .errors import RankingError
from .index import backends, choose_backend, shortlist_size
from .registry import Registry, column, lookup
from .similarity import centre_without, cosines, ensemble_on_one_scale


@dataclass
class Candidate:
    """One ranked candidate: an entry, or (ensemble) a task with per-method scores."""

    name: str
    score: float
    task: str | None = None
    method: str | None = None
    base_model: str | None = None
    scores: dict[str, float] = field(default_factory=dict)  # per method family: its raw cosine
    methods: list[str] = field(default_factory=list)  # the method families the score rests on
    entries: list[str] = field(default_factory=list)
    similarity: float | None = None  # with --prior: the similarity part (score is then the blend)
    prior: float | None = None  # with --prior: the source's mean measured gain on other tasks (None: unmeasured)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Ranking:
    target: str
    embedder: str
    centred: bool
    ensemble: bool
    spaces: list[str]
    candidates: list[Candidate]
    warnings: list[str] = field(default_factory=list)  # said beside the ranking, not in it
    spread: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # family -> (min, max, sd)
    alike: list[str] = field(default_factory=list)  # families whose scores barely separate the candidates
    prior_weight: float = 0.0  # > 0: scores blend standardised similarity and the source prior
    levels: dict[str, float] = field(default_factory=dict)  # ensemble of several methods: each one's mean score,
    # subtracted from its cosines before they are averaged (similarity.ensemble_on_one_scale); empty: raw cosines
    notes: list[str] = field(default_factory=list)  # what a score near 0 means here, and how the space was chosen

    def to_list(self) -> list[dict]:
        return [c.to_dict() for c in self.candidates]

    @property
    def centered(self) -> bool:
        """``centred`` under its zoo-rank 0.1 spelling (docs/vocabulary.md)."""
        return self.centred

    @property
    def families(self) -> list[str]:
        return sorted(self.spread)


ALIKE_RATIO = 0.25  # a method whose scores vary 4x less than the others' barely separates candidates


def score_spread(per_space) -> tuple[dict[str, tuple[float, float, float]], list[str]]:
    """Per method family: (min, max, sd) of its scores over every candidate, and the families
    whose sd is under ``ALIKE_RATIO`` of the median of the others (raw prefix cosines sit at
    0.97-0.99 for every task: the shared initialisation is most of the vector)."""
    spread = {}
    for target, _, scores in per_space:
        if len(scores):
            spread[target.space.family] = (float(scores.min()), float(scores.max()), float(scores.std()))
    alike = []
    for family, (_, _, sd) in spread.items():
        others = [other[2] for name, other in spread.items() if name != family]
        if others and sd < ALIKE_RATIO * float(np.median(others)):
            alike.append(family)
    return spread, sorted(alike)


FEW_CANDIDATES = 3  # fewer than this share the target's space: said, with the spaces that exist and the next step


def _elsewhere(counts: dict[str, int], targets: list[TaskEmbedding]) -> str:
    """The registry's other spaces, which the target is never compared with, by base model."""
    from .spaces import Space

    mine = {t.space.id for t in targets}
    by_base: dict[str, list[int]] = {}
    for space_id, count in counts.items():
        if space_id not in mine:
            by_base.setdefault(Space.from_id(space_id).base_model, []).append(count)
    if not by_base:
        return "the registry holds no other space"
    total = sum(sum(c) for c in by_base.values())
    ranked = sorted(by_base.items(), key=lambda item: -sum(item[1]))
    shown = "; ".join(f"{base}: {sum(c)} in {len(c)} space{'s' if len(c) != 1 else ''}" for base, c in ranked[:3])
    more = f"; {len(ranked) - 3} more base models" if len(ranked) > 3 else ""
    return (f"the registry's other {total} vector{'s are' if total != 1 else ' is'} in spaces it is never compared "
            f"with (other base models, methods or embedders: {shown}{more}; `zoo-rank spaces` lists them)")


def _more_sources(targets: list[TaskEmbedding]) -> str:
    base = targets[0].space.base_model
    return (f"To rank more sources, add adapters of {base} (`zoo-rank add DIR`, `zoo-rank pull --base-model {base}`) "
            f"or train the built-in tasks on it (`zoo-rank train --builtin-tasks --base-model {base}`)")


MIN_CENTRED_SPACE = 5  # fewer vectors than this: centring is said to be unreliable


def space_scores(registry: Registry, target: TaskEmbedding, center: bool, backend: str = "numpy",
                 limit: int | None = None, exclude: set[int] = frozenset()) -> tuple[np.ndarray, np.ndarray]:
    """(entry ids, cosine scores) of every vector in the target's space; with a faiss
    ``backend``, of the ``limit`` that its index shortlists, re-scored exactly. Centred on the
    mean of the candidates: the target's own entries (``exclude``) are left out of it, as the
    evaluation leaves them out (``similarity.mean_excluding``)."""
    left_out = np.fromiter(exclude, dtype=np.int64, count=len(exclude))
    if backend == "numpy":
        space = registry.space_matrix(target.space.id)
        mean = None
        if center:
            own = np.isin(space.entry_ids, left_out)
            mean = centre_without(space.mean, len(space.entry_ids), np.asarray(space.matrix[own], np.float32))
        return space.entry_ids, cosines(space.matrix, target.vector, mean)
    shortlist, mean = backends()[backend].shortlist(registry, target.space.id, target.vector, limit or 100, center)
    if center:
        _, own = registry.vectors_for(target.space.id, left_out.tolist())
        mean = centre_without(mean, registry.space_info(target.space.id)[2], own)
    ids, rows = registry.vectors_for(target.space.id, shortlist)
    return ids, cosines(rows, target.vector, mean if center else None)


def rank_embeddings(
    registry: Registry,
    targets: list[TaskEmbedding],
    *,
    label: str,
    exclude: set[int] = frozenset(),
    center: bool = False,
    top: int | None = 10,
    task_type: str | None = None,
    method: str | Sequence[str] | None = None,
    ensemble: bool | None = None,
    index: str = "auto",
    prior: float = 0.0,
    prior_leave_out: str | None = None,
) -> Ranking:
    """Rank registry entries against target embeddings (one per space); ``method``: the
    methods or families candidates may have; ``index``: how each space is searched
    (``zoo_rank.index``: numpy's exact scan, or a faiss shortlist re-scored exactly);
    ``prior``: the weight of the shipped source prior (``zoo_rank.prior``), whose mean leaves
    out ``prior_leave_out`` (the target's own task, when it is a measured one)."""
    if not targets:
        raise RankingError(f"target {label!r} has no embedding from this embedder to rank with",
                           hint=f"`zoo-rank show {label}` lists its spaces; `zoo-rank embed {label} --embedder NAME` "
                                "adds one from its checkpoint files")
    counts = {space.id: count for space, count in registry.spaces() if count}
    known = set(counts)
    usable = [t for t in targets if t.space.id in known]
    methods = {method} if isinstance(method, str) else set(method or ())
    allowed = column(registry, "method", task_type=task_type) if (task_type or methods) else None
    if allowed is not None and methods:
        allowed = {i: m for i, m in allowed.items() if m in methods or _family(m) in methods}
    per_space: list[tuple[TaskEmbedding, np.ndarray, np.ndarray]] = []
    for target in usable:
        backend = choose_backend(index, counts[target.space.id])
        if not top and index == "auto":
            backend = "numpy"  # every candidate is wanted: nothing to shortlist
        limit = max(shortlist_size(), 10 * top) + len(exclude) if top else counts[target.space.id]
        while True:
            ids, scores = space_scores(registry, target, center, backend, limit, exclude)
            keep = ~np.isin(ids, np.fromiter(exclude, dtype=np.int64, count=len(exclude)))
            if allowed is not None:
                keep &= np.isin(ids, np.fromiter(allowed, dtype=np.int64, count=len(allowed)))
            if backend == "numpy" or keep.sum() >= (top or 10):
                break
            # a filtered shortlist came up short: widen it, and scan everything once it cannot grow
            if limit >= counts[target.space.id]:
                backend = "numpy"
            limit *= 8
        if keep.any():
            per_space.append((target, ids[keep], scores[keep]))
    if not per_space:
        spaces = ", ".join(t.space.label for t in targets)
        hint = f"{_elsewhere(counts, targets)}. {_more_sources(targets)}"
        on_demand = sorted({t.space.embedder for t in targets if not getattr(
            all_embedders().get(t.space.embedder), "on_ingest", True)})
        if on_demand:
            hint = (f"{', '.join(on_demand)} vectors are made on demand: `zoo-rank embed --embedder {on_demand[0]}` "
                    "gives them to every registered entry whose checkpoint is here (the shipped built-in entries have "
                    "none)")
        raise RankingError(f"no candidates for {label!r} in its space ({spaces})", hint=hint)
    warnings = [f"--centred: the space {t.space.label} holds {counts[t.space.id]} vectors; a mean of so few is mostly "
                f"the vectors themselves (with 2, every centred score is -1), so these scores say little. Add adapters "
                f"of that space or rank without --centred"
                for t, *_ in per_space if center and counts[t.space.id] < MIN_CENTRED_SPACE]
    warnings += registry.notes
    found = len(np.unique(np.concatenate([ids for _, ids, _ in per_space])))
    if found < FEW_CANDIDATES:
        shared = ", ".join(t.space.label for t, *_ in per_space)
        warnings.append(f"only {found} candidate{'s' if found != 1 else ''} share{'s' if found == 1 else ''} the space "
                        f"of {label} ({shared}); {_elsewhere(counts, targets)}. {_more_sources(targets)}")
    ensemble = len(per_space) > 1 if ensemble is None else ensemble
    spread, alike = score_spread(per_space)
    for family in alike:
        low, high, sd = spread[family]
        others = ", ".join(f"{f} {spread[f][2]:.3f}" for f in sorted(spread) if f != family)
        consequence = ("so the order comes from the other methods" if ensemble
                       else f"so the {family} list says little")
        warnings.append(f"{family} scores are all alike ({low:.3f} to {high:.3f}, sd {sd:.3f}; {others}): they barely "
                        f"separate the candidates, {consequence}")
    families = sorted({t.space.family for t, *_ in per_space})
    if ensemble:
        candidates, levels = _group_by_task(registry, per_space)
        warnings += _mixed_method_sets(candidates, families)
    else:
        candidates, levels = _by_entry(registry, per_space, None if prior else top), {}
    if prior:
        warnings += _apply_prior(registry, candidates, prior, prior_leave_out)
    if not ensemble and len(families) > 1:
        # one list per method, never interleaved: cosines of different spaces are not on one scale
        candidates.sort(key=lambda c: (families.index(c.methods[0]), -c.score, c.name))
        if top:
            candidates = [c for f in families for c in [c for c in candidates if c.methods[0] == f][:top]]
    else:
        candidates.sort(key=lambda c: (-c.score, c.name))
        candidates = candidates[:top] if top else candidates
    return Ranking(
        target=label,
        embedder=targets[0].space.embedder,
        centred=center,
        ensemble=ensemble,
        spaces=[t.space.id for t, *_ in per_space],
        candidates=candidates,
        warnings=warnings,
        spread=spread,
        alike=alike,
        prior_weight=prior,
        levels=levels,
    )


def _mixed_method_sets(candidates: list[Candidate], families: list[str]) -> list[str]:
    """Say which candidates are scored on fewer methods than the others: their scores are on the
    same scale (each method measured from its own level) but rest on less evidence."""
    partial = [c for c in candidates if len(c.methods) < len(families)]
    if len(families) < 2 or not partial:
        return []
    shown = ", ".join(f"{c.name} ({'+'.join(c.methods)})" for c in sorted(partial, key=lambda c: -c.score)[:5])
    more = f" and {len(partial) - 5} more" if len(partial) > 5 else ""
    return [f"{len(partial)} of {len(candidates)} candidates lack some of the methods {'+'.join(families)}: {shown}"
            f"{more}; each is scored over the methods it has, every method measured from its own average over the "
            "candidates (so 0 is an average candidate whatever its methods), and rests on less evidence"]


def _apply_prior(registry: Registry, candidates: list[Candidate], weight: float, leave_out: str | None) -> list[str]:
    """Blend each candidate's score with its source prior; returns what to say about it.

    Only candidates from the shipped built-in set get a prior (by task name): a user's own
    task called ``snli`` is other data, and gets none.
    """
    from .builtin_registry import SOURCE_PREFIX
    from .prior import blend, load_prior

    table = load_prior()
    priors: dict[str, float | None] = {}
    for c in candidates:
        shipped = c.task in table.tasks and any(
            (entry := registry.get(name)) is not None and entry.source.startswith(SOURCE_PREFIX) for name in c.entries)
        priors[c.name] = table.of(c.task, leave_out) if shipped else None
    blended = blend({c.name: c.score for c in candidates}, priors, weight)
    for c in candidates:
        c.similarity, c.prior, c.score = c.score, priors[c.name], blended[c.name]
    unmeasured = sorted(c.name for c in candidates if priors[c.name] is None)
    said = []
    if unmeasured:
        listed = ", ".join(unmeasured[:8]) + (f" and {len(unmeasured) - 8} more" if len(unmeasured) > 8 else "")
        said.append(f"--prior: no measured prior for {listed}; counted as average sources (their place comes from "
                    "similarity alone)")
    if leave_out in table.tasks:
        said.append(f"--prior: the target {leave_out!r} is a measured task; its own gains are left out of every "
                    "source's prior")
    return said


def _family(method: str) -> str:
    from .families import family_of

    return family_of(method)


def _by_entry(registry: Registry, per_space, top: int | None) -> list[Candidate]:
    ids = np.concatenate([ids for _, ids, _ in per_space])
    scores = np.concatenate([scores for _, _, scores in per_space])
    families = np.concatenate([[t.space.family] * len(i) for t, i, _ in per_space])
    # partial sort (the top of a million costs one pass, not a full sort); with several methods, each list is cut later
    if top and top < len(scores) and len(per_space) == 1:
        head = np.argpartition(-scores, top - 1)[:top]
        order = head[np.argsort(-scores[head], kind="stable")]
    else:
        order = np.argsort(-scores, kind="stable")
    entries = lookup(registry, ids[order])
    candidates = []
    for i in order:
        entry = entries[int(ids[i])]
        family = str(families[i])
        candidates.append(Candidate(
            name=entry.name, score=float(scores[i]), task=entry.task, method=entry.method,
            base_model=entry.base_model, scores={family: float(scores[i])}, methods=[family], entries=[entry.name],
        ))
    return candidates


def _group_by_task(registry: Registry, per_space) -> tuple[list[Candidate], dict[str, float]]:
    """The paper's ensemble over methods, on one scale: (candidates, each method's level).

    Entries without a task stand for themselves. With one method a score is the candidate's
    cosine; with several, the mean over the methods it has of its cosine minus that method's
    level (``similarity.ensemble_on_one_scale``), so a candidate that lacks a method is neither
    lifted nor sunk by that method's level. ``scores`` keeps the raw cosines, ``methods`` says
    which the score rests on.
    """
    entries = lookup(registry, np.unique(np.concatenate([ids for _, ids, _ in per_space])))
    groups: dict[str, dict[str, list[float]]] = {}
    members: dict[str, list[str]] = {}
    tasks: dict[str, str | None] = {}
    for target, ids, scores in per_space:
        for entry_id, score in zip(ids.tolist(), scores.tolist()):
            entry = entries[entry_id]
            key = entry.task or entry.name
            groups.setdefault(key, {}).setdefault(target.space.family, []).append(score)
            members.setdefault(key, []).append(entry.name)
            tasks[key] = entry.task
    per_candidate = {key: {family: float(np.mean(values)) for family, values in by_family.items()}
                     for key, by_family in groups.items()}
    several = len({family for by_family in per_candidate.values() for family in by_family}) > 1
    if several:
        combined, levels = ensemble_on_one_scale(per_candidate)
    else:
        combined, levels = {key: next(iter(s.values())) for key, s in per_candidate.items()}, {}
    candidates = [Candidate(name=key, score=combined[key], task=tasks[key], scores=family_scores,
                            methods=sorted(family_scores), entries=sorted(members[key]))
                  for key, family_scores in per_candidate.items()]
    return candidates, levels
