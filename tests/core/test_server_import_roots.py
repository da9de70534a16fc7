"""Import roots set by an admin from the dashboard (stored in `server_settings`): only admins change them, paths are
checked and resolved before they are stored, who and when are recorded, and they take effect at once on dashboard
imports (a path outside is refused), on SQLite and PostgreSQL. A reset brings back the settings' IMPORT_ROOTS."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from core import ingest
from core.auth import PermissionDenied, Role, User, acting_as
from core.errors import PathNotAllowed, StudioError
from core.imaging import encode_png
from core.import_roots import (
    ImportRoots,
    check_import,
    reset_import_roots,
    set_import_roots,
    stored_import_roots,
)
from core.settings import Settings
from core.store import Store
from tests.postgres import scratch_database

ADMIN = User("ada@example.org", Role.ADMIN)
TRAINER = User("tom@example.org", Role.TRAINER)
VIEWER = User("vera@example.org", Role.VIEWER)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def team(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Settings]:
    """Team-mode settings (default root: DATA_ROOT/inbox) on a fresh database."""
    team = settings.model_copy(update={"auth_mode": "team"})
    if request.param == "sqlite":
        yield team
        return
    with scratch_database() as url:
        yield team.model_copy(update={"database_url": url})


def _faces(folder: Path, variants: list[np.ndarray], n: int = 1) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (folder / f"happy_{folder.name}_{i}.png").write_bytes(encode_png(variants[i]))
    return folder


def test_only_admins_change_the_import_roots(team: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "datasets"
    folder.mkdir()
    for who in (VIEWER, TRAINER):
        with acting_as(who), pytest.raises(PermissionDenied, match="change import roots needs the admin role"):
            set_import_roots(team, [str(folder)])
        with acting_as(who), pytest.raises(PermissionDenied):
            reset_import_roots(team)
    assert stored_import_roots(team) is None
    assert ImportRoots.from_settings(team).roots == (team.data_root.resolve() / "inbox",)


def test_paths_are_checked_and_resolved_before_they_are_stored(team: Settings, tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    (tmp_path / "a-file.txt").write_text("x")
    (tmp_path / "link").symlink_to(real)
    with acting_as(ADMIN):
        with pytest.raises(StudioError) as err:
            set_import_roots(team, ["relative/folder", str(tmp_path / "missing"), str(tmp_path / "a-file.txt")])
        message = str(err.value)
        assert "relative/folder is not an absolute path" in message
        assert f"{tmp_path / 'missing'} does not exist" in message and "a-file.txt is not a folder" in message
        assert stored_import_roots(team) is None  # a list with any bad path is refused whole

        before = datetime.now(UTC)
        stored = set_import_roots(team, [f"{tmp_path}/link", "", f"{real}/../real", str(real)])
    assert stored.roots == (real.resolve(),)  # the link and `..` resolved, the duplicates once, blanks dropped
    again = stored_import_roots(team)
    assert again is not None and again.roots == (real.resolve(),) and again.changed_by == ADMIN.id
    assert before - timedelta(seconds=5) <= again.changed_at <= datetime.now(UTC) + timedelta(seconds=5)
    # Replacing the link's target later changes nothing: the resolved folder was stored.
    (tmp_path / "link").unlink()
    (tmp_path / "link").symlink_to(tmp_path)
    assert ImportRoots.from_settings(team).roots == (real.resolve(),)


def test_roots_take_effect_on_dashboard_imports_and_reset_restores_the_settings(
    team: Settings, tmp_path: Path, face_variants: list[np.ndarray]
) -> None:
    store = Store(team)
    inbox = _faces(team.data_root / "inbox" / "old", face_variants)
    datasets = _faces(tmp_path / "datasets" / "new", face_variants[1:], n=2)
    # Before: the team-mode default, DATA_ROOT/inbox.
    with acting_as(TRAINER), pytest.raises(PathNotAllowed, match="outside the import folders"):
        check_import(ImportRoots.from_settings(team), datasets, "folder")
    with acting_as(ADMIN):
        set_import_roots(team, [str(tmp_path / "datasets")])
    with acting_as(TRAINER):  # the dashboard's import (roots from the settings and the database) follows at once
        assert ingest.import_folder(store, check_import(ImportRoots.from_settings(team), datasets, "folder")).added == 2
        with pytest.raises(PathNotAllowed, match=f"only imports from: {tmp_path / 'datasets'}"):
            check_import(ImportRoots.from_settings(team), inbox, "folder")  # the old root is no longer one
        manifest = tmp_path / "datasets" / "list.csv"
        manifest.write_text(f"path,label\n{inbox / 'happy_old_0.png'},happy\n")
        with pytest.raises(PathNotAllowed):
            ingest.import_manifest(store, manifest)  # a manifest inside may not name a file outside
        assert ingest.import_folder(store, ImportRoots.anywhere().check(inbox)).added == 1  # the CLI's way
    with acting_as(ADMIN):
        set_import_roots(team, [])
    assert ImportRoots.from_settings(team).roots == ()  # an empty list: no server-side import at all
    with acting_as(TRAINER), pytest.raises(PathNotAllowed, match=r"\(none\)"):
        check_import(ImportRoots.from_settings(team), datasets, "folder")
    with acting_as(ADMIN):
        assert reset_import_roots(team) and not reset_import_roots(team)
    with acting_as(TRAINER):
        assert check_import(ImportRoots.from_settings(team), inbox, "folder") == inbox.resolve()
    assert stored_import_roots(team) is None
