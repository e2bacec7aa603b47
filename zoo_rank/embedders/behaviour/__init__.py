"""``behaviour``: an adapter is what it does to the base model, not how its weights are laid out.

The embedding is the change the adapter makes to the base model's hidden states on the
shipped probe set (``probes.py``): per probe text and layer, the token-mean hidden state with
the adapter minus without it (``apply.py`` puts each method into the model), averaged over
layers as TuPaTE averages parameters, kept per probe and sketched to a fixed size (``reduce``). Every method
of one base model lands in ONE space, so a LoRA, a BitFit and a prefix adapter of different
ranks, modules, seeds and authors are compared on what they do (Xu et al. 2025, "Delta
Activations"). Needs torch, transformers and the base model on this machine; imported only when
it runs, so ``--help`` and ranking stay torch-free.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ...weights import AdapterWeights, canonical_base_model
from ...spaces import Space, TaskEmbedding, unit
from ..sketch import Sketcher

FAMILY = "any"  # one space for every method of a base model


DIM = 8192


@lru_cache(maxsize=1)
def _sketcher() -> Sketcher:
    return Sketcher(DIM, "zoo-rank/behaviour/v2")


def reduce(deltas: np.ndarray) -> np.ndarray:
    """probes × layers × hidden → the embedding: the layer average of each probe's change, kept per
    probe (probes × hidden values), count-sketched to ``DIM``: inner products are kept in
    expectation (cosine error ≈ 1/√DIM), and a vector is 32 KB whatever the model's width."""
    per_probe = deltas.mean(axis=1)
    return _sketcher().vector(f"probes:{per_probe.shape[0]}x{per_probe.shape[1]}", per_probe.reshape(-1))


def behaviour_deltas(weights: AdapterWeights, base_model: str | None = None) -> np.ndarray:
    """probes × layers × hidden: hidden states with the adapter minus without it."""
    from .apply import applied
    from .model import load_base, probe_states
    from .probes import load_probes

    name = base_model or weights.base_model
    base = load_base(name, str(weights.path))
    probes = load_probes()
    if base.base_states is None:
        base.base_states = probe_states(base, probes)
    with applied(base.model, weights) as extra:
        states = probe_states(base, probes, extra.get("runner"), extra.get("virtual_tokens", 0))
    return states - base.base_states


class BehaviourEmbedder:
    name = "behaviour"
    version = 2  # 1 (never shipped): the per-probe changes unsketched, 77,568 values for the default model
    on_ingest = False  # needs torch and the base model, and costs seconds: `zoo-rank embed` adds it

    def embed(self, weights: AdapterWeights, base_model: str | None = None) -> TaskEmbedding:
        from .probes import load_probes

        deltas = behaviour_deltas(weights, base_model)
        vector, norm = unit(reduce(deltas), str(weights.path))
        probes = load_probes()
        space = Space(canonical_base_model(base_model or weights.base_model), FAMILY, self.name, self.version, int(vector.size),
                      f"probes-v{probes.version}-{probes.sha256[:8]}")
        return TaskEmbedding(space, vector, norm, {"embedder": self.name, "version": self.version,
                                                   "probes": probes.sha256, "layers": int(deltas.shape[1])})
