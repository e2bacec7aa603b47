"""The statistics behind every comparison in the report, on cases whose answer is known."""

from __future__ import annotations

import math

import pytest

from zoo_rank.evaluation.significance import (bootstrap_mean, paired_bootstrap, paired_t, split_half,
                                              student_t_two_sided)

pytestmark = pytest.mark.core  # numpy-only: the fast tier


def test_student_t_matches_the_printed_tables():
    # two-sided 5% critical values of Student's t: 12.706 (1 df), 4.303 (2 df), 2.228 (10 df)
    for t, df in ((12.706, 1), (4.303, 2), (2.228, 10)):
        assert student_t_two_sided(t, df) == pytest.approx(0.05, abs=2e-4)
    assert student_t_two_sided(0.0, 5) == pytest.approx(1.0)
    assert student_t_two_sided(1.0, 1) == pytest.approx(0.5)  # Cauchy: P(|T| > 1) = 1/2


def test_paired_t_on_a_hand_computed_case():
    # differences 1, 2, 3: mean 2, sd 1, t = 2 / (1 / sqrt 3) = 3.4641, 2 df
    t, p = paired_t([11, 12, 13], [10, 10, 10])
    assert t == pytest.approx(2 * math.sqrt(3)) and p == pytest.approx(student_t_two_sided(2 * math.sqrt(3), 2))
    assert 0.05 < p < 0.1
    assert math.isnan(paired_t([1], [0])[1])


def test_bootstrap_interval_brackets_the_mean_and_narrows_with_agreement():
    wide = bootstrap_mean([1, 9, 2, 8, 3, 7, 4, 6])
    narrow = bootstrap_mean([4.9, 5.1, 5.0, 5.0, 4.95, 5.05, 5.0, 5.0])
    assert wide.low < wide.mean == 5.0 < wide.high and narrow.low < 5.0 < narrow.high
    assert (narrow.high - narrow.low) < (wide.high - wide.low) / 10
    assert bootstrap_mean([3, 3, 3]) .low == bootstrap_mean([3, 3, 3]).high == 3
    assert str(bootstrap_mean([1, 9, 2, 8])) == str(bootstrap_mean([1, 9, 2, 8]))  # seeded: reproducible


def test_paired_bootstrap_tells_a_real_difference_from_noise():
    targets = [f"t{i}" for i in range(10)]
    base = {t: float(i) for i, t in enumerate(targets)}
    better = {t: v + 2.0 + (0.1 if i % 2 else -0.1) for i, (t, v) in enumerate(base.items())}
    noisy = {t: v + (1.0 if i % 2 else -1.0) for i, (t, v) in enumerate(base.items())}
    real = paired_bootstrap(better, base)
    assert real.significant and real.verdict() == "significant" and real.difference.mean == pytest.approx(2.0)
    assert real.p < 0.01
    noise = paired_bootstrap(noisy, base)
    assert not noise.significant and noise.verdict() == "not significant" and noise.p > 0.5
    same = paired_bootstrap(base, base)
    assert same.difference.low == same.difference.high == 0 and same.p == 1.0 and not same.significant
    assert paired_bootstrap({"a": 1.0, "x": 5.0}, {"a": 0.0, "y": 3.0}).units == 1  # only shared targets pair


def test_split_half_reliability():
    cells = {(f"s{i}", "t"): {0: float(i), 1: float(i), 2: float(i)} for i in range(6)}
    assert split_half(cells, [0, 1, 2]) == pytest.approx(1.0)  # every seed agrees
    opposed = {(f"s{i}", "t"): {0: float(i), 1: float(-i), 2: float(i)} for i in range(6)}
    assert split_half(opposed, [0, 1, 2]) < 0.5
    assert math.isnan(split_half(cells, [0]))


def test_sign_flip_is_exact_and_cannot_go_below_its_floor():
    from itertools import product

    from zoo_rank.evaluation.significance import sign_flip

    a = {"t1": 3.0, "t2": 1.0, "t3": 2.0, "t4": 5.0, "t5": 0.5}
    b = {"t1": 1.0, "t2": 2.0, "t3": 0.0, "t4": 1.0, "t5": 0.5}  # t5 does not differ
    d = [a[t] - b[t] for t in a if a[t] != b[t]]
    # by hand: every assignment of signs to the four differences that differ
    extreme = sum(abs(sum(s * x for s, x in zip(signs, d))) >= abs(sum(d)) - 1e-12 for signs in product((1, -1), repeat=4))
    assert sign_flip(a, b) == extreme / 16 == 4 / 16
    assert sign_flip({t: v + 10 for t, v in a.items() if t != "t5"}, b) == 2 / 16  # all one way: 4 targets' floor
    assert sign_flip(b, a) == sign_flip(a, b)  # two-sided
    assert sign_flip(a, a) == 1.0
    many = {f"t{i}": float(i % 3 + 1) for i in range(30)}  # 30 targets: sampled, all differences positive
    assert sign_flip(many, dict.fromkeys(many, 0.0)) < 1e-4


def test_holm_adjusts_step_down_and_keeps_the_order_given():
    from zoo_rank.evaluation.significance import holm

    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm([0.5]) == [0.5] and holm([0.2, 0.9]) == pytest.approx([0.4, 0.9])
