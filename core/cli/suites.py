"""`python -m core suites create|list|delete`: evaluation suites, named sets of labeled test images (one domain
each) that are never trained on. `python -m core evaluate --suite NAME` scores a model on one (core/cli/train.py)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from core.errors import StudioError


def register(sub: Any) -> None:
    suites = sub.add_parser("suites", help="evaluation suites: labeled test sets by domain, never trained on")
    ssub = suites.add_subparsers(dest="suites_command", metavar="ACTION", required=True)
    create = ssub.add_parser(
        "create",
        help="import labeled test sets as a suite",
        description="Each --set DOMAIN=PATH imports PATH (a manifest .csv, a folder, a .zip or a YOLO dataset, as "
        "`import` takes it) as the suite's test set for DOMAIN. Its images are never trained on.",
    )
    create.add_argument("name")
    create.add_argument("--set", action="append", required=True, metavar="DOMAIN=PATH", dest="sets")
    create.set_defaults(func=cmd_suites_create)
    ssub.add_parser("list", help="suites with their domains and image counts").set_defaults(func=cmd_suites_list)
    delete = ssub.add_parser("delete", help="delete a suite (its images stay in the store, never trained on)")
    delete.add_argument("name")
    delete.set_defaults(func=cmd_suites_delete)


def cmd_suites_create(args: argparse.Namespace) -> int:
    from core.cli.inline import run_job
    from core.import_job import IMPORT_KIND, ImportParams
    from core.store import Store
    from core.suites.manage import create_suite, delete_suite, get_suite, overlap_warning, parse_sets, set_kind

    store = Store()
    sets = parse_sets(args.sets)
    paths = {domain: Path(path).expanduser() for domain, path in sets}
    for domain, path in paths.items():
        if not path.exists():
            raise StudioError(f"--set {domain}={path}: {path} does not exist")
    create_suite(store, args.name, [(d, str(p.resolve())) for d, p in paths.items()])
    try:
        for domain, path in paths.items():
            params = ImportParams(path=str(path.resolve()), kind=set_kind(path), suite=args.name, domain=domain)
            result = run_job(argparse.Namespace(submit=False), IMPORT_KIND, params, unit="img")
            assert result is not None  # run here, never queued
            print(f"{domain}: {result.summary}")
            for name, reason in result.skipped[:20]:
                print(f"  skipped {name}: {reason}")
            if result.skipped_count > 20:
                print(f"  ... and {result.skipped_count - 20} more skipped")
    except BaseException:
        delete_suite(store, args.name)  # all or nothing: a half-imported suite would score on part of a domain
        raise
    suite = get_suite(store, args.name)
    empty = [s.domain for s in suite.sets if not s.image_ids]
    if empty:
        # A domain without images has no score, so the suite's worst domain would silently ignore it: refuse the
        # whole suite (its imported images stay in the store, never trained on), as for any other failed import.
        delete_suite(store, args.name)
        print(
            f"error: no image of domain(s) {', '.join(empty)} could be taken into the suite (see the reasons above: "
            f"a test image must be new and labeled); suite {args.name} was not created",
            file=sys.stderr,
        )
        return 1
    print(f"suite {suite.name}: " + ", ".join(f"{s.domain} {len(s.image_ids)} images" for s in suite.sets))
    warning = overlap_warning(store, suite.name)
    if warning:
        print(f"warning: {warning}", file=sys.stderr)
    return 0


def cmd_suites_list(args: argparse.Namespace) -> int:
    from core.store import Store
    from core.suites.manage import list_suites

    suites = list_suites(Store())
    if not suites:
        print("no suites yet: python -m core suites create NAME --set DOMAIN=PATH")
    for suite in suites:
        used = f"last used {suite.last_used_at:%Y-%m-%d %H:%M}" if suite.last_used_at else "never used"
        domains = ", ".join(f"{s.domain} {len(s.image_ids)}" for s in suite.sets)
        print(f"{suite.name}  {suite.n_images} images ({domains})  {used}")
    return 0


def cmd_suites_delete(args: argparse.Namespace) -> int:
    from core.store import Store
    from core.suites.manage import delete_suite

    n = delete_suite(Store(), args.name)
    print(
        f"deleted suite {args.name}; its {n} images stay in the store as test images, never trained on "
        "(python -m core data delete --status suite removes them)"
    )
    return 0
