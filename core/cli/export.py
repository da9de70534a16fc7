"""`python -m core export`: the landmark tables, or an emotion-folder view of the training images."""

from __future__ import annotations

import argparse
from pathlib import Path

from core.errors import StudioError


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


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
