"""What the commands share: the registry of the invocation, option groups, and plain output.

Heavy modules (numpy, rich, the readers) are imported inside functions so that ``--help``
stays fast and torch-free.
"""

from __future__ import annotations

import json
import os
import re
import sys

import click

from .. import all_embedders  # numpy only: torch comes with the behaviour embedder when it runs
from .. import executor_names  # light: no Ray until --executor ray is used
from ..settings import EXECUTOR

EMBEDDER_CHOICES = tuple(all_embedders())  # zoo-rank's own and those of installed plugins
EXECUTOR_CHOICES = executor_names()


def open_registry(ctx: click.Context):
    """The command's registry, kept on the context so that a Ctrl-C can say what it registered."""
    from .. import Registry

    root = ctx.find_root().obj
    if root.get("registry") is None:
        root["registry"] = Registry(root["home"], builtin=root.get("builtin"))
    return root["registry"]


def split_list(value: str | None) -> list[str]:
    """``--method bitfit,lora`` → ["bitfit", "lora"]."""
    return [m.strip() for m in (value or "").split(",") if m.strip()]


def known_methods(names: list[str], option: str) -> list[str]:
    """``names`` if each is a method or family zoo-rank knows (plugins included); else a usage error
    naming the unknown one and the choices, before anything is read or trained."""
    from ..families import families

    known = families()
    choices = sorted({*known, *(m for f in known.values() for m in f.methods)})
    for name in names:
        if name not in choices:
            raise click.BadParameter(f"unknown method {name!r}; choose from {', '.join(sorted(known))} "
                                     f"(or a method name: {', '.join(m for m in choices if m not in known)})",
                                     param_hint=option)
    return names


def data_columns(text_column, pair_column, label_column, task_type) -> dict:
    given = dict(text_column=text_column, pair_column=pair_column, label_column=label_column, task_type=task_type)
    return {k: v for k, v in given.items() if v is not None}


# the word that asks an option for none of its setting: the model's own dropout, no no-progress stop
NONE_WORDS = {"dropout": "model", "patience": "off"}


class NumberOrWord(click.ParamType):
    """A number in range, or the one word that means "none of it" (``--dropout model``, ``--patience
    off``): how an option whose default is a value can still ask for the setting's absence."""

    def __init__(self, number: click.ParamType, word: str) -> None:
        self.number, self.word = number, word
        self.name = f"{number.name}|{word}"

    def convert(self, value, param, ctx):
        if isinstance(value, str) and value.strip().lower() == self.word:
            return self.word
        return self.number.convert(value, param, ctx)


DROPOUT = NumberOrWord(click.FloatRange(min=0, max=1, max_open=True), NONE_WORDS["dropout"])
PATIENCE = NumberOrWord(click.IntRange(min=1), NONE_WORDS["patience"])


def dropout_default() -> str:
    """``--dropout``'s default, for its help."""
    from ..training.config import EARLY_DROPOUT

    if EARLY_DROPOUT is None:
        return "the base model's own"
    return f"{EARLY_DROPOUT:g} for a run the early rule ends, else the base model's own"


def patience_default() -> str:
    """``--patience``'s default, for its help."""
    from ..training.config import EARLY_PATIENCE

    return "off: the cap ends a run that does not learn" if EARLY_PATIENCE is None else f"{EARLY_PATIENCE}"


def setting(name: str, value):
    """An option's value as the Python API takes it: not given (None) → ``DEFAULT``, the option's
    none-word (``NONE_WORDS``) → None, anything else as it is."""
    from ..training.config import DEFAULT

    if value is None:
        return DEFAULT
    return None if value == NONE_WORDS.get(name) else value


def train_config(**options):
    """A TrainConfig of the options given (None: not given; ``--dropout model`` and ``--patience
    off`` give None, the model's dropout and no stop); ``max_examples=0`` means all examples."""
    from .. import TrainConfig
    from ..training.config import DEFAULT

    given = {k: v for k, v in ((k, setting(k, v)) for k, v in options.items()) if v != DEFAULT}
    if given.get("max_examples") == 0:
        given["max_examples"] = None
    return TrainConfig(**given)


def family_options(f):
    """One option per setting of the trained method families (``--lora-r``, ``--lora-alpha``,
    ``--lora-target-modules``, ``--prefix-length``), made from each family's settings dataclass
    (``zoo_rank/families/``), so a family's new setting needs no change here."""
    from .. import training_settings

    for family, setting in reversed(training_settings()):
        names = str(setting.type).startswith("tuple")  # a list of module names, given comma-separated
        f = click.option(
            "--" + setting.name.replace("_", "-"), setting.name, default=None, metavar="A,B" if names else None,
            type=str if names else click.IntRange(min=1),
            help=f"{family}: {setting.metadata.get('help', '')}" + ("" if names else f" [default: {setting.default}]"),
        )(f)
    return f


def family_settings(given: dict) -> dict:
    """The options of ``family_options`` that were given, as ``TrainConfig`` takes them: the
    families' own settings dataclasses (``family_settings=(LoraSettings(lora_r=4),)``)."""
    from ..training.config import family_settings as made

    values = {name: tuple(part.strip() for part in value.split(",") if part.strip()) if isinstance(value, str)
              else value for name, value in given.items() if value is not None}
    return {"family_settings": made(**values)} if values else {}


def _apply(f, decorators):
    for decorator in reversed(decorators):
        f = decorator(f)
    return f


def data_options(f):
    """Options that say how to read a data file (shared by --target and train)."""
    return _apply(f, (
        click.option("--text-column", metavar="COL", help="Data file: the text column [default: text, sentence, …]."),
        click.option("--pair-column", metavar="COL", help="Data file: a second text column (pairs, e.g. NLI)."),
        click.option("--label-column", metavar="COL", help="Data file: the label column [default: label, …]."),
        click.option("--device", default="auto", show_default=True, help="Training device: auto, cpu, cuda, cuda:N."),
    ))


def executor_options(f):
    """Where the work runs (shared by add, pull, refresh and train)."""
    return _apply(f, (
        click.option("--executor", type=click.Choice(EXECUTOR_CHOICES), default="auto", show_default=True,
                     envvar=EXECUTOR,
                     help="auto: worker processes for many checkpoints, else this process; or fan out with Ray "
                          "(zoo-rank[ray])."),
        click.option("--ray-address", metavar="ADDR",
                     help="With --executor ray: a running cluster (auto, ray://host:10001) [default: $RAY_ADDRESS, "
                          "else a new local one]."),
    ))


def executor_context(executor: str, ray_address: str | None):
    """A context manager yielding the executor (None for "auto": the API picks per command)."""
    import contextlib

    from .. import get_executor

    chosen = get_executor(executor, address=ray_address)
    return chosen if chosen is not None else contextlib.nullcontext()


# C0/C1 control characters (ESC starts terminal commands: a title change, a cleared screen) and the bidi
# overrides that reorder what a terminal shows; tab and newline stay
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(text: str) -> str:
    """``text`` with control characters shown as escapes (``\x1b``): task names and file names come
    from catalogs, hub repos and users, and a terminal would otherwise obey them."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def warn(message: str) -> None:
    click.echo(f"warning: {printable(message)}", err=True)


def say(message: str) -> None:
    click.echo(printable(message), err=True)


def echo_json(value) -> None:
    click.echo(json.dumps(value, indent=2, default=str))


def make_table(title: str, *columns: str, **options):
    """A rich table that shows its cells as text: names, hashes and paths from files and users may hold
    ``[...]`` that rich would otherwise read as markup and drop (a layout hash ``[b0a5…]``)."""
    from rich.markup import escape
    from rich.table import Table

    class PlainTable(Table):
        def add_row(self, *cells, **kwargs):
            super().add_row(*(escape(printable(c)) if isinstance(c, str) else c for c in cells), **kwargs)

    if isinstance(options.get("caption"), str):
        options["caption"] = escape(printable(options["caption"]))
    return PlainTable(*columns, title=escape(printable(title)) if title else None, **options)


def console():
    from rich.console import Console

    # Piped output keeps full names instead of wrapping them to 80 columns; COLUMNS, when set, wins.
    columns = os.environ.get("COLUMNS", "")
    width = int(columns) if columns.isdigit() and int(columns) >= 40 else None if sys.stdout.isatty() else 200
    return Console(width=width)


def grouped_failures(failed: list, at_least: int = 3) -> list[str]:
    """One line per failure, except that failures with the same reason (``"<id>: <reason>"``: a
    hub without a network refuses every repo alike) are said once, with the ids they hit."""
    reasons: dict[str, list[str]] = {}
    for error in failed:
        who, sep, why = str(error).partition(": ")
        reasons.setdefault(why if sep else str(error), []).append(who if sep else "")
    lines = []
    for why, who in reasons.items():
        if len(who) >= at_least:
            shown = ", ".join(who[:3]) + (f" and {len(who) - 3} more" if len(who) > 3 else "")
            lines.append(f"{len(who)} sources ({shown}): {why}")
        else:
            lines += [f"{w}: {why}" if w else why for w in who]
    return lines


def report_added(result, as_json: bool) -> None:
    """Warnings and failures on stderr, what was registered on stdout (``AddResult`` or ``SyncResult``)."""
    for message in result.warnings:
        warn(message)
    for line in grouped_failures(result.failed):
        click.echo(f"skipped: {printable(line)}", err=True)
    synced = hasattr(result, "skipped")
    if as_json:
        document = {"added": [e.to_dict() for e in result.added], "existing": [e.name for e in result.existing],
                    "failed": [str(e) for e in result.failed]}
        if synced:
            document.update(reembedded=[e.name for e in result.reembedded], skipped=result.skipped,
                            seconds=result.seconds, base_models=result.base_models)
        echo_json(document)
        return
    for entry in result.added:
        revision = f", {entry.revision[:8]}" if entry.revision else ""
        click.echo(printable(f"added {entry.name} ({entry.method}, {entry.base_model}{revision})"))
    for entry in result.existing:
        click.echo(printable(f"already registered as {entry.name}: {entry.source}"))
    if synced:
        for entry in result.reembedded:
            click.echo(printable(f"re-embedded {entry.name}"))
        for model in result.base_models:
            click.echo(f"fetched base model {model}")
        if result.skipped:
            click.echo(f"{len(result.skipped)} checkpoint(s) already registered at that commit", err=True)


