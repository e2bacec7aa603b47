"""Hub throughput against the local stand-in hub (tests/hubserver.py, a real HTTP server on
127.0.0.1): `pull` of N adapters (wall time, and how much of it is transfer vs embedding),
then `refresh --offline` over M cached adapters into an empty registry (adapters per second,
goal ≥ 50/s on 2 cores, and peak memory of that process).

The adapters are shaped like ../shared/realzoo/distilbert_emotion_dayanidhi (distilbert LoRA
r=8 on q_lin+v_lin with its classifier head, ~3 MB each; see benchmarks/ingest.py).

With --executors inprocess,ray the offline refresh is run once per executor, each into an
empty registry, and the two registries are checked to hold the same entries.

Run: python benchmarks/hub_sync.py [--pull 100] [--cache 1000] [--workers 4] [--executors inprocess,ray]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from _machine import describe  # noqa: E402
from hubserver import HubServer, repo_from_folder  # noqa: E402
from ingest import write_adapters  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pull", type=int, default=100)
    parser.add_argument("--cache", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--executors", default="inprocess", help="comma-separated: inprocess, ray")
    args = parser.parse_args()
    print(describe())
    import huggingface_hub

    print(f"huggingface_hub {huggingface_hub.__version__}")
    with tempfile.TemporaryDirectory() as tmp, HubServer() as hub:
        tmp = Path(tmp)
        folders = write_adapters(tmp / "adapters", max(args.pull, args.cache))
        for i, folder in enumerate(folders):
            hub.add(repo_from_folder(f"bench/adapter-{i:05d}", folder, tags=["peft"]))
        env = {**os.environ, "HF_ENDPOINT": hub.endpoint, "HF_HUB_CACHE": str(tmp / "hf"), "HF_HUB_OFFLINE": "0",
               "ZOO_RANK_BUILTIN": "0", "HF_HUB_DISABLE_PROGRESS_BARS": "1"}

        def zoo(home: str, *command: str) -> tuple[dict, float, float]:
            """Run one zoo-rank command; its JSON report, wall seconds and its own peak RSS (MiB).

            The peak is taken by /usr/bin/time around the command, not by wait4 here: a child forked
            from this process inherits this process's high-water mark (the stand-in hub holds every
            adapter in memory), which is how an earlier version of this script reported 2.9 GiB.
            """
            started = time.perf_counter()
            done = subprocess.run(["/usr/bin/time", "-f", "MAXRSS %M", sys.executable, "-m", "zoo_rank", *command,
                                   "--json"], text=True, capture_output=True,
                                  env={**env, "ZOO_RANK_HOME": str(tmp / home)})
            assert done.returncode == 0, f"zoo-rank {command[0]} failed: {done.stderr[-500:]}"
            peak = next(int(line.split()[1]) for line in done.stderr.splitlines() if line.startswith("MAXRSS "))
            return json.loads(done.stdout), time.perf_counter() - started, peak / 1024

        repos = [f"bench/adapter-{i:05d}" for i in range(args.pull)]
        report, wall, _ = zoo("pull-home", "pull", *repos, "--workers", str(args.workers))
        seconds = report["seconds"]
        embed = seconds.get("embed", 0.0)
        print(f"pull {len(report['added'])} adapters ({args.workers} workers): {wall:.1f} s wall "
              f"(in-process {seconds['total']:.1f} s: transfer ~{seconds['total'] - embed - seconds.get('register', 0):.1f} s, "
              f"read+embed {embed:.1f} s, register {seconds.get('register', 0):.2f} s)")
        rest = [f"bench/adapter-{i:05d}" for i in range(args.pull, args.cache)]
        for start in range(0, len(rest), 200):  # fill the cache to --cache adapters
            zoo("pull-home", "pull", *rest[start : start + 200], "--workers", str(args.workers))
        registered = {}
        for executor in args.executors.split(","):
            home = "offline-home" if executor == "inprocess" else f"offline-home-{executor}"
            report, wall, peak = zoo(home, "refresh", "--offline", "--executor", executor)
            count = len(report["added"])
            registered[executor] = sorted((e["name"], e["content_sha256"]) for e in report["added"])
            print(f"refresh --offline --executor {executor}: {count} cached adapters embedded and registered in "
                  f"{wall:.1f} s wall ({count / wall:.0f} adapters/s incl. interpreter start; in-process "
                  f"{report['seconds']['total']:.1f} s, {count / report['seconds']['total']:.0f}/s); "
                  f"peak RSS of the zoo-rank process {peak:.0f} MiB")
        if len(registered) > 1:
            same = len({json.dumps(v) for v in registered.values()}) == 1
            print(f"registries identical across executors: {same}")
        report, wall, _ = zoo("offline-home", "refresh", "--offline")
        print(f"refresh --offline again (nothing new, {len(report['skipped'])} skipped): {wall:.2f} s wall")


if __name__ == "__main__":
    main()
