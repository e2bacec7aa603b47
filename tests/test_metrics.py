"""Ranking metrics against cases worked out by hand (positions, discounts, expectations)."""

import json
import math

import pytest

from zoo_rank.evaluation.gains import Cell, GainMatrix, gain_matrix
from zoo_rank.evaluation.metrics import MetricError, ndcg, regret_at_k, rho, true_ranks
from zoo_rank.evaluation.structure import output_types, same_type_first, source_prior, source_prior_rho
from zoo_rank.evaluation.transfer import Run, TransferError, read_runs

pytestmark = pytest.mark.core  # numpy-only: the fast tier

L3 = math.log2(3)  # discount of position 2 is 1/log2(3); position 1 → 1, position 3 → 1/2


def test_perfectly_wrong_ranking_by_hand():
    true = {"a": 3.0, "b": 1.0, "c": 2.0}
    predicted = {"a": 0.1, "b": 0.9, "c": 0.5}  # order b, c, a: the best source comes last
    assert rho(true, predicted) == 3
    assert ndcg(true, predicted, "score") == pytest.approx((1 + 2 / L3 + 3 / 2) / (3 + 2 / L3 + 1 / 2))
    # N - true rank: a → 2, c → 1, b → 0
    assert ndcg(true, predicted, "rank") == pytest.approx((0 + 1 / L3 + 2 / 2) / (2 + 1 / L3 + 0))
    # the papers' convention: gain 2^(N - true rank) - 1: a → 3, c → 1, b → 0
    assert ndcg(true, predicted, "paper") == pytest.approx((0 + 1 / L3 + 3 / 2) / (3 + 1 / L3 + 0))
    assert regret_at_k(true, predicted, 1) == 2  # b's 1 instead of a's 3
    assert regret_at_k(true, predicted, 2) == 1  # c's 2
    assert regret_at_k(true, predicted, 3) == 0


def test_perfect_ranking_scores_best():
    true = {"a": 10.0, "b": 5.0, "c": -2.0, "d": 0.0}
    predicted = {"a": 4.0, "b": 3.0, "d": 2.0, "c": 1.0}
    assert rho(true, predicted) == 1
    assert ndcg(true, predicted, "rank") == pytest.approx(1.0)
    assert regret_at_k(true, predicted, 1) == 0


def test_tied_predictions_give_the_expectation_over_random_orders():
    true = {"a": 5.0, "b": 4.0, "c": 0.0}
    predicted = {"a": 0.5, "b": 0.5, "c": 0.9}  # c first, then a and b tied for positions 2-3
    assert rho(true, predicted) == 2.5
    # a and b each get the mean discount of positions 2 and 3
    assert ndcg(true, predicted, "score") == pytest.approx((0 + 9 * (1 / L3 + 1 / 2) / 2) / (5 + 4 / L3))
    assert regret_at_k(true, predicted, 1) == 5  # c alone
    # top 2 = c and one of {a, b} at random: best is 5 or 4 with probability 1/2 each
    assert regret_at_k(true, predicted, 2) == pytest.approx(0.5)


def test_a_constant_predictor_scores_as_a_random_ranking():
    true = {"a": 3.0, "b": 2.0, "c": 1.0, "d": 0.0}
    flat = dict.fromkeys(true, 0.0)
    assert rho(true, flat) == 2.5  # (N + 1) / 2
    mean_discount = sum(1 / math.log2(i + 1) for i in range(1, 5)) / 4
    ideal = 3 + 2 / L3 + 1 / 2 + 0
    assert ndcg(true, flat, "score") == pytest.approx(6 * mean_discount / ideal)
    # top 1 at random: expected best is the mean of the four values
    assert regret_at_k(true, flat, 1) == pytest.approx(3 - 1.5)
    # top 2 of 4 at random: P(a chosen) = 1/2, P(best is b) = C(2,1)/C(4,2) = 1/3, P(best is c) = 1/6
    assert regret_at_k(true, flat, 2) == pytest.approx(3 - (3 / 2 + 2 / 3 + 1 / 6))


def test_tied_true_values_share_rank_and_both_count_as_best():
    true = {"a": 2.0, "b": 2.0, "c": 1.0}
    predicted = {"a": 0.9, "b": 0.1, "c": 0.5}  # a, c, b
    assert true_ranks(true) == {"a": 1.5, "b": 1.5, "c": 3.0}
    assert rho(true, predicted) == 2  # a at 1, b at 3
    # rank relevance N - rank: a, b → 1.5, c → 0
    assert ndcg(true, predicted, "rank") == pytest.approx((1.5 + 0 + 1.5 / 2) / (1.5 + 1.5 / L3))
    assert regret_at_k(true, predicted, 1) == 0


def test_negative_gains():
    gains = {"a": -1.0, "b": 2.0, "c": -3.0}
    predicted = {"a": 0.9, "b": 0.5, "c": 0.1}
    assert rho(gains, predicted) == 2
    assert regret_at_k(gains, predicted, 1) == 3  # -1 instead of 2
    assert ndcg(gains, predicted, "rank") == pytest.approx((1 + 2 / L3) / (2 + 1 / L3))
    # ideal DCG with gains as relevance: 2 - 1/log2(3) - 3/2 < 0 → no NDCG
    with pytest.raises(MetricError, match="undefined"):
        ndcg(gains, predicted, "score")
    # a positive ideal with a negative relevance below it is still defined, and may go below 0
    assert ndcg({"a": 4.0, "b": -2.0}, {"a": 0.0, "b": 1.0}, "score") == pytest.approx(
        (-2 + 4 / L3) / (4 - 2 / L3))
    assert ndcg({"a": 2.0, "b": -2.0}, {"a": 0.0, "b": 1.0}, "score") == pytest.approx(-1.0)


@pytest.mark.parametrize("true, predicted, message", [
    ({"a": 1.0, "b": 2.0}, {"a": 0.1, "b": 0.2, "c": 0.3}, "no true value for candidate"),
    ({"a": 1.0, "b": 2.0, "c": 0.0}, {"a": 0.1, "b": 0.2}, "no prediction for candidate"),
    ({"a": 1.0}, {"a": 0.1}, "at least two"),
    ({"a": 1.0, "b": float("nan")}, {"a": 0.1, "b": 0.2}, "not a finite number"),
])
def test_bad_input_is_refused(true, predicted, message):
    for metric in (rho, ndcg, regret_at_k):
        with pytest.raises(MetricError, match=message):
            metric(true, predicted)


def _run(seed, source, target, score):
    return Run(seed=seed, target=target, source=source, score=score, metric="accuracy", train_examples=4,
               test_examples=4, seconds=0.0, provenance={"settings": {}})


def test_gain_matrix_pairs_each_seed_with_its_own_baseline():
    runs = [_run(0, None, "x", 50.0), _run(1, None, "x", 60.0), _run(0, None, "y", 70.0), _run(1, None, "y", 70.0),
            _run(0, "y", "x", 55.0), _run(1, "y", "x", 61.0),  # gains 5 and 1
            _run(0, "x", "y", 69.0), _run(1, "x", "y", 73.0)]  # gains -1 and 3
    matrix = gain_matrix(runs)
    cell = matrix.cells[("y", "x")]
    assert (cell.mean, cell.seeds, cell.score) == (3.0, [0, 1], 58.0)
    assert cell.std == pytest.approx(math.sqrt(8))  # sample std of 5 and 1
    assert matrix.gains("y") == {"x": 1.0}
    assert matrix.baseline["x"] == (55.0, pytest.approx(math.sqrt(50)))


def test_gain_matrix_with_a_missing_pair_names_it():
    runs = [_run(0, None, "x", 50.0), _run(0, None, "y", 70.0), _run(0, "y", "x", 55.0)]
    with pytest.raises(MetricError, match="missing 1 pair.*x→y"):
        gain_matrix(runs)


def test_results_file_ignores_a_torn_last_line_but_not_a_bad_middle_one(tmp_path):
    path = tmp_path / "runs.jsonl"
    good = _run(0, None, "x", 50.0).to_json()
    path.write_text(good + "\n" + good[:30])
    assert len(read_runs(path)) == 1
    path.write_text(good[:30] + "\n" + good + "\n")
    with pytest.raises(TransferError, match="line 1 is not JSON"):
        read_runs(path)
    path.write_text(json.dumps({**json.loads(good), "version": 99}) + "\n")
    with pytest.raises(TransferError, match="results version 99"):
        read_runs(path)


def _matrix(gains: dict[tuple[str, str], float], metric: dict[str, str]) -> GainMatrix:
    tasks = sorted({t for pair in gains for t in pair})
    cells = {pair: Cell(value, 0.0, [0], value) for pair, value in gains.items()}
    return GainMatrix(tasks, cells, {t: (0.0, 0.0) for t in tasks}, metric, [0])


def test_source_prior_ranks_by_gain_on_the_other_targets_only():
    gains = {("a", "b"): 5.0, ("a", "c"): 1.0, ("b", "a"): -2.0, ("b", "c"): 3.0, ("c", "a"): 4.0, ("c", "b"): 6.0}
    matrix = _matrix(gains, dict.fromkeys("abc", "accuracy"))
    # target c: a's only other target is b (5), b's is a (-2); the c column (1 vs 3) is never read
    assert source_prior(matrix, "c") == {"a": 5.0, "b": -2.0}
    overall, per_target = source_prior_rho(matrix)
    # a: prior b 3, c 6 → c first, truly best c (4 > -2); b: prior a 1, c 4 → c first, best c (6 > 5);
    # c: prior puts a first but b is best (3 > 1)
    assert per_target == {"a": 1, "b": 1, "c": 2}
    assert overall == pytest.approx(4 / 3)


def test_same_type_first_counts_pairs_across_types_and_halves_ties():
    kind = {"r1": "regression", "r2": "regression", "r3": "regression", "c1": "classification",
            "c2": "classification"}
    scores = {
        "r1": {"r2": 0.9, "r3": 0.1, "c1": 0.1, "c2": 0.5},  # r2 beats both (2), r3 ties c1 (½), loses to c2
        "c1": {"c2": 0.0, "r1": 0.3, "r2": 0.2, "r3": 0.1},  # the other type always first: 0
        "c2": {"r1": 1.0, "r2": 1.0, "r3": 1.0},  # no same-type candidate: skipped
    }
    assert same_type_first(scores, kind) == pytest.approx((2.5 / 4 + 0) / 2)
    matrix = _matrix({("x", "y"): 1.0, ("y", "x"): 1.0}, {"x": "pearson", "y": "accuracy"})
    assert output_types(matrix) == {"x": "regression", "y": "classification"}
