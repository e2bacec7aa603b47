"""Honest time: the estimate and the ETA of a run ended by the early rule come from the steps earlier runs took,
not from the rule's 400-step cap (numpy only: the fast tier)."""

from __future__ import annotations

import pytest

from zoo_rank.entries import Entry
from zoo_rank.training.rates import announce, expected_steps, shown_total, typical_steps

pytestmark = pytest.mark.core


def _entry(method: str, steps: int, stopped_by: str | None = "learned") -> Entry:
    metrics = {"stopped_by": stopped_by} if stopped_by else {}
    return Entry(id=1, name=f"t/{method}", source="x", revision=None, content_sha256="0", files={}, method=method,
                 format="peft", base_model="m", task="t", task_type=None, train_size=None, created_at="",
                 metadata={"training": {"steps": steps, "metrics": metrics}})


def test_the_estimate_is_the_likely_length_and_the_cap_a_most():
    entries = [_entry("bitfit", s) for s in (40, 65, 90)] + [_entry("prefix_tuning", 300),
                                                           _entry("bitfit", 64, stopped_by=None)]  # fixed-length run
    typical = typical_steps(entries, "bitfit")
    assert typical == [40, 65, 90] and typical_steps(entries, "prefix") == [300]
    said = announce(623, "my-data", "bitfit", 400, 1.0, "cpu", capped=True, typical=typical)
    # Before: "at most 6.7 min" (the cap) and nothing about the likely length.
    assert "until learned: typically 65 steps (40-90 in 3 earlier runs), at most 400" in said
    assert "likely about 65 s, at most 6.7 min at 1.00 s/step measured on this machine" in said
    assert "at most 400 steps" in announce(10, "x", "lora", 400, 1.0, "cpu", capped=True)  # nothing measured yet


def test_a_multiple_choice_step_is_estimated_at_a_row_per_choice():
    from zoo_rank.datasets import Dataset
    from zoo_rank.pipeline.train import rows_per_example

    copa = Dataset("copa", "copa.jsonl", "multiple-choice", ["a", "b"], [0, 1], choices=[["x", "y"], ["x", "y", "z", "w"]])
    assert rows_per_example(copa) == 3.0
    said = announce(400, "copa", "bitfit", 100, 1.0, "cpu", rows=rows_per_example(copa))
    assert "about 5.0 min at 1.00 s/step measured on this machine, 3 rows an example (its choices)" in said


def test_the_progress_total_follows_the_run_not_the_cap():
    expected = expected_steps([40, 65, 90], 400)
    assert expected == 65
    assert [shown_total(done, expected, 400) for done in (0, 30, 64)] == [65, 65, 76]  # never below what is done
    assert shown_total(120, expected, 400) == 144 and shown_total(399, expected, 400) == 400  # and never past the cap
