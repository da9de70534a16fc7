"""`python -m core export --emotion-folders DEST` on a real store: the view of the labeled training images, linked
or copied, replaced whole, and refused where it would overwrite anything else."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from core.cli import main
from core.export_folders import MARKER, ExportRefused, export_emotion_folders
from core.imaging import encode_png
from core.settings import Settings
from core.store import Store

# (emotion, label source, status): two training emotions, plus images the view leaves out (pool, held-out test set).
IMAGES = [
    ("happy", "human", None),
    ("happy", "filename", None),
    ("sad", "llm", None),
    (None, None, None),
    ("angry", "human", "test"),
]


@pytest.fixture
def stocked(app_env: Settings) -> tuple[Store, list[int]]:
    store = Store(app_env)
    rng = np.random.default_rng(3)
    ids = []
    for emotion, source, status in IMAGES:
        data = encode_png(rng.integers(0, 255, (10, 10, 3), dtype=np.uint8))
        ids.append(store.add_image(data, emotion=emotion, label_source=source, status=status).image_id)
    return store, ids


def _view(dest: Path) -> dict[str, bytes]:
    return {p.relative_to(dest).as_posix(): p.read_bytes() for p in dest.rglob("*") if p.is_file()}


def _store_file(store: Store, image_id: int) -> Path:
    record = store.get(image_id)
    assert record is not None
    return store.absolute_path(record)


def test_the_cli_builds_the_view_of_the_training_images(
    stocked: tuple[Store, list[int]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, ids = stocked
    dest = tmp_path / "by-emotion"
    assert main(["export", "--emotion-folders", str(dest)]) == 0
    assert "3 images in" in capsys.readouterr().out
    view = _view(dest)
    sources = {
        f"{e}/{_store_file(store, i).name}": _store_file(store, i)
        for i, (e, _, _) in zip(ids[:3], IMAGES[:3], strict=True)
    }
    assert {k: v for k, v in view.items() if k != MARKER} == {k: p.read_bytes() for k, p in sources.items()}
    assert sorted(json.loads(view[MARKER])["files"]) == sorted(sources)
    # Hard links: the same bytes on disk, not a copy; the store's files stay where they are.
    assert all((dest / name).stat().st_ino == path.stat().st_ino for name, path in sources.items())
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary folder left


def test_a_new_export_replaces_the_earlier_view_whole(stocked: tuple[Store, list[int]], tmp_path: Path) -> None:
    store, ids = stocked
    dest = tmp_path / "view"
    export_emotion_folders(store, dest)
    store.update(ids[0], emotion="surprise")  # relabeled on the Data page: the label lives in the database only
    report = export_emotion_folders(store, dest, copy=True)
    name = _store_file(store, ids[0]).name
    assert (dest / "surprise" / name).is_file() and not (dest / "happy" / name).exists()
    assert report.counts == {"happy": 1, "sad": 1, "surprise": 1} and report.copied == 3 and report.linked == 0
    assert (dest / "surprise" / name).stat().st_ino != _store_file(store, ids[0]).stat().st_ino  # copied


def test_unrelated_files_are_never_overwritten(
    stocked: tuple[Store, list[int]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, _ = stocked
    busy = tmp_path / "holiday-photos"
    (busy / "happy").mkdir(parents=True)
    (busy / "happy" / "me.jpg").write_bytes(b"precious")
    assert main(["export", "--emotion-folders", str(busy)]) == 2
    assert "is not empty and is not an earlier emotion-folder export" in capsys.readouterr().err
    assert _view(busy) == {"happy/me.jpg": b"precious"}

    view = tmp_path / "view"
    export_emotion_folders(store, view)
    (view / "notes.txt").write_text("mine")  # someone added a file to an earlier view
    before = _view(view)
    with pytest.raises(ExportRefused, match="also holds 1 other file"):
        export_emotion_folders(store, view)
    assert _view(view) == before

    with pytest.raises(ExportRefused, match="inside the store's image folder"):
        export_emotion_folders(store, store.data_root / "images" / "by-emotion")
    (tmp_path / "a-file").write_text("x")
    with pytest.raises(ExportRefused, match="is a file"):
        export_emotion_folders(store, tmp_path / "a-file")


def test_a_failure_half_way_leaves_the_earlier_view_untouched(
    stocked: tuple[Store, list[int]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store, _ = stocked
    dest = tmp_path / "view"
    export_emotion_folders(store, dest)
    before = _view(dest)
    real_copy, calls = shutil.copy2, []

    def disk_full_at_the_second_file(src: Path, dst: Path) -> object:
        calls.append(src)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real_copy(src, dst)

    monkeypatch.setattr(shutil, "copy2", disk_full_at_the_second_file)
    with pytest.raises(OSError, match="No space left"):
        export_emotion_folders(store, dest, copy=True)
    assert _view(dest) == before
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_out_and_copy_go_with_their_own_exports(app_env: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--emotion-folders", "x", "--out", "y"]) == 2
    assert "--out names where the landmark tables go" in capsys.readouterr().err
    assert main(["export", "--copy"]) == 2
    assert "--copy goes with --emotion-folders" in capsys.readouterr().err
