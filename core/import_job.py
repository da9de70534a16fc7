"""The import job: a folder, manifest CSV, YOLO dataset, .zip or public dataset layout on the server into the
store. The Data page's server imports and `python -m core import` run it; a worker reads the files, so a large
folder neither blocks the page nor stops when the tab closes. Re-running it is safe: images already stored are
recognised by their content."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from core.auth import Permission
from core.errors import StudioError
from core.import_targets import ImportKind
from core.jobs.contract import SHORT, JobContext, JobKind, Params, Result

if TYPE_CHECKING:
    from core.ingest import ImportReport

IMPORT = "import"


class ImportParams(Params):
    path: str
    kind: ImportKind = "folder"
    # An evaluation suite's test set: the images go in with the status "suite" (never trained on) and are linked
    # to this suite's domain (`python -m core suites create`).
    suite: str | None = None
    domain: str | None = None
    layout: str = "auto"  # with kind "layout": a name of core.layouts.LAYOUTS, or auto


class ImportResult(Result):
    """core.ingest.ImportReport as a job result: each list cut to 500 entries, the counts exact."""

    added: int = 0
    duplicates: int = 0
    skipped: list[tuple[str, str]] = Field(default_factory=list)  # (name, reason)
    skipped_count: int = 0
    conflicts: list[tuple[str, str, str]] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    image_ids: list[int] = Field(default_factory=list)
    cancelled: bool = False
    summary: str = ""
    layout: str | None = None  # with kind "layout": the layout it was read as

    @staticmethod
    def report_of(result: ImportResult | None) -> ImportReport:
        """`result.report()`, an empty report for a job without a result."""
        return (result or ImportResult()).report()

    def report(self) -> ImportReport:
        """The report again (lists as cut), for the widgets that show an import report."""
        from core.ingest import ImportReport

        fields = self.model_dump(include={"added", "duplicates", "conflicts", "warnings", "image_ids", "cancelled"})
        return ImportReport(**fields, skipped=list(self.skipped))


def _import(params: ImportParams, path: Path, ctx: JobContext, roots: Any, options: dict[str, Any]) -> Any:
    """The import itself, by kind; (its report, the layout it was read as)."""
    from core import ingest

    store = ctx.store
    if params.kind == "layout":
        from core.layouts import import_layout, resolve_layout

        layout = resolve_layout(path, params.layout)
        return import_layout(store, path, layout, **options), layout
    if params.kind == "yolo":
        return ingest.import_yolo(store, path, **options), None
    if params.kind == "manifest":
        return ingest.import_manifest(store, path, roots=roots, **options), None
    if params.kind == "zip":
        return ingest.import_zip(store, path, **options), None
    return ingest.import_folder(store, path, **options), None


def run_import(params: ImportParams, ctx: JobContext) -> ImportResult:
    """Import under the import roots (anywhere for the operator); the result is the import report."""
    from core.import_roots import ImportRoots, check_import
    from core.schema import STATUS_SUITE

    roots = ImportRoots.for_acting_user(ctx.settings)
    path = check_import(roots, params.path, params.kind)  # the one check, before anything is read
    options: dict[str, Any] = {"progress": ctx.progress, "cancel": ctx.cancel}
    if (params.suite is None) != (params.domain is None):
        raise StudioError("a suite's test set needs both the suite and its domain")
    if params.suite is not None:
        options["status"] = STATUS_SUITE
    report, layout = _import(params, path, ctx, roots, options)
    if params.suite is not None and params.domain is not None:
        from core.suites.manage import add_images

        for image_id, reason in add_images(ctx.store, params.suite, params.domain, report.image_ids):
            record = ctx.store.get(image_id)
            report.skipped.append((record.original_name if record else f"image #{image_id}", reason))
    ctx.progress(report.total, report.total, report.summary())
    return ImportResult.model_validate({**report.as_result(), "layout": layout})


IMPORT_KIND = JobKind(
    IMPORT, "Import", ImportParams, ImportResult, Permission.IMPORT, run_import, resumable=True, lane=SHORT
)
