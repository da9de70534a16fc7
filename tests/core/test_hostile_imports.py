"""Hostile imports: bombs among good images, zip bombs, symlinks out of the folder, truncated files, label
conflicts, missing files, bad YOLO lines, and temp files left by a crash. The batch always goes on."""

from __future__ import annotations

import io
import os
import struct
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from core import ingest
from core.batch_uploads import stage_uploads
from core.errors import DatasetFormatError
from core.imaging import encode_jpeg, encode_png
from core.landmarks.batch import extract_store
from core.settings import Settings, get_settings
from core.store import Store
from core.yolo import read_yolo_dataset
from tests.core.hostile import jpeg_header_only, png_bomb, truncated

ROOT = Path(__file__).resolve().parents[2]


def _noise_png(seed: int, side: int = 420) -> bytes:
    """An incompressible PNG of about side*side*3 bytes."""
    return encode_png(np.random.default_rng(seed).integers(0, 256, (side, side, 3), dtype=np.uint8))


def _zip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compression) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


@pytest.mark.slow
def test_cli_import_skips_a_bomb_and_imports_the_rest(tmp_path: Path, face_variants: list[np.ndarray]) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "happy_0.png").write_bytes(encode_png(face_variants[0]))
    (src / "happy_1_bomb.png").write_bytes(png_bomb(20000, 20000))  # sorted between the good ones
    (src / "happy_2.png").write_bytes(encode_png(face_variants[2]))
    env = {**os.environ, "DATA_ROOT": str(tmp_path / "data"), "DATABASE_URL": ""}
    env.pop("MAX_IMAGE_PIXELS", None)
    proc = subprocess.run(
        [sys.executable, "-m", "core", "import", str(src)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "2 added" in proc.stdout and "1 skipped" in proc.stdout
    assert "skipped happy_1_bomb.png: the image is too large" in proc.stdout

    # The same from a zip given by path (read member by member, not whole): the bomb member is skipped too.
    archive = tmp_path / "set.zip"
    archive.write_bytes(_zip({"sad_3.png": encode_png(face_variants[3]), "sad_bomb.png": png_bomb(20000, 20000)}))
    proc = subprocess.run(
        [sys.executable, "-m", "core", "import", str(archive)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "1 added" in proc.stdout and "skipped sad_bomb.png: the image is too large" in proc.stdout


def test_zip_members_over_the_limits_are_skipped_with_their_reason(
    settings: Settings, face_variants: list[np.ndarray]
) -> None:
    store = Store(settings.model_copy(update={"import_max_file_mb": 1.0, "zip_max_total_mb": 1.2}))
    good = encode_png(face_variants[0])
    data = _zip(
        {
            "happy_a.png": good,  # ~0.4 MB
            "bomb.png": bytes(50 * 1024 * 1024),  # 50 MB of zeros: 50 KB in the zip
            "sad_b.png": _noise_png(1),  # ~0.5 MB: fits the member limit
            "sad_c.png": _noise_png(2),  # would pass the total of 1.2 MB
        }
    )
    assert len(data) < 2_000_000
    report = ingest.import_zip(store, data)
    reasons = dict(report.skipped)
    assert report.added == 2, report.skipped
    assert "IMPORT_MAX_FILE_MB" in reasons["bomb.png"] and "ZIP_MAX_TOTAL_MB" in reasons["sad_c.png"]


def _lying_zip(real: bytes, claimed: int) -> bytes:
    """A zip whose headers claim `claimed` uncompressed bytes for a member that expands to `real`."""
    data = bytearray(_zip({"happy_lie.png": real}))
    for sig, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local header, central directory
        at = data.index(sig)
        data[at + offset : at + offset + 4] = struct.pack("<I", claimed)
    return bytes(data)


def test_a_zip_header_that_lies_about_the_size_is_not_trusted(settings: Settings) -> None:
    store = Store(settings.model_copy(update={"import_max_file_mb": 1.0}))
    report = ingest.import_zip(store, _lying_zip(bytes(30 * 1024 * 1024), claimed=1000))
    assert report.added == 0 and [name for name, _ in report.skipped] == ["happy_lie.png"]


def test_batch_test_upload_skips_a_huge_member_without_writing_it(
    tmp_path: Path, app_env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMPORT_MAX_FILE_MB", "1")
    get_settings.cache_clear()
    png = encode_png(np.zeros((8, 8, 3), np.uint8))
    files = [("set.zip", _zip({"fear/a.png": png, "fear/huge.png": bytes(40 * 1024 * 1024)}))]
    staged, refused = stage_uploads(files, tmp_path / "stage")
    assert [p.name for p in staged] == ["a.png"]
    assert [n for n, _ in refused] == ["set.zip/fear/huge.png"] and "IMPORT_MAX_FILE_MB" in refused[0][1]
    assert sum(p.stat().st_size for p in (tmp_path / "stage").rglob("*") if p.is_file()) < 10_000


def test_folder_import_does_not_follow_links_outside(store: Store, tmp_path: Path, face_variants: list) -> None:
    outside = tmp_path / "outside"
    (outside / "dir").mkdir(parents=True)
    (outside / "secret.png").write_bytes(encode_png(face_variants[0]))
    (outside / "dir" / "more.png").write_bytes(encode_png(face_variants[1]))
    src = tmp_path / "src"
    (src / "happy").mkdir(parents=True)
    (src / "happy" / "ok.png").write_bytes(encode_png(face_variants[2]))
    (src / "happy" / "link.png").symlink_to(outside / "secret.png")
    (src / "happy" / "inner.png").symlink_to(src / "happy" / "ok.png")  # a link inside the folder is fine
    (src / "linked_dir").symlink_to(outside / "dir", target_is_directory=True)
    report = ingest.import_folder(store, src / "happy" / "..")  # `..` is resolved first, too
    assert report.added == 1 and report.duplicates == 1  # inner.png and ok.png: the same file
    assert [(n, "outside" in r) for n, r in report.skipped] == [("happy/link.png", True)]
    assert [r.original_name for r in store.list_images()] == ["happy/inner.png"]  # nothing from linked_dir


def test_truncated_and_header_only_files_are_refused_at_import(
    store: Store, tmp_path: Path, astronaut_rgb: np.ndarray
) -> None:
    jpeg = encode_jpeg(astronaut_rgb)
    src = tmp_path / "src"
    src.mkdir()
    (src / "happy_cut.jpg").write_bytes(truncated(jpeg))
    (src / "happy_header.jpg").write_bytes(jpeg_header_only(jpeg))
    (src / "happy_cut.png").write_bytes(truncated(encode_png(astronaut_rgb), 0.7))
    (src / "happy_ok.jpg").write_bytes(jpeg)
    report = ingest.import_folder(store, src)
    assert report.added == 1
    assert sorted(n for n, _ in report.skipped) == ["happy_cut.jpg", "happy_cut.png", "happy_header.jpg"]
    assert all("truncated or corrupt" in r for _, r in report.skipped)


def test_duplicate_with_another_label_is_a_conflict(store: Store, tmp_path: Path, face_variants: list) -> None:
    src = tmp_path / "src"
    for folder in ("happy", "sad", "happy2"):
        (src / folder).mkdir(parents=True)
    data = encode_png(face_variants[0])
    (src / "happy" / "a.png").write_bytes(data)
    (src / "sad" / "a.png").write_bytes(data)  # same bytes, another label
    (src / "happy2" / "happy_a.png").write_bytes(data)  # same bytes, same label: a plain duplicate
    report = ingest.import_folder(store, src)
    assert report.added == 1 and report.duplicates == 2
    assert report.conflicts == [("sad/a.png", "happy", "sad")]
    assert "1 label conflicts" in report.summary()
    assert [r.emotion for r in store.list_images()] == ["happy"]  # the stored label is kept


def test_missing_manifest_file_is_reported_as_missing(store: Store, tmp_path: Path, face_variants: list) -> None:
    (tmp_path / "a.png").write_bytes(encode_png(face_variants[0]))
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "m.csv").write_text("path,label\na.png,happy\ngone.png,sad\nempty.png,sad\n../up.png,sad\n")
    report = ingest.import_manifest(store, tmp_path / "m.csv")
    assert report.added == 1
    reasons = dict(report.skipped)
    assert reasons["gone.png"] == "file not found"
    assert reasons["empty.png"] == "the file is empty"
    assert "outside" in reasons["../up.png"]


def _yolo(root: Path, astronaut: np.ndarray, labels: dict[str, str], images: dict[str, bytes] | None = None) -> None:
    (root / "train" / "images").mkdir(parents=True)
    (root / "train" / "labels").mkdir(parents=True)
    (root / "data.yaml").write_text("names: ['angry', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise']\n")
    for i, (stem, text) in enumerate(labels.items()):
        data = (images or {}).get(stem) or encode_jpeg(np.roll(astronaut, i * 7, axis=1))
        (root / "train" / "images" / f"{stem}.jpg").write_bytes(data)
        (root / "train" / "labels" / f"{stem}.txt").write_text(text)


def test_yolo_import_keeps_good_images_and_reports_every_bad_line(
    store: Store, tmp_path: Path, astronaut_rgb: np.ndarray
) -> None:
    face = "3 0.44 0.245 0.18 0.21\n"
    root = tmp_path / "yolo"
    _yolo(
        root,
        astronaut_rgb,
        {"a": face, "b": face + "9 0.5 0.5 0.1 0.1\n1 0.5 0.5 0.1\n", "c": "x 0.5 0.5 0.1 0.1\n", "d": face},
        images={"d": png_bomb(12000, 12000)},
    )
    report = ingest.import_yolo(store, root)
    assert report.added == 1  # a; b and c have bad lines, d is a bomb
    where = [name for name, _ in report.skipped]
    labels = root / "train" / "labels"
    assert where == [
        f"{labels / 'b.txt'}, line 2",
        f"{labels / 'b.txt'}, line 3",
        f"{labels / 'c.txt'}, line 1",
        "train/images/d.jpg",
    ]
    assert "too large" in report.skipped[-1][1]
    # Strict reading (detector training) refuses the dataset and lists every bad line.
    with pytest.raises(DatasetFormatError) as err:
        read_yolo_dataset(root)
    assert all(f"{w}:" in str(err.value) for w in where[:3])


def test_yolo_import_fails_only_when_nothing_is_usable(store: Store, tmp_path: Path, astronaut_rgb: np.ndarray) -> None:
    root = tmp_path / "yolo"
    _yolo(root, astronaut_rgb, {"a": "9 0.5 0.5 0.1 0.1\n", "b": "1 0.5 0.5 0.1\n"})
    with pytest.raises(DatasetFormatError, match="line 1"):
        ingest.import_yolo(store, root)


def test_stale_temp_files_are_removed_when_an_import_starts(store: Store, tmp_path: Path, face_variants: list) -> None:
    folder = store.data_root / "images" / "ab"
    folder.mkdir(parents=True)
    stale, fresh = folder / ".incoming-old.part", folder / ".incoming-new.part"
    stale.write_bytes(b"half a file")
    fresh.write_bytes(b"being written by another import right now")
    hour_ago = time.time() - 3600
    os.utime(stale, (hour_ago, hour_ago))
    src = tmp_path / "src"
    src.mkdir()
    (src / "happy_0.png").write_bytes(encode_png(face_variants[0]))
    ingest.import_folder(store, src)
    assert not stale.exists() and fresh.exists()
    # Extraction cleans up too (before it starts its workers).
    stale.write_bytes(b"left by another crash")
    os.utime(stale, (hour_ago, hour_ago))
    extract_store(store, workers=1)
    assert not stale.exists() and fresh.exists()


def test_a_file_over_the_size_limit_is_skipped_unread(settings: Settings, tmp_path: Path, face_variants: list) -> None:
    store = Store(settings.model_copy(update={"import_max_file_mb": 1.0}))
    src = tmp_path / "src"
    src.mkdir()
    (src / "happy_0.png").write_bytes(encode_png(face_variants[0]))
    with (src / "happy_huge.png").open("wb") as fh:  # sparse: 3 GB on paper, nothing on disk
        fh.truncate(3 * 1024**3)
    report = ingest.import_folder(store, src)
    assert report.added == 1
    assert report.skipped == [("happy_huge.png", "larger than 1 MB (IMPORT_MAX_FILE_MB)")]
