"""How the source prior's weight (`--prior`) was looked at: per-target ρ of blending a method's
similarity with the leave-one-target-out prior, on a gain matrix, each weight against similarity
alone by the exact sign-flip test over targets, Holm-corrected over the weights of one method (the
weights were all tried on the same data: the best of them is picked after the fact).

    python scripts/studies/prior_weight.py [--gains results/transfer-limited.jsonl]
                                   [--predictions results/sweep/predictions-limited-before-E.json]
                                   [--methods "TuPaTE bitfit (invariant),TuPaTE ensemble (invariant)"] [--seeds 0,1]

No torch; a second. The rows are what docs/method.md quotes.
"""

from __future__ import annotations

import argparse
from statistics import mean

from matrix_args import add_matrix_options, load_matrix_gains

from zoo_rank.evaluation.predict import load_predictions
from zoo_rank.evaluation.significance import tested_pairs, verdict_cell
from zoo_rank.evaluation.structure import prior_blend_rho

WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_matrix_options(parser)
    parser.add_argument("--methods", default="TuPaTE bitfit (invariant),TuPaTE ensemble (invariant),TaskEmb")
    args = parser.parse_args()
    gains = load_matrix_gains(args)
    predictions, _ = load_predictions(args.predictions)
    print(f"{len(gains.tasks)} targets, {len(gains.tasks) - 1} candidates each (random rho = {len(gains.tasks) / 2:.1f})")
    print("method | weight | mean rho | targets that change | vs weight 0: difference (exact p, Holm over the weights)")
    for method in args.methods.split(","):
        scores = predictions[method].scores
        base = prior_blend_rho(gains, scores, 0.0)
        blends = {w: prior_blend_rho(gains, scores, w) for w in WEIGHTS[1:]}
        tests = dict(zip(blends, tested_pairs([(per_target, base) for per_target in blends.values()])))
        print(f"{method} | 0.00 | {mean(base.values()):.2f} | – | –")
        for weight, per_target in blends.items():
            changed = sum(per_target[t] != base[t] for t in base)
            print(f"{method} | {weight:.2f} | {mean(per_target.values()):.2f} | {changed} | {verdict_cell(*tests[weight])}")


if __name__ == "__main__":
    main()
