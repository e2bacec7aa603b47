"""Predicted source scores for every target: TuPaTE's variants and the paper's baselines.

Every method produces, for each target task, a score per candidate source (higher = rank
first), from data the method would have in practice: the source's training sample and the
target's limited sample — the same samples ``bench transfer`` fine-tuned on (seed 0), never
the test sets or the measured gains.

* TuPaTE: BitFit / LoRA / prefix-tuning embeddings, sources (1,000 examples) and targets (their
  limited sample) trained here with one recipe: the paper's 2 epochs (``tupate``), the early
  rule at F (``tupate:F``; zoo-rank's default is 0.1) or best mode (``tupate-best``). Scored by
  the ranker's cosine (``zoo_rank.similarity``), raw and centred on
  the mean of the candidate sources (the target's own source embedding left out),
  with the ``tupate`` and ``invariant`` embedders, and the three-method ensemble (mean of
  the per-method cosines, as the ranker's ``--ensemble``).
* DataSize: the number of examples the source was trained on (all equal in LIMITED →
  LIMITED, i.e. a random ranking); "DataSize (full split)" uses the size of the source's
  whole training split, the prior a user would reach for.
* TextEmb: mean last-layer token state of the base model over the task's sample.
* TaskEmb (Vu et al., 2020): diagonal empirical Fisher information of the fully fine-tuned
  model's encoder weights (word embeddings excluded) over the task's sample.
* CurveGrad (Bingel & Søgaard, 2017, as in Vu et al., 2020): the slope of the source's
  fine-tuning loss curve at 10–70% of training, steepest first, merged by reciprocal rank
  fusion (``curvegrad.py``); the same order for every target.
* Random: every source scored equal; the metrics return their exact expectation over
  random orders.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache, partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..similarity import cosines, mean_excluding
from ..similarity import ensemble as ensemble_score
from ..stopwatch import Stopwatch
from ..training.config import DEFAULT
from .fisher import FISHER_EXAMPLES, write_json
from .transfer import TransferConfig, TransferError

if TYPE_CHECKING:
    from ..training import TrainConfig

Scores = dict[str, dict[str, float]]  # target → source → score
TUPATE_METHODS = ("bitfit", "lora", "prefix")
@dataclass
class Prediction:
    """One method's scores, and what one task embedding cost on this machine: wall seconds, and
    this process's CPU seconds where they were measured (wall time alone was inflated by neighbours)."""

    name: str
    family: str  # tupate | baseline
    scores: Scores
    seconds_per_embedding: float | None = None
    details: dict = field(default_factory=dict)
    cpu_seconds_per_embedding: float | None = None


def save_predictions(path: str | Path, predictions: dict[str, Prediction], provenance: dict) -> None:
    write_json(path, {"provenance": provenance,
                      "methods": {name: {"family": p.family, "seconds_per_embedding": p.seconds_per_embedding,
                                         **({"cpu_seconds_per_embedding": p.cpu_seconds_per_embedding}
                                            if p.cpu_seconds_per_embedding is not None else {}),
                                         "details": p.details, "scores": p.scores} for name, p in predictions.items()}})


def load_predictions(path: str | Path) -> tuple[dict[str, Prediction], dict]:
    path = Path(path)
    if not path.exists():
        return {}, {}
    try:
        body = json.loads(path.read_text(encoding="utf-8"))
        methods = {name: Prediction(name, m["family"], m["scores"], m.get("seconds_per_embedding"), m.get("details", {}),
                                    m.get("cpu_seconds_per_embedding"))
                   for name, m in body["methods"].items()}
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise TransferError(f"{path}: is not a predictions file ({exc})",
                            hint="regenerate it with `zoo-rank bench predict`") from exc
    return methods, body.get("provenance", {})


Progress = Callable[[str], None]


def predict_all(config: TransferConfig, out: str | Path, *, work: str | Path, groups: tuple[str, ...],
                device: str = "auto", home: str | Path | None = None, progress: Progress | None = None,
                best_config: TrainConfig | None = None, force: bool = False,
                fisher_dir: str | Path | None = None, max_length: int | None = None,
                batch_size: int | None = None, learned_cap: int | None = None,
                dropout: float | str | None = DEFAULT, patience: int | str | None = DEFAULT) -> dict[str, Prediction]:
    """Compute the requested method groups (tupate, tupate-best, behaviour, datasize, textemb, curvegrad,
    taskemb, random) into ``out``.

    Groups already in ``out`` are kept, so a run can be resumed or extended group by group;
    ``force`` recomputes the requested ones (the embeddings already registered in ``work`` are
    reused, so only what was removed from it is trained again).
    ``best_config`` holds the training settings of tupate-best's runs (the defaults if not
    given); its mode, sample size, seed and device are set here. ``fisher_dir`` is where
    ``bench transfer --fisher-dir`` saved TaskEmb's Fisher vectors (default ``work/fisher``).
    ``max_length`` is the token limit of the TuPaTE groups' training runs (default: `zoo-rank
    train`'s, which is what a user's target gets); ``batch_size`` their batch, ``learned_cap``
    the early rule's cap (its ``steps``), ``dropout`` their dropout rate and ``patience`` the rule's
    no-progress stop (None: the model's dropout, no stop; ``DEFAULT``: `zoo-rank train`'s): each
    is recorded in the provenance when given, and the TuPaTE runs are registered (so reused) per recipe.
    """
    from .transfer import provenance

    done, prov = load_predictions(out)
    say = progress or (lambda message: None)
    runners = dict(predictors())
    if best_config is not None:  # tupate-best with the caller's training settings
        runners["tupate-best"] = partial(_tupate, mode="best", template=best_config)
    if fisher_dir is not None:
        runners["taskemb"] = partial(_taskemb, fisher_dir=fisher_dir)
    for group in groups:
        base, _, fraction = group.partition(":")
        if fraction and base in ("tupate", "behaviour"):
            runners[group] = partial(_tupate, until_learned=_fraction(group, fraction),
                                     embedder="behaviour" if base == "behaviour" else None)
    recipe = {name: value for name, value in (("max_length", max_length), ("batch_size", batch_size),
                                              ("steps", learned_cap)) if value is not None}
    recipe |= {name: value for name, value in (("dropout", dropout), ("patience", patience)) if value != DEFAULT}
    if recipe:
        runners = {g: partial(r, recipe=recipe) if getattr(r, "func", r) is _tupate else r
                   for g, r in runners.items()}
    unknown = [g for g in groups if g not in runners]
    if unknown:
        raise TransferError(f"unknown method group(s): {', '.join(unknown)}",
                            hint=f"use: {', '.join(runners)}, tupate:F or behaviour:F (F: an --until-learned fraction)")
    for group in groups:
        if not force and any(p.details.get("group") == group for p in done.values()):
            say(f"{group}: already in {out}")
            continue
        started = time.perf_counter()
        prov = {**provenance(config, device), "tasks": list(config.tasks), "work": str(work),
                **({"fisher_dir": str(fisher_dir)} if fisher_dir is not None else {}),
                **{f"embedding_{'learned_cap' if name == 'steps' else name}": value for name, value in recipe.items()}}
        made = {}
        for prediction in runners[group](config, Path(work), device, home, say):
            prediction.details.update(group=group, git_commit=prov.get("git_commit"))
            made[prediction.name] = prediction
        done, on_file = load_predictions(out)  # re-read: another process may have added a group meanwhile
        done = {name: p for name, p in done.items() if p.details.get("group") != group}
        if any(p.details.get("default") for p in made.values()):  # the default recipe changed: one row says so
            for earlier in done.values():
                earlier.details.pop("default", None)
        done |= made
        # the top level is the newest group's over what earlier groups set (a Fisher folder stays on
        # record when a later group had none); each group keeps its own under "groups" (its versions,
        # work folder, recipe), so a file extended over sessions says what made each row
        groups_made = {**on_file.get("groups", {}), group: prov}
        save_predictions(out, done, {**{k: v for k, v in on_file.items() if k != "groups"}, **prov, "groups": groups_made})
        say(f"{group}: done in {time.perf_counter() - started:.0f} s")
    return done


Predictor = Callable[[TransferConfig, Path, str, "str | Path | None", Progress], "list[Prediction]"]


def register_predictors(register) -> None:
    """zoo-rank's own method groups, registered as a plugin's are (``hookspecs.register_predictors``)."""
    for name, predictor in {"tupate": _tupate, "tupate-best": partial(_tupate, mode="best"),
                            "behaviour": partial(_tupate, embedder="behaviour"), "datasize": _datasize,
                            "textemb": _textemb, "curvegrad": _curvegrad, "taskemb": _taskemb,
                            "random": _random}.items():
        register(name, predictor)


def _predictor(name: str, predictor: object) -> tuple[str, Predictor]:
    if not callable(predictor):
        raise ValueError("not a function")
    return name, predictor


def own_predictors() -> dict[str, Predictor]:
    """zoo-rank's own method groups."""
    from ..plugins import own

    return own(register_predictors, _predictor)


@lru_cache(maxsize=1)  # the plugins' hooks run once a process
def predictors() -> dict[str, Predictor]:
    """Every method group `bench predict --methods` can run: zoo-rank's own and those of installed
    plugins (``register_predictors``: a function ``(config, work, device, home, say) ->
    list[Prediction]``). A plugin cannot replace one of zoo-rank's own."""
    from ..plugins import installed

    mine = own_predictors()
    return {**mine, **dict(installed("register_predictors", _predictor, mine))}


def _sum_of_means(per_method: dict[str, list]) -> float | None:
    """What an ensemble's embedding cost: one embedding of each method."""
    means = [_mean(values) for values in per_method.values()]
    return float(sum(means)) if means and None not in means else None


def _mean(values: list) -> float | None:
    """The mean, or None unless every value was measured (files written before CPU time was)."""
    return float(np.mean(values)) if values and all(v is not None for v in values) else None


def _fraction(group: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1:
        raise TransferError(f"{group}: the part after ':' must be an --until-learned fraction between 0 and 1",
                            hint="e.g. tupate:0.1")
    return value


def _pairs(tasks) -> list[tuple[str, str]]:
    return [(t, s) for t in tasks for s in tasks if s != t]


def _cosine_scores(vectors_t: dict[str, np.ndarray], vectors_s: dict[str, np.ndarray], tasks,
                   centred: bool = False) -> Scores:
    """Every target's scores for the other tasks as sources, through the ranker's scorer
    (``zoo_rank.similarity``); centred on the mean of the candidate sources, the target's own
    source embedding left out (it is not a candidate, and would pull the centre its way)."""
    out: Scores = {}
    for target in tasks:
        names = [s for s in tasks if s != target]
        matrix = np.stack([np.asarray(vectors_s[s], np.float32) for s in names])
        mean = mean_excluding(vectors_s, [target]) if centred else None
        scores = cosines(matrix, vectors_t[target], mean, unit=False)
        out[target] = {s: float(v) for s, v in zip(names, scores)}
    return out


def _random(config, work, device, home, say) -> list[Prediction]:
    return [Prediction("Random", "baseline", {t: {s: 0.0 for s in config.tasks if s != t} for t in config.tasks},
                       0.0, {"note": "all sources tied: metrics are exact expectations over random orders"})]


def _datasize(config, work, device, home, say) -> list[Prediction]:
    from ..datasets import task_source

    tasks = task_source(config.tasks_dir, home)
    full = {t: tasks.train_size(t) for t in config.tasks}  # task folders: the official size where recorded
    used = {t: min(n, config.source_examples or n) for t, n in full.items()}
    return [
        Prediction("DataSize", "baseline", {t: {s: float(used[s]) for s in config.tasks if s != t} for t in config.tasks},
                   0.0, {"sizes": used}),
        Prediction("DataSize (full split)", "baseline",
                   {t: {s: float(full[s]) for s in config.tasks if s != t} for t in config.tasks}, 0.0, {"sizes": full}),
    ]


def _samples(config: TransferConfig, home):
    """(source sample, target sample) per task: seed 0, as ``bench transfer`` draws them."""
    from ..datasets import task_source
    from .transfer import TaskData

    samples = {}
    tasks = task_source(config.tasks_dir, home)
    for task in config.tasks:
        data = TaskData(task, config, tasks)
        samples[task] = (data.source(0), data.target(0))
    return samples


def _textemb(config, work, device, home, say) -> list[Prediction]:
    import torch

    from ..training.loop import collate, encode
    from ..training.models import load_for_classification, resolve_base_model, resolve_device

    base = resolve_base_model(config.base_model, home)
    torch_device = resolve_device(device)
    tokenizer, model = load_for_classification(base, 2, False)
    body = getattr(model, model.base_model_prefix).to(torch_device).eval()
    pad = model.config.pad_token_id or 0
    vectors: dict[str, dict[str, np.ndarray]] = {"source": {}, "target": {}}
    seconds, cpu = [], []
    for task, (source, target) in _samples(config, home).items():
        for role, data in (("source", source), ("target", target)):
            clock = Stopwatch()
            encoded = encode(tokenizer, data, config.max_length)
            total, count = torch.zeros(body.config.hidden_size, dtype=torch.float64), 0
            with torch.no_grad():
                for start in range(0, len(data), 64):
                    batch = collate(pad, encoded, list(range(start, min(start + 64, len(data)))), torch_device)
                    states = body(**batch).last_hidden_state.double().cpu()
                    mask = batch["attention_mask"].cpu().unsqueeze(-1).double()
                    total += (states * mask).sum((0, 1))
                    count += int(mask.sum())
            vectors[role][task] = (total / count).numpy()
            seconds.append(clock.wall())
            cpu.append(clock.cpu())
        say(f"textemb: {task}")
    return [Prediction("TextEmb", "baseline", _cosine_scores(vectors["target"], vectors["source"], config.tasks),
                       float(np.mean(seconds)), {"layer": "last", "pooling": "mean over tokens and examples"},
                       _mean(cpu))]


def _curvegrad(config, work, device, home, say) -> list[Prediction]:
    """The seed-0 source fine-tunings of ``bench transfer`` once more, keeping every step's loss.

    Each curve is saved under ``work/curves`` as it finishes, so an interrupted run resumes.
    """
    from ..training.models import resolve_base_model, resolve_device
    from .curvegrad import POINTS, RRF_K, WINDOW, curvegrad_scores
    from .transfer import finetune

    base, torch_device = None, None
    curves, seconds, cpu = {}, [], []
    for task, (source, _) in _samples(config, home).items():
        path = work / "curves" / f"{task}-seed0.json"
        saved = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        if saved.get("settings") != config.settings():
            if base is None:
                base, torch_device = resolve_base_model(config.base_model, home), resolve_device(device)
            losses: list[float] = []
            clock = Stopwatch()
            finetune(base, source, config, config.source_epochs, 0, torch_device, on_loss=losses.append)
            saved = {"settings": config.settings(), "losses": losses, "examples": len(source),
                     "seconds": clock.wall(), "cpu_seconds": clock.cpu()}
            write_json(path, saved)
        curves[task] = saved["losses"]
        seconds.append(saved["seconds"])
        cpu.append(saved.get("cpu_seconds"))
        say(f"curvegrad: {task}")
    return [Prediction("CurveGrad", "baseline", curvegrad_scores(curves, config.tasks), float(np.mean(seconds)),
                       {"points": list(POINTS), "window": WINDOW, "rrf_k": RRF_K, "seed": 0,
                        "curve": "training loss per step of the source fine-tuning",
                        "includes": "the source fine-tuning run"}, _mean(cpu))]


def _taskemb(config, work, device, home, say, fisher_dir: str | Path | None = None) -> list[Prediction]:
    """TaskEmb from the Fisher of the transfer runs' own models.

    ``bench transfer --fisher-seed`` saves them as the ground truth fine-tunes (under
    ``fisher_dir``, by default ``work/fisher``); the seed with the most saved vectors is used and
    only what it lacks is fine-tuned here, with that seed, and saved beside them (so an
    interrupted run resumes). When a task's source and target samples and epochs are equal
    (LIMITED → LIMITED), its target-only model is its source model, and one Fisher serves both.
    """
    from .transfer import FisherCapture

    directory = Path(fisher_dir) if fisher_dir is not None else work / "fisher"
    roles = ("source", "target")
    captures = [FisherCapture(directory, seed) for seed in config.seeds]
    capture = max(captures, key=lambda c: sum(c.path(r, t).exists() for r in roles for t in config.tasks))
    shared = config.source_examples == config.target_examples and config.source_epochs == config.target_epochs
    vectors: dict[str, dict[str, np.ndarray]] = {role: {} for role in roles}
    seconds, cpu, missing = [], [], []
    for task in config.tasks:
        for role in roles:
            path = capture.path(role, task)
            twin = capture.path("target" if role == "source" else "source", task)
            found = path if path.exists() else twin if shared and twin.exists() else None
            if found is None:
                missing.append((role, task))
                continue
            vectors[role][task] = np.load(found)
            cost = json.loads(found.with_suffix(".json").read_text())
            seconds.append(cost["seconds"])
            cpu.append(cost.get("cpu_seconds"))
    runs = len({task for _, task in missing}) if shared else len(missing)
    say(f"taskemb: {sum(map(len, vectors.values()))} Fisher vectors of the seed-{capture.seed} models from "
        f"{directory}; {runs} model(s) to fine-tune")
    if missing:
        for wall, cpu_seconds in _fisher_by_finetuning(config, device, home, capture, missing, shared, vectors, say):
            seconds.append(wall)
            cpu.append(cpu_seconds)
    return [Prediction("TaskEmb", "baseline", _cosine_scores(vectors["target"], vectors["source"], config.tasks),
                       float(np.mean(seconds)),
                       {"fisher": "diagonal, empirical (gold labels), encoder weights without word embeddings",
                        "examples": FISHER_EXAMPLES, "seed": capture.seed, "includes": "the fine-tuning run"},
                       _mean(cpu))]


def _fisher_by_finetuning(config, device, home, capture, missing, shared, vectors, say) -> list[tuple[float, float]]:
    """Fine-tune each missing (role, task) as ``bench transfer`` does for ``capture.seed`` and save its
    Fisher there; with ``shared``, that one vector is the task's source and target vector. Returns
    (wall, CPU) seconds per fine-tuning."""
    from ..datasets import task_source
    from ..training.models import resolve_base_model, resolve_device
    from .transfer import TaskData, finetune

    base, torch_device = resolve_base_model(config.base_model, home), resolve_device(device)
    tasks, seed, seconds = task_source(config.tasks_dir, home), capture.seed, []
    for role, task in missing:
        if task in vectors[role]:  # its twin's fine-tuning made it
            continue
        data = TaskData(task, config, tasks)
        sample = data.source(seed) if role == "source" else data.target(seed)
        epochs = config.source_epochs if role == "source" else config.target_epochs
        clock = Stopwatch()
        _, model, tokenizer = finetune(base, sample, config, epochs, seed, torch_device)
        vector = capture.save(role, task, model, tokenizer, sample, config, torch_device, clock)
        for each in ("source", "target") if shared else (role,):
            vectors[each][task] = vector
        seconds.append((clock.wall(), clock.cpu()))
        del model
        say(f"taskemb: fine-tuned {role} {task} (seed {seed})")
    return seconds


def _tupate(config, work, device, home, say, mode: str = "early", template: TrainConfig | None = None,
            embedder: str | None = None, until_learned: float | None = None,
            recipe: dict | None = None) -> list[Prediction]:
    """Train every source's and target's embedding here and score targets against sources.

    Sources are trained on ``source_examples`` of their train split, targets on their limited
    sample (the transfer runs' samples, seed 0), each in a registry of its recipe under ``work``:
    * ``until_learned`` F (the groups ``tupate:F``, ``behaviour:F``): early mode ended by the
      early rule at F (zoo-rank's default recipe at 0.1);
    * otherwise early mode: the paper's 2 epochs (what the shipped registry held before the rule);
    * ``mode="best"``: best mode with the settings of ``template``; it holds out up to
      ``validation_examples`` of the task's train split to pick the checkpoint, as the paper
      picked on dev sets, so its training sample is not the transfer runs' sample.
    ``embedder`` (``behaviour``): only that embedder, embedded from the checkpoints on demand.
    """
    from ..pipeline.train import train
    from ..registry import Registry
    from ..training import TrainConfig

    given = dict(recipe or {})  # the caller's training settings (max_length, batch_size, steps, dropout, patience)
    if not until_learned:
        given.pop("steps", None)  # the early rule's cap and stop: a fixed-length or best-mode run has no rule
        given.pop("patience", None)

    def settings(examples: int | None) -> TrainConfig:
        if mode == "early":
            return TrainConfig(mode=mode, max_examples=examples, seed=0, device=device, until_learned=until_learned,
                               epochs=None if until_learned else 2, **given)
        return replace(template or TrainConfig(mode=mode), mode=mode, max_examples=examples, seed=0, device=device, **given)

    resolved = settings(None)
    registry = Registry(Path(work) / recipe_folder(mode, until_learned, given, resolved), builtin=False)
    vectors: dict[tuple[str, str, str], dict[str, np.ndarray]] = {}  # (method, embedder, role) → task → vector
    seconds: dict[str, list[float]] = {m: [] for m in TUPATE_METHODS}
    cpu: dict[str, list[float | None]] = {m: [] for m in TUPATE_METHODS}
    sources = {}
    suffix = "" if mode == "early" else "-best"

    def announce(role: str):
        """One line per training run (per learning rate in best mode), so a run of hours shows where it is."""
        def on_step(label: str, step: int, total: int, loss) -> None:
            if step == 0:  # under the rule, total is the length expected from earlier runs, not the length
                length = f"until learned, about {total} steps" if until_learned else f"{total} steps"
                say(f"tupate {mode}: training {role} {label} ({length})")
        return on_step

    for task in config.tasks:
        for outcome in train(task, methods=TUPATE_METHODS, registry=registry, split="train",
                             name=f"source{suffix}-{task}/{{method}}", config=settings(config.source_examples),
                             progress=announce("source"), tasks_dir=config.tasks_dir):
            sources[(outcome.entry.name.rsplit("/", 1)[-1], task)] = outcome.entry
        trained = train(task, methods=TUPATE_METHODS, registry=registry, split="train",
                        name=f"limited{suffix}-{task}/{{method}}", config=settings(config.target_examples),
                        progress=announce("target"), tasks_dir=config.tasks_dir)
        for outcome in trained:
            method = outcome.entry.name.rsplit("/", 1)[-1]
            seconds[method].append(outcome.entry.metadata["training"]["seconds"])
            cpu[method].append(outcome.entry.metadata["training"].get("cpu_seconds"))
            for emb in _vectors_of(registry, outcome.entry, embedder):
                vectors.setdefault((method, emb.space.embedder, "target"), {})[task] = emb.vector
        say(f"tupate {mode}: {task} trained")
    for (method, task), entry in sources.items():
        for emb in _vectors_of(registry, entry, embedder):
            vectors.setdefault((method, emb.space.embedder, "source"), {})[task] = emb.vector
    registry.close()
    out: list[Prediction] = []
    for embedder in sorted({e for (_, e, _) in vectors}):
        for centred in (False, True):
            per_method = {}
            details = {"embedder": embedder, "centred": centred, "mode": mode, "until_learned": until_learned,
                       "dropout": resolved.dropout, "patience": resolved.patience}  # the runs' own (None: model's, none)
            stage = f"learned {until_learned:g}" if until_learned else mode
            for method in TUPATE_METHODS:
                per_method[method] = _cosine_scores(vectors[(method, embedder, "target")],
                                                    vectors[(method, embedder, "source")], config.tasks, centred)
                out.append(Prediction(tupate_name(method, embedder, centred, stage), "tupate", per_method[method],
                                      float(np.mean(seconds[method])), {"method": method, **details},
                                      _mean(cpu[method])))
            ensemble = {t: {s: ensemble_score({m: per_method[m][t][s] for m in TUPATE_METHODS}) for s in row}
                        for t, row in per_method["bitfit"].items()}
            shipped = is_default(mode=mode, until_learned=until_learned, embedder=embedder, centred=centred,
                                 recipe=given)
            out.append(Prediction(tupate_name("ensemble", embedder, centred, stage), "tupate", ensemble,
                                  float(sum(np.mean(v) for v in seconds.values())),
                                  {"method": "ensemble", **details, **({"default": True} if shipped else {})},
                                  _sum_of_means(cpu)))
    return out


def recipe_folder(mode: str, until_learned: float | None, given: dict, resolved) -> str:
    """The folder under ``--work`` of one training recipe's registry (``learned0.1-dropout0.0-patience64``):
    tupate:F and behaviour:F share it, another recipe never does. Named by the dropout and stop the runs
    resolve to (``resolved``, their ``TrainConfig``), not by the options given, so that when a default
    changes (#37's E) its runs go to their recipe's folder, not into the earlier default's (a run with
    the model's dropout and no stop, the recipe before, names neither)."""
    named = {k: v for k, v in given.items() if k not in ("dropout", "patience", "max_length")}
    named |= {k: getattr(resolved, k) for k in ("dropout", "patience") if getattr(resolved, k) is not None}
    folder = f"learned{until_learned:g}" if until_learned else ("epochs2" if mode == "early" else "")
    return folder + "".join(f"-{name}{value}" for name, value in sorted(named.items()))


def is_default(*, mode: str, until_learned: float | None, embedder: str, centred: bool, recipe: dict) -> bool:
    """Whether the ensemble of these settings is what `zoo-rank --target` does by default: the early
    rule at its default fraction, the default embedder, raw cosines, and the default batch, cap,
    dropout and stop (``recipe``: the caller's ``batch_size``, ``steps``, ``dropout`` and ``patience``; a token limit, the evaluation's own
    setting, has always been allowed). Marked in the file so the default's numbers can be recomputed."""
    from ..embedders import DEFAULT_EMBEDDER
    from ..training import TrainConfig
    from ..training.config import DEFAULT_UNTIL_LEARNED, LEARNED_MAX_STEPS

    plain = TrainConfig(until_learned=DEFAULT_UNTIL_LEARNED)
    default_recipe = all(value == getattr(plain, name) or (name == "steps" and value == LEARNED_MAX_STEPS)
                         for name, value in recipe.items() if name != "max_length")
    return (mode == "early" and until_learned == DEFAULT_UNTIL_LEARNED and embedder == DEFAULT_EMBEDDER
            and not centred and default_recipe)


def _vectors_of(registry, entry, embedder: str | None) -> list:
    """An entry's vectors: from every embedder it has, or (embedding it now if it lacks one) from ``embedder``."""
    if embedder is None:
        return registry.embeddings_of(entry)
    from ..pipeline.backfill import embeddings_on_demand

    found = embeddings_on_demand(registry, entry, embedder)
    if not found:
        raise TransferError(f"{entry.name}: cannot be embedded with {embedder}", hint="its checkpoint files are gone")
    return found


def tupate_name(method: str, embedder: str, centred: bool, stage: str = "early") -> str:
    """The table's name of a TuPaTE variant, e.g. ``TuPaTE lora best (invariant, centred)`` or
    ``TuPaTE bitfit learned 0.1 (behaviour)``; the shipped early stage goes unnamed."""
    return f"TuPaTE {method}{'' if stage == 'early' else ' ' + stage} ({embedder}{', centred' if centred else ''})"
