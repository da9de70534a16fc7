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
        ("evil.zip", zip_of({"../escape.png": png})),
        ("not-a-zip.zip", b"PK garbage"),
        ("set.zip", zip_of({"fear/a.png": png, "readme.md": b"x"})),
    ]
    staged, refused = stage_uploads(files, tmp_path / "stage")
    names = sorted(p.relative_to(tmp_path / "stage").as_posix() for p in staged)
    assert names == ["happy_1-2.png", "happy_1.png", "sad_2.png", "set/fear/a.png"]
    reasons = dict(refused)
    assert set(reasons) == {"notes.txt", "empty.jpg", "evil.zip", "not-a-zip.zip", "set.zip/readme.md"}
    assert "outside" in reasons["evil.zip"] and "not a valid .zip" in reasons["not-a-zip.zip"]
    assert not (tmp_path / "escape.png").exists()
    labels = {p.path.name: p.label for p in items_from_path(tmp_path / "stage")}
    assert labels == {"happy_1.png": "happy", "happy_1-2.png": "happy", "sad_2.png": "sad", "a.png": "fear"}


def test_thumbnail_uri(tmp_path: Path) -> None:
    good = tmp_path / "a.png"
    good.write_bytes(encode_png(np.full((300, 200, 3), 90, np.uint8)))
    bad = tmp_path / "b.jpg"
    bad.write_bytes(b"nope")
    uri = thumbnail_uri(good)
    assert uri is not None and uri.startswith("data:image/jpeg;base64,")
    assert thumbnail_uri(bad) is None and thumbnail_uri(tmp_path / "missing.png") is None
