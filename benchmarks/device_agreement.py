"""How far one task's runs trained on two devices (CPU float32, CUDA bf16 autocast) are apart,
as a ranking sees them: the cosine of the two runs, the range of the task's cosine to every other
task, how alike the two runs order the other tasks (Spearman's r, raw and centred on the
space's mean), and where the other run places the reference run's top candidate (the paper's ρ,
1 = the same top). The training key leaves the device out, so a registry reuses either run for the
other; this measures what that costs. No training here: give two homes holding the same task.

    python benchmarks/device_agreement.py results/work/build-home/builtin-build HOME_FROM_GPU --task copa
"""

from __future__ import annotations

import argparse
from functools import partial
from pathlib import Path

import numpy as np
from _machine import describe

from zoo_rank.datasets.scoring import regression_scores
from zoo_rank.evaluation.metrics import rho
from zoo_rank.families import family_of
from zoo_rank.registry import Registry
from zoo_rank.similarity import cosines


def _vectors(registry: Registry, embedder: str, family: str) -> dict[str, np.ndarray]:
    """Each task's vector of the method ``family`` in the ``embedder`` space (registry vectors are unit)."""
    out = {}
    for entry in registry.entries():
        if family_of(entry.method) != family or not entry.task:
            continue
        for embedding in registry.embeddings_of(entry):
            if embedding.space.embedder == embedder:
                out[entry.task] = np.asarray(embedding.vector, np.float32)
    return out


def _scores(names: list[str], values: np.ndarray) -> dict[str, float]:
    return dict(zip(names, map(float, values)))


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    return regression_scores(a, b)["spearman"]  # the project's Spearman: ties share their mean rank


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path, help="home of the reference runs and of the other tasks")
    parser.add_argument("other", type=Path, help="home holding the same task trained elsewhere")
    parser.add_argument("--task", required=True)
    parser.add_argument("--embedder", default="invariant")
    parser.add_argument("--methods", default="bitfit,lora,prefix")
    args = parser.parse_args()
    print(describe())
    reference, other = Registry(args.reference, builtin=False), Registry(args.other, builtin=False)
    print(f"\ntask {args.task}, {args.embedder} space\n"
          "| method | cosine, run vs run | task vs other tasks | Spearman r of the orders (raw / centred) "
          "| reference's top placed at (raw / centred) |\n|---|---:|---:|---:|---|")
    for method in args.methods.split(","):
        mine, theirs = _vectors(reference, args.embedder, method), _vectors(other, args.embedder, method)
        if args.task not in mine or args.task not in theirs:
            print(f"| {method} | (no {args.task} run in both homes) | | | |")
            continue
        a, b = mine.pop(args.task), theirs[args.task]
        names = sorted(mine)
        matrix = np.stack([mine[n] for n in names])
        mean = matrix.mean(axis=0)
        raw_a, raw_b = cosines(matrix, a), cosines(matrix, b)
        cen_a, cen_b = cosines(matrix, a, mean), cosines(matrix, b, mean)
        order = partial(_scores, names)
        print(f"| {method} | {float(cosines(a[None], b)[0]):.3f} | {raw_a.min():.2f} to {raw_a.max():.2f} "
              f"({len(names)} tasks) | {_spearman(raw_a, raw_b):.2f} / {_spearman(cen_a, cen_b):.2f} | {rho(order(raw_a), order(raw_b)):g} / "
              f"{rho(order(cen_a), order(cen_b)):g} of {len(names)} ({names[int(raw_a.argmax())]}) |")
    reference.close()
    other.close()


if __name__ == "__main__":
    main()
