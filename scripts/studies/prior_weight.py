"""How the source prior's weight (`--prior`) was looked at: per-target ρ of blending a method's
similarity with the leave-one-target-out prior, on a gain matrix, with a paired bootstrap of
each weight against similarity alone.

    python scripts/studies/prior_weight.py [--gains results/transfer-limited.jsonl]
                                   [--predictions results/predictions-limited.json]
                                   [--methods "TuPaTE bitfit (invariant),TuPaTE ensemble (invariant)"] [--seeds 0,1]

No torch; a second. The rows are what docs/method.md quotes.
"""

from __future__ import annotations

import argparse
from statistics import mean

from matrix_args import add_matrix_options, load_matrix_gains

from zoo_rank.evaluation.predict import load_predictions
from zoo_rank.evaluation.significance import bootstrap_mean, paired_bootstrap
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
    print("method | weight | mean rho [95% CI] | vs weight 0: difference [95% CI], p")
    for method in args.methods.split(","):
        scores = predictions[method].scores
        base = prior_blend_rho(gains, scores, 0.0)
        for weight in WEIGHTS:
            per_target = prior_blend_rho(gains, scores, weight)
            ci = bootstrap_mean(list(per_target.values()))
            diff = paired_bootstrap(per_target, base)
            verdict = "" if diff.significant else " (not significant)"
            print(f"{method} | {weight:.2f} | {mean(per_target.values()):.2f} [{ci.low:.2f}, {ci.high:.2f}] | "
                  f"{diff.difference.mean:+.2f} [{diff.difference.low:+.2f}, {diff.difference.high:+.2f}], "
                  f"p {diff.p:.3f}{verdict}")


if __name__ == "__main__":
    main()
