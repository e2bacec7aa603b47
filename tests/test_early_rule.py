"""The early rule's no-progress stop (``--patience``): a run that stops improving ends there, a run
that keeps improving is left exactly as it was, and the setting is part of a run's identity only
when given."""

from __future__ import annotations

import math
import random
from types import SimpleNamespace

import pytest

from zoo_rank.errors import TrainingError
from zoo_rank.training.config import LEARNED_MIN_STEPS, NO_PROGRESS_THRESHOLD, TrainConfig
from zoo_rank.training.loop import LearnedRule
from zoo_rank.training.rates import finished

CHANCE = math.log(2)


def _replay(losses: list[float], patience: int | None, cap: int = 400, fraction: float = 0.1):
    """(steps, ended by, smoothed losses) of the rule over ``losses``, read as the training loop reads them."""
    rule, smoothed = LearnedRule(fraction, CHANCE, patience), []
    for step, loss in enumerate(losses[:cap], start=1):
        done = rule.done(step, loss)
        smoothed.append(rule.smoothed)
        if done or step >= cap:
            return step, rule.ended_by, smoothed
    raise AssertionError("the curve is shorter than the cap")


def _curve(rng: random.Random, drift: float, noise: float = 0.03, start: float = CHANCE + 0.05) -> list[float]:
    return [max(0.0, start - drift * step + rng.gauss(0.0, noise)) for step in range(400)]


@pytest.mark.core
def test_a_loss_that_stays_at_chance_stops_after_its_patience_instead_of_at_the_cap():
    flat = _curve(random.Random(1), drift=0.0)
    assert _replay(flat, None)[:2] == (400, "cap")  # without the stop: the whole cap, for nothing
    steps, ended, smoothed = _replay(flat, 64)
    assert ended == "no progress" and LEARNED_MIN_STEPS <= steps < 200
    window, before = smoothed[steps - 64:], smoothed[: steps - 64]
    # nothing in its last 64 steps beat what came before by the threshold
    assert min(window) >= min(before) - NO_PROGRESS_THRESHOLD * CHANCE
    assert _replay(flat, 400)[:2] == (400, "cap")  # patience as long as the cap: the cap ends it


@pytest.mark.core
@pytest.mark.parametrize("seed", range(20))
def test_the_stop_ends_runs_only_where_they_stopped_improving_and_changes_no_other_run(seed):
    """Random curves, some falling fast, some slowly, some not at all: with the stop, a run ends at
    or before where it ended without it; if it did not end by the stop, it ended identically; and a
    stop is never made while the loss still improves by the threshold within the patience."""
    rng = random.Random(seed)
    losses = _curve(rng, drift=rng.choice((0.0, 0.0002, 0.0005, 0.001, 0.003)), noise=rng.choice((0.01, 0.05)))
    plain = _replay(losses, None)
    steps, ended, smoothed = _replay(losses, 64)
    assert steps <= plain[0]
    if ended != "no progress":
        assert (steps, ended, smoothed) == plain
    else:
        assert steps >= LEARNED_MIN_STEPS
        assert min(smoothed[steps - 64:]) >= min(smoothed[: steps - 64]) - NO_PROGRESS_THRESHOLD * CHANCE


@pytest.mark.core
def test_a_steady_learner_is_never_stopped_for_want_of_progress():
    """A loss falling by twice the threshold every patience learns at the step it learned at without the stop."""
    step_drop = 2 * NO_PROGRESS_THRESHOLD * CHANCE / 64
    slow = [CHANCE - step_drop * step for step in range(400)]
    assert _replay(slow, 64)[:2] == _replay(slow, None)[:2]
    assert _replay(slow, 64)[1] == "learned"


@pytest.mark.core
def test_patience_is_part_of_a_runs_identity_only_when_given_and_needs_the_early_rule():
    assert "patience" not in TrainConfig(patience=None).to_dict()  # every run registered before keeps its record and key
    assert TrainConfig(patience=64).to_dict()["patience"] == 64
    assert TrainConfig(patience=64).key("d", "m") != TrainConfig(patience=None).key("d", "m")
    assert TrainConfig(patience=64).key("d", "m") != TrainConfig(patience=32).key("d", "m")
    with pytest.raises(TrainingError, match="fixed length"):
        TrainConfig(epochs=2, patience=64)
    with pytest.raises(TrainingError, match="fixed length"):
        TrainConfig(mode="best", patience=64)
    with pytest.raises(TrainingError, match="at least 1"):
        TrainConfig(patience=0)


@pytest.mark.core
def test_a_run_ended_by_the_stop_is_said_as_not_learned_with_its_patience():
    result = SimpleNamespace(metrics={"stopped_by": "no progress", "chance_loss": CHANCE, "smoothed_loss": 0.69},
                             config={"patience": 64, "until_learned": 0.1}, steps=97, seconds=40.0, cpu_seconds=80.0,
                             train_examples=600)
    line, learned = finished("wnli", "bitfit", result)
    assert not learned
    assert line.startswith("wnli: bitfit did not learn: its loss stopped improving (no progress in 64 steps)")
    assert "97 steps" in line and "10% below chance" in line
