"""The evaluation pipeline end to end on tiny real runs, and its refusals of bad input."""

import csv
import json
import re
import shlex
import shutil
import struct
import sys

import pytest
from click.testing import CliRunner
from conftest import require_assets

from zoo_rank.cli import cli
from zoo_rank.evaluation.gains import load_gains
from zoo_rank.evaluation.predict import Prediction, _cosine_scores, load_predictions, predict_all, save_predictions
from zoo_rank.evaluation.transfer import Run, config_from_results, read_runs
from zoo_rank.training import TrainConfig
from zoo_rank.training.config import LEARNED_MIN_STEPS

TASKS = "hedge,spam,subjectivity"
LENGTH = 16  # tokens an example, in every run here: a step costs in proportion to them
TINY = ["--tasks", TASKS, "--seeds", "0", "--source-examples", "24", "--target-examples", "12", "--test-examples", "20",
        "--epochs", "1,1", "--max-length", str(LENGTH)]


def _invoke(*args):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """bench transfer (with the TaskEmb Fisher of seed 0) → bench predict, on three tiny tasks."""
    require_assets()
    root = tmp_path_factory.mktemp("evaluation")
    runs, work, predictions = root / "runs.jsonl", root / "work", root / "predictions.json"
    done = _invoke("bench", "transfer", "--out", str(runs), *TINY, "--fisher-seed", "0", "--fisher-dir",
                   str(work / "fisher"))
    assert done.exit_code == 0, done.output
    # the transfer runs' token limit: this module's setup was a fifth of CI at 32, nearly all of it forward and
    # backward passes whose cost is in proportion to tokens (the early rule's 18 runs take >= 32 steps each)
    done = _invoke("bench", "predict", "--gains", str(runs), "--out", str(predictions), "--work", str(work),
                   "--max-length", str(LENGTH))
    assert done.exit_code == 0, done.output
    (root / "predict.log").write_text(done.output)
    return root, runs, predictions


def test_transfer_runs_are_complete_paired_and_carry_provenance(pipeline):
    _, runs_file, _ = pipeline
    runs = read_runs(runs_file)
    keys = {(r.source, r.target) for r in runs}
    tasks = TASKS.split(",")
    assert keys == {(None, t) for t in tasks} | {(s, t) for s in tasks for t in tasks if s != t}
    for run in runs:
        assert run.train_examples <= 12 and run.test_examples <= 20
        assert run.provenance["settings"]["source_examples"] == 24
        assert {"torch", "transformers", "git_commit", "device", "machine"} <= set(run.provenance)
        assert run.metric == "accuracy" and 0 <= run.score <= 100


def test_transfer_resumes_only_what_is_missing_and_reproduces_it(pipeline, tmp_path):
    _, runs_file, _ = pipeline
    lines = runs_file.read_text().splitlines()
    copy = tmp_path / "runs.jsonl"
    copy.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:40])  # a killed writer's torn last line
    done = _invoke("bench", "transfer", "--out", str(copy), *TINY)
    assert done.exit_code == 0, done.output
    assert done.output.count("] seed 0") == 1  # one run redone, not nine
    redone, original = read_runs(copy)[-1], json.loads(lines[-1])
    assert (redone.source, redone.target, redone.score) == (original["source"], original["target"], original["score"])


def test_a_second_process_works_backwards_and_skips_what_is_done(pipeline, tmp_path):
    _, runs_file, _ = pipeline
    lines = runs_file.read_text().splitlines()
    copy = tmp_path / "runs.jsonl"
    copy.write_text("\n".join(lines[3:]) + "\n")  # the three target-only baselines are missing
    done = _invoke("bench", "transfer", "--out", str(copy), *TINY, "--reverse")
    assert done.exit_code == 0, done.output
    assert done.output.count("(target only)") == 3 and done.output.count("] seed 0") == 3
    assert sorted((str(r.key), r.score) for r in read_runs(copy)) == sorted((str(r.key), r.score) for r in read_runs(runs_file))


def test_a_results_file_replaced_between_runs_gets_the_next_run(pipeline, tmp_path):
    """A `git checkout` of the results file while the ground truth runs replaces it: the runs after
    that must land in the new file, not in the deleted one a held descriptor would still point to."""
    import os

    from zoo_rank.evaluation.transfer import run_transfer

    _, runs_file, _ = pipeline
    lines = runs_file.read_text().splitlines()
    copy = tmp_path / "runs.jsonl"
    copy.write_text("\n".join(lines[:-2]) + "\n")  # the last source's two targets are missing

    def replace_the_file(run, done, total):
        if done == len(lines) - 1:
            replacement = tmp_path / "checked-out.jsonl"
            replacement.write_bytes(copy.read_bytes())
            os.replace(replacement, copy)

    run_transfer(config_from_results(runs_file), copy, report=replace_the_file)
    assert sorted(line["target"] for line in map(json.loads, copy.read_text().splitlines()[-2:])) == sorted(
        json.loads(line)["target"] for line in lines[-2:])
    assert len(read_runs(copy)) == len(lines)


def test_transfer_refuses_to_mix_settings(pipeline):
    _, runs_file, _ = pipeline
    before = runs_file.read_bytes()
    done = _invoke("bench", "transfer", "--out", str(runs_file), *TINY[:-2], "--max-length", "48")
    assert done.exit_code == 1
    assert str(runs_file) in done.output and "max_length" in done.output
    assert runs_file.read_bytes() == before


def test_predictions_cover_every_method_and_pair(pipeline):
    root, _, predictions_file = pipeline
    predictions, provenance = load_predictions(predictions_file)
    families = {p.details["group"] for p in predictions.values()}
    assert families == {"random", "datasize", "textemb", "curvegrad", "tupate", "tupate:0.1", "taskemb"}
    assert predictions["TaskEmb"].details["seed"] == 0  # read from the transfer run's Fisher, not refitted
    curves = {t: json.loads((root / "work" / "curves" / f"{t}-seed0.json").read_text()) for t in TASKS.split(",")}
    assert {len(c["losses"]) for c in curves.values()} == {2}  # 24 source examples, batch 16, 1 epoch
    assert all(0 < loss < 10 for c in curves.values() for loss in c["losses"])
    for method in ("bitfit", "lora", "prefix", "ensemble"):
        for variant in ("tupate", "invariant", "tupate, centred", "invariant, centred"):
            assert f"TuPaTE {method} ({variant})" in predictions  # the paper's 2 epochs
            assert f"TuPaTE {method} learned 0.1 ({variant})" in predictions  # the early rule
    # what `zoo-rank --target` does by default is marked, so its numbers can be recomputed from the file
    assert [n for n, p in predictions.items() if p.details.get("default")] == ["TuPaTE ensemble learned 0.1 (invariant)"]
    for prediction in predictions.values():
        assert {t: sorted(row) for t, row in prediction.scores.items()} == {
            "hedge": ["spam", "subjectivity"], "spam": ["hedge", "subjectivity"], "subjectivity": ["hedge", "spam"]}
    # #37: what an embedding cost in CPU time as well as wall time, for every method that trains or runs a model
    for name, prediction in predictions.items():
        if prediction.details["group"] not in ("random", "datasize"):
            assert prediction.cpu_seconds_per_embedding > 0, name
    assert provenance["tasks"] == TASKS.split(",")
    assert provenance["embedding_max_length"] == LENGTH  # --max-length reached every embedding run, and is on record
    # each group's own provenance survives the groups written after it (before: only the last one's was kept)
    groups = {p.details["group"] for p in predictions.values()}
    assert set(provenance["groups"]) == groups and len(groups) > 1
    assert all(g["embedding_max_length"] == LENGTH and "git_commit" in g for g in provenance["groups"].values())
    # each run says its length; under the rule that is an expectation, and the line says so
    said = [line for line in (root / "predict.log").read_text().splitlines() if ": training " in line]
    assert len(said) == 36 and sum(line.endswith(" (2 steps)") for line in said) == 18  # 24 or 12 examples, 2 epochs
    assert sum(re.search(r" \(until learned, about \d+ steps\)$", line) is not None for line in said) == 18
    import sqlite3

    from zoo_rank.evaluation.predict import recipe_folder
    from zoo_rank.training import TrainConfig
    from zoo_rank.training.config import EARLY_DROPOUT, EARLY_PATIENCE

    rule = (None, None, 0.1, EARLY_DROPOUT, EARLY_PATIENCE)  # the early rule's runs, with its default dropout and stop
    default_folder = recipe_folder("early", 0.1, {}, TrainConfig(until_learned=0.1))
    for folder, length in (("epochs2", (2, None, None, None, None)), (default_folder, rule)):
        with sqlite3.connect(root / "work" / folder / "registry.db") as db:
            configs = [json.loads(m)["training"]["config"] for (m,) in db.execute("select metadata from entries")]
        assert len(configs) == 18 and {c["max_length"] for c in configs} == {LENGTH}
        assert {(c["epochs"], c["steps"], c["until_learned"], c.get("dropout"), c.get("patience"))
                for c in configs} == {length}, folder
    rows = [p for p in predictions.values() if p.details.get("until_learned") == 0.1]
    assert rows and {(p.details["dropout"], p.details["patience"]) for p in rows} == {rule[3:]}  # on record per row


def test_the_rules_cap_leaves_the_papers_fixed_length_runs_alone(pipeline, tmp_path):
    """--learned-cap caps the early rule: the paper's 2-epoch group is the same recipe with or without it,
    so its registered runs are reused, not trained again as runs of that many steps."""
    root, runs_file, predictions_file = pipeline
    out = tmp_path / "p.json"
    done = _invoke("bench", "predict", "--gains", str(runs_file), "--out", str(out), "--work", str(root / "work"),
                   "--max-length", str(LENGTH), "--methods", "tupate", "--learned-cap", "40")
    assert done.exit_code == 0, done.output
    assert " steps)" not in done.output  # nothing trained
    again, first = load_predictions(out)[0], load_predictions(predictions_file)[0]
    assert again["TuPaTE lora (invariant)"].scores == first["TuPaTE lora (invariant)"].scores


def test_curvegrad_resumes_from_saved_curves_and_retrains_only_what_is_missing(pipeline, tmp_path):
    root, runs_file, _ = pipeline
    work = tmp_path / "work"
    (work / "curves").mkdir(parents=True)
    for task, losses in (("hedge", [9.0, 1.0]), ("spam", [1.0, 9.0])):  # saved curves are used as they are
        saved = json.loads((root / "work" / "curves" / f"{task}-seed0.json").read_text())
        (work / "curves" / f"{task}-seed0.json").write_text(json.dumps({**saved, "losses": losses}))
    done = _invoke("bench", "predict", "--gains", str(runs_file), "--out", str(tmp_path / "p.json"), "--work",
                   str(work), "--methods", "curvegrad")
    assert done.exit_code == 0, done.output
    again, first = (json.loads((w / "curves" / "subjectivity-seed0.json").read_text()) for w in (work, root / "work"))
    assert again["losses"] == first["losses"]  # the missing one is the same fine-tuning again, step for step
    scores = load_predictions(tmp_path / "p.json")[0]["CurveGrad"].scores
    assert scores["subjectivity"]["hedge"] > scores["subjectivity"]["spam"]  # falling beats rising


def test_taskemb_fine_tunes_only_the_fisher_vectors_bench_transfer_did_not_save(pipeline, tmp_path):
    import numpy as np

    root, runs_file, _ = pipeline
    saved, fisher = root / "work" / "fisher", tmp_path / "fisher"
    shutil.copytree(saved, fisher)
    for name in ("source-spam-seed0", "target-hedge-seed0"):
        for suffix in (".npy", ".json"):
            (fisher / (name + suffix)).unlink()
    # a saved vector is used as it is: make subjectivity's target vector hedge's source vector
    shutil.copy(fisher / "source-hedge-seed0.npy", fisher / "target-subjectivity-seed0.npy")
    done = _invoke("bench", "predict", "--gains", str(runs_file), "--out", str(tmp_path / "p.json"), "--work",
                   str(tmp_path / "work"), "--methods", "taskemb", "--fisher-dir", str(fisher))
    assert done.exit_code == 0, done.output
    assert "2 model(s) to fine-tune" in done.output and done.output.count("taskemb: fine-tuned") == 2
    for name in ("source-spam-seed0.npy", "target-hedge-seed0.npy"):  # the same fine-tuning as bench transfer's
        assert np.allclose(np.load(fisher / name), np.load(saved / name), rtol=1e-4, atol=1e-12)
    scores = load_predictions(tmp_path / "p.json")[0]["TaskEmb"].scores
    assert scores["subjectivity"]["hedge"] == pytest.approx(1.0, abs=1e-5)  # one vector twice, float32 cosine


def test_taskemb_with_equal_source_and_target_samples_shares_one_fisher_per_task(pipeline, tmp_path):
    """LIMITED → LIMITED: a task's target-only model is its source model, so nothing is fine-tuned."""
    import numpy as np

    root, runs_file, _ = pipeline
    runs = tmp_path / "runs.jsonl"
    lines = [json.loads(line) for line in runs_file.read_text().splitlines()]
    for line in lines:
        line["provenance"]["settings"]["target_examples"] = line["provenance"]["settings"]["source_examples"]
    runs.write_text("".join(json.dumps(line) + "\n" for line in lines))
    fisher = tmp_path / "fisher"
    fisher.mkdir()
    for path in (root / "work" / "fisher").glob("source-*"):
        shutil.copy(path, fisher / path.name)
    done = _invoke("bench", "predict", "--gains", str(runs), "--out", str(tmp_path / "p.json"), "--work",
                   str(tmp_path / "work"), "--methods", "taskemb", "--fisher-dir", str(fisher))
    assert done.exit_code == 0, done.output
    assert "0 model(s) to fine-tune" in done.output and not list(fisher.glob("target-*"))
    source = {t: np.load(fisher / f"source-{t}-seed0.npy") for t in TASKS.split(",")}
    scores = load_predictions(tmp_path / "p.json")[0]["TaskEmb"].scores
    assert scores == _cosine_scores(source, source, TASKS.split(","))


def test_a_group_another_process_adds_meanwhile_is_kept(pipeline, tmp_path):
    root, runs_file, _ = pipeline
    out = tmp_path / "p.json"

    def other_process(message):  # writes its own group while this one computes CurveGrad
        if not out.exists():
            save_predictions(out, {"Mine": Prediction("Mine", "baseline", {}, details={"group": "mine"})}, {})

    predict_all(config_from_results(runs_file), out, work=root / "work", groups=("curvegrad",), progress=other_process)
    assert set(load_predictions(out)[0]) == {"Mine", "CurveGrad"}


def test_best_checkpoints_train_their_own_sources_and_extend_the_predictions(pipeline, tmp_path):
    """``--methods tupate-best`` adds best-mode variants beside the early ones, from best-mode sources."""
    root, runs_file, predictions_file = pipeline
    extended = tmp_path / "predictions.json"
    extended.write_bytes(predictions_file.read_bytes())
    small = TrainConfig(epochs=1, max_length=LENGTH, validation_examples=8)  # best mode's settings, made cheap
    said = []
    predict_all(config_from_results(runs_file), extended, work=root / "work", groups=("tupate-best",),
                best_config=small, progress=said.append)
    # "tupate best: training <role> <task>: <method> lr=<rate> (<n> steps)"
    announced = {tuple(line.replace(":", "").split()[3:6]) for line in said if ": training " in line}
    assert announced == {(role, task, method) for task in TASKS.split(",") for role in ("source", "target")
                         for method in ("bitfit", "lora", "prefix")}
    predictions, _ = load_predictions(extended)
    early, _ = load_predictions(predictions_file)
    assert set(early) < set(predictions)  # the groups already there are kept
    best = {name: p for name, p in predictions.items() if p.details["group"] == "tupate-best"}
    assert len(best) == 16 and all(p.details["mode"] == "best" for p in best.values())
    assert "TuPaTE ensemble best (invariant, centred)" in best
    for prediction in best.values():
        assert {t: sorted(row) for t, row in prediction.scores.items()} == {
            "hedge": ["spam", "subjectivity"], "spam": ["hedge", "subjectivity"], "subjectivity": ["hedge", "spam"]}
        assert prediction.seconds_per_embedding > 0
    assert best["TuPaTE bitfit best (tupate)"].scores != predictions["TuPaTE bitfit (tupate)"].scores
    from zoo_rank.registry import Registry

    with Registry(root / "work") as registry:
        trained = {e.name: e.metadata["training"]["config"] for e in registry.entries() if "-best-" in e.name}
    assert sorted(trained) == sorted(f"{role}-best-{task}/{method}" for role in ("source", "limited")
                                     for task in TASKS.split(",") for method in ("bitfit", "lora", "prefix"))
    assert {(c["mode"], c["validation_examples"], c["max_length"]) for c in trained.values()} == {("best", 8, LENGTH)}
    assert {c["max_examples"] for n, c in trained.items() if n.startswith("source")} == {24}
    assert {c["max_examples"] for n, c in trained.items() if n.startswith("limited")} == {12}
    predict_all(config_from_results(runs_file), extended, work=root / "work", groups=("tupate-best",),
                best_config=small, progress=said.append)
    assert said[-1] == f"tupate-best: already in {extended}"
    with Registry(root / "work") as registry:
        ids = {e.name: e.id for e in registry.entries() if "-best-" in e.name}
        registry.remove("limited-best-hedge/lora")
    said.clear()
    redone = predict_all(config_from_results(runs_file), extended, work=root / "work", groups=("tupate-best",),
                         best_config=small, progress=said.append, force=True)
    retrained = [line for line in said if ": training " in line]  # one line per learning rate tried
    assert retrained and all(line.startswith("tupate best: training target hedge: lora lr=") for line in retrained)
    assert said[len(retrained)] == "tupate best: hedge trained" and said[-1].startswith("tupate-best: done")
    assert set(redone) == set(predictions)  # the group replaced, the others kept
    assert redone["TuPaTE bitfit best (tupate)"].scores == best["TuPaTE bitfit best (tupate)"].scores  # reused
    with Registry(root / "work") as registry:  # only the removed embedding was trained again
        now = {e.name: e.id for e in registry.entries() if "-best-" in e.name}
    assert sorted(now) == sorted(ids) and {n for n in now if now[n] != ids[n]} == {"limited-best-hedge/lora"}

    report = tmp_path / "results.md"
    done = _invoke("evaluate", "--gains", str(runs_file), "--predictions", str(extended), "--write", str(report))
    assert done.exit_code == 0, done.output
    section = report.read_text().split("## Early vs best checkpoints")[1].split("\n## ")[0]
    rows = {r["method"]: r for r in json.loads(_invoke("evaluate", "--gains", str(runs_file), "--predictions",
                                                        str(extended), "--json").output)["methods"]}
    pairs = {line.split(" | ")[0].strip("| "): line.split(" | ")[1:3] for line in section.splitlines()
             if line.startswith("| ") and "ρ early" not in line}
    assert len(pairs) == 16  # every best variant beside the early variant it differs from only in mode
    for variant, (early_rho, best_rho) in pairs.items():
        method, kind = variant.split(" ", 1)
        assert float(early_rho) == pytest.approx(rows[f"TuPaTE {variant}"]["rho"], abs=0.005)
        assert float(best_rho) == pytest.approx(rows[f"TuPaTE {method} best {kind}"]["rho"], abs=0.005)


def test_evaluate_prints_the_table_and_writes_the_report(pipeline, tmp_path):
    _, runs_file, predictions_file = pipeline
    report = tmp_path / "docs" / "results.md"
    report.parent.mkdir()
    report.write_text("old\n<!-- analysis -->\nmy reading of it\n<!-- /analysis -->\n")
    done = _invoke("evaluate", "--gains", str(runs_file), "--predictions", str(predictions_file), "--write", str(report))
    assert done.exit_code == 0, done.output
    assert "TuPaTE ensemble (tupate, centred)" in done.output and "Regret@1" in done.output
    text = report.read_text()
    assert "my reading of it" in text and "old" not in text.splitlines()[0]
    assert "| TaskEmb |" in text and "zoo-rank bench transfer" in text
    assert "Not measured yet: `zoo-rank bench predict --methods tupate-best`" in text  # no best rows in this file
    predict = next(line for line in text.splitlines() if line.startswith("zoo-rank bench predict"))
    assert f"--work {runs_file.parent / 'work'} " in predict  # where its embeddings are: not trained again
    transfer = next(line for line in text.splitlines() if line.startswith("zoo-rank bench transfer"))
    before = runs_file.read_bytes()  # the report's command resumes this very ground truth: nothing left to run
    done = _invoke(*shlex.split(transfer.split("#")[0])[1:])
    assert done.exit_code == 0, done.output
    assert runs_file.read_bytes() == before
    png = (tmp_path / "docs" / "results" / "results-heatmaps.png").read_bytes()  # per report: CR's is its own
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">II", png[16:24])[0] > 400  # a real, wide image
    rows = list(csv.DictReader(runs_file.with_suffix(".gains.csv").open()))
    assert len(rows) == 6 and {r["source"] for r in rows} == set(TASKS.split(","))
    done = _invoke("evaluate", "--gains", str(runs_file), "--predictions", str(predictions_file), "--json")
    rows = {r["method"]: r for r in json.loads(done.stdout)["methods"]}
    assert rows["Random"]["rho"] == 1.5  # two candidates, tied: the expectation


# --- bad input, on synthetic files in the real formats -------------------------------------------

def _runs_file(path, pairs, tasks=("a", "b", "c")):
    runs = [Run(0, t, None, 50.0, "accuracy", 8, 8, 0.0, {"settings": {}}) for t in tasks]
    runs += [Run(0, t, s, 50.0 + len(s) + 2 * len(t), "accuracy", 8, 8, 0.0, {"settings": {}}) for s, t in pairs]
    path.write_text("".join(r.to_json() + "\n" for r in runs))
    return path


def _ordered_gains_file(path, tasks):
    """Every source's gain is its position in ``tasks``, whatever the target: the last source is best."""
    runs = [Run(0, t, None, 50.0, "accuracy", 8, 8, 0.0, {"settings": {}}) for t in tasks]
    runs += [Run(0, t, s, 50.0 + tasks.index(s), "accuracy", 8, 8, 0.0, {"settings": {}}) for s, t in _all_pairs(tasks)]
    path.write_text("".join(r.to_json() + "\n" for r in runs))
    return path


def _predictions_file(path, methods):
    save_predictions(path, {name: Prediction(name, "baseline", scores) for name, scores in methods.items()}, {})
    return path


def _all_pairs(tasks):
    return [(s, t) for s in tasks for t in tasks if s != t]


def _scores(tasks, value=lambda t, s: float(len(s))):
    return {t: {s: value(t, s) for s in tasks if s != t} for t in tasks}


def test_missing_pair_in_the_gain_matrix_is_named(tmp_path):
    runs = _runs_file(tmp_path / "r.jsonl", [p for p in _all_pairs("abc") if p != ("a", "c")])
    preds = _predictions_file(tmp_path / "p.json", {"m": _scores("abc")})
    done = _invoke("evaluate", "--gains", str(runs), "--predictions", str(preds))
    assert done.exit_code == 1
    assert "missing 1 pair(s): a→c" in done.output and str(runs) in done.output
    assert "bench transfer" in done.output


def test_target_absent_from_the_tasks_is_refused(tmp_path):
    runs = _runs_file(tmp_path / "r.jsonl", _all_pairs("abc"))
    preds = _predictions_file(tmp_path / "p.json", {"m": _scores("abc")})
    done = _invoke("evaluate", "--gains", str(runs), "--predictions", str(preds), "--targets", "a,zzz")
    assert done.exit_code == 1 and "zzz" in done.output and "not among the evaluated tasks" in done.output


def test_fewer_than_two_candidates_is_refused(tmp_path):
    runs = _runs_file(tmp_path / "r.jsonl", _all_pairs("ab"), tasks="ab")
    preds = _predictions_file(tmp_path / "p.json", {"m": _scores("ab")})
    done = _invoke("evaluate", "--gains", str(runs), "--predictions", str(preds))
    assert done.exit_code == 1 and "at least two candidates" in done.output


def test_methods_with_different_task_sets_are_evaluated_on_the_intersection(tmp_path):
    runs = _runs_file(tmp_path / "r.jsonl", _all_pairs("abcd"), tasks="abcd")
    preds = _predictions_file(tmp_path / "p.json", {"full": _scores("abcd"), "partial": _scores("abc")})
    done = CliRunner().invoke(cli, ["evaluate", "--gains", str(runs), "--predictions", str(preds), "--json"])
    assert done.exit_code == 0, done.output
    assert "dropped: d (not in partial)" in done.stderr
    body = json.loads(done.stdout)
    assert body["tasks"] == ["a", "b", "c"] and body["dropped"] == {"d": ["partial"]}
    # on a, b, c the gain of s → t is len(s) + 2 len(t) = const per target: every source ties for best,
    # so rho is the mean position of all candidates, whatever the prediction: (1 + 2) / 2
    assert all(r["rho"] == 1.5 for r in body["methods"])


def test_missing_input_files_say_how_to_make_them(tmp_path):
    done = _invoke("evaluate", "--gains", str(tmp_path / "nope.jsonl"))
    assert done.exit_code == 1 and "nope.jsonl: no such file" in done.output and "bench transfer" in done.output


@pytest.mark.core
def test_centred_cosine_by_hand():
    import numpy as np

    targets = {"t": np.array([2.0, 1.0]), "s1": np.array([0.0, 1.0]), "s2": np.array([1.0, 0.0])}
    sources = {"t": np.array([5.0, 5.0]), "s1": np.array([3.0, 1.0]), "s2": np.array([1.0, 3.0])}
    raw = _cosine_scores(targets, sources, ["t", "s1", "s2"])
    assert raw["t"]["s1"] == pytest.approx((6 + 1) / (np.sqrt(5) * np.sqrt(10)))
    assert set(raw["t"]) == {"s1", "s2"}  # a target is never its own candidate
    centred = _cosine_scores(targets, sources, ["t", "s1", "s2"], centred=True)
    # for target t the centre leaves t's own source out: μ = mean(s1, s2) = (2, 2);
    # t - μ = (0, -1); s1 - μ = (1, -1) → -1/√2... and s2 - μ = (-1, 1) → 1/√2
    assert centred["t"]["s1"] == pytest.approx(1 / np.sqrt(2)) and centred["t"]["s2"] == pytest.approx(-1 / np.sqrt(2))


@pytest.mark.core
def test_the_evaluation_and_the_ranker_score_alike(zoo_home):
    """One scorer: the ranker's centred scores over a registry space equal the evaluation's."""
    from synthetic import clustered_unit_vectors, register_vectors

    from zoo_rank.registry import Registry
    from zoo_rank.similarity import cosines

    vectors = clustered_unit_vectors(30, 16, clusters=3, seed=1)
    with Registry(zoo_home, builtin=False) as registry:
        space = register_vectors(registry, vectors)
        matrix = registry.space_matrix(space.id)
    names = [f"a{i}" for i in range(30)]
    by_name = dict(zip(names, vectors))
    evaluated = _cosine_scores(by_name, by_name, names)
    ranked = cosines(matrix.matrix, vectors[0])
    assert [evaluated["a0"][n] for n in names[1:]] == pytest.approx(ranked[1:].tolist(), abs=1e-6)


@pytest.mark.core
def test_curve_gradient_by_hand():
    from zoo_rank.evaluation.curvegrad import curve_gradient

    line = [2 - 3 * (i + 1) / 100 for i in range(100)]  # loss 2 → -1 over the run: slope -3 everywhere
    assert all(curve_gradient(line, at) == pytest.approx(-3.0) for at in (0.1, 0.5, 0.7))
    knee = [1 - 4 * min((i + 1) / 100, 0.25) for i in range(100)]  # falls until 25%, then flat
    assert curve_gradient(knee, 0.1) == pytest.approx(-4.0) and curve_gradient(knee, 0.5) == pytest.approx(0.0)
    # three steps at 1/3, 2/3, 1: none within 0.1 of 0.1, so the two nearest: (2 - 3) / (1/3)
    assert curve_gradient([3.0, 2.0, 0.0], 0.1) == pytest.approx(-3.0)
    assert curve_gradient([5.0], 0.3) == 0.0


def test_curvegrad_fusion_by_hand():
    from zoo_rank.evaluation.curvegrad import curvegrad_scores, reciprocal_rank_fusion

    fused = reciprocal_rank_fusion({"a": [-2.0, -2.0], "b": [-1.0, 0.5], "c": [-1.0, 0.0]}, k=60)
    # point 1: a first, b and c tied at (2 + 3) / 2; point 2: a, c, b
    assert fused["a"] == pytest.approx(2 / 61)
    assert fused["b"] == pytest.approx(1 / 62.5 + 1 / 63) and fused["c"] == pytest.approx(1 / 62.5 + 1 / 62)
    steep, flat, rising = ([1 - s * (i + 1) / 10 for i in range(10)] for s in (2.0, 0.0, -1.0))
    scores = curvegrad_scores({"steep": steep, "flat": flat, "rising": rising}, ["steep", "flat", "rising"])
    assert sorted(scores["flat"]) == ["rising", "steep"]  # a target is never its own candidate
    assert scores["flat"]["steep"] > scores["flat"]["rising"] and scores["rising"]["steep"] > scores["rising"]["flat"]


def test_gain_matrix_from_a_file(tmp_path):
    runs = _runs_file(tmp_path / "r.jsonl", _all_pairs("abc"))
    matrix = load_gains(runs)
    assert matrix.gains("a") == {"b": 1 + 2, "c": 1 + 2}  # 50 + len(s) + 2 len(t) - 50


def test_evaluating_chosen_seeds_uses_only_their_runs(tmp_path):
    runs = _runs_file(tmp_path / "r.jsonl", _all_pairs("abc"))
    with runs.open("a") as f:  # seed 1 still being measured: its baseline and one pair, 20 points better
        f.write(Run(1, "a", None, 50.0, "accuracy", 8, 8, 0.0, {"settings": {}}).to_json() + "\n")
        f.write(Run(1, "a", "b", 73.0, "accuracy", 8, 8, 0.0, {"settings": {}}).to_json() + "\n")
    assert load_gains(runs).gains("a")["b"] == (3 + 23) / 2
    first = load_gains(runs, seeds=[0])
    assert first.gains("a") == {"b": 3, "c": 3} and first.seeds == [0]
    preds = _predictions_file(tmp_path / "p.json", {"m": _scores("abc")})
    done = _invoke("evaluate", "--gains", str(runs), "--predictions", str(preds), "--seeds", "0,7")
    assert done.exit_code == 1 and f"{runs}: has no runs of seed 7" in done.output and "0, 1" in done.output
    # without --seeds, the table says that seed 1 has 1 of the 6 pairs and how the gains were averaged
    assert load_gains(runs).partial_seeds() == {1: 1} and first.partial_seeds() == {}
    done = _invoke("evaluate", "--gains", str(runs), "--predictions", str(preds))
    assert done.exit_code == 0 and "seed 1: 1 of 6 pairs" in " ".join(done.output.split())


@pytest.mark.core
def test_the_significance_table_pairs_rho_and_ndcg_against_each_reference(tmp_path):
    """A perfect ranking against a reversed one is a real difference in ρ and in NDCG, by an exact
    sign-flip test Holm-corrected over the table's 12 comparisons; a copy of the reference is not."""
    from zoo_rank.evaluation.report import significance_markdown
    from zoo_rank.evaluation.table import evaluate

    tasks = "abcdefghijkl"  # 12 targets: 2/2^12 x 12 comparisons is below 0.05 (8 targets could not be)
    path = _ordered_gains_file(tmp_path / "r.jsonl", tasks)
    ordered = _scores(tasks, lambda t, s: float(tasks.index(s)))
    reversed_ = _scores(tasks, lambda t, s: -float(tasks.index(s)))
    methods = {"Perfect": ordered, "TaskEmb": reversed_, "Copy": reversed_, "Random": _scores(tasks, lambda t, s: 0.0)}
    predictions = {n: Prediction(n, "baseline", scores) for n, scores in methods.items()}
    table = significance_markdown(evaluate(load_gains(path), predictions), load_gains(path)).splitlines()
    header = [c.strip() for c in table[0].strip("|").split("|")]
    assert header[3:] == ["ρ − TaskEmb (p, Holm)", "ρ − Random (p, Holm)", "NDCG − TaskEmb (p, Holm)",
                          "NDCG − Random (p, Holm)"]
    assert table[-1] == "12 comparisons, Holm-corrected together."
    cells = {row.split("|")[1].strip(): [c.strip() for c in row.strip("|").split("|")][1:] for row in table[2:-2]}
    rho_vs_taskemb, _, ndcg_vs_taskemb, _ = cells["Perfect"][2:]
    assert rho_vs_taskemb == f"-10.00 (p {2 / 2 ** 12:.3f}, Holm {12 * 2 / 2 ** 12:.3f}) **significant**"
    assert float(ndcg_vs_taskemb.split()[0]) > 0 and ndcg_vs_taskemb.endswith("**significant**")
    assert cells["Copy"][2].endswith("not significant") and cells["Copy"][4].endswith("not significant")
    assert cells["TaskEmb"][2] == cells["TaskEmb"][4] == "·"


@pytest.mark.core
def test_each_training_recipe_has_its_own_registry_under_work_named_by_what_its_runs_resolve_to():
    """Before: the folder was named by the options given, so when the early rule's default dropout and stop
    changed (#37's E), default runs went into ``learned0.1``, the registry of the earlier default's runs."""
    from zoo_rank.evaluation.predict import recipe_folder
    from zoo_rank.training import TrainConfig

    def folder(mode="early", until_learned=0.1, **given):
        settings = {"until_learned": until_learned} if mode == "early" else {}
        epochs = {"epochs": 2} if mode == "early" and not until_learned else {}
        return recipe_folder(mode, until_learned, given, TrainConfig(mode=mode, **settings, **epochs, **given))

    assert folder(dropout=0.0, patience=64) == "learned0.1-dropout0.0-patience64"
    assert folder(dropout=None, patience=None) == "learned0.1"  # the model's dropout, no stop: the recipe before E
    assert folder(dropout=0.0, patience=None) == "learned0.1-dropout0.0"  # #37's candidate D
    assert folder(until_learned=0.05, batch_size=8, steps=200, max_length=64, dropout=None, patience=None) == \
        "learned0.05-batch_size8-steps200"  # the token limit is the evaluation's own, never a folder
    assert folder(until_learned=None) == "epochs2"  # the paper's fixed length: the model's dropout, no stop
    assert folder("best", until_learned=None) == ""
    default = folder()  # whatever today's default resolves to, its runs share a folder with the same recipe given
    plain = TrainConfig(until_learned=0.1)
    assert default == folder(dropout=plain.dropout, patience=plain.patience)


@pytest.mark.core
def test_the_default_is_the_target_recipe_and_nothing_else():
    """The row marked ``"default": true`` in a predictions file is what `zoo-rank --target` does: any one
    setting changed (the space, centring, the rule's fraction, the mode, the batch, the cap, dropout, the no-progress stop) is not."""
    from zoo_rank.embedders import DEFAULT_EMBEDDER
    from zoo_rank.evaluation.predict import is_default
    from zoo_rank.training.config import (
        BATCH_SIZE,
        DEFAULT_UNTIL_LEARNED,
        EARLY_DROPOUT,
        EARLY_PATIENCE,
        LEARNED_MAX_STEPS,
    )

    target = {"mode": "early", "until_learned": DEFAULT_UNTIL_LEARNED, "embedder": DEFAULT_EMBEDDER, "centred": False}
    for recipe in ({}, {"max_length": 32}, {"batch_size": BATCH_SIZE, "steps": LEARNED_MAX_STEPS},
                   {"dropout": EARLY_DROPOUT, "patience": EARLY_PATIENCE}):
        assert is_default(**target, recipe=recipe), recipe
    for changed in ({"embedder": "tupate"}, {"centred": True}, {"until_learned": 0.05}, {"until_learned": None},
                    {"mode": "best"}):
        assert not is_default(**{**target, **changed}, recipe={}), changed
    other_dropout = 0.0 if EARLY_DROPOUT is None else None  # the model's own, when the default is a rate
    other_patience = 64 if EARLY_PATIENCE is None else None
    for recipe in ({"batch_size": 8}, {"steps": LEARNED_MIN_STEPS}, {"max_length": 32, "steps": 200},
                   {"dropout": other_dropout}, {"dropout": 0.3}, {"patience": other_patience}, {"patience": 7}):
        assert not is_default(**target, recipe=recipe), recipe


@pytest.mark.core
def test_the_per_target_table_shows_the_shipped_default_last(tmp_path):
    """The method `zoo-rank --target` ships gets its own per-target column, with its own ρ per target."""
    from zoo_rank.evaluation.report import per_target_markdown, per_target_methods
    from zoo_rank.evaluation.table import evaluate

    runs = _runs_file(tmp_path / "r.jsonl", _all_pairs("abc"))
    predictions = {"TaskEmb": Prediction("TaskEmb", "baseline", _scores("abc")),
                   "Shipped": Prediction("Shipped", "tupate", _scores("abc", lambda t, s: -float(ord(s))),
                                         details={"default": True}),
                   "Other": Prediction("Other", "tupate", _scores("abc", lambda t, s: float(ord(s))))}
    evaluation = evaluate(load_gains(runs), predictions)
    assert per_target_methods(evaluation, predictions) == ["TaskEmb", "Shipped"]
    table = per_target_markdown(evaluation, per_target_methods(evaluation, predictions)).splitlines()
    shipped = {r.method: r for r in evaluation.rows}["Shipped"].per_target
    for line in table[2:]:
        target, *cells = [c.strip() for c in line.strip("|").split("|")]
        assert float(cells[-1]) == round(shipped[target]["rho"], 1)


@pytest.mark.core
def test_early_vs_best_says_which_differences_are_real(tmp_path):
    """Best checkpoints that rank every target perfectly where early ones rank it backwards are a
    significant gain; best checkpoints that rank exactly as early ones do are not."""
    from zoo_rank.evaluation.predict import tupate_name
    from zoo_rank.evaluation.report import early_vs_best_markdown
    from zoo_rank.evaluation.table import evaluate

    tasks = "abcdefgh"
    path = _ordered_gains_file(tmp_path / "r.jsonl", tasks)
    perfect = _scores(tasks, lambda t, s: float(tasks.index(s)))
    backwards = _scores(tasks, lambda t, s: -float(tasks.index(s)))
    predictions = {}
    for method, early, best in (("bitfit", backwards, perfect), ("lora", backwards, backwards)):
        for stage, scores in (("early", early), ("best", best)):
            name = tupate_name(method, "invariant", False, stage)
            predictions[name] = Prediction(name, "tupate", scores, details={
                "method": method, "embedder": "invariant", "centred": False, "mode": stage})
    table = early_vs_best_markdown(evaluate(load_gains(path), predictions), predictions).splitlines()
    assert [c.strip() for c in table[0].strip("|").split("|")][3] == "ρ best − early (p, Holm)"
    cells = {row.split("|")[1].strip(): [c.strip() for c in row.strip("|").split("|")] for row in table[2:4]}
    # all 8 targets 6 positions better: the exact test's floor 2/2^8, times the 2 pairs
    assert cells["bitfit (invariant)"][3] == "-6.00 (p 0.008, Holm 0.016) **significant**"
    assert cells["lora (invariant)"][3] == "+0.00 (p 1.000, Holm 1.000) not significant"
    assert table[-1].endswith("significant for 1 (bitfit (invariant)) and not significant for the other 1.")


def test_a_report_without_matplotlib_is_one_line_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # what `import matplotlib` meets where it is not installed
    runs = _runs_file(tmp_path / "r.jsonl", _all_pairs("abc"))
    preds = _predictions_file(tmp_path / "p.json", {"m": _scores("abc")})
    done = _invoke("evaluate", "--gains", str(runs), "--predictions", str(preds), "--write", str(tmp_path / "r.md"))
    assert done.exit_code == 1 and "needs matplotlib" in done.output and "zoo-rank[eval]" in done.output
    assert f"Error: {tmp_path / 'r.md'}: drawing" in done.output  # the file asked for, not the image it draws
    assert "Traceback" not in done.output and not (tmp_path / "r.md").exists()


def test_evaluate_does_not_import_torch(tmp_path):
    import subprocess
    import sys

    runs = _runs_file(tmp_path / "r.jsonl", _all_pairs("abc"))
    preds = _predictions_file(tmp_path / "p.json", {"m": _scores("abc")})
    code = ("import sys; from zoo_rank.cli import cli; "
            f"cli(['evaluate', '--gains', {str(runs)!r}, '--predictions', {str(preds)!r}], standalone_mode=False); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_transfer_over_task_folders_scores_each_task_by_its_metric_and_refuses_changed_data(tmp_path):
    """Task folders work like built-in tasks: CoLA by Matthews correlation, STS-B by Pearson, every metric kept."""
    require_assets()
    from factories import sentiment_rows
    from test_taskdir import write_task

    root = tmp_path / "tasks"
    write_task(root, "cola", sentiment_rows(30, 1), sentiment_rows(10, 2))
    write_task(root, "stsb", sentiment_rows(30, 3, regression=True), sentiment_rows(10, 4, regression=True))
    write_task(root, "para", sentiment_rows(30, 5), sentiment_rows(10, 6), {"metric": "f1", "positive_label": "pos"})
    (root / "scitail").mkdir()  # no data: not a task, not an error
    out = tmp_path / "runs.jsonl"
    tiny = ["--tasks-dir", str(root), "--seeds", "0", "--source-examples", "16", "--target-examples", "12",
            "--test-examples", "10", "--epochs", "1,1", "--max-length", "32", "--out", str(out)]
    done = _invoke("bench", "transfer", *tiny)
    assert done.exit_code == 0, done.output
    runs = read_runs(out)
    assert {(r.source, r.target) for r in runs} == {(None, t) for t in ("cola", "stsb", "para")} | {
        (s, t) for s in ("cola", "stsb", "para") for t in ("cola", "stsb", "para") if s != t}
    for run in runs:
        expected = {"cola": ("mcc", {"accuracy", "f1", "mcc"}), "para": ("f1", {"accuracy", "f1", "mcc"}),
                    "stsb": ("pearson", {"pearson", "spearman"})}[run.target]
        assert (run.metric, set(run.metrics)) == expected and run.score == run.metrics[run.metric]
        assert run.provenance["tasks_dir"] == str(root) and set(run.provenance["data"]) == {"cola", "stsb", "para"}
    assert config_from_results(out).tasks_dir == str(root)
    # predictions on task folders: DataSize from the official sizes in SOURCE.json, TuPaTE trains its own sources
    (root / "cola" / "SOURCE.json").write_text(json.dumps({"official_sizes": {"train": 8551}}))
    predictions = tmp_path / "predictions.json"
    done = _invoke("bench", "predict", "--gains", str(out), "--out", str(predictions), "--work", str(tmp_path / "work"),
                   "--methods", "random,datasize,tupate")
    assert done.exit_code == 0, done.output
    made, _ = load_predictions(predictions)
    assert made["DataSize (full split)"].details["sizes"] == {"cola": 8551, "stsb": 30, "para": 30}
    assert set(made["TuPaTE bitfit (invariant)"].scores["cola"]) == {"stsb", "para"}
    report = tmp_path / "report.md"
    done = _invoke("evaluate", "--gains", str(out), "--predictions", str(predictions), "--write", str(report))
    assert done.exit_code == 0, done.output
    text = report.read_text()
    # beside the paper: ρ relative to random ((N + 1) / 2: 5.5 for its 10 candidates, 1.5 for these 2)
    bitfit = next(line for line in text.splitlines() if line.startswith("| BitFit (here: TuPaTE bitfit (tupate))"))
    cells = [c.strip() for c in bitfit.strip("|").split("|")]
    assert cells[1:3] == ["3.8", f"{3.8 / 5.5:.2f}"]
    assert float(cells[4]) == pytest.approx(float(cells[3]) / 1.5, abs=0.01)
    assert "significant" in text and "Matthews correlation: cola" in text
    with (root / "cola" / "train.jsonl").open("a") as f:  # the data changes under the results
        f.write(json.dumps({"text": "one more", "label": "pos"}) + "\n")
    before = out.read_bytes()
    done = _invoke("bench", "transfer", *tiny, "--seeds", "0,1")
    assert done.exit_code == 1 and "made on other data" in done.output and "cola" in done.output
    assert out.read_bytes() == before


@pytest.mark.core
def test_a_predictions_file_keeps_cpu_time_and_an_older_one_reads_and_writes_as_it_was(tmp_path):
    """CPU seconds per embedding are recorded beside wall seconds; a file written before they were
    (no such key) loads with None and is written back byte for byte."""
    old = tmp_path / "old.json"
    save_predictions(old, {"A": Prediction("A", "baseline", {"t": {"s": 1.0}}, 2.5)}, {"x": 1})
    before = old.read_bytes()
    loaded, provenance = load_predictions(old)
    assert loaded["A"].cpu_seconds_per_embedding is None and b"cpu_seconds" not in before
    save_predictions(old, loaded, provenance)
    assert old.read_bytes() == before
    new = tmp_path / "new.json"
    save_predictions(new, {"A": Prediction("A", "baseline", {"t": {"s": 1.0}}, 2.5, {}, 4.0)}, {})
    assert load_predictions(new)[0]["A"].cpu_seconds_per_embedding == 4.0
