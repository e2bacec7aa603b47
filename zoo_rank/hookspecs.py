"""What a zoo-rank plugin can add: the hook specification.

A plugin is a module named by an entry point of the one group ``zoo_rank``::

    [project.entry-points.zoo_rank]
    toyplug = "toyplug"

that defines any of the functions below. zoo-rank calls each once a process, when that kind is
first needed, with a ``register`` function. zoo-rank's own embedders, readers, families,
predictors, executors and index backends are registered through the same functions (each
kind's package defines them for its own), before any plugin's; a plugin cannot take one of
their names. A plugin that fails to import, a hook that raises, or a registered object that
does not fit is skipped with one line on stderr (``plugins.py``), and `zoo-rank plugins` lists
it with why.
"""

from __future__ import annotations

from collections.abc import Callable

GROUP = "zoo_rank"

Register = Callable[..., None]


def register_embedders(register: Register) -> None:
    """``register(embedder)``: an object (or a class, instantiated) with ``name``, an int
    ``version`` and ``embed(weights, base_model=None) -> TaskEmbedding``; ``on_ingest`` (default
    True) runs it on every add, pull and train."""


def register_readers(register: Register) -> None:
    """``register(spec)``: a ``zoo_rank.readers.ReaderSpec`` of a checkpoint format zoo-rank
    does not read itself; tried after zoo-rank's own."""


def register_families(register: Register) -> None:
    """``register(family)``: a ``zoo_rank.families.Family`` under a new name, claiming methods no
    other family holds."""


def register_predictors(register: Register) -> None:
    """``register(name, predictor)``: ``predictor(config, work, device, home, say) -> list[Prediction]``,
    a method group of `zoo-rank bench predict --methods`."""


def register_executors(register: Register) -> None:
    """``register(name, factory)``: ``factory(address, num_cpus, workers) -> Executor``, a choice of
    ``--executor``."""


def register_index_backends(register: Register) -> None:
    """``register(name, backend)``: an object (or a class, instantiated) with
    ``shortlist(registry, space_id, query, limit, centred)``, a choice of ``--index``."""


# hook -> the kind it adds, as `zoo-rank plugins` names it
KINDS: dict[str, str] = {
    "register_embedders": "embedders",
    "register_readers": "readers",
    "register_families": "families",
    "register_predictors": "predictors",
    "register_executors": "executors",
    "register_index_backends": "index backends",
}
