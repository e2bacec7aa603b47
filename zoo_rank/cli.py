"""``zoo-rank``: the command line, a thin layer over ``zoo_rank.api``.

Heavy modules (numpy, rich, the readers) are imported inside commands so that ``--help``
stays fast; torch is only imported to read a pickled ``.bin`` checkpoint.
"""

from __future__ import annotations

import json
import sqlite3
import sys

import click

EMBEDDER_CHOICES = ("invariant", "tupate")


class _Group(click.Group):
    """Turns zoo-rank's own errors into one line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except Exception as exc:
            from .errors import ZooRankError

            if ctx.params.get("debug") or not isinstance(exc, (ZooRankError, sqlite3.Error)):
                raise
            raise click.ClickException(str(exc) if isinstance(exc, ZooRankError) else f"registry error: {exc}") from exc


def _registry(ctx: click.Context):
    from .registry import Registry

    return Registry(ctx.obj["home"])


def _echo_json(value) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def _console():
    from rich.console import Console

    # Piped output keeps full names instead of wrapping them to 80 columns.
    return Console(width=None if sys.stdout.isatty() else 200)


@click.group(cls=_Group, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--target", "-t", metavar="T", help="Registry name, checkpoint folder, or task name to rank sources for.")
@click.option("--top", "-n", default=10, show_default=True, help="How many candidates to show (0: all).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, best first.")
@click.option("--embedder", type=click.Choice(EMBEDDER_CHOICES), default="invariant", show_default=True,
              help="invariant: comparable across ranks/seeds; tupate: the paper's raw layer average.")
@click.option("--center/--no-center", default=False, show_default=True, help="Centre vectors on the space mean.")
@click.option("--task-type", help="Only candidates of this task type.")
@click.option("--method", help="Only candidates of this method or family (lora, bitfit, prefix, ...).")
@click.option("--base-model", help="Only this base model's spaces (also names the base model of a checkpoint-folder target).")
@click.option("--ensemble/--no-ensemble", default=None,
              help="Average scores over methods per candidate task (default: when the target has several methods).")
@click.option("--home", envvar="ZOO_RANK_HOME", type=click.Path(file_okay=False), default=None,
              help="Registry folder [env: ZOO_RANK_HOME; default: user cache dir].")
@click.option("--debug", is_flag=True, help="Show tracebacks instead of one-line errors.")
@click.version_option(package_name="zoo-rank")
@click.pass_context
def cli(ctx, target, top, as_json, embedder, center, task_type, method, base_model, ensemble, home, debug):
    """Rank candidate source tasks for intermediate-task transfer.

    Parameter-efficient weights (LoRA, BitFit, prefix tuning, bottleneck adapters, IA3) are
    task embeddings: zoo-rank reads them, embeds them, keeps them in a local registry, and
    ranks sources by similarity to your target.

    \b
    Examples:
      zoo-rank add ./adapters --task-type classification
      zoo-rank --target my-adapter --top 5
      zoo-rank --target ./my-checkpoint --json
    """
    ctx.ensure_object(dict)
    ctx.obj.update(home=home, debug=debug)
    if ctx.invoked_subcommand is not None:
        if target:
            raise click.UsageError("--target ranks; it cannot be combined with a command")
        return
    if not target:
        click.echo(ctx.get_help())
        return
    from .api import rank

    ranking = rank(target, registry=_registry(ctx), embedder=embedder, center=center, top=top or None,
                   task_type=task_type, method=method, base_model=base_model, ensemble=ensemble)
    if as_json:
        _echo_json(ranking.to_list())
        return
    _print_ranking(ranking)


def _print_ranking(ranking) -> None:
    from rich.table import Table

    mode = "ensemble over methods" if ranking.ensemble else "per adapter"
    table = Table(title=f"Sources for {ranking.target} ({ranking.embedder}, {'centred' if ranking.centered else 'raw'} "
                        f"cosine, {mode})", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("candidate")
    table.add_column("score", justify="right")
    families = sorted({f for c in ranking.candidates for f in c.scores}) if ranking.ensemble else []
    for family in families:
        table.add_column(family, justify="right")
    table.add_column("task")
    if not ranking.ensemble:
        table.add_column("method")
    for i, c in enumerate(ranking.candidates, 1):
        row = [str(i), c.name, f"{c.score:.4f}"]
        row += [f"{c.scores[f]:.4f}" if f in c.scores else "–" for f in families]
        row += [c.task or "–"] + ([] if ranking.ensemble else [c.method or "–"])
        table.add_row(*row)
    _console().print(table)


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--name", help="Registry name (one checkpoint only; default: folder name).")
@click.option("--task", help="Task the adapter was trained on (candidates of one task are ensembled).")
@click.option("--task-type", help="e.g. classification, pair-classification, regression.")
@click.option("--train-size", type=click.IntRange(min=0), help="Number of training examples (DataSize baseline).")
@click.option("--base-model", help="Base model, when the checkpoint config does not name it.")
@click.option("--revision", help="Revision (commit) the files came from.")
@click.option("--keep-going", is_flag=True, help="Skip bad checkpoints instead of adding nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print the added entries as JSON.")
@click.pass_context
def add(ctx, paths, name, task, task_type, train_size, base_model, revision, keep_going, as_json):
    """Read, embed and register checkpoint folders (searched recursively).

    Nothing is written unless every checkpoint reads and embeds (see --keep-going).
    Content already registered is skipped, whatever its name.
    """
    from .api import add as add_checkpoints

    result = add_checkpoints(paths, registry=_registry(ctx), name=name, task=task, task_type=task_type,
                             train_size=train_size, base_model=base_model, revision=revision, keep_going=keep_going)
    for message in result.warnings:
        click.echo(f"warning: {message}", err=True)
    for error in result.failed:
        click.echo(f"skipped: {error}", err=True)
    if as_json:
        _echo_json({"added": [e.to_dict() for e in result.added], "existing": [e.name for e in result.existing],
                    "failed": [str(e) for e in result.failed]})
    else:
        for entry in result.added:
            click.echo(f"added {entry.name} ({entry.method}, {entry.base_model})")
        for entry in result.existing:
            click.echo(f"already registered as {entry.name}: {entry.source}")
    if result.failed and not result.added and not result.existing:
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
    from rich.table import Table

    table = Table(title=f"{len(entries)} entries", title_justify="left")
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
    """Show one entry: source, hashes, metadata and spaces."""
    entry = _registry(ctx).require(name)
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
    from rich.table import Table

    table = Table(title=f"{len(found)} spaces", title_justify="left")
    for column in ("base model", "family", "embedder", "dim", "vectors"):
        table.add_column(column)
    for s, n in found:
        table.add_row(s.base_model, s.family, f"{s.embedder}-v{s.version}" + (f" [{s.layout}]" if s.layout else ""),
                      str(s.dim), str(n))
    _console().print(table)


def main() -> None:
    cli(prog_name="zoo-rank")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
