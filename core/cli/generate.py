"""`python -m core generate`: run (or resume) a generation job from a template file, with a progress bar."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from core.cli.jobs import add_submit_flag
from core.schema import GEN_DONE, GEN_FAILED
from core.settings import Settings, get_settings

# The generation modules (google-genai, pydantic models) load inside `run`, so other commands start fast.


def register(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "generate",
        help="generate labeled portraits with Gemini from a template (re-run to resume)",
        description="Generate portraits from a JSON template. Re-running the same template resumes its job and only "
        "does what is missing. The API key comes from GEMINI_API_KEY / GOOGLE_API_KEY, .env or secrets.toml.",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--template", type=Path, help="template JSON (see templates/example_template.json)")
    source.add_argument("--job", type=int, help="resume an existing job by id")
    p.add_argument("--new", action="store_true", help="start a fresh job even if this template already has one")
    p.add_argument("--dry-run", action="store_true", help="show the item count, cost and sample prompts; no calls")
    p.add_argument("--retry-failed", action="store_true", help="put failed items back in the queue first")
    p.add_argument("--failures", action="store_true", help="list the failed items of the job and exit")
    p.add_argument("--concurrency", type=int, default=None, help="requests in flight (default GEMINI_CONCURRENCY)")
    p.add_argument("--rpm", type=float, default=None, help="requests per minute (default GEMINI_RPM)")
    p.add_argument("--extract", action="store_true", help="extract landmarks of the new images afterwards")
    add_submit_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from core.gemini.client import resolve_key
    from core.generation.image_api import estimate_cost
    from core.generation.jobs import JobStore
    from core.generation.templates import load_template
    from core.store import Store

    settings = get_settings()
    if args.template is not None:
        template = load_template(args.template)
        model = template.model or settings.gemini_image_model
        if args.dry_run:
            items = template.expand()
            print(
                f"{len(items)} images ({template.combination_count()} combinations x "
                f"{template.images_per_combination}) with {model}, about ${estimate_cost(model, len(items)):.2f}"
            )
            for spec in items[:3]:
                print(f"- [{spec.attributes.emotion}] {spec.prompt}")
            return 0
    store = Store(settings)
    jobs = JobStore(store)
    if args.template is not None:
        job_id = jobs.create_job(template, model=model, new=args.new)
    else:
        job_id = args.job
        jobs.get_job(job_id)  # raises JobNotFound with a clear message
    if args.failures:
        for item in jobs.items(job_id, states=[GEN_FAILED]):
            print(f"{item.id}\t{item.file_name}\t{item.reason}")
        return 0
    if args.retry_failed:
        print(f"job {job_id}: {jobs.retry_failed(job_id)} failed items queued again")
    api_key = resolve_key(settings)  # MissingApiKey explains how to set one
    if args.submit:  # a worker runs it (with the server's key, which it reads itself)
        from core.jobs import JobQueue
        from core.jobs.active_kinds import GENERATION, GenerationParams

        params = GenerationParams(
            generation_job_id=job_id, concurrency=args.concurrency, rpm=args.rpm, extract_landmarks=args.extract
        )
        print(f"queued job {JobQueue(settings).submit(GENERATION, params)} for generation job {job_id}")
        return 0
    return _run_with_bar(job_id, store, settings, api_key, args)


def _run_with_bar(job_id: int, store: Any, settings: Settings, api_key: str, args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from core.generation.jobs import JobStore
    from core.generation.runner import JobProgress, run_job

    bar = tqdm(total=0, unit="img", desc=f"job {job_id}", dynamic_ncols=True)

    last_draw = [0.0]

    def progress(p: JobProgress) -> None:
        # Called on the event loop for every item: redraw a few times a second, not a hundred.
        now = time.monotonic()
        if now - last_draw[0] < 0.2 and p.done + p.failed < p.total:
            return
        last_draw[0] = now
        bar.total = p.total
        bar.n = p.done + p.failed
        bar.set_postfix(done=p.done, failed=p.failed, rate=f"{p.rate:.2f}/s", refresh=False)
        bar.refresh()

    try:
        report = run_job(
            job_id,
            store=store,
            settings=settings,
            api_key=api_key,
            concurrency=args.concurrency,
            rpm=args.rpm,
            progress=progress,
            extract_landmarks=args.extract,
        )
    finally:
        bar.close()
    counts = JobStore(store).counts(job_id)
    print(
        f"job {job_id}: {report.generated} generated this run ({report.rate:.2f}/s), "
        f"{counts[GEN_DONE]}/{sum(counts.values())} done, {counts[GEN_FAILED]} failed"
        + (f", {report.recovered} recovered from a previous crash" if report.recovered else "")
        + (f", landmarks extracted for {report.extracted}" if report.extracted else "")
    )
    if counts[GEN_FAILED]:
        print(
            f"see the reasons: python -m core generate --job {job_id} --failures; "
            f"retry: python -m core generate --job {job_id} --retry-failed",
            file=sys.stderr,
        )
        return 1
    return 0
