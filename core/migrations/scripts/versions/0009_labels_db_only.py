"""Labels live in the database only (issue 22): images that active learning approved used to move to
`images/train/<emotion>/`; their files go back to the content-addressed `images/<sha[:2]>/<sha><ext>` and their rows
say so.

Safe to run again after a crash: each file is moved before its row is updated, and a row is updated only when its
file is in place. A run killed half-way leaves moved files whose rows were rolled back; the next run finds them at
the content-addressed path and only updates the rows. A row whose file is at neither place keeps its path (nothing
is lost, and it is logged).

Revision ID: 0009_labels_db_only
Revises: 0008_pool_drop_generation_leases
Create Date: 2026-12-07
"""

from __future__ import annotations

import logging
import os
from pathlib import Path, PurePosixPath

import sqlalchemy as sa
from alembic import context, op

revision: str = "0009_labels_db_only"
down_revision: str | None = "0008_pool_drop_generation_leases"
branch_labels: str | None = None
depends_on: str | None = None

log = logging.getLogger("core.migrations")

# The table as this revision knows it (not the ORM class, which may change in later revisions).
_images = sa.table("images", sa.column("id", sa.Integer), sa.column("sha256", sa.String), sa.column("path", sa.String))


def _data_root() -> Path:
    given = context.config.attributes.get("data_root")
    if given is not None:
        return Path(given)
    from core.settings import get_settings  # the `alembic` command line: the same settings that named the database

    return Path(get_settings().data_root)


def content_path(sha256: str, old_path: str) -> str:
    """Where the store puts a file of these bytes (the same rule as core.store.files, fixed at this revision)."""
    return f"images/{sha256[:2]}/{sha256}{PurePosixPath(old_path).suffix}"


def _move_home(root: Path, old: str, new: str) -> bool:
    """Put the file of `old` at `new` (if it is not there already); False when it is at neither place."""
    source, target = root / old, root / new
    if target.is_file():
        return True  # an earlier, interrupted run moved it (or it never left)
    if not source.is_file():
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)
    return True


def _remove_empty_folders(folder: Path) -> None:
    if not folder.is_dir():
        return
    for sub in sorted((p for p in folder.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
        if not any(sub.iterdir()):
            sub.rmdir()
    if not any(folder.iterdir()):
        folder.rmdir()


def upgrade() -> None:
    root = _data_root()
    conn = op.get_bind()
    # Only rows outside `images/<two characters>/` can be elsewhere (`_` matches one character in LIKE).
    query = (
        sa.select(_images.c.id, _images.c.sha256, _images.c.path)
        .where(~_images.c.path.like("images/__/%"))
        .order_by(_images.c.id)
    )
    rows = conn.execute(query).all()
    missing = []
    for image_id, sha, path in rows:
        home = content_path(sha, path)
        if path == home:
            continue
        if not _move_home(root, path, home):
            missing.append(image_id)
            continue
        conn.execute(sa.update(_images).where(_images.c.id == image_id).values(path=home))
    if missing:
        log.warning(
            "%d image files were found neither where their rows say nor at their content-addressed path under %s; "
            "those rows keep their paths (first ids: %s)",
            len(missing),
            root,
            ", ".join(f"#{i}" for i in missing[:10]),
        )
    _remove_empty_folders(root / "images" / "train")


def downgrade() -> None:
    # Earlier code reads each file where its row says, so content-addressed paths serve it as they are.
    pass
