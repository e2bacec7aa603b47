"""Commands over registered entries: add, embed, list, show, remove, spaces."""

from __future__ import annotations

import json

import click

from .. import CATALOG_TASK_TYPES  # light: json and id checks
from .common import (EMBEDDER_CHOICES, console, echo_json, executor_context, executor_options, make_table,
                     open_registry, printable, report_added)
from .root import cli


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
@executor_options
@click.pass_context
def add(ctx, paths, name, task, task_type, train_size, base_model, revision, keep_going, as_json, executor,
        ray_address):
    """Read, embed and register checkpoint folders (searched recursively).

    Nothing is written unless every checkpoint reads and embeds (see --keep-going).
    Content already registered is skipped, whatever its name.
    """
    from .. import add as add_checkpoints

    with executor_context(executor, ray_address) as runner:
        result = add_checkpoints(paths, registry=open_registry(ctx), name=name, task=task, task_type=task_type,
                                 train_size=train_size, base_model=base_model, revision=revision,
                                 keep_going=keep_going, executor=runner)
    report_added(result, as_json)
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
    from .. import embed_registered

    result = embed_registered(open_registry(ctx), embedder, names,  # plain lines: fine in a log file too
                              progress=None if as_json else (lambda line: click.echo(line, err=True)))
    if as_json:
        echo_json({"embedder": embedder, "embedded": result.embedded, "current": result.current,
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
    entries = open_registry(ctx).entries()
    if as_json:
        echo_json([e.to_dict() for e in entries])
        return
    table = make_table(f"{len(entries)} entries", title_justify="left")
    for column in ("name", "method", "base model", "task", "task type", "train size"):
        table.add_column(column)
    for e in entries:
        table.add_row(e.name, e.method, e.base_model, e.task or "–", e.task_type or "–",
                      str(e.train_size) if e.train_size is not None else "–")
    console().print(table)


@cli.command()
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def show(ctx, name, as_json):
    """Show one entry (source, hashes, metadata, spaces), or list the entries of a task."""
    registry = open_registry(ctx)
    entries = registry.by_task(name) if registry.get(name) is None else []
    if entries:
        if as_json:
            echo_json([e.to_dict() for e in entries])
            return
        table = make_table(f"task {name}: {len(entries)} entries (`zoo-rank show NAME` shows one)", title_justify="left")
        for column in ("name", "method", "base model", "source"):
            table.add_column(column)
        for e in entries:
            table.add_row(e.name, e.method, e.base_model, e.source)
        console().print(table)
        return
    entry = registry.require(name)
    if as_json:
        echo_json(entry.to_dict())
        return
    for key, value in entry.to_dict().items():
        if isinstance(value, (dict, list)):
            value = json.dumps(value, default=str)
        click.echo(printable(f"{key:>15}: {value}"))


@cli.command()
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def remove(ctx, names):
    """Remove entries (and their vectors) from the registry."""
    registry = open_registry(ctx)
    for name in names:
        registry.require(name)
    for name in names:
        registry.remove(name)
        click.echo(printable(f"removed {name}"))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
@click.pass_context
def spaces(ctx, as_json):
    """List embedding spaces: what can be compared with what."""
    found = open_registry(ctx).spaces()
    if as_json:
        echo_json([{"id": s.id, "base_model": s.base_model, "family": s.family, "embedder": s.embedder,
                     "version": s.version, "dim": s.dim, "layout": s.layout, "vectors": n} for s, n in found])
        return
    table = make_table(f"{len(found)} spaces", title_justify="left")
    for column in ("base model", "family", "embedder", "dim", "vectors"):
        table.add_column(column)
    for s, n in found:
        table.add_row(s.base_model, s.family, f"{s.embedder}-v{s.version}" + (f" [{s.layout}]" if s.layout else ""),
                      str(s.dim), str(n))
    console().print(table)



@cli.command("plugins")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array.")
def plugins_command(as_json):
    """List what zoo-rank can use and where each comes from: its own embedders, readers, method
    families, predictors, executors and index backends, and those of installed plugin packages
    (the `zoo_rank` entry point; docs/extending.md), with the skipped ones and why."""
    from ..inventory import plugins

    rows = plugins()
    if as_json:
        echo_json(rows)
        return
    loaded = sum(r["from"] != "zoo-rank" and not r["skipped"] for r in rows)
    skipped = sum(bool(r["skipped"]) for r in rows)
    table = make_table(f"{loaded} plugin{'s' if loaded != 1 else ''} from installed packages, {skipped} skipped",
                       title_justify="left")
    for column in ("kind", "name", "from", "entry point"):
        table.add_column(column)
    for r in rows:
        where = r["from"] if not r["skipped"] else f"{r['from']}: skipped ({r['skipped']})"
        table.add_row(r["kind"], r["name"], where, r["entry_point"] or "")
    console().print(table)
