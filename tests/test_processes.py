"""Worker processes for ingest: the same registry as in-process, in the same order, faster on many cores."""

from __future__ import annotations

import sqlite3

import pytest

from zoo_rank import Registry, add
from zoo_rank.executors import PROCESSES_FROM, InProcessExecutor, get_executor, ingest_executor
from zoo_rank.executors.processes import ProcessExecutor


def _contents(home) -> list:
    with sqlite3.connect(home / "registry.db") as db:
        return db.execute("SELECT e.name, e.content_sha256, v.space_id, v.vector FROM entries e "
                          "JOIN vectors v ON v.entry_id = e.id ORDER BY e.id, v.space_id").fetchall()


def test_worker_processes_register_what_one_process_does_in_the_same_order(tmp_path):
    from factories import bitfit_checkpoint

    folders = [bitfit_checkpoint(tmp_path / "zoo" / f"b{i:02d}", seed=i) for i in range(PROCESSES_FROM + 2)]
    folders = [tmp_path / "zoo" / f"b{i:02d}" for i in range(len(folders))]
    broken = tmp_path / "zoo" / "b05" / "bitfit_model.safetensors"
    homes = {}
    for name, executor in (("inprocess", InProcessExecutor()), ("processes", ProcessExecutor(2))):
        homes[name] = tmp_path / name
        result = add([tmp_path / "zoo"], registry=Registry(homes[name]), executor=executor)
        assert len(result.added) == len(folders)
    assert _contents(homes["inprocess"]) == _contents(homes["processes"])
    # a bad checkpoint in a worker is the same one-line error, and nothing is written
    broken.write_bytes(b"not a safetensors file")
    before = _contents(homes["processes"])
    fresh = tmp_path / "fresh"
    try:
        add([tmp_path / "zoo"], registry=Registry(fresh), executor=ProcessExecutor(2))
    except Exception as exc:  # noqa: BLE001 - its type and text are the assertion
        assert type(exc).__name__ == "CheckpointError" and "b05" in str(exc) and "\n" not in str(exc)
    else:
        raise AssertionError("the broken checkpoint was accepted")
    assert not (fresh / "registry.db").exists() or _contents(fresh) == []
    assert _contents(homes["processes"]) == before


def test_auto_uses_processes_only_for_enough_work():
    assert isinstance(ingest_executor(1), InProcessExecutor)
    assert get_executor("auto") is None and isinstance(get_executor("processes"), ProcessExecutor)


SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from zoo_rank import Registry, add, get_executor
add([{zoo!r}], registry=Registry({home!r}), executor=get_executor("processes", num_cpus=2))
"""


def test_a_script_without_a_main_guard_gets_one_line_saying_how_to_fix_it(tmp_path):
    """Spawned workers import the caller's script again; without `if __name__ == "__main__":` they
    die at start, and the caller must hear why and what to do, with the registry untouched."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from factories import bitfit_checkpoint

    for i in range(3):
        bitfit_checkpoint(tmp_path / "zoo" / f"b{i}", seed=i)
    script = tmp_path / "ingest_script.py"
    script.write_text(SCRIPT.format(tests=str(Path(__file__).parent), zoo=str(tmp_path / "zoo"),
                                    home=str(tmp_path / "home")))
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "ZOO_RANK_BUILTIN": "0"})
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert "worker processes stopped" in last and '__name__ == "__main__"' in last, done.stderr[-2000:]
    assert _count(tmp_path / "home") == 0  # nothing registered


def _count(home) -> int:
    if not (home / "registry.db").exists():
        return 0
    with sqlite3.connect(home / "registry.db") as db:
        return db.execute("SELECT COUNT(*) FROM entries").fetchone()[0]


def _children(pid: int) -> set[int]:
    """Every descendant of ``pid``, from /proc."""
    import os

    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    parents[int(entry)] = int(handle.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                if handle.read().rsplit(")", 1)[1].split()[0] != "Z":
                    alive.add(pid)
        except OSError:
            pass
    return alive



@pytest.mark.skipif(not __import__("os").path.isdir("/proc"), reason="reads the process table from /proc")
@pytest.mark.parametrize("signal_name", ["SIGKILL", "SIGTERM"])
def test_worker_processes_die_with_an_add_that_is_killed(tmp_path, zoo_home, signal_name):
    """Before: SIGTERM or SIGKILL of a large `add` left its pool workers (and the resource tracker) alive for 15+
    minutes holding the pipes: `zoo-rank add DIR | cat` never returned."""
    import os
    import signal
    import subprocess
    import sys
    import threading
    import time

    import numpy as np

    from zoo_rank.readers.bitfit import save_bitfit

    rng = np.random.default_rng(0)
    for i in range(400):
        deltas = {f"bert.encoder.layer.{layer}.output.dense.bias": rng.normal(0, 0.01, 512).astype(np.float32)
                  for layer in range(12)}
        save_bitfit(tmp_path / "many" / f"a{i:03d}", deltas, base_model="m")
    env = {**os.environ, "ZOO_RANK_HOME": str(zoo_home), "ZOO_RANK_BUILTIN": "0"}
    code = "import sys; from zoo_rank.cli import main; sys.argv = ['zoo-rank', *sys.argv[1:]]; main()"
    process = subprocess.Popen([sys.executable, "-c", code, "add", str(tmp_path / "many"), "--executor", "processes"],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 60
    workers: set[int] = set()
    while time.monotonic() < deadline and len(workers) < 2 and process.poll() is None:
        workers = _children(process.pid)
        time.sleep(0.05)
    assert workers, "no worker process was started"
    time.sleep(1.0)  # let them start working
    process.send_signal(getattr(signal, signal_name))
    process.wait(timeout=30)
    started = time.monotonic()
    reader = threading.Thread(target=process.stdout.read, daemon=True)  # returns once no process holds the pipe:
    reader.start()  # what `| cat` waits for
    reader.join(timeout=15)
    while _alive(workers) and time.monotonic() - started < 15:
        time.sleep(0.2)
    survivors = _alive(workers)
    for pid in survivors:  # never left behind, whatever the outcome
        os.kill(pid, signal.SIGKILL)
    assert not survivors, f"{len(survivors)} worker(s) outlived the killed add"
    assert not reader.is_alive(), "the add's stdout stayed open after it was killed"


@pytest.mark.core
@pytest.mark.skipif(not __import__("os").path.isdir("/proc"), reason="reads the process table from /proc")
def test_a_ctrl_c_while_an_outcome_is_handled_stops_the_workers_at_once():
    """Before: a Ctrl-C (or SIGTERM) that landed while ``gather`` handled an outcome left the pool
    running until the traceback holding its frame was dropped, at exit, after every queued job: the
    SIGTERM test above then timed out on a loaded machine."""
    import os
    import time

    from zoo_rank.pipeline.ingest import AddResult, gather

    workers: set[int] = set()

    def interrupt(index, outcome):
        for pid in _children(os.getpid()):  # the pool's workers, not the resource tracker (it lives with us)
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if b"spawn_main" in handle.read():
                    workers.add(pid)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt) as caught:  # the traceback (and its frames) stay alive in ``caught``
        gather(ProcessExecutor(2).map(time.sleep, [(0.5,)] * 40), interrupt, AddResult(), keep_going=False)
    assert workers
    deadline = time.monotonic() + 5
    while _alive(workers) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(workers), "workers still running after the interrupt"
    assert caught.value is not None
