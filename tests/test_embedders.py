"""Embedders: the invariances the default embedder promises, and the paper mode's definition."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from peft import LoraConfig, TaskType

from conftest import needs_adapters
from factories import LAYERS, peft_checkpoint
from zoo_rank import cosine, embed, read_checkpoint
from zoo_rank.embedders.sketch import Sketcher
from zoo_rank.errors import SpaceMismatchError
from zoo_rank.readers.tensorfile import load_safetensors

Q = "encoder.layer.*.attention.self.query"


def _lora(path, r, alpha, modules=("query",), seed=0):
    return peft_checkpoint(path, LoraConfig(task_type=TaskType.SEQ_CLS, r=r, lora_alpha=alpha,
                                            target_modules=list(modules)), seed=seed)


def _set_lora(model, layer, module, a, b):
    target = getattr(model.base_model.model.bert.encoder.layer[layer].attention.self, module)
    with torch.no_grad():
        target.lora_A["default"].weight.copy_(torch.as_tensor(a))
        target.lora_B["default"].weight.copy_(torch.as_tensor(b))


def _factors(model, layer, module="query"):
    target = getattr(model.base_model.model.bert.encoder.layer[layer].attention.self, module)
    return target.lora_A["default"].weight.detach().numpy().copy(), target.lora_B["default"].weight.detach().numpy().copy()


def test_refactorised_lora_embeds_identically(tmp_path):
    original = _lora(tmp_path / "a", r=4, alpha=8, seed=1)
    other = _lora(tmp_path / "tmp", r=4, alpha=8, seed=99)
    rng = np.random.default_rng(0)
    for layer in range(LAYERS):
        a, b = _factors(original, layer)
        m = rng.normal(size=(4, 4)) + 3 * np.eye(4)
        _set_lora(other, layer, "query", m @ a, b @ np.linalg.inv(m))
    other.save_pretrained(tmp_path / "b")
    ea, eb = (embed(read_checkpoint(tmp_path / p)) for p in "ab")
    assert cosine(ea, eb) >= 0.999
    assert ea.norm == pytest.approx(eb.norm, rel=1e-4)


def test_rank_padded_lora_with_matching_alpha_embeds_identically(tmp_path):
    original = _lora(tmp_path / "r4", r=4, alpha=8, seed=2)  # scale alpha/r = 2
    padded = _lora(tmp_path / "tmp", r=8, alpha=16, seed=3)  # scale 2, rank 8 with 4 zero directions
    for layer in range(LAYERS):
        a, b = _factors(original, layer)
        _set_lora(padded, layer, "query", np.vstack([a, np.zeros_like(a)]), np.hstack([b, np.zeros_like(b)]))
    padded.save_pretrained(tmp_path / "r8")
    e4, e8 = embed(read_checkpoint(tmp_path / "r4")), embed(read_checkpoint(tmp_path / "r8"))
    assert e4.space == e8.space
    assert cosine(e4, e8) >= 0.999


def test_alpha_is_part_of_the_update(tmp_path):
    """Same factors, alpha doubled, B halved: the same dW, the same embedding."""
    original = _lora(tmp_path / "a", r=4, alpha=8, seed=4)
    doubled = _lora(tmp_path / "tmp", r=4, alpha=16, seed=5)
    for layer in range(LAYERS):
        a, b = _factors(original, layer)
        _set_lora(doubled, layer, "query", a, b / 2)
    doubled.save_pretrained(tmp_path / "b")
    assert cosine(embed(read_checkpoint(tmp_path / "a")), embed(read_checkpoint(tmp_path / "b"))) >= 0.999


def test_an_untouched_module_counts_as_a_zero_update(tmp_path):
    q_only = _lora(tmp_path / "q", r=4, alpha=8, seed=6)
    qv = _lora(tmp_path / "tmp", r=4, alpha=8, modules=("query", "value"), seed=7)
    for layer in range(LAYERS):
        a, b = _factors(q_only, layer)
        _set_lora(qv, layer, "query", a, b)
        _set_lora(qv, layer, "value", np.zeros_like(a), np.zeros_like(b))
    qv.save_pretrained(tmp_path / "qv")
    eq, eqv = embed(read_checkpoint(tmp_path / "q")), embed(read_checkpoint(tmp_path / "qv"))
    assert eq.space == eqv.space, "adapters of one base model targeting different modules share a space"
    assert cosine(eq, eqv) >= 0.999
    # ...whereas in the paper's mode the layouts differ and the spaces do too
    assert embed(read_checkpoint(tmp_path / "q"), "tupate").space != embed(read_checkpoint(tmp_path / "qv"), "tupate").space


def test_unrelated_loras_are_not_similar(tmp_path):
    _lora(tmp_path / "a", r=4, alpha=8, seed=10)
    _lora(tmp_path / "b", r=4, alpha=8, seed=11)
    assert abs(cosine(embed(read_checkpoint(tmp_path / "a")), embed(read_checkpoint(tmp_path / "b")))) < 0.3


def _rewrite(folder, dest, transform):
    """Copy a checkpoint, applying ``transform(key, array)`` to every tensor of its weight file."""
    from safetensors.numpy import save_file

    dest.mkdir()
    for file in folder.iterdir():
        if file.suffix == ".safetensors":
            tensors = load_safetensors(file).tensors
            save_file({k: np.ascontiguousarray(transform(k, v)) for k, v in tensors.items()}, str(dest / file.name))
        else:
            (dest / file.name).write_bytes(file.read_bytes())
    return dest


@pytest.mark.adapters
def test_bottleneck_hidden_unit_permutation_changes_nothing(zoo, tmp_path):
    needs_adapters()
    from adapters import SeqBnConfig

    from factories import adapters_checkpoint

    adapters_checkpoint(tmp_path / "bn", SeqBnConfig(reduction_factor=4), seed=3)
    # adapters saves a pickle; re-save as safetensors (the format also supported) then permute
    from zoo_rank.readers.tensorfile import load_torch_pickle
    from safetensors.numpy import save_file

    source = tmp_path / "bn"
    tensors = load_torch_pickle(source / "pytorch_adapter.bin").tensors
    perm = np.random.default_rng(0).permutation(8)

    def permute(key, value):
        if "adapter_down.0.weight" in key or "adapter_down.0.bias" in key:
            return value[perm]
        if "adapter_up.weight" in key:
            return value[:, perm]
        return value

    for name, fn in (("plain", lambda k, v: v), ("perm", permute)):
        out = tmp_path / name
        out.mkdir()
        (out / "adapter_config.json").write_text((source / "adapter_config.json").read_text())
        save_file({k: np.ascontiguousarray(fn(k, v)) for k, v in tensors.items()}, str(out / "adapter.safetensors"))
    plain, permuted = (read_checkpoint(tmp_path / n) for n in ("plain", "perm"))
    kind = "encoder.layer.*.output"
    assert not np.array_equal(plain.layers[0][(kind, "down.weight")], permuted.layers[0][(kind, "down.weight")])
    assert cosine(embed(plain), embed(permuted)) >= 0.999
    assert cosine(embed(plain, "tupate"), embed(permuted, "tupate")) < 0.999  # the paper's raw view is not invariant


def test_prefix_position_permutation_changes_nothing(zoo, tmp_path):
    perm = np.random.default_rng(1).permutation(5)
    permuted = _rewrite(zoo["peft-prefix"], tmp_path / "perm",
                        lambda k, v: v[perm] if k == "prompt_embeddings" else v)
    a, b = read_checkpoint(zoo["peft-prefix"]), read_checkpoint(permuted)
    assert cosine(embed(a), embed(b)) >= 0.999
    assert cosine(embed(a, "tupate"), embed(b, "tupate")) < 0.999


@pytest.mark.parametrize("case", ["peft-lora", "peft-prefix", "peft-prompt", "peft-ia3", "ah-seq-bn", "ah-lora",
                                  "ah-prefix", "bitfit"])
def test_every_method_embeds_to_a_fixed_dimension_unit_vector(zoo, case):
    emb = embed(read_checkpoint(zoo[case]))
    assert emb.vector.shape == (8192,) and emb.vector.dtype == np.float32
    assert np.linalg.norm(emb.vector) == pytest.approx(1.0, abs=1e-5)
    assert emb.space.embedder == "invariant" and emb.space.base_model == "zoo-rank/tiny-bert"


@pytest.mark.adapters
def test_peft_and_adapterhub_loras_of_one_model_are_comparable(zoo):
    peft_lora, ah_lora = embed(read_checkpoint(zoo["peft-lora"])), embed(read_checkpoint(zoo["ah-lora"]))
    assert peft_lora.space == ah_lora.space
    assert -1.0 <= cosine(peft_lora, ah_lora) <= 1.0


def test_comparing_across_spaces_is_refused(zoo):
    lora, bitfit = embed(read_checkpoint(zoo["peft-lora"])), embed(read_checkpoint(zoo["bitfit"]))
    with pytest.raises(SpaceMismatchError, match="different spaces"):
        cosine(lora, bitfit)


def test_bitfit_embeds_the_stored_deltas(zoo):
    """tupate on BitFit is the layer average of the concatenated per-layer deltas, computed here by hand."""
    tensors = load_safetensors(zoo["bitfit"] / "bitfit_model.safetensors").tensors
    rows = []
    for layer in range(LAYERS):
        keys = sorted(k for k in tensors if f"encoder.layer.{layer}." in k)
        # the reader orders by (module kind, param); module kind sorts like the key tail
        keys.sort(key=lambda k: k.split(f"layer.{layer}.", 1)[1])
        rows.append(np.concatenate([tensors[k] for k in keys]))
    expected = np.mean(rows, axis=0)
    emb = embed(read_checkpoint(zoo["bitfit"]), "tupate")
    np.testing.assert_allclose(emb.vector, expected / np.linalg.norm(expected), rtol=1e-5, atol=1e-7)


def test_tupate_is_the_layer_average_of_raw_parameters(zoo):
    weights = read_checkpoint(zoo["peft-lora"])
    config = json.loads((zoo["peft-lora"] / "adapter_config.json").read_text())
    tensors = load_safetensors(zoo["peft-lora"] / "adapter_model.safetensors").tensors
    rows = []
    for layer in range(LAYERS):
        parts = []
        for module in sorted(config["target_modules"]):
            for param in ("lora_A", "lora_B"):
                parts.append(tensors[f"base_model.model.bert.encoder.layer.{layer}.attention.self.{module}.{param}.weight"])
        rows.append(np.concatenate([p.reshape(-1) for p in parts]))
    expected = np.mean(rows, axis=0)
    np.testing.assert_allclose(embed(weights, "tupate").vector, expected / np.linalg.norm(expected), rtol=1e-5, atol=1e-7)


def test_sketch_preserves_frobenius_inner_products():
    rng = np.random.default_rng(0)
    sketcher = Sketcher(8192, "test")
    u1, v1 = rng.normal(size=(64, 8)), rng.normal(size=(48, 8))
    u2, v2 = u1 + 0.7 * rng.normal(size=(64, 8)), v1 + 0.7 * rng.normal(size=(48, 8))
    x, y = u1 @ v1.T, u2 @ v2.T
    exact = np.sum(x * y) / np.linalg.norm(x) / np.linalg.norm(y)
    sx, sy = sketcher.low_rank("k", u1, v1), sketcher.low_rank("k", u2, v2)
    approx = sx @ sy / np.linalg.norm(sx) / np.linalg.norm(sy)
    assert abs(exact - approx) < 0.05
    # a sketch of the dense matrix (as a rank-48 product with the identity) agrees with the factored one
    np.testing.assert_allclose(sketcher.low_rank("k", x, np.eye(48)), sx, rtol=1e-6, atol=1e-8)
