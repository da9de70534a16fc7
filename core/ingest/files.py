"""Folders and CSV manifests, and reading one file safely: resolved inside its folder first (a symlink or `..` that
leads outside is refused), never read into memory when it is over the size limit."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path

from core.auth import Permission, require
from core.errors import PathNotAllowed, StudioError
from core.import_roots import ImportRoots
from core.ingest.items import MB, ImportReport, Incoming, import_items, is_image_name
from core.labels import normalize_label
from core.paths import resolve_inside, resolve_path
from core.settings import Settings
from core.store import Store


# ---- folders and manifests ---------------------------------------------------------------------------------------
def check_import_target(path: Path, kind: str) -> None:
    """Refuse a path of the wrong sort for `kind` ("folder", "manifest", "yolo", "zip") with a message that says
    what to do; the Data page calls it too, to say so before it queues the import."""
    if kind == "manifest" and path.is_dir():
        raise StudioError(f"{path} is a folder: import it as a folder, or give the path of a manifest .csv file")
    if kind in ("folder", "yolo") and path.is_file():
        raise StudioError(f"{path} is a file: choose its folder, or import a .csv file as a manifest")


OUTSIDE_FOLDER = 'refused: it lies outside the imported folder (through a symlink, ".." or an absolute path)'


def read_file(name: str, path: Path, root: Path, settings: Settings) -> Incoming:
    """The file at `path` as an Incoming, with the reason when it lies outside `root` (a symlink, `..`), is larger
    than IMPORT_MAX_FILE_MB (never read into memory then) or cannot be read; `root` is already resolved."""
    real = resolve_inside(root, path)
    if real is None:
        return Incoming(name, b"", problem=OUTSIDE_FOLDER)
    try:
        if real.stat().st_size > settings.import_max_file_mb * MB:
            return Incoming(name, b"", problem=f"larger than {settings.import_max_file_mb:g} MB (IMPORT_MAX_FILE_MB)")
        return Incoming(name, real.read_bytes())
    except FileNotFoundError:
        return Incoming(name, b"", problem="file not found")
    except IsADirectoryError:
        return Incoming(name, b"", problem="is a folder, not a file")
    except OSError as exc:
        return Incoming(name, b"", problem=f"cannot read the file: {exc.strerror or exc}")


def image_files(root: Path) -> list[Path]:
    """Image files below `root`, without descending into symlinked folders (which may lead anywhere, or loop)."""
    out: list[Path] = []
    for folder, dirs, names in os.walk(root, followlinks=False):
        dirs.sort()
        out.extend(Path(folder) / n for n in names if is_image_name(n))
    return sorted(out)


def list_folder_images(root: Path, roots: ImportRoots) -> tuple[Path, list[Path]]:
    """The resolved folder (refused unless it lies inside `roots`) and the image files below it."""
    folder = roots.check(Path(root).expanduser(), "folder")
    if not folder.is_dir():
        raise StudioError(f"{root} is not a folder")
    return folder, image_files(folder)


def import_folder(store: Store, root: Path, *, roots: ImportRoots | None = None, **kwargs: object) -> ImportReport:
    """Import every image below `root`; labels from file-name tags, then the parent folder (relative to root).
    A file that links outside `root` is skipped with its reason. `roots` limits which folders may be read (default:
    the settings' IMPORT_ROOTS policy; the CLI passes anywhere)."""
    require(Permission.IMPORT)  # before walking the folder
    folder, files = list_folder_images(root, ImportRoots.or_settings(roots, store.settings))
    store.remove_stale_temp_files()  # a crashed earlier import may have left some
    items = (read_file(p.relative_to(folder).as_posix(), p, folder, store.settings) for p in files)
    return import_items(store, items, total=len(files), **kwargs)  # type: ignore[arg-type]


def import_manifest(
    store: Store, manifest: Path, *, roots: ImportRoots | None = None, **kwargs: object
) -> ImportReport:
    """Import a CSV manifest with columns path,label[,person]; paths are relative to the CSV's folder and must
    stay inside it. With import roots, the manifest and every file it names must lie inside them, or nothing is
    imported."""
    require(Permission.IMPORT)  # before reading the manifest
    roots = ImportRoots.or_settings(roots, store.settings)
    manifest = roots.check(Path(manifest).expanduser(), "manifest")
    check_import_target(manifest, "manifest")
    base = resolve_path(manifest.parent)
    rows = list(csv.DictReader(manifest.open(newline="", encoding="utf-8")))
    if rows and "path" not in rows[0]:
        raise StudioError(f"{manifest}: needs a 'path' column (and optionally 'label' and 'person')")
    refused = [
        (line, row["path"])
        for line, row in enumerate(rows, start=2)
        if not roots.allows(base / (row.get("path") or ""))
    ]
    if refused:
        # A manifest that reaches outside is a probe or a mistake: refuse all of it rather than import a part.
        listed = "; ".join(f"line {line}: {path}" for line, path in refused[:5])
        more = f" and {len(refused) - 5} more" if len(refused) > 5 else ""
        raise PathNotAllowed(
            f"{manifest.name} names {len(refused)} file(s) outside the import folders ({listed}{more}); "
            f"nothing was imported. {roots.describe()}"
        )
    store.remove_stale_temp_files()  # a crashed earlier import may have left some
    report = ImportReport()

    def gen() -> Iterator[Incoming]:
        for line, row in enumerate(rows, start=2):
            label = (row.get("label") or "").strip()
            emotion = None
            if label:
                try:
                    emotion = normalize_label(label)
                except StudioError as exc:
                    report.warnings.append(f"{manifest.name}, line {line}: {exc}; imported unlabeled")
            read = read_file(row["path"], base / row["path"], base, store.settings)
            yield Incoming(
                row["path"],
                read.data,
                problem=read.problem,
                emotion=emotion,
                label_source="manifest" if emotion else None,
                person=(row.get("person") or "").strip() or None,
            )

    return import_items(store, gen(), total=len(rows), report=report, **kwargs)  # type: ignore[arg-type]
