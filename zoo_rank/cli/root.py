"""The ``zoo-rank`` group: options every command shares, one-line errors, and ``rank`` as the
default command, so that ``zoo-rank --target T`` ranks (as llm's DefaultGroup does for prompts)."""

from __future__ import annotations

import sqlite3

import click

from ..settings import HOME, TASKS_DIR

DEFAULT_COMMAND = "rank"


def global_options(hidden: bool = False):
    """--home, --builtin, --tasks-dir and --debug: on the group, and (hidden) on the default command
    so that ``zoo-rank --target T --home H`` works as it always has."""
    return lambda f: _with_global_options(f, hidden)


def _with_global_options(f, hidden: bool):
    # The group reads the environment; the hidden copies only take what is written after the
    # command, or the environment would override a --home given before it.
    home_env, tasks_env = (None, None) if hidden else (HOME, TASKS_DIR)
    for decorator in reversed((
        click.option("--home", envvar=home_env, type=click.Path(file_okay=False), default=None, hidden=hidden,
                     help="Registry folder [env: ZOO_RANK_HOME; default: user cache dir]."),
        click.option("--builtin/--no-builtin", default=None, hidden=hidden,
                     help="Include the shipped built-in task embeddings in a new registry [env: ZOO_RANK_BUILTIN=0 "
                          "turns off]."),
        click.option("--tasks-dir", type=click.Path(file_okay=False, exists=True), envvar=tasks_env,
                     hidden=hidden,
                     help="A folder of task folders (<task>/{train,validation}.jsonl): their names work as task "
                          "names."),
        click.option("--debug", is_flag=True, default=None, hidden=hidden,
                     help="Show tracebacks instead of one-line errors."),
    )):
        f = decorator(f)
    return f


def set_globals(ctx: click.Context, **given) -> None:
    """Record the shared options on the root context (those given later win over the group's)."""
    root = ctx.find_root()
    root.ensure_object(dict)
    for name, value in given.items():
        if value is not None or name not in root.obj:
            root.obj[name] = value
    if given.get("debug"):
        root.params["debug"] = True
        from .quiet import unsilence_libraries

        unsilence_libraries()
    elif not root.obj.get("debug"):  # before any command imports torch, transformers or the hub library
        from .quiet import silence_libraries

        silence_libraries()


class RootGroup(click.Group):
    """Routes option-first command lines to ``rank``, and turns zoo-rank's own errors into one
    line on stderr and exit status 1 (Ctrl-C: 130, saying what was registered)."""

    def resolve_command(self, ctx: click.Context, args: list[str]):
        if args and args[0].startswith("-") and DEFAULT_COMMAND in self.commands:
            return DEFAULT_COMMAND, self.commands[DEFAULT_COMMAND], args
        return super().resolve_command(ctx, args)

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The ranking options first: `zoo-rank --target T` is the main job."""
        rank = self.commands.get(DEFAULT_COMMAND)
        if rank is not None:
            records = [r for p in rank.get_params(ctx) if p.name != "help" and (r := p.get_help_record(ctx))]
            with formatter.section("Ranking options (zoo-rank [rank] --target T ...)"):
                formatter.write_dl(records)
        super().format_options(ctx, formatter)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as stop:
            if ctx.params.get("debug"):
                raise
            # Every write is one transaction, so the registry holds all or none of what was being written.
            registry = (ctx.obj or {}).get("registry")
            done = registry.committed if registry is not None else 0
            said = (f"Interrupted after {done} entr{'y was' if done == 1 else 'ies were'} registered; they stay "
                    "(`zoo-rank list` shows them)." if done else "Interrupted. Nothing is half-registered "
                    "(`zoo-rank list` shows what is).")
            click.echo(f"{said} An interrupted download resumes next time.", err=True)
            ctx.exit(143 if isinstance(stop, Terminated) else 130)
        except Exception as exc:
            from .. import ZooRankError

            if isinstance(exc, OSError) and not ctx.params.get("debug") and not _output_failed(exc):
                # the file system's answer about a path (too long, permission, a vanished file): one line, not a trace
                from ..readers import shown_path

                where = f"{shown_path(exc.filename, 200)}: " if exc.filename else ""
                raise click.ClickException(f"{where}{exc.strerror or exc}") from exc
            if ctx.params.get("debug") or not isinstance(exc, (ZooRankError, sqlite3.Error)):
                raise
            from .common import printable

            said = str(exc) if isinstance(exc, ZooRankError) else f"registry error: {exc}"
            raise click.ClickException(printable(said)) from exc


@click.group(cls=RootGroup, invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"], "ignore_unknown_options": True})
@global_options()
@click.version_option(package_name="zoo-rank")
@click.pass_context
def cli(ctx, home, builtin, tasks_dir, debug):
    """Rank candidate source tasks for intermediate-task transfer.

    Parameter-efficient weights (LoRA, BitFit, prefix tuning, bottleneck adapters, IA3) are
    task embeddings: zoo-rank reads them, embeds them, keeps them in a local registry, and
    ranks sources by similarity to your target.

    The score is the cosine similarity (-1..1) of the target's task embedding and a
    candidate's, within one space (base model x method); with several methods, the mean over
    the methods a candidate has of each cosine minus that method's average over the candidates
    (the paper's ensemble, on one scale). The order is the advice; the size is not a predicted gain.

    \b
    Examples:
      zoo-rank --target my-data.csv               # train a BitFit embedding, rank the built-in tasks
      zoo-rank --target my-data.csv --method bitfit,lora,prefix
      zoo-rank add ./adapters --task-type classification
      zoo-rank --target my-adapter --top 5 --json
    """
    set_globals(ctx, home=home, builtin=builtin, tasks_dir=tasks_dir, debug=debug)
    if ctx.invoked_subcommand is None:
        click.echo(ctx.get_help())


class Terminated(KeyboardInterrupt):
    """SIGTERM, handled as Ctrl-C is (transactions roll back, worker processes stop), then exit 143."""


def _on_sigterm(signum, frame) -> None:
    raise Terminated()


def _output_failed(exc: OSError) -> bool:
    """Whether ``exc`` came from writing the command's output (stdout at /dev/full, a closed pipe)."""
    import errno

    return isinstance(exc, BrokenPipeError) or (exc.errno in (errno.ENOSPC, errno.EIO) and exc.filename is None)


def main() -> None:
    """The ``zoo-rank`` command. Output that the terminal's encoding cannot show is escaped (``\\u2013``)
    rather than a crash (``PYTHONIOENCODING=ascii``); output that cannot be written at all (stdout at
    /dev/full, a pipe closed by ``head``) ends the command with one line on stderr, not a traceback."""
    import os
    import signal
    import sys

    signal.signal(signal.SIGTERM, _on_sigterm)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.reconfigure(errors="backslashreplace")
        except (AttributeError, ValueError):  # not a text stream we may reconfigure: leave it
            pass
    try:
        cli(prog_name="zoo-rank")
    except BrokenPipeError:  # `zoo-rank list | head`: the reader has what it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except OSError as exc:
        if not _output_failed(exc):
            raise
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # what is buffered can go nowhere either
        print(f"Error: cannot write the output ({exc.strerror or exc})", file=sys.stderr)
        sys.exit(1)
