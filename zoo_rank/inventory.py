"""What zoo-rank can use, kind by kind, and where each comes from (`zoo-rank plugins`): the one
module that asks every kind, so that nothing below it has to know all six."""

from __future__ import annotations


def plugins() -> list[dict]:
    """What zoo-rank can use, kind by kind (embedders, readers, families, predictors, executors,
    index backends): its own, each installed package's plugins with the distribution they come
    from, and the plugins that were skipped, with why. Runs every hook (one scan of the
    installed distributions)."""
    from .embedders import EMBEDDERS, all_embedders
    from .evaluation.predict import own_predictors, predictors
    from .executors import EXECUTORS, executor_names
    from .families import BUILTIN, families
    from .hookspecs import KINDS
    from .index import BACKENDS, backends
    from .plugins import PACKAGE, found
    from .readers import READERS, reader_specs

    for load in (all_embedders, reader_specs, families, predictors, executor_names, backends):
        load()  # every kind's plugins, before listing them
    own = {
        "embedders": list(EMBEDDERS),
        "readers": [spec.format for spec in READERS],
        "families": list(BUILTIN),
        "predictors": list(own_predictors()),
        "executors": [n for n in EXECUTORS if n != "auto"],
        "index backends": [n for n in BACKENDS if n != "auto"],
    }
    rows = []
    for kind in (*KINDS.values(), PACKAGE):
        rows += [{"kind": kind, "name": name, "from": "zoo-rank", "entry_point": None, "skipped": None}
                 for name in own.get(kind, [])]
        rows += [{"kind": kind, "name": p.name, "from": f"{p.distribution} {p.version}", "entry_point": p.value,
                  "skipped": p.error} for p in found() if p.kind == kind]
    return rows
