"""The source prior (`--prior`): measured gains blended with similarity, leave-one-target-out."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from zoo_rank.cli import cli
from zoo_rank.prior import SourcePrior, blend, load_prior, standardise

pytestmark = pytest.mark.core

GAINS = {"a": {"b": 2.0, "c": 4.0, "t": 100.0}, "b": {"a": -1.0, "c": -3.0, "t": -100.0}, "c": {"a": 0.0, "b": 6.0}}


def test_a_sources_prior_is_its_mean_gain_on_the_other_targets_never_the_targets_own():
    prior = SourcePrior(GAINS)
    assert prior.of("a") == pytest.approx((2 + 4 + 100) / 3)
    assert prior.of("a", leave_out="t") == pytest.approx(3.0) and prior.of("b", leave_out="t") == pytest.approx(-2.0)
    changed = SourcePrior({s: {**row, **({"t": -1e6} if "t" in row else {})} for s, row in GAINS.items()})
    assert all(changed.of(s, leave_out="t") == prior.of(s, leave_out="t") for s in GAINS)  # the target's column is unseen
    assert prior.of("unknown") is None


def test_blend_by_hand():
    similarity = {"a": 0.3, "b": 0.1, "x": 0.2}
    z = standardise(similarity)
    assert z["x"] == pytest.approx(0.0) and z["a"] == pytest.approx(-z["b"]) == pytest.approx(np.sqrt(1.5))
    blended = blend(similarity, {"a": 1.0, "b": 3.0, "x": None}, 0.5)
    # prior z over a and b only: a -1, b +1; x has none and counts as 0
    assert blended["a"] == pytest.approx(0.5 * np.sqrt(1.5) - 0.5)
    assert blended["b"] == pytest.approx(-0.5 * np.sqrt(1.5) + 0.5) and blended["x"] == pytest.approx(0.0)
    assert blend(similarity, {}, 0.0) == pytest.approx(z)


def test_the_shipped_prior_covers_the_measured_built_in_tasks():
    prior = load_prior()
    assert prior.tasks == {"snli", "tweet-sentiment", "amazon-sentiment", "nyt-sentiment", "movie-sentiment",
                           "subjectivity", "debate-party", "hedge"}
    assert all(len(row) == 7 for row in prior.gains.values())


def _registry_with(home, items):
    from zoo_rank.spaces import Space, TaskEmbedding
    from zoo_rank.registry import NewEntry, Registry

    space = Space("m", "bitfit", "invariant", 1, 8)
    rng = np.random.default_rng(0)
    entries = []
    for name, task, source in items:
        v = rng.standard_normal(8)
        entries.append(NewEntry(name=name, source=source, content_sha256=name, files={}, method="bitfit",
                                format="bitfit", base_model="m", task=task,
                                embeddings=[TaskEmbedding(space, (v / np.linalg.norm(v)).astype(np.float32), 1.0)]))
    with Registry(home, builtin=False) as registry:
        registry.insert(entries)


def test_prior_through_the_cli_blends_shows_both_parts_and_only_trusts_the_shipped_set(zoo_home):
    _registry_with(zoo_home, [("mine", "mine", "/data/mine"), ("snli/bitfit", "snli", "builtin:snli/bitfit"),
                              ("hedge/bitfit", "hedge", "builtin:hedge/bitfit"),
                              ("my-snli", "snli", "/elsewhere/my-snli"), ("other", "other", "/x")])
    plain = CliRunner().invoke(cli, ["--no-builtin", "--target", "mine", "--top", "0", "--json"])
    similarity = {c["name"]: c["score"] for c in json.loads(plain.stdout)}
    result = CliRunner().invoke(cli, ["--no-builtin", "--target", "mine", "--top", "0", "--json", "--prior", "0.25"])
    assert result.exit_code == 0, result.output
    got = {c["name"]: c for c in json.loads(result.stdout)}
    prior = load_prior()
    assert got["snli/bitfit"]["prior"] == pytest.approx(prior.of("snli"))
    assert got["my-snli"]["prior"] is None and got["other"]["prior"] is None  # a task name is not a measurement
    assert {n: c["similarity"] for n, c in got.items()} == pytest.approx(similarity)
    expected = blend(similarity, {n: c["prior"] for n, c in got.items()}, 0.25)
    assert {n: c["score"] for n, c in got.items()} == pytest.approx(expected)
    assert "no measured prior for my-snli, other" in result.stderr
    refused = CliRunner().invoke(cli, ["--no-builtin", "--target", "mine", "--prior", "2"])
    assert refused.exit_code == 2


def test_a_measured_target_never_sees_its_own_gains(zoo_home):
    _registry_with(zoo_home, [("hedge/bitfit", "hedge", "builtin:hedge/bitfit"),
                              ("snli/bitfit", "snli", "builtin:snli/bitfit"),
                              ("subjectivity/bitfit", "subjectivity", "builtin:subjectivity/bitfit")])
    result = CliRunner().invoke(cli, ["--no-builtin", "--target", "hedge/bitfit", "--json", "--prior", "0.5"])
    assert result.exit_code == 0, result.output
    got = {c["name"]: c["prior"] for c in json.loads(result.stdout)}
    prior = load_prior()
    assert got == pytest.approx({"snli/bitfit": prior.of("snli", "hedge"),
                                 "subjectivity/bitfit": prior.of("subjectivity", "hedge")})
    assert got["snli/bitfit"] != pytest.approx(prior.of("snli"))
    assert "its own gains are left out" in result.stderr
