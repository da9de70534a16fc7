"""`python -m core generate`: run (or resume) a generation job from a template file, with a progress bar."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from core.cli.inline import add_submit_flag, run_job
from core.schema import GEN_DONE, GEN_FAILED
from core.settings import get_settings

# The generation modules (google-genai, pydantic models) load inside `run`, so other commands start fast.


def register(subparsers: Any) -> None:
    from core.cli.params import add_params
    from core.generation.kinds import GenerationParams

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
    add_params(p, GenerationParams, exclude={"generation_job_id", "extract_landmarks"})
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
    resolve_key(settings)  # before queuing or running: MissingApiKey explains how to set one
    from core.cli.params import params_from
    from core.generation.kinds import GENERATION_KIND, GenerationParams

    # The same job code a worker runs (with --submit, a worker does, with the server's key, which it reads itself).
    params = params_from(args, GenerationParams, generation_job_id=job_id, extract_landmarks=args.extract)
    result = run_job(args, GENERATION_KIND, params, unit="img")
    if result is None:  # queued
        return 0
    counts = jobs.counts(job_id)
    print(
        f"job {job_id}: {result.generated} generated this run ({result.rate:.2f}/s), "
        f"{counts[GEN_DONE]}/{sum(counts.values())} done, {counts[GEN_FAILED]} failed"
        + (f", {result.recovered} recovered from a previous crash" if result.recovered else "")
        + (f", landmarks extracted for {result.extracted}" if result.extracted else "")
    )
    if counts[GEN_FAILED]:
        print(
            f"see the reasons: python -m core generate --job {job_id} --failures; "
            f"retry: python -m core generate --job {job_id} --retry-failed",
            file=sys.stderr,
        )
        return 1
    return 0
