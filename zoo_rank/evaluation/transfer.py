"""Ground truth: what intermediate-task transfer actually gains, measured by fine-tuning.

For every seed, every target task is fine-tuned alone (the baseline), and after fine-tuning
on every other source task; the gain of source → target is the difference of the two test
scores (in percentage points, by the task's metric: accuracy or Pearson r for the built-in
tasks; for task folders GLUE's, e.g. Matthews correlation for CoLA, F1 for MRPC and QQP, see
``zoo_rank.datasets.scoring``; every run records all of its metrics). Both runs of a pair
share the target's training sample, its test sample, the head initialisation and the data
order, so the difference is paired and most of the seed noise cancels.

Every finished run is appended (and fsynced) to a JSON-lines results file with its full
provenance, so an interrupted run resumes where it stopped and a file made with other
settings is refused rather than mixed in.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterator

from ..errors import TransferError
from ..stopwatch import Stopwatch

if TYPE_CHECKING:
    import numpy as np

# Eight built-in tasks of different kinds (NLI, four sentiment regressions, subjectivity,
# political speech, hedging). bbc-topic and spam are left out by default: they are the
# two long-document tasks, and spam has only 171 training examples.
DEFAULT_TASKS = ("snli", "tweet-sentiment", "amazon-sentiment", "nyt-sentiment", "movie-sentiment", "subjectivity",
                 "debate-party", "hedge")
RESULTS_VERSION = 1


@dataclass(frozen=True)
class TransferConfig:
    """Settings of one ground-truth experiment; runs with different settings never mix.

    ``source_examples=None`` uses each source's full training split (FULL → LIMITED).
    ``tasks_dir`` draws the tasks from a folder of task folders instead of the built-in tasks.
    """

    tasks: tuple[str, ...] = DEFAULT_TASKS
    seeds: tuple[int, ...] = (0, 1, 2)
    source_examples: int | None = 1000
    target_examples: int = 256
    test_examples: int = 400
    source_epochs: int = 2
    target_epochs: int = 2
    learning_rate: float = 1e-4
    batch_size: int = 16
    max_length: int = 64
    base_model: str | None = None
    tasks_dir: str | None = None

    def __post_init__(self) -> None:
        if len(set(self.tasks)) < 2:
            raise TransferError("the transfer benchmark needs at least two distinct tasks")
        if not self.seeds:
            raise TransferError("give at least one seed")
        for name in ("target_examples", "test_examples", "source_epochs", "target_epochs", "batch_size", "max_length"):
            if getattr(self, name) < 1:
                raise TransferError(f"{name.replace('_', '-')} must be at least 1")
        if self.source_examples is not None and self.source_examples < 1:
            raise TransferError("source-examples must be at least 1")

    @property
    def setting(self) -> str:
        return "FULL→LIMITED" if self.source_examples is None else "LIMITED→LIMITED"

    def settings(self) -> dict:
        """What makes two runs comparable: everything but the task list, the seeds and where the
        task folders lie (their content is compared by digest instead, see ``provenance``)."""
        values = asdict(self)
        del values["tasks"], values["seeds"], values["tasks_dir"]
        return values


@dataclass
class Run:
    """One fine-tuning result: ``source`` is None for the target-only baseline."""

    seed: int
    target: str
    source: str | None
    score: float  # percentage points
    metric: str
    train_examples: int
    test_examples: int
    seconds: float
    provenance: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)  # every metric of the run, in percentage points

    @property
    def key(self) -> tuple:
        return (self.seed, self.source, self.target)

    def to_json(self) -> str:
        return json.dumps({"version": RESULTS_VERSION, **asdict(self)}, sort_keys=True)


def read_runs(path: str | Path) -> list[Run]:
    """Every run recorded in a results file; a torn last line (a killed writer) is ignored."""
    path = Path(path)
    if not path.exists():
        return []
    runs = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines):
                break
            raise TransferError(f"{path}: line {number} is not JSON ({exc.msg})",
                                hint="repair or remove that line; finished runs are on the other lines") from exc
        if row.get("version") != RESULTS_VERSION:
            raise TransferError(f"{path}: line {number} has results version {row.get('version')!r}, "
                                f"this zoo-rank reads {RESULTS_VERSION}")
        row.pop("version")
        try:
            runs.append(Run(**row))
        except TypeError as exc:
            raise TransferError(f"{path}: line {number} is not a transfer run ({exc})") from exc
    return runs


def provenance(config: TransferConfig, device: str, tasks=None) -> dict:
    """Versions, machine, code revision and settings: enough to rerun or to distrust a number.

    For task folders (``tasks``, a ``TaskCollection``), also where they were and each task's
    content digest, so that results made on other data are refused rather than mixed in.
    """
    from importlib.metadata import PackageNotFoundError, version

    from ..version import __version__

    def installed(name: str) -> str | None:  # a predictor that trains nothing runs without the training stack
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    try:
        import torch

        threads = torch.get_num_threads()
    except ImportError:
        threads = None
    return {
        "settings": config.settings(),
        "setting": config.setting,
        "zoo_rank": __version__,
        "git_commit": _git_commit(),
        "torch": installed("torch"),
        "transformers": installed("transformers"),
        "peft": installed("peft"),
        "python": platform.python_version(),
        "device": device,
        "machine": f"{platform.machine()} {os.cpu_count()} cpus",
        "torch_threads": threads,
        **({"tasks_dir": config.tasks_dir, "data": {t: tasks.digest(t) for t in config.tasks}}
           if config.tasks_dir is not None and tasks is not None else {}),
    }


def _git_commit() -> str | None:
    """The commit of the code that ran, ``+dirty`` when the package or its build file has changes
    not committed (results and docs being written, the output file among them, do not count)."""
    root = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--",
                                "zoo_rank", "pyproject.toml"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def planned(config: TransferConfig) -> list[tuple]:
    """Every (seed, source, target) the experiment needs, baselines (source None) first per seed."""
    keys = []
    for seed in config.seeds:
        keys += [(seed, None, t) for t in config.tasks]
        keys += [(seed, s, t) for s in config.tasks for t in config.tasks if s != t]
    return keys


Report = Callable[[Run, int, int], None]  # (run just finished, runs done, runs planned)


def run_transfer(
    config: TransferConfig,
    results: str | Path,
    *,
    device: str = "auto",
    home: str | Path | None = None,
    report: Report | None = None,
    fisher: FisherCapture | None = None,
    reverse: bool = False,
) -> list[Run]:
    """Run what is missing from ``results`` and return every run of this experiment.

    Runs of other settings in the file are refused (write them to another file); runs of
    other tasks or seeds under the same settings are kept and left alone. With ``fisher``,
    the Fisher information of that seed's source models and target-only models is saved
    as it goes: the TaskEmb baseline of those very models, at no extra fine-tuning.
    Several processes may share one results file (each skips what the others finished);
    ``reverse`` walks the plan from the end, so that two of them meet in the middle.
    """
    from ..datasets import task_source
    from ..training.models import resolve_base_model, resolve_device

    source_tasks = task_source(config.tasks_dir, home)
    unknown = [t for t in config.tasks if t not in source_tasks]
    if unknown:
        where = f"tasks in {config.tasks_dir}" if config.tasks_dir else "built-in tasks"
        raise TransferError(f"not {where}: {', '.join(unknown)}",
                            hint=f"run `zoo-rank datasets{' --tasks-dir ' + config.tasks_dir if config.tasks_dir else ''}`"
                                 " to list them")
    results = Path(results)
    existing = read_runs(results)
    digests = {t: source_tasks.digest(t) for t in config.tasks}
    for run in existing:
        if run.provenance.get("settings") != config.settings():
            raise TransferError(f"{results}: holds runs made with other settings "
                                f"({_difference(run.provenance.get('settings') or {}, config.settings())})",
                                hint="write to another --out file, or use the settings recorded there")
        recorded = run.provenance.get("data") or {}
        changed = [t for t in (run.source, run.target) if t in recorded and t in digests and recorded[t] != digests[t]]
        if changed:
            raise TransferError(f"{results}: its runs of {', '.join(changed)} were made on other data "
                                f"than {config.tasks_dir or 'the built-in tasks'} holds now",
                                hint="write to another --out file, or restore the data they were made on")
    done = {run.key for run in existing}
    todo = [key for key in planned(config) if key not in done]
    total, finished = len(planned(config)), len(planned(config)) - len(todo)
    if not todo:
        return _of(existing, config)
    torch_device = resolve_device(device)
    base = resolve_base_model(config.base_model, home)
    prov = provenance(config, str(torch_device), source_tasks)
    results.parent.mkdir(parents=True, exist_ok=True)
    _drop_torn_tail(results)
    tasks = {t: TaskData(t, config, source_tasks) for t in config.tasks}
    new: list[Run] = []
    groups = list(_grouped(todo))
    for seed, source, targets in reversed(groups) if reverse else groups:
        done = {run.key for run in read_runs(results)}  # another process may share the file
        targets = [t for t in targets if (seed, source, t) not in done]
        if not targets:
            continue
        encoder = None
        if source is not None:  # one source fine-tuning serves all its targets of this seed
            clock = Stopwatch()
            sample = tasks[source].source(seed)
            encoder, model, tokenizer = finetune(base, sample, config, config.source_epochs, seed, torch_device)
            if fisher is not None and fisher.seed == seed:
                fisher.save("source", source, model, tokenizer, sample, config, torch_device, clock)
            del model
        for target in targets:
            clock = Stopwatch()
            data = tasks[target]
            train = data.target(seed)
            _, model, tokenizer = finetune(base, train, config, config.target_epochs, seed, torch_device, encoder)
            metrics = _test_metrics(model, tokenizer, data, config, torch_device)
            if source is None and fisher is not None and fisher.seed == seed:
                fisher.save("target", target, model, tokenizer, train, config, torch_device, clock)
            run = Run(seed=seed, target=target, source=source, score=metrics[data.metric], metric=data.metric,
                      train_examples=len(train), test_examples=len(data.test), provenance=prov,
                      seconds=clock.wall(), metrics=metrics)
            _append(results, run.to_json())
            new.append(run)
            finished += 1
            if report:
                report(run, finished, total)
        del encoder
    return _of(existing + new, config)


@dataclass(frozen=True)
class FisherCapture:
    """Where to save the diagonal Fisher of the models fine-tuned for ``seed`` (TaskEmb)."""

    directory: Path
    seed: int

    def path(self, role: str, task: str) -> Path:
        return Path(self.directory) / f"{role}-{task}-seed{self.seed}.npy"

    def save(self, role: str, task: str, model, tokenizer, sample, config: TransferConfig, device,
             clock: Stopwatch) -> np.ndarray:
        """Compute, save and return the model's Fisher vector (float32, as stored), with what it cost
        since ``clock`` started (the fine-tuning's start)."""
        import numpy as np

        from .fisher import FISHER_EXAMPLES, fisher_vector, write_json

        vector = fisher_vector(model, tokenizer, sample.sample(FISHER_EXAMPLES, seed=0), config, device)
        vector = vector.astype(np.float32)
        path = self.path(role, task)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npy")
        np.save(tmp, vector)
        os.replace(tmp, path)
        write_json(path.with_suffix(".json"), {"seconds": clock.wall(), "cpu_seconds": clock.cpu(),
                                               "examples": min(FISHER_EXAMPLES, len(sample))})
        return vector


def _append(path: Path, line: str) -> None:
    """Append one line and close the file: one write, so appends from processes do not interleave, and
    no descriptor held between runs (a file replaced meanwhile, e.g. by a git checkout, gets the
    next run instead of a deleted copy)."""
    with path.open("a", encoding="utf-8") as out:
        out.write(line + "\n")
        out.flush()
        os.fsync(out.fileno())


def _drop_torn_tail(path: Path) -> None:
    """Cut a last line that a killed writer left without its newline, so appends start clean."""
    if not path.exists():
        return
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        with path.open("r+b") as f:
            f.truncate(data.rfind(b"\n") + 1)


def _of(runs: list[Run], config: TransferConfig) -> list[Run]:
    return [r for r in runs if r.seed in config.seeds and r.target in config.tasks
            and (r.source is None or r.source in config.tasks)]


def _difference(recorded: dict, wanted: dict) -> str:
    changed = [f"{k}: {recorded.get(k)!r} there, {wanted.get(k)!r} here" for k in sorted(set(recorded) | set(wanted))
               if recorded.get(k) != wanted.get(k)]
    return "; ".join(changed[:3]) or "unknown"


def _grouped(keys: list[tuple]) -> Iterator[tuple[int, str | None, list[str]]]:
    """(seed, source, [targets]) in plan order, so each source is fine-tuned once per seed."""
    groups: dict[tuple, list[str]] = {}
    for seed, source, target in keys:
        groups.setdefault((seed, source), []).append(target)
    for (seed, source), targets in groups.items():
        yield seed, source, targets


class TaskData:
    """A task's samples: the source sample and target sample per seed, one test sample.

    ``tasks`` is where the task comes from (``zoo_rank.datasets.task_source``): its train split
    gives the samples, its test (validation) split the test sample, and it names the metric.
    """

    def __init__(self, name: str, config: TransferConfig, tasks) -> None:
        self.name, self.config = name, config
        self.train = tasks.load(name, "train")
        self.test = tasks.load(name, "test").sample(config.test_examples, seed=0)
        self.metric = tasks.metric(name)
        self.positive = tasks.positive(name)

    def source(self, seed: int):
        return self.train.sample(self.config.source_examples, seed=seed)

    def target(self, seed: int):
        return self.train.sample(self.config.target_examples, seed=seed)


@dataclass(frozen=True)
class _Schedule:
    """What the training loop reads from a config."""

    batch_size: int
    num_epochs: int
    seed: int
    steps: int | None = None


def finetune(base, dataset, config: TransferConfig, epochs: int, seed: int, device, encoder: dict | None = None,
              on_loss: Callable[[float], None] | None = None):
    """Fine-tune every parameter; return (encoder state, model, tokenizer). ``encoder`` starts from a source;
    ``on_loss`` receives each step's training loss (CurveGrad's learning curve)."""
    import torch

    from ..training.loop import run_epochs
    from ..training.objectives import objective_for

    objective = objective_for(dataset)
    torch.manual_seed(seed)  # the same head for the baseline and every transfer run of this seed
    tokenizer, model = objective.load(base, dataset)
    body = getattr(model, model.base_model_prefix)
    if encoder is not None:
        _load_encoder(body, encoder)
    model.to(device)
    targets, _ = objective.targets(dataset)
    schedule = _Schedule(config.batch_size, epochs, seed)
    def progress(label, step, total, loss):
        if loss is not None:
            on_loss(loss)

    for _ in run_epochs(model, objective.encode(tokenizer, dataset, config.max_length), targets, objective, schedule,
                        config.learning_rate, device, progress if on_loss else None, dataset.name):
        pass
    model.eval()
    return {k: v.detach().clone() for k, v in body.state_dict().items()}, model, tokenizer


def _load_encoder(body, encoder: dict) -> None:
    """Start ``body`` from a source's encoder. A question-answering model has no pooler: from a
    classification or multiple-choice source it is dropped, and a question-answering source
    leaves a classifier's pooler as the base model has it; any other difference is an error."""
    own = body.state_dict()
    shared = {name: value for name, value in encoder.items() if name in own}
    differ = sorted((set(own) ^ set(encoder)) - {n for n in set(own) | set(encoder) if n.startswith("pooler.")})
    if differ:
        raise TransferError(f"the source's encoder does not fit the target's model ({differ[0]} is in one only)",
                            hint="source and target must share the base model")
    body.load_state_dict(shared, strict=False)


def _test_metrics(model, tokenizer, data: TaskData, config: TransferConfig, device) -> dict[str, float]:
    """Every metric of the run on the task's test sample, in percentage points (rounded as stored)."""
    from ..training.loop import held_out_metrics

    metrics = held_out_metrics(model, tokenizer, data.test, config, device, data.positive)
    return {name: round(100 * value, 4) for name, value in metrics.items()}


def task_list_config(tasks: tuple[str, ...], tasks_dir: str) -> TransferConfig:
    """The settings of predictions for a task list of ``tasks_dir`` with no transfer results
    (an external test): one seed, and each task's target sample its source sample
    (``TASK_LIST_EXAMPLES`` of its train split), so one embedding of each task and method serves
    both roles, as the shipped built-in sources and a user's ``--target`` file are embedded."""
    from ..datasets import TaskCollection
    from . import TASK_LIST_EXAMPLES

    collection = TaskCollection(tasks_dir)
    for task in tasks:
        collection[task]  # an unknown task is one error naming the folder, before any work
    return TransferConfig(tasks=tasks, seeds=(0,), source_examples=TASK_LIST_EXAMPLES,
                          target_examples=TASK_LIST_EXAMPLES, tasks_dir=str(tasks_dir))


def config_from_results(path: str | Path, tasks_dir: str | None = None) -> TransferConfig:
    """The settings, tasks and seeds of the experiment recorded in a results file.

    Task folders are read from ``tasks_dir``, else from where the runs recorded them.
    """
    runs = read_runs(path)
    if not runs:
        raise TransferError(f"{path}: holds no transfer runs", hint="run `zoo-rank bench transfer` first")
    settings = runs[0].provenance.get("settings") or {}
    tasks = tuple(dict.fromkeys(r.target for r in runs))
    if tasks_dir is None:
        tasks_dir = runs[0].provenance.get("tasks_dir")
    try:
        return TransferConfig(tasks=tasks, seeds=tuple(sorted({r.seed for r in runs})), tasks_dir=tasks_dir,
                              **settings)
    except TypeError as exc:
        raise TransferError(f"{path}: its settings are not this zoo-rank's ({exc})") from exc
