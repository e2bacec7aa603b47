"""Behaviour-embedding variants on one matrix: how to reduce the per-probe, per-layer changes.

    python scripts/studies/behaviour_variants.py [--work results/work/behaviour] [--out results/work/behaviour-variants.json]
    zoo-rank evaluate --gains results/transfer-limited.jsonl --predictions results/work/behaviour-variants.json

Reads the checkpoints `zoo-rank bench predict --methods behaviour` trained into ``--work``
(sources ``source-TASK/METHOD`` on 1,000 examples, targets ``limited-TASK/METHOD`` on the
limited sample), measures each one's hidden-state changes on the probe set once (cached as
``.npy`` beside the registry), and scores every target against every source for each way
of reducing them to a vector. This is for CHOOSING the reduction, so it is run on the 8-task
built-in matrix only; the CR matrix is not looked at (docs/method.md says which was chosen).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from zoo_rank.embedders.behaviour import behaviour_deltas
from zoo_rank.embedders.sketch import Sketcher
from zoo_rank.evaluation.predict import TUPATE_METHODS, Prediction, _cosine_scores, save_predictions
from zoo_rank.readers import read_checkpoint
from zoo_rank.registry import Registry
from zoo_rank.similarity import ensemble

SKETCH = Sketcher(8192, "zoo-rank/behaviour-variants")
REDUCTIONS = {
    "per probe": lambda d: d.mean(axis=1).reshape(-1),
    "per probe, sketched to 8192": lambda d: SKETCH.vector(f"probes:{d.shape}", d.mean(axis=1).reshape(-1)),
    "probe mean": lambda d: d.mean(axis=(0, 1)),
    "per probe, last layer": lambda d: d[:, -1].reshape(-1),
    "per probe and layer": lambda d: d.reshape(-1),
}


def deltas_of(registry: Registry, cache: Path) -> dict[tuple[str, str, str], np.ndarray]:
    """(role, task, method) → probes × layers × hidden, for every trained entry."""
    from zoo_rank.pipeline.backfill import checkpoint_folder

    cache.mkdir(parents=True, exist_ok=True)
    out = {}
    for entry in registry.entries():
        role_task, _, method = entry.name.rpartition("/")
        role, _, task = role_task.partition("-")
        if method not in TUPATE_METHODS or role not in ("source", "limited"):
            continue
        path = cache / f"{entry.name.replace('/', '--')}.npy"
        if not path.exists():
            np.save(path, behaviour_deltas(read_checkpoint(checkpoint_folder(entry)), entry.base_model))
        out[("source" if role == "source" else "target", task, method)] = np.load(path)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="results/work/behaviour")
    parser.add_argument("--out", default="results/work/behaviour-variants.json")
    args = parser.parse_args()
    registry = Registry(args.work, builtin=False)
    deltas = deltas_of(registry, Path(args.work) / "deltas")
    tasks = sorted({task for _, task, _ in deltas})
    predictions = {}
    for reduction, reduce in REDUCTIONS.items():
        vectors = {key: reduce(d) for key, d in deltas.items()}
        for centred in (False, True):
            label = f"{reduction}{', centred' if centred else ''}"
            per_method = {}
            for method in TUPATE_METHODS:
                per_method[method] = _cosine_scores({t: vectors[("target", t, method)] for t in tasks},
                                                    {t: vectors[("source", t, method)] for t in tasks}, tasks, centred)
                name = f"behaviour {method} ({label})"
                predictions[name] = Prediction(name, "tupate", per_method[method], None, {"variant": label})
            joint = {t: {s: ensemble({m: per_method[m][t][s] for m in TUPATE_METHODS}) for s in row}
                     for t, row in per_method["bitfit"].items()}
            name = f"behaviour ensemble ({label})"
            predictions[name] = Prediction(name, "tupate", joint, None, {"variant": label})
            # one space for every method: a BitFit target against the mean of each source's three vectors
            mixed = {t: np.mean([vectors[("source", t, m)] / np.linalg.norm(vectors[("source", t, m)])
                                 for m in TUPATE_METHODS], axis=0) for t in tasks}
            name = f"behaviour bitfit target vs every method's sources ({label})"
            predictions[name] = Prediction(name, "tupate", _cosine_scores(
                {t: vectors[("target", t, "bitfit")] for t in tasks}, mixed, tasks, centred), None, {"variant": label})
    save_predictions(args.out, predictions, {"work": args.work, "tasks": tasks,
                                             "note": "choosing the behaviour reduction on the 8-task matrix"})
    print(f"{len(predictions)} variants -> {args.out}")


if __name__ == "__main__":
    main()
