"""Staging of Batch test uploads: images, zips, and refusals that never stop the other uploads."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from core.batch_uploads import stage_uploads, thumbnail_uri
from core.evaluation import items_from_path
from core.imaging import encode_png


def zip_of(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_stage_uploads_keeps_labels_and_refuses_bad_uploads(tmp_path: Path) -> None:
    png = encode_png(np.zeros((8, 8, 3), np.uint8))
    files = [
        ("happy_1.png", png),
        ("happy_1.png", png),  # the same name twice: both kept, the label still leads the name
        ("../../etc/sad_2.png", png),  # a path in the name: only the file name is used
        ("notes.txt", b"hello"),
        ("empty.jpg", b""),
        ("evil.zip", zip_of({"../escape.png": png, "ok/happy.png": png})),  # the bad member alone is refused
        ("not-a-zip.zip", b"PK garbage"),
        ("set.zip", zip_of({"fear/a.png": png, "readme.md": b"x"})),
    ]
    staged, refused = stage_uploads(files, tmp_path / "stage")
    names = sorted(p.relative_to(tmp_path / "stage").as_posix() for p in staged)
    assert names == ["evil/ok/happy.png", "happy_1-2.png", "happy_1.png", "sad_2.png", "set/fear/a.png"]
    reasons = dict(refused)
    assert set(reasons) == {"notes.txt", "empty.jpg", "evil.zip/../escape.png", "not-a-zip.zip", "set.zip/readme.md"}
    assert "outside" in reasons["evil.zip/../escape.png"] and "not a valid .zip" in reasons["not-a-zip.zip"]
    assert not (tmp_path / "escape.png").exists()
    labels = {p.path.name: p.label for p in items_from_path(tmp_path / "stage")}
    assert labels == {
        "happy_1.png": "happy",
        "happy_1-2.png": "happy",
        "sad_2.png": "sad",
        "a.png": "fear",
        "happy.png": "happy",
    }


def test_thumbnail_uri(tmp_path: Path) -> None:
    good = tmp_path / "a.png"
    good.write_bytes(encode_png(np.full((300, 200, 3), 90, np.uint8)))
    bad = tmp_path / "b.jpg"
    bad.write_bytes(b"nope")
    uri = thumbnail_uri(good)
    assert uri is not None and uri.startswith("data:image/jpeg;base64,")
    assert thumbnail_uri(bad) is None and thumbnail_uri(tmp_path / "missing.png") is None


def test_staged_upload_folder_is_complete_or_absent_and_stale_ones_are_swept(tmp_path: Path) -> None:
    import os

    from core.batch_uploads import stage_upload_folder, sweep_uploads, uploads_root
    from core.settings import Settings

    settings = Settings(_env_file=None, data_root=tmp_path / "data", import_max_file_mb=1)  # type: ignore[call-arg]
    png = encode_png(np.zeros((8, 8, 3), np.uint8))
    big = b"\x89PNG" + b"\0" * (2 * 1024 * 1024)
    up = stage_upload_folder([("happy_1.png", png), ("huge.png", big)], settings)
    assert up.folder == uploads_root(settings) / up.upload_id and up.folder.is_dir()
    assert [p.name for p in up.staged] == ["happy_1.png"] and all(p.is_file() for p in up.staged)
    assert "IMPORT_MAX_FILE_MB" in dict(up.refused)["huge.png"]
    nothing = stage_upload_folder([("x.txt", b"x")], settings)
    assert not nothing.staged and not nothing.folder.exists()
    assert sorted(p.name for p in uploads_root(settings).iterdir()) == [up.upload_id]  # no half-written folder

    kept = stage_upload_folder([("sad_1.png", png)], settings)
    old = stage_upload_folder([("fear_1.png", png)], settings)
    for folder in (kept.folder, old.folder):
        os.utime(folder, (1, 1))  # long ago
    removed = sweep_uploads(settings, keep={kept.upload_id})
    assert removed == [old.upload_id]
    assert kept.folder.is_dir() and up.folder.is_dir()  # a queued job's folder and a fresh one stay
