"""The import job: a folder, manifest CSV, YOLO dataset, .zip or public dataset layout on the server into the
store. The Data page's server imports and `python -m core import` run it; a worker reads the files, so a large
folder neither blocks the page nor stops when the tab closes. Re-running it is safe: images already stored are
recognised by their content."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from core.auth import Permission
from core.errors import StudioError
from core.jobs.kinds import Params
from core.jobs.registry import SHORT, JobContext, JobKind, register
from core.schema import STATUS_SUITE

IMPORT = "import"
ImportKind = Literal["folder", "manifest", "yolo", "zip", "layout"]


class ImportParams(Params):
    path: str
    kind: ImportKind = "folder"
    # An evaluation suite's test set: the images go in with the status "suite" (never trained on) and are linked
    # to this suite's domain (`python -m core suites create`).
    suite: str | None = None
    domain: str | None = None
    layout: str = "auto"  # with kind "layout": a name of core.layouts.LAYOUTS, or auto


def import_kind_of(path: Path, *, yolo: bool = False, layout: str | None = None) -> ImportKind:
    """What a path is imported as: a YOLO dataset or a public layout when asked, else by its suffix (.zip, .csv),
    else a folder."""
    if layout is not None:
        return "layout"
    if yolo:
        return "yolo"
    return {".zip": "zip", ".csv": "manifest"}.get(path.suffix.lower(), "folder")  # type: ignore[return-value]


def run_import(params: ImportParams, ctx: JobContext) -> dict[str, Any]:
    """Import under the import roots (anywhere for the operator); the result is the import report."""
    from core import ingest
    from core.import_roots import ImportRoots, check_import
    from core.store import Store

    store = Store()
    roots = ImportRoots.for_acting_user(store.settings)
    path = check_import(roots, params.path, params.kind)  # the one check, before anything is read
    options: dict[str, Any] = {"progress": ctx.progress, "cancel": ctx.cancel}
    if (params.suite is None) != (params.domain is None):
        raise StudioError("a suite's test set needs both the suite and its domain")
    if params.suite is not None:
        options["status"] = STATUS_SUITE
    if params.kind == "layout":
        from core.layouts import import_layout, resolve_layout

        layout = resolve_layout(path, params.layout)
        report = import_layout(store, path, layout, **options)
    elif params.kind == "yolo":
        report = ingest.import_yolo(store, path, **options)
    elif params.kind == "manifest":
        report = ingest.import_manifest(store, path, roots=roots, **options)
    elif params.kind == "zip":
        report = ingest.import_zip(store, path, **options)
    else:
        report = ingest.import_folder(store, path, **options)
    if params.suite is not None and params.domain is not None:
        from core.suites.manage import add_images

        for image_id, reason in add_images(store, params.suite, params.domain, report.image_ids):
            record = store.get(image_id)
            report.skipped.append((record.original_name if record else f"image #{image_id}", reason))
    ctx.progress(report.total, report.total, report.summary())
    return {**report.as_result(), "layout": layout} if params.kind == "layout" else report.as_result()


register(JobKind(IMPORT, "Import", ImportParams, Permission.IMPORT, run_import, resumable=True, lane=SHORT))
