"""`python -m core import`: a folder, .zip, manifest CSV, YOLO dataset or public layout into the store, as an
import job (core.import_job)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli.inline import add_submit_flag
from core.errors import StudioError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "import",
        help="import a folder, .zip, manifest .csv or YOLO dataset",
        description="Labels come from the file-name tag (happy_0042.jpg), else the parent folder, else the image "
        "goes to the unlabeled pool. A manifest CSV has columns path,label[,person].",
    )
    p.add_argument("path", help="folder, .zip archive, manifest .csv, or YOLO dataset folder (with --yolo)")
    p.add_argument("--yolo", action="store_true", help="PATH is a YOLO dataset: each box becomes a face crop")
    p.add_argument(
        "--layout",
        metavar="NAME",
        default=None,
        help="PATH is a public dataset in its own layout: fer2013, ckplus, jaffe, rafdb, affectnet, kdef, or auto "
        "(labels, person ids and splits from the dataset's own files)",
    )
    p.add_argument("--extract", action="store_true", help="extract landmarks of the new images afterwards")
    add_submit_flag(p)
    p.set_defaults(func=cmd_import)


def cmd_import(args: argparse.Namespace) -> int:
    from core.cli.inline import run_job
    from core.import_job import IMPORT_KIND, ImportParams
    from core.import_targets import import_kind_of

    path = Path(args.path)
    if not path.exists():
        raise StudioError(f"{path} does not exist")
    if args.extract and getattr(args, "submit", False):
        raise StudioError("--extract runs after the import here; with --submit, queue the extraction once it is done")
    # The same job code as the dashboard's server imports, as the operator: IMPORT_ROOTS only limits the dashboard.
    if args.layout is not None and args.yolo:
        raise StudioError("--yolo and --layout exclude each other: a YOLO dataset is not a public layout")
    kind = import_kind_of(path, yolo=args.yolo, layout=args.layout)
    params = ImportParams(path=str(path.resolve()), kind=kind, layout=args.layout or "auto")
    result = run_job(args, IMPORT_KIND, params, unit="img")
    if result is None:  # queued
        return 0
    report = result.report()
    if result.layout is not None:
        print(f"read as the {result.layout} layout")
    print(result.summary)
    for name, reason in report.skipped[:50]:
        print(f"  skipped {name}: {reason}")
    if result.skipped_count > 50:
        print(f"  ... and {result.skipped_count - 50} more skipped")
    for name, stored, given in report.conflicts[:50]:
        print(f"  conflict {name}: already in the store as {stored}, labeled {given} here (kept {stored})")
    for warning in report.warnings[:50]:
        print(f"  warning: {warning}")
    if report.added == 0 and report.duplicates == 0 and not report.cancelled:
        # Nothing was done: say so where scripts look (the exit status, stderr), with the first reasons.
        count = result.skipped_count
        reasons = "; ".join(f"{name}: {reason}" for name, reason in report.skipped[:3])
        what = f"all {count} files were refused (first: {reasons})" if count else f"no image file found in {path}"
        print(f"error: nothing imported: {what}", file=sys.stderr)
        return 1
    if args.extract and report.image_ids:
        from core.cli.extract import cmd_extract

        return cmd_extract(argparse.Namespace(submit=False))
    return 0
