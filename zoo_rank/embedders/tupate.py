"""``tupate``: exactly the paper (Zhou, Xu & McAuley, EMNLP 2022).

Concatenate the tuned parameters within each Transformer layer, average across layers.
Raw values, no normalisation of rank or seed: meaningful when every adapter in the space
was trained from the same seeded initialisation and configuration, as in the paper (and
as ``zoo-rank train`` does). The module layout is part of the space, so only adapters that
tune the same tensors with the same shapes are ever compared. BitFit checkpoints hold bias
deltas; the paper's raw biases differ from them by the base biases, a constant shift that
centring removes.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np

from ..errors import CheckpointError
from ..weights import AdapterWeights
from ..spaces import Space, TaskEmbedding, unit


class TupateEmbedder:
    name = "tupate"
    version = 1

    def embed(self, weights: AdapterWeights, base_model: str | None = None) -> TaskEmbedding:
        if weights.layers:
            groups = [weights.layers[i] for i in sorted(weights.layers)]
        else:
            groups = [{(name, "embeddings"): t for name, t in weights.inputs.items()}]
        signature = None
        rows = []
        for params in groups:
            keys = sorted(params)
            layer_signature = [[kind, param, list(params[(kind, param)].shape)] for kind, param in keys]
            if signature is None:
                signature = layer_signature
            elif layer_signature != signature:
                raise CheckpointError(
                    weights.path,
                    "tunes different tensors in different layers, so the paper's layer average is undefined",
                    hint="use the invariant embedder (the default)",
                )
            rows.append(np.concatenate([params[k].astype(np.float64).reshape(-1) for k in keys]))
        mean = np.mean(rows, axis=0)
        vector, norm = unit(mean, str(weights.path))
        layout = hashlib.sha256(json.dumps(signature).encode()).hexdigest()[:12]
        space = Space(
            base_model or weights.base_model or weights.arch_fingerprint(),
            weights.family,
            self.name,
            self.version,
            int(mean.size),
            layout,
        )
        return TaskEmbedding(space, vector, norm, {"embedder": self.name, "version": self.version,
                                                   "layers": len(rows)})
