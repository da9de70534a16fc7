"""`python -m core extract`: the MediaPipe landmarks of every image not yet done, as an extraction job
(core.landmarks.kinds; resumable)."""

from __future__ import annotations

import argparse

from core.cli.inline import add_submit_flag
from core.schema import EXTRACTION_OK


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from core.cli.params import add_params
    from core.landmarks.kinds import ExtractionParams

    p = sub.add_parser("extract", help="extract MediaPipe landmarks of every image not yet done (resumable)")
    add_params(p, ExtractionParams)
    add_submit_flag(p)
    p.set_defaults(func=cmd_extract)


def cmd_extract(args: argparse.Namespace) -> int:
    from core.cli.inline import run_job
    from core.cli.params import params_from
    from core.landmarks.kinds import EXTRACTION_KIND, ExtractionParams

    result = run_job(args, EXTRACTION_KIND, params_from(args, ExtractionParams), unit="img")
    if result is None:
        return 0
    print(f"{result.processed} processed: {result.ok} faces, {result.no_face} without a face, {result.errors} errors")
    problems = result.problems
    failed = [p for p in problems if p[1] != EXTRACTION_OK]
    for image_id, state, reason in failed[:50]:
        print(f"  image {image_id} [{state}] {reason}")
    if len(failed) > 50:
        print(f"  ... and {len(failed) - 50} more (the Data page lists them all)")
    noted = len(problems) - len(failed)
    if noted:
        print(f"{noted} images found with a note (tight crop padded, downscaled, or several faces)")
    return 0
