"""Ranking: cosine and centred cosine, exclusions, filters, the per-task ensemble."""

from __future__ import annotations

import json

import numpy as np
import pytest

from zoo_rank import Registry, add, embed, rank, read_checkpoint
from zoo_rank.errors import RankingError


@pytest.fixture
def bitfits(tmp_path):
    from factories import bitfit_checkpoint

    return {i: (bitfit_checkpoint(tmp_path / f"b{i}", seed=i), tmp_path / f"b{i}")[1] for i in range(5)}


def _vectors(registry):
    return {e.name: [x for x in registry.embeddings_of(e) if x.space.embedder == "invariant"][0].vector
            for e in registry.entries()}


def test_scores_are_cosines_and_sorted_best_first(bitfits):
    add(list(bitfits.values()))
    vectors = _vectors(Registry())
    ranking = rank("b0", top=None)
    assert [c.name for c in ranking.candidates] == sorted(
        (n for n in vectors if n != "b0"), key=lambda n: -float(vectors[n] @ vectors["b0"]))
    for c in ranking.candidates:
        assert c.score == pytest.approx(float(vectors[c.name] @ vectors["b0"]), abs=1e-5)


def test_centred_scores_match_a_direct_computation(bitfits):
    add(list(bitfits.values()))
    vectors = _vectors(Registry())
    mu = np.mean(list(vectors.values()), axis=0)
    t = vectors["b0"] - mu
    for c in rank("b0", center=True, top=None).candidates:
        x = vectors[c.name] - mu
        assert c.score == pytest.approx(float(t @ x / np.linalg.norm(t) / np.linalg.norm(x)), abs=1e-4)


def test_top_n_and_target_never_its_own_candidate(bitfits):
    add(list(bitfits.values()))
    ranking = rank("b2", top=2)
    assert len(ranking.candidates) == 2 and "b2" not in [c.name for c in ranking.candidates]


def test_a_checkpoint_folder_target_is_embedded_not_stored(bitfits, zoo_home):
    add([bitfits[1], bitfits[2]])
    ranking = rank(str(bitfits[0]))
    assert {c.name for c in ranking.candidates} == {"b1", "b2"}
    assert "b0" not in {e.name for e in Registry().entries()}


def test_filters_by_task_type(bitfits):
    add([bitfits[1]], task_type="regression")
    add([bitfits[2]], task_type="classification")
    add([bitfits[0]])
    assert [c.name for c in rank("b0", task_type="regression").candidates] == ["b1"]


def test_ensemble_averages_method_scores_per_candidate_task(zoo, tmp_path):
    """Target task T has a BitFit and a LoRA adapter; each candidate task's score is the mean of both."""
    from peft import LoraConfig, TaskType

    from factories import bitfit_checkpoint, peft_checkpoint

    for task, seed in (("T", 0), ("A", 1), ("B", 2)):
        bitfit_checkpoint(tmp_path / f"{task}-bitfit", seed=seed)
        peft_checkpoint(tmp_path / f"{task}-lora", LoraConfig(task_type=TaskType.SEQ_CLS, r=2, lora_alpha=4,
                                                              target_modules=["query"]), seed=10 + seed)
        add([tmp_path / f"{task}-bitfit", tmp_path / f"{task}-lora"], task=task)
    ranking = rank("T")
    assert ranking.ensemble and {c.name for c in ranking.candidates} == {"A", "B"}
    emb = {p.name: embed(read_checkpoint(p)) for p in tmp_path.iterdir() if p.name.endswith(("-bitfit", "-lora"))}
    for c in ranking.candidates:
        bitfit = float(emb[f"{c.name}-bitfit"].vector @ emb["T-bitfit"].vector)
        lora = float(emb[f"{c.name}-lora"].vector @ emb["T-lora"].vector)
        assert c.scores == pytest.approx({"bitfit": bitfit, "lora": lora}, abs=1e-5)
        assert c.score == pytest.approx((bitfit + lora) / 2, abs=1e-5)


def test_a_target_with_no_candidates_in_its_space_is_an_error(zoo, bitfits):
    add([bitfits[0], bitfits[1]])
    with pytest.raises(RankingError, match="no candidates"):
        rank(str(zoo["peft-lora"]))


def test_an_unknown_target_is_an_error(bitfits):
    add([bitfits[0]])
    with pytest.raises(RankingError, match="not a registry name"):
        rank("nope")


def test_base_model_filter_restricts_a_task_to_one_base_models_spaces(bitfits):
    add([bitfits[0]], task="T")
    add([bitfits[1]], task="T", base_model="other/model")
    add([bitfits[2]], task="A")
    add([bitfits[3]], task="B", base_model="other/model")
    both = rank("T")
    assert {c.name for c in both.candidates} == {"A", "B"}
    only_other = rank("T", base_model="other/model")
    assert [c.name for c in only_other.candidates] == ["b3"]
    with pytest.raises(RankingError, match="no embedding for base model"):
        rank("T", base_model="third/model")


def test_centring_a_space_of_few_vectors_says_so(bitfits):
    from click.testing import CliRunner

    from zoo_rank.cli import cli

    add([bitfits[0], bitfits[1], bitfits[2]])
    few = CliRunner().invoke(cli, ["--target", "b0", "--center", "--json"])
    assert few.exit_code == 0 and "warning: --centred" in few.stderr and "holds 3 vectors" in few.stderr
    assert json.loads(few.stdout)  # the ranking is still given
    add([bitfits[3], bitfits[4]])
    enough = CliRunner().invoke(cli, ["--target", "b0", "--center", "--json"])
    assert enough.exit_code == 0 and "warning" not in enough.stderr
    centred = CliRunner().invoke(cli, ["--target", "b0", "--centred", "--json"])  # the word docs use; --center its alias
    raw = CliRunner().invoke(cli, ["--target", "b0", "--json"])
    assert centred.stdout == enough.stdout != raw.stdout


def _three_method_registry(home, prefix_spread: float):
    """Twelve tasks with bitfit, lora and prefix embeddings; prefix vectors all near one
    direction (like raw prefix cosines of 0.97-0.99) by ``prefix_spread``."""
    import numpy as np

    from zoo_rank.spaces import Space, TaskEmbedding
    from zoo_rank.registry import NewEntry, Registry

    rng = np.random.default_rng(0)
    spaces = {m: Space("m", f, "invariant", 1, 32) for m, f in
              (("bitfit", "bitfit"), ("lora", "lora"), ("prefix_tuning", "prefix"))}
    common = rng.standard_normal(32)
    items = []
    for i in range(12):
        for method, space in spaces.items():
            v = rng.standard_normal(32) * (prefix_spread if method == "prefix_tuning" else 1.0)
            v = v + (common if method == "prefix_tuning" else 0)
            items.append(NewEntry(name=f"t{i}/{method}", source="synthetic", content_sha256=f"{i}-{method}", files={},
                                  method=method, format="peft", base_model="m", task=f"t{i}",
                                  embeddings=[TaskEmbedding(space, (v / np.linalg.norm(v)).astype(np.float32), 1.0)]))
    with Registry(home, builtin=False) as registry:
        registry.insert(items)


def run(*args):
    from click.testing import CliRunner

    from zoo_rank.cli import cli

    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.mark.core
@pytest.mark.parametrize("prefix_spread, alike", [(0.05, True), (1.0, False)])
def test_the_table_says_what_a_score_is_and_when_a_method_cannot_tell_candidates_apart(zoo_home, prefix_spread,
                                                                                       alike):
    _three_method_registry(zoo_home, prefix_spread)
    result = run("--no-builtin", "--target", "t0", "--top", "0")
    assert result.exit_code == 0, result.output
    caption = " ".join(result.stdout.split())
    assert "score: the mean over methods (bitfit, lora, prefix) of the cosine similarity" in caption
    assert "each computed in that method's own space" in caption and "not a predicted gain" in caption
    said = "prefix scores are all alike" in result.stderr
    assert said == alike and ("prefix (alike)" in result.stdout) == alike
    helped = " ".join(run("--help").output.split())
    assert "The score is the cosine similarity (-1..1)" in helped and "not a predicted gain" in helped
    per_adapter = run("--no-builtin", "--target", "t0", "--no-ensemble", "--top", "0")
    assert "interleaves 3 spaces (bitfit, lora, prefix) whose cosines are not on one scale" in " ".join(
        per_adapter.stdout.split())
