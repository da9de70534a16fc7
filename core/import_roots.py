"""Which server-side paths a dashboard import may read: the folders in `IMPORT_ROOTS` and nothing else.

A hosted dashboard must not become a file browser for the whole server (`/etc`, someone's home folder), so folder,
manifest and YOLO imports started from a page resolve every path (symlinks and `..`) before checking that it lies
under a root. The CLI is the operator's own tool and passes `ImportRoots.anywhere()`.

Where the roots come from: an admin's list from the dashboard (`set_import_roots`, stored in the `server_settings`
table with who set it and when) when there is one, else `Settings` (IMPORT_ROOTS, or its default). `from_settings`
is the one entry point that every page and job uses.

`check_import` is the one check of a path to import, made at the boundary: by a page before it queues the job (so
the user hears at once) and by the job before it reads anything. The import functions of `core.ingest` and
`core.layouts` take a path that passed it and do not check the roots again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Final

from core.errors import PathNotAllowed, StudioError
from core.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy import Engine

log = logging.getLogger("core.import_roots")

SETTING_KEY: Final = "import_roots"  # the row of `server_settings` that holds an admin's list
MAX_ROOTS: Final = 50


@dataclass(frozen=True)
class ImportRoots:
    """The folders imports may read; `roots=None` means anywhere (local mode, the CLI)."""

    roots: tuple[Path, ...] | None

    @classmethod
    def anywhere(cls) -> ImportRoots:
        return cls(None)

    @classmethod
    def from_settings(cls, settings: Settings) -> ImportRoots:
        """The roots in force: the list an admin set from the dashboard, else the settings' IMPORT_ROOTS/default."""
        stored = stored_import_roots(settings)
        roots = stored.roots if stored is not None else settings.resolved_import_roots
        return cls(None if roots is None else tuple(Path(os.path.realpath(r)) for r in roots))

    @classmethod
    def for_acting_user(cls, settings: Settings) -> ImportRoots:
        """Anywhere for the operator (the CLI, also when its `--submit` job runs in a worker), else `from_settings`:
        a job started from the dashboard reads only what the dashboard itself may."""
        from core.auth import OPERATOR, current_user

        user = current_user()  # a worker rebuilds the user from the job row: compare ids, not the builtin flag
        return cls.anywhere() if user is not None and user.id == OPERATOR.id else cls.from_settings(settings)

    @classmethod
    def or_settings(cls, roots: ImportRoots | None, settings: Settings) -> ImportRoots:
        """`roots`, or the settings' policy when None: a caller that forgets the argument is restricted, not open."""
        return roots if roots is not None else cls.from_settings(settings)

    @property
    def unrestricted(self) -> bool:
        return self.roots is None

    def allows(self, path: Path) -> bool:
        """Whether `path`, with every symlink and `..` resolved, lies under a root."""
        if self.roots is None:
            return True
        real = Path(os.path.realpath(path))
        return any(real == root or real.is_relative_to(root) for root in self.roots)

    def check(self, path: Path, what: str = "path") -> Path:
        """`path` resolved, or PathNotAllowed with a message that names the allowed folders."""
        real = Path(os.path.realpath(Path(path).expanduser()))
        if not self.allows(real):
            raise PathNotAllowed(f"{what} {path} is outside the import folders; {self.describe()}")
        return real

    def check_tree(self, folder: Path, what: str = "folder") -> Path:
        """`folder` resolved, after checking that it and everything below it lie inside the roots (a dataset whose
        label files or split folders link elsewhere is refused as a whole)."""
        real = self.check(Path(folder).expanduser(), what)
        if self.roots is not None and real.is_dir():
            outside = self.outside(p for p in real.rglob("*") if p.is_symlink())
            if outside:
                names = ", ".join(p.relative_to(real).as_posix() for p in outside[:5])
                raise PathNotAllowed(f"{what} {folder} links outside the import folders ({names}); {self.describe()}")
        return real

    def outside(self, paths: Iterable[Path]) -> list[Path]:
        """Those of `paths` that resolve outside the roots (e.g. symlinks inside a root that point elsewhere)."""
        return [p for p in paths if not self.allows(p)]

    def describe(self, *, hint: bool = True) -> str:
        """Where imports may read, for messages; `hint` adds who can change it."""
        if self.roots is None:
            return "any path on the server may be imported"
        folders = ", ".join(str(r) for r in self.roots) or "(none)"
        return f"this server only imports from: {folders}" + (
            " (an admin changes this on the Users page)" if hint else ""
        )


# What a path is called in messages, per import kind.
_WHAT: Final = {"manifest": "manifest", "yolo": "dataset folder", "layout": "dataset", "zip": "archive"}


def check_import(roots: ImportRoots, path: str | Path, kind: str) -> Path:
    """`path` resolved, once it is inside `roots` and of the right sort for `kind` ("folder", "manifest", "yolo",
    "zip", "layout"); a YOLO dataset must not link outside the roots anywhere below it. The roots come first: a path
    outside them gets the same answer whether it exists, is a file or a folder (the page never tells what lies
    outside). `core.layouts.check_layout_import` adds the check that a dataset fits its layout."""
    raw = Path(path).expanduser()
    what = _WHAT.get(kind, "folder")
    real = roots.check_tree(raw, what) if kind == "yolo" else roots.check(raw, what)
    if kind == "manifest" and real.is_dir():
        raise StudioError(f"{raw} is a folder: import it as a folder, or give the path of a manifest .csv file")
    if kind in ("folder", "yolo") and real.is_file():
        raise StudioError(f"{raw} is a file: choose its folder, or import a .csv file as a manifest")
    if not real.exists():
        raise StudioError(f"{raw} does not exist")
    return real


@dataclass(frozen=True)
class StoredRoots:
    """The roots an admin set from the dashboard, and who did it when."""

    roots: tuple[Path, ...]
    changed_by: str
    changed_at: datetime


def _engine(settings: Settings) -> Engine:
    from core.migrations import open_database  # the migrations import the store, which imports this module

    return open_database(settings.resolved_database_url, settings.data_root)


def stored_import_roots(settings: Settings) -> StoredRoots | None:
    """The admin's list, or None when the settings' IMPORT_ROOTS/default apply."""
    from core.server_settings import read_setting

    stored = read_setting(_engine(settings), SETTING_KEY)
    if stored is None:
        return None
    return StoredRoots(tuple(Path(p) for p in stored.value), stored.changed_by, stored.changed_at)


def roots_origin(settings: Settings, stored: StoredRoots | None) -> str:
    """Where the roots in force come from, for the Users page: an admin's list, IMPORT_ROOTS, or the default."""
    if stored is not None:
        return f"set here by {stored.changed_by} on {stored.changed_at:%Y-%m-%d %H:%M} UTC"
    if settings.import_roots is not None:
        return "from the server's IMPORT_ROOTS setting"
    return "the default: " + ("<DATA_ROOT>/inbox in team mode" if settings.team_mode else "anywhere, in local mode")


def editable_roots(settings: Settings, stored: StoredRoots | None) -> tuple[list[Path], list[Path]]:
    """The roots in force split into (folders that exist, folders that do not), to pre-fill the Users page's form:
    a default that does not exist (a team server's <DATA_ROOT>/inbox before anyone made it) could never be saved
    as it stands, since `set_import_roots` accepts existing folders only."""
    current = list(stored.roots) if stored is not None else (settings.resolved_import_roots or [])
    return [p for p in current if p.is_dir()], [p for p in current if not p.is_dir()]


def validate_roots(paths: Sequence[str | Path]) -> tuple[Path, ...]:
    """Each path absolute, an existing directory, and resolved (symlinks, `..`); duplicates once. StudioError
    naming every bad path otherwise."""
    if len(paths) > MAX_ROOTS:
        raise StudioError(f"at most {MAX_ROOTS} import folders")
    problems, out = [], []
    for raw in paths:
        text = str(raw).strip()
        if not text:
            continue
        path = Path(text)
        if not path.is_absolute():
            problems.append(f"{text} is not an absolute path (start it with /)")
        elif not path.exists():
            problems.append(f"{text} does not exist on the server")
        elif not path.is_dir():
            problems.append(f"{text} is not a folder")
        else:
            real = Path(os.path.realpath(path))
            if real not in out:
                out.append(real)
    if problems:
        raise StudioError("; ".join(problems))
    return tuple(out)


def set_import_roots(settings: Settings, paths: Sequence[str | Path]) -> StoredRoots:
    """Store the folders dashboard imports may read (admins only), resolved; they apply at once to every page and
    job, on every dashboard process of this database. An empty list allows no server-side import at all."""
    from core.auth import Permission, require
    from core.server_settings import write_setting

    actor = require(Permission.CHANGE_IMPORT_ROOTS)
    roots = validate_roots(paths)
    stored = write_setting(_engine(settings), SETTING_KEY, [str(r) for r in roots], actor.id)
    log.info("import roots set", extra={"roots": [str(r) for r in roots], "actor": actor.id})
    return StoredRoots(roots, stored.changed_by, stored.changed_at)


def reset_import_roots(settings: Settings) -> bool:
    """Forget the admin's list (admins only): IMPORT_ROOTS or its default apply again. False when none was set."""
    from core.auth import Permission, require
    from core.server_settings import clear_setting

    actor = require(Permission.CHANGE_IMPORT_ROOTS)
    cleared = clear_setting(_engine(settings), SETTING_KEY)
    if cleared:
        log.info("import roots reset to the settings' default", extra={"actor": actor.id})
    return cleared
