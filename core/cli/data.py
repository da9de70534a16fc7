"""`python -m core import|extract|export|info|data delete`: getting images into the store, landmarks out of it, and
images out again."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from core.cli.jobs import add_submit_flag
from core.errors import StudioError
from core.schema import EMOTIONS, EXTRACTION_OK, EXTRACTION_PENDING, EXTRACTION_STATES, SOURCES, STATUSES


def cmd_import(args: argparse.Namespace) -> int:
    from core.cli.jobs import run_job
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
        return cmd_extract(argparse.Namespace(submit=False))
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    from core.cli.jobs import run_job
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


def cmd_export(args: argparse.Namespace) -> int:
    from core.export import export_all
    from core.store import Store

    csv_path, parquet_path, rows = export_all(Store(), Path(args.out) if args.out else None)
    print(f"{rows} rows written to {csv_path} and {parquet_path}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    from core.store import Store

    store = Store()
    print(f"store: {store.url} (data root {store.data_root})")
    for column in ("emotion", "source", "status"):
        counts = store.counts_by(column)
        print(f"{column:>8}: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "empty"))
    print("landmarks: " + ", ".join(f"{k} {v}" for k, v in sorted(store.extraction_counts().items())))
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    from core.store.repository import Filters
    from core.store.views import PROBLEM_STATES

    states = (*(args.extraction or ()), *(PROBLEM_STATES if args.problems else ()))
    filters = Filters(
        emotions=args.label or (), sources=args.source or (), statuses=args.status or (), extraction_states=states
    )
    if args.ids is None and not (filters.emotions or filters.sources or filters.statuses or states):
        raise StudioError(
            "name the images: --ids, and/or filters (--source, --status, --label, --extraction, --problems)"
        )
    from core.store import Store

    store = Store()
    ids = store.image_ids(filters, ids=args.ids)
    if args.ids is not None and len(ids) < len(set(args.ids)):
        print(f"{len(set(args.ids)) - len(ids)} of the given ids match no image (or not the filters)")
    if not ids:
        print("no image matches: nothing deleted")
        return 0
    shown = ", ".join(map(str, ids[:20])) + (f" ... ({len(ids) - 20} more)" if len(ids) > 20 else "")
    print(f"{len(ids)} image(s) match: {shown}")
    if not args.yes:
        answer = input(f"Delete these {len(ids)} images, their landmarks and their files? Type {len(ids)} to confirm: ")
        if answer.strip() != str(len(ids)):
            print("not confirmed: nothing deleted")
            return 1
    report = store.delete_images(ids)
    print(report.summary())
    for path, why in report.files_not_removed[:50]:
        print(f"  file {path} not removed: {why}")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from core.cli.params import add_params
    from core.landmarks.kinds import ExtractionParams

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

    p = sub.add_parser("extract", help="extract MediaPipe landmarks of every image not yet done (resumable)")
    add_params(p, ExtractionParams)
    add_submit_flag(p)
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("export", help="write landmarks.csv and landmarks.parquet")
    p.add_argument("--out", help="output folder (default: <data_root>/exports)")
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("info", help="what is in the store")
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("data", help="data maintenance: data delete")
    actions = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    d = actions.add_parser(
        "delete",
        help="delete images by id and/or filters (rows, landmarks, queue entries and files; audited)",
        description="Deletes the images that match every option given (ids and filters combine with AND). Each "
        "deletion is recorded in the audit log as the operator; the files go after the rows are committed.",
    )
    d.add_argument(
        "--ids", type=int, nargs="+", default=None, metavar="ID", help="image ids (as `info`/the pages show)"
    )
    d.add_argument("--source", nargs="+", choices=SOURCES, help="only images of these sources")
    d.add_argument("--status", nargs="+", choices=STATUSES, help="only images in these statuses")
    d.add_argument("--label", nargs="+", choices=EMOTIONS, help="only images with these labels")
    d.add_argument(
        "--extraction",
        nargs="+",
        choices=[*EXTRACTION_STATES, EXTRACTION_PENDING],
        help="only images in these extraction states",
    )
    d.add_argument("--problems", action="store_true", help="only problem images (no face found, or unreadable)")
    d.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    d.set_defaults(func=cmd_delete)
