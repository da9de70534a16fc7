"""`python -m core data delete`: images, their landmarks and files away from the store (admin only; audited)."""

from __future__ import annotations

import argparse

from core.errors import StudioError
from core.schema import EMOTIONS, EXTRACTION_PENDING, EXTRACTION_STATES, SOURCES, STATUSES


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
