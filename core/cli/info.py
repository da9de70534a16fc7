"""`python -m core info`: what is in the store."""

from __future__ import annotations

import argparse


def cmd_info(args: argparse.Namespace) -> int:
    from core.store import Store

    store = Store()
    print(f"store: {store.url} (data root {store.data_root})")
    for column in ("emotion", "source", "status"):
        counts = store.counts_by(column)
        print(f"{column:>8}: " + (", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "empty"))
    print("landmarks: " + ", ".join(f"{k} {v}" for k, v in sorted(store.extraction_counts().items())))
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("info", help="what is in the store")
    p.set_defaults(func=cmd_info)
