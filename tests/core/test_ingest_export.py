"""Import from folders, zips, manifests and YOLO datasets; export of landmarks.csv and Parquet."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import archives, ingest
from core.export import export_all
from core.imaging import encode_jpeg, encode_png
from core.landmarks.batch import extract_store
from core.schema import BLENDSHAPE_COLUMNS, LANDMARK_COLUMNS
from core.store import Store
from core.yolo import read_label_file

ROOT = Path(__file__).resolve().parents[2]


def _zip(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_folder_import_labels_from_name_then_folder(store: Store, tmp_path: Path, face_variants: list) -> None:
    src = tmp_path / "src"
    (src / "sad").mkdir(parents=True)
    (src / "misc").mkdir()
    (src / "happy_0042.jpg").write_bytes(encode_jpeg(face_variants[0]))
    (src / "sad" / "IMG_1.png").write_bytes(encode_png(face_variants[1]))
    (src / "misc" / "IMG_2.png").write_bytes(encode_png(face_variants[2]))
    (src / "notes.txt").write_text("not an image")
    (src / "empty.png").write_bytes(b"")
    report = ingest.import_folder(store, src)
    assert (report.added, report.duplicates) == (3, 0)
    assert report.skipped == [("empty.png", "the file is empty")]
    assert any("misc" in w for w in report.warnings)
    by_name = {r.original_name: r for r in store.list_images()}
    assert (by_name["happy_0042.jpg"].emotion, by_name["happy_0042.jpg"].label_source) == ("happy", "filename")
    assert (by_name["sad/IMG_1.png"].emotion, by_name["sad/IMG_1.png"].label_source) == ("sad", "folder")
    assert by_name["misc/IMG_2.png"].emotion is None and by_name["misc/IMG_2.png"].status == "pool"
    again = ingest.import_folder(store, src)
    assert (again.added, again.duplicates) == (0, 3)


def test_zip_import(store: Store, face_variants: list) -> None:
    data = _zip(
        {
            "batch/surprise-12.png": encode_png(face_variants[0]),
            "angry/x.png": encode_png(face_variants[1]),
            "readme.md": b"hi",
            "__MACOSX/._x.png": b"junk",
        }
    )
    report = ingest.import_zip(store, data)
    assert report.added == 2
    assert sorted(r.emotion for r in store.list_images()) == ["angry", "surprise"]
    assert ("readme.md", "not an image file name") in report.skipped


@pytest.mark.parametrize("evil", ["../escape.png", "/etc/evil.png", "a/../../evil.png", "C:/evil.png"])
def test_an_escaping_member_is_refused_alone_and_the_rest_imported(
    store: Store, tmp_path: Path, evil: str, astronaut_png: bytes, face_variants: list
) -> None:
    data = _zip({"happy/ok.png": encode_png(face_variants[0]), evil: astronaut_png})
    report = ingest.import_zip(store, data)
    assert report.added == 1 and [r.original_name for r in store.list_images()] == ["happy/ok.png"]
    assert report.skipped == [(evil, archives.ESCAPING_MEMBER)] and "outside" in report.skipped[0][1]
    extracted, skipped = archives.safe_extract_zip(data, tmp_path / "out")
    assert extracted == [(tmp_path / "out" / "happy" / "ok.png").resolve()]
    assert skipped == [(evil, archives.ESCAPING_MEMBER)]
    assert not (tmp_path / "escape.png").exists() and not (tmp_path / "evil.png").exists()


def test_not_a_zip(store: Store) -> None:
    with pytest.raises(ValueError, match=r"not a valid \.zip"):
        ingest.import_zip(store, b"PK\x03\x04 broken")


def test_uploads_make_one_report(store: Store, face_variants: list) -> None:
    """What the Data page's upload does: images and zips, one bad zip among them, in one report."""
    files = [
        ("IMG_1.png", encode_png(face_variants[0])),  # no tag: the chosen label
        ("bad.zip", b"PK\x03\x04 broken"),
        ("faces.zip", _zip({"angry/x.png": encode_png(face_variants[1]), "readme.md": b"hi"})),
        ("again.png", encode_png(face_variants[0])),  # the same bytes as IMG_1.png
    ]
    report = ingest.import_uploads(store, files, emotion="happy")
    assert (report.added, report.duplicates) == (2, 1)
    assert ("bad.zip", "not a valid .zip archive") in report.skipped and ("readme.md", "not an image file name") in (
        report.skipped
    )
    by_name = {r.original_name: (r.emotion, r.label_source, r.status) for r in store.list_images()}
    assert by_name == {"IMG_1.png": ("happy", "human", "train"), "angry/x.png": ("angry", "folder", "train")}
    assert len(report.image_ids) == 3

    pooled = ingest.import_uploads(store, [("sad_2.png", encode_png(face_variants[2]))], emotion="happy", pool=True)
    [record] = [store.get(i) for i in pooled.image_ids]
    assert record is not None and (record.emotion, record.status) == (None, "pool")  # no label, not even the tag


def test_manifest_import_keeps_person(store: Store, tmp_path: Path, face_variants: list) -> None:
    (tmp_path / "imgs").mkdir()
    for i in range(3):
        (tmp_path / "imgs" / f"p{i}.png").write_bytes(encode_png(face_variants[i]))
    pd.DataFrame(
        {
            "path": ["imgs/p0.png", "imgs/p1.png", "imgs/p2.png", "imgs/missing.png"],
            "label": ["happiness", "bored", "", "sad"],
            "person": ["ann", "ann", "bob", "cy"],
        }
    ).to_csv(tmp_path / "manifest.csv", index=False)
    report = ingest.import_manifest(store, tmp_path / "manifest.csv")
    assert report.added == 3 and [n for n, _ in report.skipped] == ["imgs/missing.png"]
    assert any("bored" in w for w in report.warnings)
    rows = {r.original_name: (r.emotion, r.label_source, r.person) for r in store.list_images()}
    assert rows["imgs/p0.png"] == ("happy", "manifest", "ann")
    assert rows["imgs/p1.png"] == (None, None, "ann")


def _write_yolo(root: Path, astronaut: np.ndarray) -> None:
    for split in ("train", "valid"):
        (root / split / "images").mkdir(parents=True)
        (root / split / "labels").mkdir(parents=True)
    (root / "data.yaml").write_text(
        "nc: 7\nnames: ['angry', 'disgust', 'fear', 'happy', 'neutral', 'sad', 'surprise']\n"
    )
    # The astronaut's face box is about x 0.35-0.53, y 0.14-0.35 of the 512x512 photo.
    (root / "train" / "images" / "a.jpg").write_bytes(encode_jpeg(astronaut))
    (root / "train" / "labels" / "a.txt").write_text("3 0.44 0.245 0.18 0.21\n6 0.85 0.8 0.1 0.1\n")
    (root / "valid" / "images" / "b.jpg").write_bytes(encode_jpeg(astronaut[:, ::-1].copy()))
    (root / "valid" / "labels" / "b.txt").write_text("3 0.56 0.245 0.18 0.21\n")


def test_yolo_import_makes_face_crops(store: Store, tmp_path: Path, astronaut_rgb: np.ndarray) -> None:
    _write_yolo(tmp_path / "yolo", astronaut_rgb)
    report = ingest.import_yolo(store, tmp_path / "yolo")
    assert report.added == 3
    records = store.list_images()
    assert sorted((r.emotion, r.status) for r in records) == [
        ("happy", "test"),
        ("happy", "train"),
        ("surprise", "train"),
    ]
    crop = next(r for r in records if r.status == "test")
    assert crop.label_source == "yolo" and crop.person == "yolo:b"
    assert crop.attributes["yolo"]["split"] == "valid" and 70 < crop.width < 140
    extract_store(store, workers=1)
    happy_crops = [r for r in store.list_images() if r.emotion == "happy"]
    assert all(r.extraction.state == "ok" for r in happy_crops)  # the crops hold a detectable face


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("9 0.5 0.5 0.1 0.1", "class id 9 is out of range 0..6"),
        ("1 1.5 0.5 0.1 0.1", "cx=1.5 is outside 0..1"),
        ("1 0.5 0.5 0.1", "expected 5 columns"),
        ("x 0.5 0.5 0.1 0.1", "non-numeric"),
    ],
)
def test_bad_yolo_label_names_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "img.txt"
    path.write_text(f"0 0.5 0.5 0.2 0.2\n{line}\n")
    boxes, problems = read_label_file(path, 7)
    assert len(boxes) == 1 and problems == [(f"{path}, line 2", problems[0][1])] and message in problems[0][1]


def test_export_layout(store: Store, tmp_path: Path, face_variants: list) -> None:
    for i in range(3):
        store.add_image(
            encode_png(face_variants[i]), original_name=f"happy_{i}.png", emotion="happy", label_source="filename"
        )
    extract_store(store, workers=1)
    csv_path, parquet_path, rows = export_all(store, tmp_path / "out")
    assert rows == 3
    table = pd.read_csv(csv_path)
    assert list(table.columns[:5]) == ["file", "emotion", "x0", "y0", "z0"]
    assert list(table.columns[2 : 2 + len(LANDMARK_COLUMNS)]) == list(LANDMARK_COLUMNS)
    assert table.columns[2 + len(LANDMARK_COLUMNS) + 1] == BLENDSHAPE_COLUMNS[1]
    assert "x477" in table.columns and "x478" not in table.columns
    assert set(table["emotion"]) == {"happy"}
    assert pd.read_parquet(parquet_path).shape == table.shape
    assert [p.name for p in (tmp_path / "out").iterdir() if p.name.startswith(".")] == []  # no temp leftovers


@pytest.mark.slow
def test_cli_import_extract_export(tmp_path: Path, face_variants: list) -> None:
    src = tmp_path / "src" / "sad"
    src.mkdir(parents=True)
    for i in range(2):
        (src / f"img{i}.png").write_bytes(encode_png(face_variants[i]))
    env = {**os.environ, "DATA_ROOT": str(tmp_path / "data"), "EXTRACT_WORKERS": "1"}
    env.pop("DATABASE_URL", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "core", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
        )

    out = run("import", str(tmp_path / "src"), "--extract")
    assert out.returncode == 0, out.stderr
    assert "2 added" in out.stdout and "2 faces" in out.stdout
    out = run("export", "--out", str(tmp_path / "exp"))
    assert out.returncode == 0 and "2 rows" in out.stdout
    out = run("import", str(tmp_path / "nowhere"))
    assert out.returncode == 2 and "does not exist" in out.stderr and "Traceback" not in out.stderr


def test_pool_import_ignores_name_labels(store: Store, face_variants: list) -> None:
    """Active-learning pool images stay unlabeled whatever their names say: labels come from review only."""
    from core.active_learning.pool import add_to_pool

    report = add_to_pool(store, [("happy_01.png", encode_png(face_variants[0])), ("bad.png", b"")])
    assert report.added == 1 and report.skipped == [("bad.png", "the file is empty")]
    [record] = store.list_images()
    assert (record.emotion, record.status, record.source) == (None, "pool", "pool")
