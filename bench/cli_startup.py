"""CLI start-up: how long `python -m core --help` and `python -m core jobs list` take, beside `python -c pass`.

Run: `python bench/cli_startup.py [--runs 7]` (from the repository root). Each command runs `--runs` times as a fresh
subprocess (against a scratch DATA_ROOT, so `jobs list` opens an empty store of its own), interleaved with the bare
interpreter start-up measured in the same run; it prints the median wall time of each and its ratio to the bare
start-up, and the machine's load average, since a shared machine slows every process alike. Goal: each command
within 1.5 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL_S = 1.5
COMMANDS: dict[str, list[str]] = {
    "python -c pass": ["-c", "pass"],
    "python -m core --help": ["-m", "core", "--help"],
    "python -m core jobs list": ["-m", "core", "jobs", "list"],
}


def wall_time(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of each command (the median is reported)")
    runs = parser.parse_args().runs
    with tempfile.TemporaryDirectory(prefix="cli-startup-") as data_root:
        env = {**os.environ, "DATA_ROOT": data_root, "PYTHONDONTWRITEBYTECODE": "1"}
        for args in COMMANDS.values():  # warm: the page cache and the new store's migrations
            wall_time(args, env)
        times: dict[str, list[float]] = {name: [] for name in COMMANDS}
        for _ in range(runs):  # interleaved, so that a change of load touches every command alike
            for name, args in COMMANDS.items():
                times[name].append(wall_time(args, env))
    bare = statistics.median(times["python -c pass"])
    print(f"load average {os.getloadavg()[0]:.2f} (1 min) on {os.cpu_count()} CPUs; {runs} runs of each command")
    for name, samples in times.items():
        median = statistics.median(samples)
        verdict = "" if name == "python -c pass" else ("  ok" if median <= GOAL_S else f"  over {GOAL_S} s")
        print(f"{name:<26} median {median:6.3f} s  (min {min(samples):.3f})  {median / bare:6.1f}x bare{verdict}")


if __name__ == "__main__":
    main()
