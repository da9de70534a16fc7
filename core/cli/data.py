"""`python -m core export|info|data delete`: what is in the store, out of it, and away from it. (`import` and `extract`
have their own modules.)"""

from __future__ import annotations

import argparse
from pathlib import Path

from core.errors import StudioError
from core.schema import EMOTIONS, EXTRACTION_PENDING, EXTRACTION_STATES, SOURCES, STATUSES


def cmd_export(args: argparse.Namespace) -> int:
    from core.store import Store

    if args.emotion_folders is not None:
        if args.out:
            raise StudioError("--out names where the landmark tables go; the emotion-folder view goes to its DEST")
        from core.export_folders import export_emotion_folders

        report = export_emotion_folders(Store(), Path(args.emotion_folders), copy=args.copy)
        print(report.summary())
        for image_id, path in report.missing[:20]:
            print(f"  image #{image_id}: its file {path} is missing from the store")
        return 0
    if args.copy:
        raise StudioError("--copy goes with --emotion-folders DEST")
    from core.export import export_all

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


def _register_export(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "export",
        help="write landmarks.csv and landmarks.parquet, or an emotion-folder view of the training images",
        description="Without --emotion-folders: the landmark tables. With it: DEST/<emotion>/<file> for every "
        "labeled training image, hard-linked (or copied) from the store; DEST must be new, empty, or an earlier "
        "view, which is replaced at once.",
    )
    p.add_argument("--out", help="output folder of the landmark tables (default: <data_root>/exports)")
    p.add_argument("--emotion-folders", metavar="DEST", default=None, help="write the emotion-folder view to DEST")
    p.add_argument(
        "--copy", action="store_true", help="with --emotion-folders: copy the files (a view you may edit freely)"
    )
    p.set_defaults(func=cmd_export)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    _register_export(sub)

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
