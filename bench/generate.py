"""Generation throughput against the fake Gemini server (its own process) with a fixed latency per call.

For concurrency 1, 8 and 32 it measures images per second of
  - bare: the google-genai client alone under an asyncio.Semaphore (no database, no decoding, no files);
  - studio: a real job (JobRunner: limiter, retries, DB states, resize, Store.add_image on disk),
and prints both next to the ideal (concurrency / latency), and the project's figures: `ratio studio/bare` (goal
>= 0.95x) and the longest event-loop stall of studio against the bare SDK's (goal <= 2x). It also checks that no item
was lost or duplicated.

    python bench/generate.py [--latency 0.3] [--waves 6] [--concurrency 32] [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from statistics import median
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core.db import dispose_engine  # noqa: E402
from core.gemini.client import make_client  # noqa: E402
from core.gemini.ratelimit import RetryPolicy  # noqa: E402
from core.generation.image_api import generate_image  # noqa: E402
from core.generation.jobs import JobStore  # noqa: E402
from core.generation.runner import JobRunner  # noqa: E402
from core.generation.templates import GenerationTemplate  # noqa: E402
from core.schema import GEN_DONE  # noqa: E402
from core.settings import Settings  # noqa: E402
from core.store import Store  # noqa: E402

KEY = "bench-key"
R = TypeVar("R")
RATIO_GOAL = 0.95  # studio/bare images per second (issue 20)
LAG_GOAL = 2.0  # studio's longest event-loop stall / the bare SDK's


def start_server(latency: float, side: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.fakes.gemini_server", "--latency", str(latency), "--side", str(side)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


async def bare(settings: Settings, n: int, concurrency: int) -> tuple[float, float]:
    client = make_client(settings, KEY)
    sem = asyncio.Semaphore(concurrency)

    async def one(i: int) -> bytes:
        async with sem:
            return await generate_image(client, model="gemini-2.5-flash-image", prompt=f"portrait {i}", seed=i)

    async def all_calls() -> list[bytes]:
        return await asyncio.gather(*(one(i) for i in range(n)))

    start = time.perf_counter()
    results, lag = await with_lag_monitor(all_calls)
    elapsed = time.perf_counter() - start
    assert all(r.startswith(b"\x89PNG") for r in results)
    await client.aio.aclose()
    return n / elapsed, lag


async def with_lag_monitor(coro_factory: Callable[[], Awaitable[R]]) -> tuple[R, float]:
    """Run the job while a 5 ms ticker records the longest stall of the event loop."""
    stop = asyncio.Event()
    worst = 0.0

    async def ticker() -> None:
        nonlocal worst
        while not stop.is_set():
            t0 = time.perf_counter()
            await asyncio.sleep(0.005)
            worst = max(worst, time.perf_counter() - t0 - 0.005)

    tick = asyncio.create_task(ticker())
    report = await coro_factory()
    stop.set()
    await tick
    return report, worst


def studio(settings: Settings, n: int, concurrency: int) -> tuple[float, float, str]:
    store = Store(settings)
    jobs = JobStore(store)
    template = GenerationTemplate(
        name=f"bench-{concurrency}",
        ethnicities=[f"group {i}" for i in range(n)],
        ages=["30-39"],
        sexes=["woman"],
        emotions=["happy"],
        output_size=256,
    )
    job_id = jobs.create_job(template, model="gemini-2.5-flash-image", new=True)
    runner = JobRunner(
        job_id,
        store=store,
        settings=settings,
        api_key=KEY,
        concurrency=concurrency,
        rpm=1_000_000,
        policy=RetryPolicy(max_retries=2, timeout_s=30),
        cancel=threading.Event(),
    )
    report, lag = asyncio.run(with_lag_monitor(runner.run))
    counts = jobs.counts(job_id)
    items = jobs.items(job_id)
    image_ids = [i.image_id for i in items]
    ok = (
        counts[GEN_DONE] == n
        and report.failed == 0
        and len(set(image_ids)) == n
        and all(store.get(i) is not None for i in image_ids if i is not None)
    )
    integrity = "ok" if ok else f"LOST/DUPLICATE: {counts}, {len(set(image_ids))} distinct images"
    return report.rate, lag, integrity


def measure(url: str, n: int, concurrency: int) -> tuple[float, float, float, float, str]:
    """(bare rate, bare lag, studio rate, studio lag, integrity) of one back-to-back pair, each on a fresh data root."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            data_root=Path(tmp) / "data",
            gemini_base_url=url,
            gemini_api_key=None,
        )
        bare_rate, bare_lag = asyncio.run(bare(settings, n, concurrency))
        rate, lag, integrity = studio(settings, n, concurrency)
        dispose_engine(settings.resolved_database_url)
    return bare_rate, bare_lag, rate, lag, integrity


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.3, help="seconds per call at the fake server")
    parser.add_argument("--waves", type=int, default=6, help="items per run = concurrency x waves (at least 12)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--side", type=int, default=256, help="pixels of the fake portraits (payload size)")
    parser.add_argument("--repeat", type=int, default=1, help="pairs per concurrency; the ratio lines give the median")
    args = parser.parse_args()

    server, url = start_server(args.latency, args.side)
    failed = False
    try:
        print(f"fake Gemini at {url}, {args.latency * 1000:.0f} ms per call, {args.side}px PNG portraits")
        # The figures are CPU-bound at high concurrency: say how busy the machine was.
        print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start")
        with tempfile.TemporaryDirectory() as tmp:  # warm up imports and connections outside the timings
            asyncio.run(bare(Settings(_env_file=None, data_root=Path(tmp), gemini_base_url=url), 4, 4))  # type: ignore[call-arg]
        print(
            f"{'conc':>4} {'items':>5} {'ideal/s':>8} {'bare/s':>8} {'bare%':>6} {'studio/s':>9} {'studio%':>8} "
            f"{'vs bare':>8} {'lag bare':>9} {'lag studio':>10}  integrity"
        )
        for concurrency in args.concurrency:
            n = max(12, concurrency * args.waves)
            ideal = concurrency / args.latency
            ratios: list[tuple[float, float]] = []  # (studio/bare rate, studio/bare lag) of each repeat
            for _ in range(args.repeat):  # bare and studio back to back: a burst of other load hits both alike
                bare_rate, bare_lag, rate, lag, integrity = measure(url, n, concurrency)
                print(
                    f"{concurrency:>4} {n:>5} {ideal:>8.1f} {bare_rate:>8.1f} {bare_rate / ideal:>6.0%} {rate:>9.1f} "
                    f"{rate / ideal:>8.0%} {rate / bare_rate:>8.2f} {bare_lag * 1000:>7.1f}ms {lag * 1000:>8.1f}ms  "
                    f"{integrity}",
                    flush=True,
                )
                failed |= integrity != "ok"
                ratios.append((rate / bare_rate, lag / bare_lag if bare_lag > 0 else float("inf")))
            rate_ratio = median(r for r, _ in ratios)
            lag_ratio = median(lag for _, lag in ratios)
            print(
                f"ratio studio/bare at concurrency {concurrency}: {rate_ratio:.2f}x (goal >= {RATIO_GOAL:.2f}x), "
                f"event-loop lag studio/bare: {lag_ratio:.1f}x (goal <= {LAG_GOAL:.0f}x)"
                + (f"  [median of {args.repeat}]" if args.repeat > 1 else "")
            )
    finally:
        server.terminate()
        server.wait(5)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
