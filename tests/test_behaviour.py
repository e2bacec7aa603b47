"""The behaviour embedder: what an adapter does to a real (tiny) BERT on the shipped probe set."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from factories import bitfit_checkpoint, peft_checkpoint
from zoo_rank.embedders import embed
from zoo_rank.embedders.behaviour import BehaviourEmbedder, behaviour_deltas
from zoo_rank.errors import BaseModelMissing, CheckpointError
from zoo_rank.readers import read_checkpoint


def _behaviour(weights, base=None):
    return BehaviourEmbedder().embed(weights, base_model=None if base is None else str(base))


@pytest.fixture
def hf_cache(tiny_model, tmp_path, monkeypatch):
    """A Hugging Face cache holding the tiny BERT as the hub model the factories' checkpoints name."""
    import shutil

    from factories import BASE

    repo = tmp_path / "hf-cache" / f"models--{BASE.replace('/', '--')}"
    shutil.copytree(tiny_model, repo / "snapshots" / ("a" * 40))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("a" * 40)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    return repo


@pytest.fixture
def lora(tmp_path):
    from peft import LoraConfig

    peft_checkpoint(tmp_path / "lora", LoraConfig(r=4, lora_alpha=8, target_modules=["query", "value"]), seed=3)
    return read_checkpoint(tmp_path / "lora")


@pytest.fixture
def prefix(tmp_path):
    from peft import PrefixTuningConfig, TaskType

    peft_checkpoint(tmp_path / "prefix", PrefixTuningConfig(task_type=TaskType.SEQ_CLS, num_virtual_tokens=5), seed=4)
    return read_checkpoint(tmp_path / "prefix")


def test_lora_embedding_depends_on_the_update_not_its_factors(lora, tiny_model):
    """A = M A, B = B M^-1 (and zero-padding the rank) is the same adapter; the tupate embedder
    of the raw factors tells them apart, the behaviour embedder must not."""
    rng = np.random.default_rng(0)
    refactored = copy.deepcopy(lora)
    for layer, params in refactored.layers.items():
        for kind, param in list(params):
            if param == "lora_A":
                m = rng.normal(size=(4, 4)) + 4 * np.eye(4)
                params[(kind, "lora_A")] = (m @ params[(kind, "lora_A")]).astype(np.float32)
                params[(kind, "lora_B")] = (params[(kind, "lora_B")] @ np.linalg.inv(m)).astype(np.float32)
    padded = copy.deepcopy(lora)
    for layer, params in padded.layers.items():
        for kind, param in list(params):
            if param == "lora_A":
                a, b = params[(kind, "lora_A")], params[(kind, "lora_B")]
                params[(kind, "lora_A")] = np.vstack([a, rng.normal(size=(2, a.shape[1]))]).astype(np.float32)
                params[(kind, "lora_B")] = np.hstack([b, np.zeros((b.shape[0], 2))]).astype(np.float32)
    original = _behaviour(lora, tiny_model)
    assert embed(lora, "tupate").vector @ embed(refactored, "tupate").vector < 0.99
    for other in (refactored, padded):
        assert float(original.vector @ _behaviour(other, tiny_model).vector) == pytest.approx(1.0, abs=1e-5)


def test_prefix_embedding_ignores_the_order_of_prefix_positions(prefix, tiny_model):
    permutation = np.random.default_rng(1).permutation(5)
    permuted, flipped = copy.deepcopy(prefix), copy.deepcopy(prefix)
    for layer in prefix.layers:
        for (kind, param), tensor in prefix.layers[layer].items():
            permuted.layers[layer][(kind, param)] = tensor[permutation]
            if param == "value":
                flipped.layers[layer][(kind, param)] = -tensor
    original = _behaviour(prefix, tiny_model)
    assert float(original.vector @ _behaviour(permuted, tiny_model).vector) == pytest.approx(1.0, abs=1e-5)
    # other values behind the same keys: another adapter, seen as one
    assert float(original.vector @ _behaviour(flipped, tiny_model).vector) < 0.999


def test_lora_bitfit_and_prefix_share_one_space_and_equal_updates_embed_equally(lora, prefix, tmp_path, tiny_model):
    bitfit_checkpoint(tmp_path / "bitfit", seed=2)
    bitfit = read_checkpoint(tmp_path / "bitfit")
    spaces = {_behaviour(w, tiny_model).space for w in (lora, prefix, bitfit)}
    assert len(spaces) == 1
    # a LoRA whose only change is lora_B's bias on `value` does what a BitFit delta on value's bias does
    delta = np.random.default_rng(5).normal(0, 0.05, 32).astype(np.float32)
    as_lora, as_bitfit = copy.deepcopy(lora), copy.deepcopy(bitfit)
    kind = "encoder.layer.*.attention.self.value"
    for layer, params in as_lora.layers.items():
        params[(kind, "lora_B")] = np.zeros_like(params[(kind, "lora_B")])
        params.pop(("encoder.layer.*.attention.self.query", "lora_A"))
        params.pop(("encoder.layer.*.attention.self.query", "lora_B"))
        params[(kind, "lora_B.bias")] = delta
    as_bitfit.layers = {layer: {(kind, "bias"): delta} for layer in bitfit.layers}
    assert float(_behaviour(as_lora, tiny_model).vector @ _behaviour(as_bitfit, tiny_model).vector) == \
        pytest.approx(1.0, abs=1e-5)


def test_the_base_model_is_left_as_it_was(lora, prefix, tiny_model):
    first = behaviour_deltas(lora, str(tiny_model))
    behaviour_deltas(prefix, str(tiny_model))
    again = behaviour_deltas(lora, str(tiny_model))
    np.testing.assert_allclose(first, again, atol=1e-9)


def test_an_adapter_that_changes_nothing_is_refused(tmp_path, tiny_model):
    from peft import IA3Config

    peft_checkpoint(tmp_path / "ia3", IA3Config(target_modules=["key", "value", "output.dense"],
                                                 feedforward_modules=["output.dense"]), randomise=())
    identity = read_checkpoint(tmp_path / "ia3")  # every scaling vector is still 1
    with pytest.raises(CheckpointError, match="all-zero update"):
        _behaviour(identity, tiny_model)
    scaled = copy.deepcopy(identity)
    for params in scaled.layers.values():
        for key in params:
            params[key] = params[key] * 1.5
    assert np.isfinite(_behaviour(scaled, tiny_model).vector).all()


def test_a_missing_base_model_is_one_line_naming_it_and_the_command(lora, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(BaseModelMissing) as caught:
        BehaviourEmbedder().embed(lora, base_model="someone/not-downloaded")
    message = str(caught.value) + (caught.value.hint or "")
    assert "someone/not-downloaded" in message and "hf download someone/not-downloaded" in message
    assert "\n" not in str(caught.value)


def test_zoo_rank_embed_adds_behaviour_vectors_and_resumes(tmp_path, zoo_home, hf_cache):
    from zoo_rank import add
    from zoo_rank.cli import cli
    from zoo_rank.registry import Registry

    bitfit_checkpoint(tmp_path / "a", seed=1)
    bitfit_checkpoint(tmp_path / "b", seed=2)
    add([tmp_path / "a", tmp_path / "b"])
    registry = Registry(zoo_home)
    before = {e.name: e.spaces for e in registry.entries()}
    assert not any("behaviour" in s for spaces in before.values() for s in spaces)
    result = CliRunner().invoke(cli, ["--home", str(zoo_home), "embed", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert len(report["embedded"]) == 2
    after = {e.name: e.spaces for e in Registry(zoo_home).entries()}
    for name, spaces in after.items():
        assert set(before[name]) < set(spaces)  # added, nothing lost
    again = json.loads(CliRunner().invoke(cli, ["--home", str(zoo_home), "embed", "--json"]).stdout)
    assert again["embedded"] == [] and len(again["current"]) == 2
    ranking = CliRunner().invoke(cli, ["--home", str(zoo_home), "--target", report["embedded"][0], "--embedder",
                                       "behaviour", "--json"])
    assert [c["name"] for c in json.loads(ranking.stdout)] == [report["embedded"][1]]
    # re-embedding with the ingest embedders (what refresh does after a version change) keeps them
    registry = Registry(zoo_home)
    entry = registry.require(report["embedded"][0])
    kept = registry.replace_embeddings(entry, [e for e in registry.embeddings_of(entry)
                                               if e.space.embedder == "invariant"])
    assert sorted(kept.spaces) == sorted(entry.spaces)  # invariant swapped in place; tupate and behaviour stay


def test_embed_without_the_base_model_stops_with_one_line(tmp_path, zoo_home, monkeypatch):
    from zoo_rank import add
    from zoo_rank.cli import cli

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    bitfit_checkpoint(tmp_path / "a", seed=1)
    add([tmp_path / "a"])
    result = CliRunner().invoke(cli, ["--home", str(zoo_home), "embed"])
    assert result.exit_code == 1
    assert "zoo-rank/tiny-bert" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) <= 2


def test_importing_the_embedders_does_not_import_torch():
    code = "import sys, zoo_rank.embedders, zoo_rank.cli; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_pull_with_base_model_fetches_the_model_pinned_and_embed_then_runs_offline(tmp_path, zoo_home, tiny_model,
                                                                                   monkeypatch):
    """A real HTTP stand-in hub serves a LoRA and the base model it names; `pull --with-base-model`
    fetches the model's config, tokenizer and safetensors (never a pickle) into the HF cache at the
    commit seen, and `zoo-rank embed` then measures behaviour with no hub at all."""
    import huggingface_hub.constants
    from peft import LoraConfig

    from factories import BASE
    from hubserver import HubServer, Repo, repo_from_folder
    from zoo_rank.cli import cli

    peft_checkpoint(tmp_path / "lora", LoraConfig(r=4, lora_alpha=8, target_modules=["query", "value"]), seed=3)
    model = repo_from_folder(BASE, tiny_model)
    model.files["pytorch_model.bin"] = b"not to be fetched"  # a pickle beside the safetensors
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    with HubServer() as server:
        server.add(Repo(model.repo_id, model.files))
        server.add(repo_from_folder("someone/tiny-lora", tmp_path / "lora", tags=["peft"]))
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        result = CliRunner().invoke(cli, ["pull", "someone/tiny-lora", "--with-base-model", "--json",
                                          "--retries", "1", "--timeout", "5"])
        assert result.exit_code == 0, result.output
        assert json.loads(result.stdout)["base_models"] == [f"{BASE}@{server.repos[BASE].sha}"]
        assert not server.hits("pytorch_model.bin")
    snapshot = tmp_path / "hf-cache" / f"models--{BASE.replace('/', '--')}" / "snapshots" / server.repos[BASE].sha
    assert {"config.json", "model.safetensors", "vocab.txt"} <= {p.name for p in snapshot.iterdir()}
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")  # the hub is gone: embedding needs nothing from it
    embedded = CliRunner().invoke(cli, ["embed", "--json"])
    assert embedded.exit_code == 0, embedded.output
    assert json.loads(embedded.stdout)["embedded"] == ["someone/tiny-lora"]


CASES = ["peft-lora", "peft-lora-bin", "peft-lora-rslora", "peft-prefix", "peft-prefix-projection", "peft-prompt",
         "peft-ptuning", "peft-ia3", "bitfit", "ah-seq-bn", "ah-double-seq-bn", "ah-par-bn", "ah-lora", "ah-ia3",
         "ah-prefix", "ah-prefix-flat"]


@pytest.mark.parametrize("case", CASES)
def test_every_format_and_method_lands_in_the_one_behaviour_space(zoo, case, tiny_model):
    """Each method peft, adapters and zoo-rank write, applied to the same base model: one space."""
    reference = _behaviour(read_checkpoint(zoo["bitfit"]), tiny_model)
    embedding = _behaviour(read_checkpoint(zoo[case]), tiny_model)
    assert embedding.space == reference.space
    assert np.isfinite(embedding.vector).all() and embedding.norm > 0
    if case != "bitfit":
        assert abs(float(embedding.vector @ reference.vector)) < 0.999  # a different adapter, a different vector


def test_prompt_tuning_is_applied_as_peft_runs_it(zoo, tiny_model):
    """The prompt runner's hidden states match peft's own prompt-tuning forward on the real positions."""
    import torch
    from peft import PeftModelForFeatureExtraction, PromptTuningConfig, TaskType
    from peft.utils import set_peft_model_state_dict
    from transformers import AutoModel, AutoTokenizer

    from zoo_rank.embedders.behaviour.apply import applied

    weights = read_checkpoint(zoo["peft-prompt"])
    prompt = torch.as_tensor(weights.inputs["prompt"])
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    batch = tokenizer(["good film .", "awful plot but the song is nice ."], padding=True, return_tensors="pt")
    ours_model = AutoModel.from_pretrained(tiny_model).eval()
    with torch.no_grad(), applied(ours_model, weights) as extra:
        ours = extra["runner"](**batch, output_hidden_states=True).last_hidden_state[:, len(prompt):]
    theirs_model = PeftModelForFeatureExtraction(AutoModel.from_pretrained(tiny_model), PromptTuningConfig(
        task_type=TaskType.FEATURE_EXTRACTION, num_virtual_tokens=len(prompt), token_dim=prompt.shape[1]))
    set_peft_model_state_dict(theirs_model, {"prompt_embeddings": prompt})
    with torch.no_grad():  # single texts: token types are all 0, which peft's forward leaves to the model
        theirs = theirs_model.eval()(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
                                     ).last_hidden_state[:, len(prompt):]
    torch.testing.assert_close(ours, theirs, atol=1e-5, rtol=1e-5)


def test_ranking_a_target_on_demand_says_how_candidates_get_vectors(tmp_path, zoo_home, hf_cache):
    from zoo_rank import add
    from zoo_rank.cli import cli
    from zoo_rank.registry import Registry

    bitfit_checkpoint(tmp_path / "a", seed=1)
    bitfit_checkpoint(tmp_path / "b", seed=2)
    names = [e.name for e in add([tmp_path / "a", tmp_path / "b"]).added]
    result = CliRunner().invoke(cli, ["--no-builtin", "--target", names[0], "--embedder", "behaviour"])
    assert result.exit_code == 1 and "zoo-rank embed --embedder behaviour" in result.stderr
    assert any("|behaviour-" in s for s in Registry(zoo_home).require(names[0]).spaces)  # the target's was kept


def _topic_rows(task: str, n: int, seed: int) -> list[dict]:
    """Two learnable tasks over one vocabulary: the label follows sentiment words, or topic words."""
    from synthetic import WORDS

    rng = np.random.default_rng(seed)
    groups = {"sentiment": (WORDS[:6], WORDS[6:12]), "topic": (WORDS[36:40], WORDS[40:44])}[task]
    rows = []
    for i in range(n):
        words = list(rng.choice(groups[i % 2], 3)) + list(rng.choice(WORDS[12:22], 3))
        rng.shuffle(words)
        rows.append({"text": " ".join(words) + ".", "label": "a" if i % 2 else "b"})
    return rows


def test_adapters_from_elsewhere_are_ranked_by_behaviour_where_the_base_model_is_here(tmp_path, hf_cache, zoo_home,
                                                                                      tiny_model, monkeypatch):
    """The README's hub flow: LoRAs of one task by different authors (other seeds, ranks, modules) score ~0 in
    weight space whatever their tasks. Three LoRAs trained here (then stripped of zoo-rank's training record, as
    a download would be) and one BitFit: the same-task LoRA must come first for the target by default. In
    weight space the other task's LoRA, with the target's own rank and modules, comes first instead."""
    import shutil

    from synthetic import write_csv
    from zoo_rank import Registry, TrainConfig, add, train
    from zoo_rank.cli import cli

    from zoo_rank.training.config import family_settings

    runs = {"author1": ("sentiment", 1, family_settings(lora_r=4, lora_target_modules=("query", "value"))),
            "author2": ("sentiment", 2, family_settings(lora_r=8, lora_target_modules=("query", "key", "value", "dense"))),
            "other-task": ("topic", 3, family_settings(lora_r=4, lora_target_modules=("query", "value"))),
            "other-bitfit": ("topic", 4, {})}
    trainer = Registry(tmp_path / "trainer", builtin=False)
    wild = tmp_path / "downloaded"
    for name, (task, seed, lora) in runs.items():
        data = write_csv(tmp_path / f"{name}.csv", _topic_rows(task, 64, seed))
        method = "bitfit" if name.endswith("bitfit") else "lora"
        config = TrainConfig(method=method, steps=60, lr=2e-2 if method == "bitfit" else 5e-3, seed=seed, family_settings=lora)
        (done,) = train(data, methods=[method], registry=trainer, config=config, base_model=str(tiny_model), warn=print)
        shutil.copytree(done.result.checkpoint, wild / name, ignore=shutil.ignore_patterns("zoo_rank_training.json"))
    monkeypatch.setenv("ZOO_RANK_EMBEDDERS", "invariant")  # as `zoo-rank add` of downloads does by default
    assert len(add([wild], base_model="zoo-rank/tiny-bert").added) == 4

    ranked = CliRunner().invoke(cli, ["--no-builtin", "--target", "author1", "--json", "--top", "0"])
    assert ranked.exit_code == 0, ranked.output
    order = [c["name"] for c in json.loads(ranked.stdout)]
    assert order[0] == "author2" and "other-bitfit" in order  # every method in the one behaviour space
    assert "author1 was not trained by zoo-rank: ranked by behaviour" in ranked.stderr
    assert "embedding 4 registered adapter(s) by behaviour" in ranked.stderr  # once: the vectors are kept
    table = " ".join(CliRunner().invoke(cli, ["--no-builtin", "--target", "author1"]).stdout.split())
    assert "Behaviour space: the cosine of what two adapters do" in table and "near 0: unrelated changes" in table

    again = CliRunner().invoke(cli, ["--no-builtin", "--target", "author1", "--json", "--top", "0"])
    assert "embedding" not in again.stderr and [c["name"] for c in json.loads(again.stdout)] == order
    weights = CliRunner().invoke(cli, ["--no-builtin", "--target", "author1", "--json", "--embedder", "invariant"])
    assert json.loads(weights.stdout)[0]["name"] == "other-task"  # what the old default answered


def test_an_adapter_from_elsewhere_whose_base_model_is_absent_is_explained(tmp_path, zoo_home):
    from zoo_rank import add
    from zoo_rank.cli import cli

    bitfit_checkpoint(tmp_path / "a", seed=1)
    bitfit_checkpoint(tmp_path / "b", seed=2)
    add([tmp_path / "a", tmp_path / "b"])  # base model zoo-rank/tiny-bert: in no cache here
    ranked = CliRunner().invoke(cli, ["--no-builtin", "--target", "a"])
    assert ranked.exit_code == 0, ranked.output
    said = " ".join(ranked.stderr.split())
    assert "a was not trained by zoo-rank: ranked by its weights, where adapters trained apart score near 0" in said
    assert "add --fetch-base-model to download it once" in said
    assert "only 1 candidate shares the space of a" in said and "zoo-rank pull --base-model zoo-rank/tiny-bert" in said
    caption = " ".join(ranked.stdout.split())
    assert "adapters trained apart (other seeds, ranks, modules, authors) score near 0" in caption


def test_fetch_base_model_downloads_it_when_asked_and_ranks_by_behaviour(tmp_path, zoo_home, tiny_model, monkeypatch):
    import huggingface_hub.constants

    from factories import BASE
    from hubserver import HubServer, Repo, repo_from_folder
    from zoo_rank import add
    from zoo_rank.cli import cli

    bitfit_checkpoint(tmp_path / "a", seed=1)
    bitfit_checkpoint(tmp_path / "b", seed=2)
    add([tmp_path / "a", tmp_path / "b"])
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf-cache"))
    model = repo_from_folder(BASE, tiny_model)
    with HubServer() as server:
        server.add(Repo(model.repo_id, model.files))
        monkeypatch.setenv("HF_ENDPOINT", server.endpoint)
        plain = CliRunner().invoke(cli, ["--no-builtin", "--target", "a", "--json"])
        assert plain.exit_code == 0 and not server.hits("config.json")  # never downloaded unless asked
        fetched = CliRunner().invoke(cli, ["--no-builtin", "--target", "a", "--json", "--fetch-base-model"])
    assert fetched.exit_code == 0, fetched.output
    assert "a was not trained by zoo-rank: ranked by behaviour" in fetched.stderr
    assert (tmp_path / "hf-cache" / f"models--{BASE.replace('/', '--')}").is_dir()
    assert [c["name"] for c in json.loads(fetched.stdout)] == ["b"] and json.loads(fetched.stdout)[0]["methods"] == [
        "any"]


def test_a_family_is_put_into_the_base_model_by_its_own_apply_hook(tmp_path, tiny_model, monkeypatch):
    """#36: the behaviour embedder asks the checkpoint's family how to apply it (``Family.apply``,
    beside ``view`` and ``recipe``), so a plugin family can be behaviour-embedded; a family without
    one is refused in one line. Before, a family the central switch did not know changed nothing
    and was refused as an "all-zero update"."""
    import dataclasses

    import torch
    from transformers import AutoModel

    import zoo_rank.families
    from zoo_rank.embedders.behaviour.apply import applied

    bitfit_checkpoint(tmp_path / "b", seed=1)
    weights = read_checkpoint(tmp_path / "b")
    model = AutoModel.from_pretrained(tiny_model)
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    own = zoo_rank.families.families()["bitfit"]

    def doubled(applying):  # a family of our own: BitFit's deltas, twice
        for layer, kind, params, module in applying.each():
            applying.add_to_bias(module, 2 * applying.tensor(params, kind, "bias"), layer, kind)

    for hook, factor in ((own.apply, 1), (doubled, 2)):
        monkeypatch.setattr(zoo_rank.families, "families", lambda hook=hook: {"bitfit": dataclasses.replace(own, apply=hook)})
        with applied(model, weights):
            moved = {n: p.detach() - before[n] for n, p in model.named_parameters() if not torch.equal(p, before[n])}
        layer, kind = next((layer, kind) for layer, params in weights.layers.items() for kind, _ in params)
        name = kind.replace("*", str(layer)) + ".bias"  # the checkpoint's module path, in this model
        expected = factor * np.asarray(weights.layers[layer][(kind, "bias")], dtype=np.float32)
        np.testing.assert_allclose(moved[name].numpy(), expected, rtol=1e-5, atol=1e-7)
        assert all(torch.equal(p, before[n]) for n, p in model.named_parameters())  # taken out again

    monkeypatch.setattr(zoo_rank.families, "families", lambda: {"bitfit": dataclasses.replace(own, apply=None)})
    with pytest.raises(CheckpointError, match="no apply hook") as caught:
        with applied(model, weights):
            pass
    assert "\n" not in str(caught.value)
