"""IMPORT_ROOTS: dashboard imports read only under the import folders, with `..` and symlinks resolved first.

A real store, real files and real symlinks in a temporary folder: `inbox` is the allowed root (the team-mode default,
DATA_ROOT/inbox), `private` a folder next to it that must stay unreadable from the dashboard.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core import ingest
from core.db import dispose_engine
from core.errors import PathNotAllowed, StudioError
from core.imaging import encode_jpeg, encode_png
from core.import_roots import ImportRoots, check_import
from core.layouts import check_layout_import
from core.settings import Settings, get_settings
from core.store import Store

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def team_store(settings: Settings) -> Iterator[Store]:
    team = settings.model_copy(update={"auth_mode": "team"})
    yield Store(team)
    dispose_engine(team.resolved_database_url)


@pytest.fixture
def inbox(team_store: Store, face_variants: list[np.ndarray]) -> Path:
    folder = team_store.settings.data_root / "inbox" / "faces"
    (folder / "happy").mkdir(parents=True)
    (folder / "happy" / "a.png").write_bytes(encode_png(face_variants[0]))
    (folder / "b.jpg").write_bytes(encode_jpeg(face_variants[1]))
    return folder


@pytest.fixture
def private(tmp_path: Path, face_variants: list[np.ndarray]) -> Path:
    """Someone's photos outside every import folder."""
    folder = tmp_path / "private"
    folder.mkdir()
    (folder / "sad_holiday.png").write_bytes(encode_png(face_variants[5]))
    return folder


def test_default_roots_follow_the_mode(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings.resolved_import_roots is None and ImportRoots.from_settings(settings).unrestricted
    team = settings.model_copy(update={"auth_mode": "team"})
    assert team.resolved_import_roots == [settings.data_root / "inbox"]
    monkeypatch.setenv("IMPORT_ROOTS", "/srv/a, /srv/b")
    assert Settings(_env_file=None).import_roots == [Path("/srv/a"), Path("/srv/b")]  # type: ignore[call-arg]
    monkeypatch.setenv("IMPORT_ROOTS", '["/srv/c"]')
    # Set explicitly, the roots apply in local mode too.
    assert Settings(_env_file=None, auth_mode="local").resolved_import_roots == [Path("/srv/c")]  # type: ignore[call-arg]


def test_folder_inside_the_inbox_imports(team_store: Store, inbox: Path) -> None:
    report = ingest.import_folder(team_store, inbox)
    assert (report.added, report.skipped) == (2, [])
    assert sorted(r.original_name for r in team_store.list_images()) == ["b.jpg", "happy/a.png"]


def _dashboard(store: Store) -> ImportRoots:
    """The roots a dashboard import is checked against (by the page, and again by its job)."""
    return ImportRoots.from_settings(store.settings)


def test_absolute_path_outside_is_refused(team_store: Store, inbox: Path, private: Path) -> None:
    with pytest.raises(PathNotAllowed, match="outside the import folders") as err:
        check_import(_dashboard(team_store), private, "folder")
    assert str(team_store.settings.data_root / "inbox") in str(err.value)  # it says where imports may come from
    with pytest.raises(PathNotAllowed):
        check_import(_dashboard(team_store), Path("/usr/share"), "folder")
    assert team_store.count() == 0


def test_dotdot_out_of_the_inbox_is_refused(team_store: Store, inbox: Path, private: Path) -> None:
    sneaky = inbox / ".." / ".." / ".." / private.name
    assert sneaky.resolve() == private.resolve()  # the path does lead to the private folder
    with pytest.raises(PathNotAllowed):
        check_import(_dashboard(team_store), sneaky, "folder")
    assert team_store.count() == 0


def test_symlinked_folder_pointing_out_is_refused(team_store: Store, inbox: Path, private: Path) -> None:
    link = inbox.parent / "looks-inside"
    link.symlink_to(private, target_is_directory=True)
    with pytest.raises(PathNotAllowed):
        check_import(_dashboard(team_store), link, "folder")
    assert team_store.count() == 0


def test_symlinked_file_pointing_out_is_skipped_the_rest_imports(team_store: Store, inbox: Path, private: Path) -> None:
    (inbox / "happy" / "c.png").symlink_to(private / "sad_holiday.png")
    report = ingest.import_folder(team_store, inbox)
    assert report.added == 2
    assert report.skipped == [("happy/c.png", ingest.OUTSIDE_FOLDER)]
    assert "happy/c.png" not in {r.original_name for r in team_store.list_images()}


def _manifest(folder: Path, paths: list[str]) -> Path:
    path = folder / "manifest.csv"
    pd.DataFrame({"path": paths, "label": ["happy"] * len(paths)}).to_csv(path, index=False)
    return path


@pytest.mark.parametrize("evil", ["/etc/passwd", "../../../private/sad_holiday.png", "ABSOLUTE_PRIVATE"])
def test_manifest_naming_a_file_outside_is_refused_whole(
    team_store: Store, inbox: Path, private: Path, evil: str
) -> None:
    evil = str(private / "sad_holiday.png") if evil == "ABSOLUTE_PRIVATE" else evil
    manifest = _manifest(inbox, ["happy/a.png", evil, "b.jpg"])
    with pytest.raises(PathNotAllowed) as err:
        ingest.import_manifest(team_store, manifest)
    message = str(err.value)
    assert "line 3" in message and evil in message and "nothing was imported" in message
    assert "root:" not in message  # nothing of the named file is read or quoted
    assert team_store.count() == 0


def test_manifest_inside_imports_and_manifest_outside_is_refused(team_store: Store, inbox: Path, private: Path) -> None:
    report = ingest.import_manifest(team_store, _manifest(inbox, ["happy/a.png", "b.jpg"]))
    assert report.added == 2
    with pytest.raises(PathNotAllowed, match="manifest"):
        check_import(_dashboard(team_store), _manifest(private, ["sad_holiday.png"]), "manifest")
    assert team_store.count() == 2


def _yolo(root: Path, rgb: np.ndarray) -> Path:
    (root / "train" / "images").mkdir(parents=True)
    (root / "train" / "labels").mkdir(parents=True)
    (root / "data.yaml").write_text("names: ['angry', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise']\n")
    (root / "train" / "images" / "a.jpg").write_bytes(encode_jpeg(rgb))
    (root / "train" / "labels" / "a.txt").write_text("3 0.44 0.245 0.18 0.21\n")
    return root


def test_yolo_dataset_inside_imports_outside_or_linking_out_is_refused(
    team_store: Store, inbox: Path, private: Path, astronaut_rgb: np.ndarray
) -> None:
    dataset = _yolo(inbox.parent / "yolo", astronaut_rgb)
    assert ingest.import_yolo(team_store, dataset).added == 1
    with pytest.raises(PathNotAllowed):
        check_import(_dashboard(team_store), _yolo(private / "yolo", astronaut_rgb), "yolo")
    # A label file linked to /etc/passwd would be parsed, and its first line quoted in the format error.
    evil = _yolo(inbox.parent / "evil-yolo", astronaut_rgb[:, ::-1].copy())
    (evil / "train" / "labels" / "a.txt").unlink()
    (evil / "train" / "labels" / "a.txt").symlink_to("/etc/passwd")
    with pytest.raises(PathNotAllowed, match="links outside") as err:
        check_import(_dashboard(team_store), evil, "yolo")
    assert "root:" not in str(err.value)
    assert team_store.count() == 1


def test_local_mode_imports_anywhere(store: Store, private: Path) -> None:
    assert not store.settings.team_mode
    assert ingest.import_folder(store, private).added == 1


def test_cli_keeps_full_access_in_team_mode(settings: Settings, private: Path) -> None:
    env = {**os.environ, "AUTH_MODE": "team", "DATA_ROOT": str(settings.data_root)}
    env.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-m", "core", "import", str(private)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "1 added" in done.stdout


def test_data_page_refuses_a_path_outside_and_never_says_whether_it_exists(
    app_env: Settings, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, private: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    monkeypatch.setenv("IMPORT_ROOTS", str(inbox))
    get_settings.cache_clear()
    at = AppTest.from_file(str(ROOT / "pages" / "1_Data.py"), default_timeout=60).run()
    assert any(str(inbox) in c.value for c in at.caption)  # the page says where imports may come from
    for path in (str(private), str(tmp_path / "no-such-folder")):
        at.text_input(key="server_path").input(path).run()
        at.button(key="server_import").click().run()
        assert not at.exception
        errors = " ".join(e.value for e in at.error)
        assert "outside the import folders" in errors and "does not exist" not in errors
    assert Store(get_settings()).count() == 0


def test_the_boundary_check_says_what_is_wrong_with_a_path_inside(team_store: Store, inbox: Path) -> None:
    roots = _dashboard(team_store)
    assert check_import(roots, inbox / "happy" / ".." / "b.jpg", "manifest") == (inbox / "b.jpg").resolve()
    with pytest.raises(StudioError, match="is a file"):
        check_import(roots, inbox / "b.jpg", "folder")
    with pytest.raises(StudioError, match="is a folder"):
        check_import(roots, inbox, "manifest")
    with pytest.raises(StudioError, match="does not exist"):
        check_import(roots, inbox / "gone", "folder")
    with pytest.raises(StudioError, match="unknown layout"):
        check_layout_import(roots, inbox, "no-such-layout")
    with pytest.raises(PathNotAllowed):
        check_layout_import(roots, Path("/etc"), "fer2013")  # the roots come first, before the layout
    assert check_import(roots, inbox, "layout") == inbox.resolve()  # without a layout: the job resolves it later
