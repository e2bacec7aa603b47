"""Where the early rule's no-progress stop (``--patience``) would end runs already made, read from
their recorded loss curves (each checkpoint's ``zoo_rank_training.json``, ``loss_history``), with
no training: #37's candidate E (docs/method.md).

    python scripts/studies/plateau_rule.py results/work/sweep8-D results/work/home-D [--patience 64]
    python scripts/studies/plateau_rule.py results/work/cr-D --trained results/work/cr-E

With ``--trained``, the runs made with the stop (the same tasks and methods, trained with
``--patience``) are checked against the replay: the same end, and for a run the stop did not
change, the same weights to the byte.

The stop leaves the learning-rate schedule alone, so up to the step it fires at, a run with it is
the recorded run: replaying the rule over the recorded losses gives its stop exactly. Each run is
first replayed without the stop, which must give the recorded end (else the record is not the
rule's and is reported as such). Runs the stop would end before they learned are listed: their
embeddings are the ones that change.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from pathlib import Path

from zoo_rank.training.config import LEARNED_MAX_STEPS, TRAINING_FILE, TrainConfig
from zoo_rank.training.loop import LearnedRule


def replay(losses: list[float], fraction: float, chance: float, cap: int, patience: int | None) -> tuple[int, str]:
    """(steps, how it ended) of the early rule over ``losses``, as ``run_epochs`` reads them."""
    rule = LearnedRule(fraction, chance, patience)
    for step, loss in enumerate(losses[:cap], start=1):
        if rule.done(step, loss) or step >= cap:
            return step, rule.ended_by
    return len(losses), "unfinished record"


def _run_name(record_file: Path) -> str:
    """A run's folder without its key's suffix (``source-qqp_bitfit``): the same task and method in another recipe."""
    return re.sub(r"-[0-9a-f]{12}$", "", record_file.parent.name)


def _weights(folder: Path) -> str:
    digest = hashlib.sha256()
    for tensor_file in sorted(folder.glob("*.safetensors")):
        digest.update(tensor_file.read_bytes())
    return digest.hexdigest()


def _check_trained(rows: list[tuple], trained: Path) -> None:
    made = {_run_name(p): p for p in trained.rglob(TRAINING_FILE)}
    agree = same_weights = unchanged = 0
    print(f"\nchecked against the runs trained with the stop in {trained}:")
    for name, steps, ended, new_steps, new_ended, record_file in rows:
        other = made.get(_run_name(record_file))
        if other is None:
            print(f"  {name}: not trained there")
            continue
        record = json.loads(other.read_text())
        if (record["steps"], record["metrics"]["stopped_by"]) != (new_steps, new_ended):
            print(f"  {name}: the replay says {new_steps}, {new_ended}; the run made "
                  f"{record['steps']}, {record['metrics']['stopped_by']}")
            continue
        agree += 1
        if (new_steps, new_ended) == (steps, ended):
            unchanged += 1
            if _weights(other.parent) == _weights(record_file.parent):
                same_weights += 1
            else:
                print(f"  {name}: unchanged by the stop, but its weights differ")
    print(f"  {agree} of {len(rows)} runs ended where the replay said; {same_weights} of the {unchanged} of them the "
          f"stop does not change have the same weights to the byte")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="folders holding trained checkpoints (searched below)")
    parser.add_argument("--patience", type=int, default=64)
    parser.add_argument("--trained", type=Path, default=None,
                        help="a folder of the same runs trained with --patience, checked against the replay")
    args = parser.parse_args()
    rows, mismatched = [], []
    for record_file in sorted(p for folder in args.folders for p in folder.rglob(TRAINING_FILE)):
        record = json.loads(record_file.read_text())
        history, metrics = record.get("loss_history"), record["metrics"]
        config = TrainConfig.from_record(record["config"])
        if not history or not config.learned_fraction or len(history) != 1:
            continue  # recorded before curves were kept, a fixed-length run, or several learning rates
        losses, cap = history[0]["losses"], config.steps or LEARNED_MAX_STEPS
        fraction, chance = config.learned_fraction, metrics["chance_loss"]
        name = f"{record_file.parent.parent.parent.name}/{record_file.parent.name}"
        if replay(losses, fraction, chance, cap, None) != (record["steps"], metrics["stopped_by"]):
            mismatched.append(name)
            continue
        rows.append((name, record["steps"], metrics["stopped_by"], *replay(losses, fraction, chance, cap, args.patience),
                     record_file))
    print(f"patience {args.patience}: {len(rows)} runs replayed" +
          (f"; {len(mismatched)} whose record the rule does not reproduce: {', '.join(mismatched)}" if mismatched else ""))
    print("\n| run | recorded: steps, ended by | with the stop: steps, ended by | changed |\n|---|---|---|---|")
    for name, steps, ended, new_steps, new_ended, _ in rows:
        changed = "no" if (new_steps, new_ended) == (steps, ended) else "**yes**"
        print(f"| {name} | {steps}, {ended} | {new_steps}, {new_ended} | {changed} |")
    changed = [r for r in rows if (r[3], r[4]) != (r[1], r[2])]
    before_learning = [r for r in changed if r[2] == "learned"]
    print(f"\nthe stop ends {len(changed)} of {len(rows)} runs sooner; {len(before_learning)} of them had learned "
          f"when recorded (stopped before they learned: {', '.join(r[0] for r in before_learning) or 'none'}); "
          f"steps {sum(r[1] for r in rows)} -> {sum(r[3] for r in rows)}")
    if args.trained:
        _check_trained(rows, args.trained)


if __name__ == "__main__":
    main()
