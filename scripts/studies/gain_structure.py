"""Print the diagnostics behind docs/results.md's analysis (zoo_rank.evaluation.structure) for the results files.

    python scripts/studies/gain_structure.py [--gains results/transfer-limited.jsonl]
                                     [--predictions results/sweep/predictions-limited-before-E.json] [--seeds 0,1]

Prints, from the committed results files (no torch, a second):

* the rho of a ranking that ignores the target: every source ordered by its mean gain on the
  *other* targets (leave the target out, so the target's own column is never seen). It is not
  a method one could deploy (it needs the gains), but it shows how much of the matrix is
  "some sources help everyone";
* each method's mean rho on the targets of each output type (Pearson-scored regression vs
  accuracy-scored classification);
* how often each method puts a source of the target's own output type above one of the other
  type (1: always, 0.5: as often as chance, 0: never).
"""

from __future__ import annotations

import argparse
from statistics import mean

from matrix_args import add_matrix_options, load_matrix_gains

from zoo_rank.evaluation.predict import load_predictions
from zoo_rank.evaluation.structure import output_types, same_type_first, source_prior_rho
from zoo_rank.evaluation.table import evaluate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_matrix_options(parser)
    args = parser.parse_args()
    gains = load_matrix_gains(args)
    predictions, _ = load_predictions(args.predictions)
    evaluation = evaluate(gains, predictions)  # per-target rho over the tasks every method covers
    kind = {t: k for t, k in output_types(gains).items() if t in evaluation.tasks}
    kinds = sorted(set(kind.values()), reverse=True)

    overall, per_target = source_prior_rho(gains)
    print(f"target-blind source prior (leave-one-target-out mean gain): rho {overall:.2f}  "
          + " ".join(f"{t}={r:g}" for t, r in per_target.items()))
    print(f"\n{'method':<44}" + "".join(f"{'rho, ' + k + ' targets':>29}" for k in kinds) + f"{'same type first':>17}")
    for row in sorted(evaluation.rows, key=lambda r: r.method):
        by_kind = []
        for k in kinds:
            rhos = [v["rho"] for t, v in row.per_target.items() if kind[t] == k]
            by_kind.append(f"{mean(rhos):>29.2f}" if rhos else f"{'–':>29}")
        scores = {t: {s: v for s, v in predictions[row.method].scores[t].items() if s in kind} for t in kind}
        print(f"{row.method:<44}" + "".join(by_kind) + f"{same_type_first(scores, kind):>17.2f}")

if __name__ == "__main__":
    main()
