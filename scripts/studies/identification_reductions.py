"""Can another reduction of the behaviour deltas remove the prefix seed fingerprint? A post-hoc check.

    python scripts/studies/identification_reductions.py results/work/ident-learned

Reads the ``behaviour-deltas.npy`` (probes × layers × hidden) that ``scripts/studies/identification.py``
cached beside each checkpoint of a zoo, so it needs neither torch nor retraining, and reports
same-task top-1 (any method) for several ways of reducing them, each against the shipped
reduction with an exact McNemar test over the same adapters. Prefix adapters trained briefly
are identified by their seed, not their task (docs/method.md); a reduction that removed a
seed's shared effect would show up here as prefix hits gained.

Every reduction here is chosen after seeing this zoo, so a gain on it is a hypothesis, not a
measurement: a reduction would have to be confirmed on another zoo and must not cost ranking
quality on the 8-task matrix (``scripts/studies/behaviour_variants.py``) before it could ship.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from identification import wilson
from identification_paired import mcnemar, nearest_hits, zoo

from zoo_rank.embedders.behaviour import reduce
from zoo_rank.evaluation.significance import ALPHA, holm


def _centred(x: np.ndarray) -> np.ndarray:
    return x - x.mean(axis=0)


REDUCTIONS = {  # probes × layers × hidden → one vector
    "shipped (per probe, layer mean, sketched)": reduce,
    "per probe, layer mean, centred over probes": lambda d: _centred(d.mean(axis=1)).reshape(-1),
    "per probe and layer, centred over probes": lambda d: _centred(d).reshape(-1),
    "per probe, last layer": lambda d: d[:, -1].reshape(-1),
    "per probe, last layer, centred over probes": lambda d: _centred(d[:, -1]).reshape(-1),
    "per probe, first layer": lambda d: d[:, 0].reshape(-1),
}


def main() -> None:
    work = Path(sys.argv[1] if len(sys.argv) > 1 else "results/work/ident-learned")
    found = zoo(work)
    keys = sorted(k for k, path in found.items() if (path / "behaviour-deltas.npy").exists())
    if not keys:
        sys.exit(f"error: no behaviour-deltas.npy under {work}/checkpoints: run scripts/studies/identification.py first")
    deltas = [np.load(found[k] / "behaviour-deltas.npy") for k in keys]
    tasks = [task for task, _ in keys]
    prefix = np.array([variant.startswith("prefix") for _, variant in keys])
    outcomes = {name: nearest_hits(np.stack([f(d) for d in deltas]), tasks) for name, f in REDUCTIONS.items()}
    shipped = outcomes[next(iter(REDUCTIONS))]
    print(f"{len(keys)} adapters in {work}; top-1 same task among all others (any method)\n")
    print("| reduction | all adapters | prefix adapters | gained | lost | exact McNemar p vs shipped (Holm over the table) |")
    print("|---|---|---|---|---|---|")
    tests = {name: mcnemar(shipped, hits) for name, hits in outcomes.items() if hits is not shipped}
    adjusted = dict(zip(tests, holm([p for _, _, p in tests.values()])))
    for name, hits in outcomes.items():
        against = "· | · | ·"
        if name in tests:
            gained, lost, p = tests[name]
            against = (f"{gained} | {lost} | {p:.3f} (Holm {adjusted[name]:.3f})"
                       + ("" if adjusted[name] < ALPHA else " not significant"))
        print(f"| {name} | {wilson(int(hits.sum()), hits.size)} | {int(hits[prefix].sum())}/{int(prefix.sum())} | "
              f"{against} |")


if __name__ == "__main__":
    main()
