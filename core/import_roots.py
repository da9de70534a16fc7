"""Which server-side paths a dashboard import may read: the folders in `IMPORT_ROOTS` and nothing else.

A hosted dashboard must not become a file browser for the whole server (`/etc`, someone's home folder), so folder,
manifest and YOLO imports started from a page resolve every path (symlinks and `..`) before checking that it lies
under a root. The CLI is the operator's own tool and passes `ImportRoots.anywhere()`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from core.errors import PathNotAllowed
from core.settings import Settings


@dataclass(frozen=True)
class ImportRoots:
    """The folders imports may read; `roots=None` means anywhere (local mode, the CLI)."""

    roots: tuple[Path, ...] | None

    @classmethod
    def anywhere(cls) -> ImportRoots:
        return cls(None)

    @classmethod
    def from_settings(cls, settings: Settings) -> ImportRoots:
        # TODO(wt-12 roles): admins will edit the roots from the dashboard; until then they live in Settings.
        roots = settings.resolved_import_roots
        return cls(None if roots is None else tuple(Path(os.path.realpath(r)) for r in roots))

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

    def describe(self) -> str:
        if self.roots is None:
            return "any path on the server may be imported"
        folders = ", ".join(str(r) for r in self.roots) or "(none)"
        return f"this server only imports from: {folders} (set IMPORT_ROOTS to change)"
