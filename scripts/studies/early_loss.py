"""How far the shipped "early" embeddings trained: each built-in run's last-epoch training loss
against the loss of a model that has learned nothing (chance).

    python scripts/studies/early_loss.py [--db zoo_rank/data/builtin.db]

"Chance" is the loss of a model that learned only the label distribution: the entropy of the
training sample's class frequencies for classification (ln K when balanced; a fresh head
starts at ln K), 1.0 for regression (MSE on labels standardised to variance 1, predicting the
mean). The rule records the chance level it used (``chance_loss``); for a run without it (before
the rule), the class frequencies are recomputed from the built-in data (`zoo-rank fetch`). "learned"
is the share of chance the loss has fallen by. No torch.
"""

from __future__ import annotations

import argparse
import math
from collections import Counter
from functools import lru_cache
from pathlib import Path

from zoo_rank.builtin_registry import SHIPPED_DB, shipped_entries
from zoo_rank.datasets import load_builtin
from zoo_rank.training import TrainConfig


@lru_cache(maxsize=None)
def label_entropy(task: str) -> float:
    """Entropy of the class frequencies in the sample a default run trains on."""
    sample = load_builtin(task, "train").sample(TrainConfig().max_examples, TrainConfig().seed)
    counts = Counter(sample.labels)
    return -sum(c / len(sample) * math.log(c / len(sample)) for c in counts.values())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=str(SHIPPED_DB))
    args = parser.parse_args()
    print("task | method | steps | ended by | train loss (last epoch) | chance | learned (ln K for classes: learned vs a fresh head)")
    for item in sorted(shipped_entries(Path(args.db)), key=lambda e: (e.task, e.method)):
        training = item.metadata.get("training", {})
        metrics = training.get("metrics", {})
        loss = metrics.get("train_loss")
        labels = item.metadata.get("labels") or []
        regression = item.task_type == "regression"
        # the rule's own chance level where the run recorded it (every run since the rule; the
        # collection tasks of --tasks-dir are no PyPI built-ins to recompute it from)
        chance = metrics.get("chance_loss") or (1.0 if regression else label_entropy(item.task))
        fresh = 1.0 if regression else math.log(len(labels)) if len(labels) > 1 else None
        print(f"{item.task} | {item.method} | {training.get('steps')} | {metrics.get('stopped_by', '?')} | {loss:.3f} | "
              f"{chance:.3f} | {1 - loss / chance:+.0%}" + ("" if fresh is None or regression else f" ({1 - loss / fresh:+.0%})"))


if __name__ == "__main__":
    main()
