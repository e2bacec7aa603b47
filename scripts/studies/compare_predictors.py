"""Mean ρ and NDCG of every predictor, with exact paired sign-flip tests (Holm over the table) against chosen references.

    python scripts/studies/compare_predictors.py --gains results/transfer-limited.jsonl \
        --predictions results/predictions-limited.json [more.json ...] \
        --references "TuPaTE bitfit (invariant)" Random [--only "TuPaTE"]

Reads predictions from several files (later files win on a name clash) and prints the table
that docs/results.md prints for TaskEmb and Random, against any references: how two recipes
or embedders compare on one ground truth, each difference called significant or not.
"""

from __future__ import annotations

import argparse

from zoo_rank.evaluation import evaluate, load_gains, load_predictions
from zoo_rank.evaluation.report import significance_markdown


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gains", default="results/transfer-limited.jsonl")
    parser.add_argument("--predictions", nargs="+", required=True)
    parser.add_argument("--references", nargs="+", default=["Random"])
    parser.add_argument("--only", default="", help="Keep predictors whose name starts with this, and the references.")
    args = parser.parse_args()
    gains = load_gains(args.gains)
    predictions = {}
    for path in args.predictions:
        predictions.update(load_predictions(path)[0])
    predictions = {name: p for name, p in predictions.items()
                   if name.startswith(args.only) or name in args.references}
    missing = [r for r in args.references if r not in predictions]
    if missing:
        parser.error(f"no predictions named {', '.join(missing)}")
    print(significance_markdown(evaluate(gains, predictions), gains, references=tuple(args.references)))


if __name__ == "__main__":
    main()
