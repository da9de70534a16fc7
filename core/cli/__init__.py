"""Command-line interface. Each area adds its subcommands from its own module in this package.

Start-up is kept short (bench/cli_startup.py): this package and the command modules import only the standard
library and light `core` modules at import; each command imports what it uses when it runs.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from core.errors import StudioError
from core.native_logs import VERBOSE_ENV

# Modules that define `register(subparsers)`; each subcommand sets `func(args) -> int` as its default, and may set
# `configure(parser)`: arguments whose choices or defaults need heavy imports, added only when that command runs.
COMMAND_MODULES = (
    "core.cli.importing",  # import
    "core.cli.extract",  # extract
    "core.cli.export",  # export
    "core.cli.info",  # info
    "core.cli.data",  # data delete
    "core.cli.train",  # train
    "core.cli.evaluate",  # evaluate
    "core.cli.models",  # models list|activate|history|rollback|delete
    "core.cli.suites",  # suites create|list|delete
    "core.cli.generate",  # generate
    "core.cli.al",  # al score|label|simulate
    "core.cli.detector",  # detector train|evaluate
    "core.cli.resnet",  # resnet train
    "core.cli.image",  # image backbones|train
    "core.cli.apikeys",  # apikeys create|list|revoke
    "core.cli.users",  # users list|add|set-role|remove
    "core.cli.worker",  # worker
    "core.cli.jobs",  # jobs list|show|cancel
)


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser of every command; the one `argv` names also gets its deferred arguments (`configure`), so that
    `--help` and the other commands never pay for its imports."""
    parser = argparse.ArgumentParser(
        prog="python -m core", description="Expression Studio: data, landmarks, training and detection."
    )
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="debug logging, migrations and native libraries' messages"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(name) is not None:
            importlib.import_module(name).register(sub)
    command = next((a for a in argv if not a.startswith("-")), None)  # the only top-level option, -v, takes no value
    chosen = sub.choices.get(command) if command else None
    configure = chosen.get_default("configure") if chosen is not None else None
    if configure is not None:
        configure(chosen)
    return parser


# Long-running services, whose INFO lines (job started, finished) are what their operator watches.
SERVICES = frozenset({"worker"})


def configure_logging(*, verbose: bool, service: bool = False) -> None:
    """A command prints what was asked for; logs are for problems: WARNING and above, INFO for a service, all of
    it (Alembic's migration lines and MediaPipe's start-up messages included) with --verbose."""
    if verbose:
        os.environ[VERBOSE_ENV] = "1"  # worker processes inherit it: they then keep native messages too
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO if service else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        logging.getLogger("alembic").setLevel(logging.WARNING)  # "Context impl SQLiteImpl", "Running upgrade ..."


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    configure_logging(verbose=args.verbose, service=getattr(args, "command", None) in SERVICES)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        from core.auth import OPERATOR, acting_as
        from core.models.registry import install_starter
        from core.settings import get_settings

        # The CLI is the operator's tool: whoever has a shell on the server acts with admin rights.
        install_starter(get_settings())  # any models folder starts with the shipped starter model
        with acting_as(OPERATOR):
            return int(args.func(args) or 0)
    except StudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as exc:  # an install from requirements-base.txt has no torch
        print(f"error: this command needs {exc.name}: install requirements.txt", file=sys.stderr)
        return 2
    except ValidationError as exc:  # a job's parameters, built from the arguments
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5])
        print(f"error: invalid arguments: {problems}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; finished work is saved and the command can be re-run to resume", file=sys.stderr)
        return 130
