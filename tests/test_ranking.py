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


def test_centred_scores_match_a_direct_computation_and_the_evaluation_s_centre(bitfits):
    """One centre (#36): the mean of the candidates, the target's own vector left out, as the
    evaluation computes it (``similarity.mean_excluding``); before, the ranker's included it."""
    from zoo_rank.similarity import mean_excluding

    add(list(bitfits.values()))
    vectors = _vectors(Registry())
    mu = mean_excluding(vectors, ["b0"])
    assert not np.allclose(mu, np.mean(list(vectors.values()), axis=0))
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
        assert c.scores == pytest.approx({"bitfit": bitfit, "lora": lora}, abs=1e-5) and c.methods == ["bitfit", "lora"]
    # each method measured from its level (its mean over the candidates): the paper's mean, shifted by a constant
    levels = {f: np.mean([c.scores[f] for c in ranking.candidates]) for f in ("bitfit", "lora")}
    assert ranking.levels == pytest.approx(levels, abs=1e-6)
    for c in ranking.candidates:
        assert c.score == pytest.approx((c.scores["bitfit"] - levels["bitfit"] + c.scores["lora"] - levels["lora"]) / 2,
                                        abs=1e-5)
    paper = sorted(ranking.candidates, key=lambda c: -(c.scores["bitfit"] + c.scores["lora"]))
    assert [c.name for c in ranking.candidates] == [c.name for c in paper]


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
    enough = CliRunner().invoke(cli, ["--target", "b0", "--center", "--json", "--embedder", "invariant"])
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
    assert "score: the mean over methods (bitfit, lora, prefix) of each method's cosine similarity" in caption
    assert "each cosine computed in that method's own space" in caption and "not a predicted gain" in caption
    said = "prefix scores are all alike" in result.stderr
    assert said == alike and ("prefix (alike)" in result.stdout) == alike
    helped = " ".join(run("--help").output.split())
    assert "The score is the cosine similarity (-1..1)" in helped and "not a predicted gain" in helped
    per_adapter = run("--no-builtin", "--target", "t0", "--no-ensemble", "--top", "0", "--json")
    listed = [(c["methods"][0], c["score"]) for c in json.loads(per_adapter.stdout)]
    # one list per method, never interleaved: every bitfit candidate, then every lora, then every prefix one
    assert [m for m, _ in listed] == ["bitfit"] * 11 + ["lora"] * 11 + ["prefix"] * 11
    for family in ("bitfit", "lora", "prefix"):
        scores = [score for m, score in listed if m == family]
        assert scores == sorted(scores, reverse=True)
    table = run("--no-builtin", "--target", "t0", "--no-ensemble", "--top", "2")
    assert "listed apart per method (bitfit, lora, prefix)" in " ".join(table.stdout.split())
    assert table.stdout.count("│ 1 │") == 3  # each method's list numbered from 1


def _add_synthetic(home, items: dict[str, dict[str, list[float]]]):
    """Register tasks with hand-made vectors: {task: {family: vector}} in 3-d spaces of model "m"."""
    import numpy as np

    from zoo_rank.registry import NewEntry, Registry
    from zoo_rank.spaces import Space, TaskEmbedding

    method = {"bitfit": "bitfit", "lora": "lora", "prefix": "prefix_tuning"}
    new = []
    for task, by_family in items.items():
        for family, vector in by_family.items():
            v = np.asarray(vector, dtype=np.float32)
            new.append(NewEntry(name=f"{task}/{family}", source="synthetic", content_sha256=f"{task}-{family}",
                                files={}, method=method[family], format="peft", base_model="m", task=task,
                                embeddings=[TaskEmbedding(Space("m", family, "invariant", 1, 3),
                                                          v / np.linalg.norm(v), 1.0)]))
    with Registry(home, builtin=False) as registry:
        registry.insert(new)


def _cos(deg: float) -> list[float]:
    """A unit vector at ``deg`` degrees from (1, 0, 0) in the x-y plane: its cosine with the target is cos(deg)."""
    import math

    return [math.cos(math.radians(deg)), math.sin(math.radians(deg)), 0.0]


@pytest.mark.core
def test_a_candidate_with_fewer_methods_is_ranked_on_one_scale_not_by_which_methods_it_has(zoo_home):
    """The quickstart's situation: the target task has BitFit, LoRA and prefix; the user's own data of that
    task only BitFit, by far the highest BitFit cosine. Raw prefix cosines sit near 0.98 and LoRA's near 0,
    so a mean of raw cosines over whichever methods a candidate has ranked the user's data 14th of 14."""
    angles = {"bitfit": 80, "lora": 88, "prefix": 10}  # prefix: ~0.98 for everyone, LoRA ~0
    tasks = {"target": {"bitfit": _cos(0), "lora": _cos(0), "prefix": _cos(0)},
             "own-data": {"bitfit": _cos(70)}}  # cosine 0.34: the highest BitFit score, below the raw means
    for i in range(8):
        tasks[f"t{i}"] = {f: _cos(a + i) for f, a in angles.items()}
    _add_synthetic(zoo_home, tasks)
    result = run("--no-builtin", "--target", "target", "--top", "0", "--json")
    ranked = json.loads(result.stdout)
    assert ranked[0]["name"] == "own-data" and ranked[0]["methods"] == ["bitfit"]
    assert all(c["methods"] == ["bitfit", "lora", "prefix"] for c in ranked[1:])
    assert "1 of 9 candidates lack some of the methods bitfit+lora+prefix: own-data (bitfit)" in result.stderr
    table = " ".join(run("--no-builtin", "--target", "target").stdout.split())
    assert "minus that method's average over these candidates" in table and "0 is an average candidate" in table


@pytest.mark.core
@pytest.mark.parametrize("added, level", [("lora", 2), ("prefix", 20)])
def test_adding_a_method_to_a_candidate_cannot_lift_it_above_one_with_higher_cosines_in_every_method(
        zoo_home, added, level):
    """``strong`` beats ``weak`` in every method both have. Giving ``weak`` a LoRA or a prefix (whose raw cosines
    sit far from BitFit's) must not move it above ``strong``: a mean of raw cosines did, for a prefix."""
    tasks = {"target": {"bitfit": _cos(0), "lora": _cos(0), "prefix": _cos(0)},
             "strong": {"bitfit": _cos(50), "lora": _cos(80 + level / 10), "prefix": _cos(level)},
             "weak": {"bitfit": _cos(60), added: _cos((80 if added == "lora" else 0) + level + 1)}}
    for i in range(6):
        tasks[f"t{i}"] = {"bitfit": _cos(70 + i), "lora": _cos(85 + i), "prefix": _cos(level + 2 + i)}
    _add_synthetic(zoo_home, tasks)
    names = [c["name"] for c in json.loads(run("--no-builtin", "--target", "target", "--top", "0", "--json").stdout)]
    assert names.index("strong") < names.index("weak")

