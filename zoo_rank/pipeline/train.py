"""Training runs as a source of registry entries: ``train`` reads and checks each data set, reuses
what is registered (by training key, or by content hash), runs the rest through an executor and
registers each finished run through ``ingest``, in its own transaction. ``zoo_rank.train`` (the API) and a data
target (``targets.py``) both come here; nothing here imports the API.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import ZooRankError
from ..executors import Executor, InProcessExecutor, Resources, unwrap
from ..families import family_of
from ..jobs import TrainedFiles, train_job
from ..registry import Entry, Registry
from .ingest import Source, ingest, safe_name, validate_name


@dataclass
class Trained:
    """One method's outcome of ``train``: the registered entry, and the run (None when reused)."""

    entry: Entry
    result: object | None = None  # TrainResult

    @property
    def reused(self) -> bool:
        return self.result is None


def train(
    data: str | Path | Sequence[str | Path],
    *,
    methods: Sequence[str] = ("bitfit",),
    registry: Registry | None = None,
    config=None,
    base_model: str | None = None,
    base_model_name: str | None = None,
    split: str = "all",
    task: str | None = None,
    name: str | None = None,
    columns: dict | None = None,
    tasks_dir: str | Path | None = None,
    reuse: str = "same-config",
    progress=None,
    warn: Callable[[str], None] | None = None,
    announce: Callable[[str], None] | None = None,
    executor: Executor | None = None,
    cpus_per_job: int | None = None,
    gpus_per_job: float = 0.0,
    assets_home: str | Path | None = None,
) -> list[Trained]:
    """Train one embedding per method on each ``data`` (data files, task folders, tasks of ``tasks_dir``
    or built-in tasks) and register it.

    The runs go to ``executor`` (in this process by default; on Ray, ``cpus_per_job`` cores
    (default 1) and ``gpus_per_job`` of a GPU each, so 0.25 packs four small runs on one GPU).
    ``cpus_per_job`` also pins torch's threads: CPU runs are bit-identical across executors
    at the same thread count, and differ in the last float bits otherwise. Each finished run is registered by
    this process through ``ingest``, in its own transaction: its checkpoint (written by the run
    into a scratch folder of the store, or handed back as bytes by a remote worker) is embedded,
    moved under ``<home>/checkpoints`` and registered, and an error or Ctrl-C at any point leaves
    neither an entry nor a checkpoint folder for an unfinished run.
    ``assets_home``: the home whose assets hold built-in data and models (default: the registry's).
    ``reuse`` is ``"same-config"`` (skip a run whose data, base model and settings match a
    registered one), ``"any"`` (any registered embedding of this data, model and method will
    do), or ``"never"``. Results come back in the order of ``data`` × ``methods``. ``warn`` is
    told what makes a data set doubtful but usable (very few rows, one text with two labels);
    ``announce``, before each run, how many examples, which method and how long (from the
    speed measured on this machine by earlier runs).
    """
    from ..datasets import load_data
    from ..training.config import TrainConfig

    registry = registry or Registry()
    config = config or TrainConfig()
    executor = executor or InProcessExecutor()
    specs = [data] if isinstance(data, (str, Path)) else list(data)
    if (task or name) and len(specs) > 1:
        raise ZooRankError("a task name or entry name needs a single data set")
    if name and len(set(methods)) > 1 and "{method}" not in name:
        raise ZooRankError(f"--name {name!r} would name {len(set(methods))} entries alike",
                           hint="put {method} in it, e.g. --name 'mine/{method}'")
    # every data file is read and checked first: a bad file is refused before torch is imported
    assets_home = assets_home or registry.home
    datasets = [load_data(spec, split=split, home=assets_home, tasks_dir=tasks_dir, **(columns or {}))
                for spec in specs]
    from ..training import base_model_name as name_of_base
    from ..training import require_training_stack, resolve_base_model

    base_name = name_of_base(base_model, base_model_name)
    outcomes: dict[int, Trained] = {}
    runs: list[tuple] = []  # (slot, dataset, run, data_sha, task)
    for dataset in datasets:
        data_sha, dataset.info["examples_sha256"] = dataset.content_hashes()  # one pass for both
        task_name = None  # decided (and a name clash said) only when something is to be registered
        for method in dict.fromkeys(methods):
            run = config.with_method(method)
            found = _reusable(registry, reuse, run, dataset, data_sha, base_name,
                              any_type=not (columns or {}).get("task_type"))
            slot = len(outcomes) + len(runs)
            if found is not None:
                outcomes[slot] = Trained(found)
                if announce is not None:
                    announce(reused_line(found, dataset.source, reuse))
            else:
                task_name = task_name or task or _own_task(registry, dataset, data_sha, warn or _no_warning)
                runs.append((slot, dataset, run, data_sha, task_name))
    if runs:  # reused embeddings need no torch, no model and no device: a base install ranks them
        require_training_stack(", ".join(dict.fromkeys(dataset.source for _, dataset, *_ in runs)))
        if executor.local:
            from ..training import resolve_device

            resolve_device(config.device)  # fail before any work when the device is not there
    base = resolve_base_model(base_model, assets_home, base_model_name) if runs else None
    for dataset in datasets:  # said once nothing else stands in the way: an error comes alone
        for message in dataset.warnings:
            (warn or _no_warning)(f"{dataset.source}: {message}")
    from ..training.rates import finished as finished_line

    expected = _expected_steps(registry, runs) if announce is not None or progress is not None else {}
    if announce is not None and runs:
        _announce_runs(announce, registry.home, runs, base_name, config, expected)
    if progress is not None and expected:
        progress = _honest_progress(progress, expected)
    # in this process a run writes its checkpoint straight into the store's scratch folder, once
    scratch = _scratch(registry.home) if runs else None
    jobs = [(dataset, run, base, dataset.name, cpus_per_job or (None if executor.local else 1),
             str(scratch / f"run-{number}") if executor.local else None)
            for number, (_, dataset, run, _, _) in enumerate(runs)]
    resources = Resources(cpus=cpus_per_job or 1, gpus=gpus_per_job)
    finished: dict[int, object] = {}
    registered = 0  # runs are registered in order, whichever finishes first: the same ids on any executor
    try:
        for index, outcome in executor.map(train_job, jobs, resources=resources, local_kwargs={"progress": progress}):
            finished[index] = outcome
            while registered in finished:
                slot, dataset, run, data_sha, task_name = runs[registered]
                outcomes[slot] = _register_trained(registry, unwrap(finished.pop(registered)), scratch, dataset, run,
                                                   base, data_sha, task_name, name, split)
                said, learned = finished_line(dataset.name, run.method, outcomes[slot].result)
                if not learned:
                    (warn or _no_warning)(said)
                elif announce is not None:
                    announce(said)
                registered += 1
    finally:
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
    return [outcomes[slot] for slot in sorted(outcomes)]


def _scratch(home: Path) -> Path:
    """A new folder under ``<home>/checkpoints`` for this call's runs: on the same disk as the
    store, so a finished checkpoint is moved into place, not copied."""
    store = home / "checkpoints"
    store.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(dir=store, prefix=".training-"))


def reused_line(entry: Entry, source: str, reuse: str) -> str:
    """What a reused embedding is, so that an unchanged answer is never a silent one."""
    training = entry.metadata.get("training") or {}
    config = training.get("config") or {}
    how = [f"{config.get('mode', 'early')} mode"]
    if config.get("steps") or config.get("epochs"):
        how.append(f"{config['steps']} steps" if config.get("steps") else f"{config['epochs']} epochs")
    elif training.get("steps"):
        how.append(f"{training['steps']} steps")
    how += [f"max length {config.get('max_length', 128)}", f"max examples {config.get('max_examples') or 'all'}"]
    if config.get("dropout") is not None:
        how.append(f"dropout {config['dropout']:g}")
    if config.get("patience") is not None:
        how.append(f"patience {config['patience']}")
    when = "the same settings" if reuse == "same-config" else ", ".join(how)
    retrain = "--force trains again" if reuse == "same-config" else "--force or any training option trains anew"
    return (f"{source}: using {entry.name}, registered before from this data ({entry.task_type or 'task'}, {when}); "
            f"{retrain}")


def _expected_steps(registry: Registry, runs: list[tuple]) -> dict[str, tuple[list[int], int]]:
    """For each run ended by the early rule, by its progress label: (the steps earlier runs of its
    method took, the cap)."""
    from ..training.rates import typical_steps

    found: dict[str, tuple[list[int], int]] = {}
    entries = None
    for _, dataset, run, _, _ in runs:
        if run.learned_fraction:
            if entries is None:  # this machine's runs, and the shipped built-in runs even where they are left out
                entries = registry.entries()
                known = {e.content_sha256 for e in entries}
                entries += [e for e in _shipped_runs() if e.content_sha256 not in known]
            found[f"{dataset.name}: {run.method}"] = (typical_steps(entries, run.method, run.batch_size),
                                                      run.planned_steps(len(dataset)))
    return found


def _shipped_runs() -> list:
    from ..builtin_registry import shipped_entries

    try:
        return shipped_entries(vectors=False)  # their training metadata is all an estimate reads
    except Exception:  # noqa: BLE001 - an estimate is never worth an error: without them, the cap is said
        return []


def _honest_progress(progress, expected: dict[str, tuple[list[int], int]]):
    """The progress callback with the likely length of a run ended by the early rule instead of its
    cap: an ETA of the time likely left, not of the cap's steps."""
    from ..training.rates import expected_steps, shown_total

    def report(description: str, done: int, total: int, loss) -> None:
        if description in expected:
            typical, cap = expected[description]
            total = shown_total(done, expected_steps(typical, cap), total)
        progress(description, done, total, loss)

    return report


def _announce_runs(announce: Callable[[str], None], home: Path, runs: list[tuple], base_model: str, config,
                   expected: dict[str, tuple[list[int], int]]) -> None:
    from ..training import resolve_device
    from ..training.rates import announce as line
    from ..training.rates import measured

    device = str(resolve_device(config.device))
    for dataset in {id(dataset): dataset for _, dataset, *_ in runs}.values():
        announce(data_line(dataset))
    for _, dataset, run, _, _ in runs:
        steps = run.planned_steps(len(dataset))
        examples = min(len(dataset), run.max_examples or len(dataset))
        rate = measured(home, base_model, device, run.max_length, run.batch_size)
        typical = expected.get(f"{dataset.name}: {run.method}", ([], steps))[0]
        announce(line(examples, dataset.name, run.method, steps, rate, device, capped=bool(run.learned_fraction),
                      typical=typical, batch_size=run.batch_size, rows=rows_per_example(dataset)))


def data_line(dataset) -> str:
    """The line that opens a training: what was read. A validation-only task trains on half of
    its validation file, and the line says so, or it reads as if the whole file trained."""
    carved = " (half of it, carved out to train: the task has no training split)" if dataset.info.get("carved_from") else ""
    return f"{dataset.source}: {len(dataset):,} examples{carved}, {dataset.label_reading()}"


def rows_per_example(dataset) -> float:
    """Forward rows an example costs: its number of choices for multiple choice, else 1."""
    choices = getattr(dataset, "choices", None)
    return sum(map(len, choices)) / len(choices) if choices else 1.0


def _no_warning(message: str) -> None:
    """Library callers who pass no ``warn`` still hear of doubtful data, through ``warnings``."""
    import warnings

    warnings.warn(message, stacklevel=3)


def _own_task(registry: Registry, dataset, data_sha: str, warn: Callable[[str], None]) -> str:
    """The task a data set is registered under: its own name, unless that name already holds
    other data (a file ``spam.csv`` of drug reviews must not join the built-in task ``spam``,
    nor have its scores averaged with it); then ``<name>-<hash>``, said out loud."""
    name = dataset.name
    if dataset.source.startswith("builtin:"):
        return name
    holders = registry.by_task(name)
    if not holders or any(_same_data(e, data_sha, dataset.info.get("examples_sha256")) for e in holders):
        return name
    own = f"{name}-{data_sha[:8]}"
    warn(f"{dataset.source}: the task name {name!r} is taken by other data ({holders[0].name}); registered as "
         f"task {own!r} (pass --task {name} to join that task on purpose)")
    return own


def _same_data(entry: Entry, data_sha: str, examples_sha: str | None) -> bool:
    return entry.metadata.get("data_sha256") == data_sha or (
        examples_sha is not None and entry.metadata.get("examples_sha256") == examples_sha)


def _reusable(registry: Registry, reuse: str, run, dataset, data_sha: str, base_model: str,
              any_type: bool = True) -> Entry | None:
    if reuse == "same-config":
        return registry.by_train_key(run.key(data_sha, base_model))
    if reuse == "any":  # the same examples, trained as either task type unless the caller named one
        candidates = registry.by_data(data_sha)
        if any_type:
            candidates += registry.by_examples(dataset.info["examples_sha256"])
        return next((e for e in candidates
                     if e.base_model == base_model and family_of(e.method) == run.method), None)
    return None


def _register_trained(registry, trained: TrainedFiles, scratch: Path, dataset, run, base, data_sha, task, name,
                      split) -> Trained:
    """Register a finished run through ``ingest``: its checkpoint is embedded where it was
    written, then moved under ``<home>/checkpoints`` and registered; on error, neither stays."""
    key = run.key(data_sha, base.name)
    entry_name = (validate_name(name.replace("{method}", run.method), dataset.source) if name
                  else safe_name(f"{task}/{run.method}", fallback=f"data-{data_sha[:8]}/{run.method}"))
    holder = registry.get(entry_name)
    if holder is not None and holder.metadata.get("train_key") != key and not name:
        entry_name = safe_name(f"{task}-{key[:8]}/{run.method}", fallback=f"data-{key[:8]}/{run.method}")
    result = trained.result
    from ..training.rates import record

    # kept per forward row: a multiple-choice step runs a row per choice, and must not slow the next estimate
    record(registry.home, base.name, result.device, run.max_length, run.batch_size,
           result.seconds / rows_per_example(dataset), result.steps)
    directory = Path(trained.directory) if trained.directory else scratch / f"returned-{key[:12]}"
    for relative, content in (trained.files or {}).items():  # from a machine that shares no disk with this one
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    final = registry.home / "checkpoints" / f"{re.sub(r'[^A-Za-z0-9._-]+', '_', entry_name)}-{key[:12]}"
    source = Source(
        str(directory), name=entry_name, task=task, task_type=dataset.task_type, train_size=result.train_examples,
        keep_at=final, metadata={
            "train_key": key, "data_sha256": data_sha, "examples_sha256": dataset.info.get("examples_sha256"),
            "data_source": dataset.source, "split": split, "labels": dataset.label_names,
            "training": {k: v for k, v in result.to_dict().items() if k not in ("checkpoint", "method", "base_model", "loss_history")}},
    )
    outcome = ingest(registry, [source], executor=InProcessExecutor())
    entry = (outcome.added or outcome.existing)[0]  # identical weights registered before: that one is kept
    result.checkpoint = Path(entry.source)
    return Trained(entry, result)
