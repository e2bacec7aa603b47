"""Rebuild the shipped built-in registry (`zoo-rank builtin build`): train every shipped built-in
task with each method and write ``zoo_rank/data/builtin.db``. It trains through the pipeline like
any user, so it lives above the store, apart from ``builtin_registry`` (which only reads the
shipped file and seeds registries from it).
"""

from __future__ import annotations

from pathlib import Path

from ..builtin_registry import SHIPPED_DB, finish


def build(home: str | Path | None = None, *, methods: tuple[str, ...] = ("bitfit", "lora", "prefix"), device: str = "auto",
          fresh: bool = False, output: str | Path | None = None, progress=None, warn=None, announce=None) -> Path:
    """Train every shipped built-in task with each method (default settings, train split) and
    write the shipped registry (``output``, default the package's ``builtin.db``).

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
    try:
        for task in (name for name, spec in TASKS.items() if spec.shipped):
            # data and model come from this home's assets, not the build home's
            for outcome in train(task, methods=methods, registry=registry, config=TrainConfig(device=device),
                                 split="train", columns={}, progress=progress, warn=warn, announce=announce,
                                 assets_home=home):
                say(f"{outcome.entry.name}: {'reused' if outcome.reused else 'trained'}")
    finally:
        registry.close()
    return finish(build_home, Path(output) if output else SHIPPED_DB)
