"""The public datasets' layouts: each one built here from a few small files, imported with labels, persons, splits;
bad rows refused one by one; an unknown layout refused with the known ones; the CLI end to end on a real face."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.errors import StudioError
from core.imaging import encode_jpeg, encode_png
from core.layouts import LAYOUTS, detect_layout, import_layout, resolve_layout
from core.settings import Settings
from core.store import Store

ROOT = Path(__file__).resolve().parents[2]


def _img(seed: int, size: int = 32) -> np.ndarray:
    """A small distinct picture (a layout test checks rows, not faces)."""
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


def _write(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() in (".jpg", ".jpeg"):
        path.write_bytes(encode_jpeg(_img(seed)))
    elif path.suffix.lower() in (".tif", ".tiff"):
        from PIL import Image

        Image.fromarray(_img(seed)[:, :, 0]).save(path)  # JAFFE's files are grayscale TIFFs
    else:
        path.write_bytes(encode_png(_img(seed)))


def _rows(store: Store) -> dict[str, tuple[str | None, str | None, str]]:
    return {r.original_name: (r.emotion, r.person, r.status) for r in store.list_images()}


def _fer_pixels(seed: int) -> str:
    return " ".join(str(v) for v in np.random.default_rng(seed).integers(0, 256, 48 * 48))


def test_fer2013_csv_streams_rows_and_refuses_bad_ones(store: Store, tmp_path: Path) -> None:
    csv_path = tmp_path / "fer2013.csv"
    csv_path.write_text(
        "emotion,pixels,Usage\n"
        f"3,{_fer_pixels(1)},Training\n"
        f"6,{_fer_pixels(2)},PublicTest\n"
        f"9,{_fer_pixels(3)},Training\n"  # no such class
        "0,1 2 3,Training\n"  # too few pixels
        "x,abc,Training\n"
    )
    assert detect_layout(csv_path) == "fer2013"
    report = import_layout(store, csv_path, "fer2013")
    assert report.added == 2
    assert [name for name, _ in report.skipped] == ["fer2013.csv#line4", "fer2013.csv#line5", "fer2013.csv#line6"]
    assert "0..6" in report.skipped[0][1] and "2304" in report.skipped[1][1]
    rows = _rows(store)
    assert rows["fer2013.csv#line2"] == ("happy", None, "train")
    assert rows["fer2013.csv#line3"] == ("neutral", None, "test")
    [record] = [r for r in store.list_images() if r.original_name == "fer2013.csv#line2"]
    assert (record.width, record.height) == (48, 48) and record.label_source == "manifest"


def test_fer2013_folders(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "fer"
    _write(root / "train" / "angry" / "Training_1.jpg", 1)
    _write(root / "test" / "surprise" / "PublicTest_2.jpg", 2)
    assert detect_layout(root) == "fer2013"
    import_layout(store, root)
    assert _rows(store) == {
        "train/angry/Training_1.jpg": ("angry", None, "train"),
        "test/surprise/PublicTest_2.jpg": ("surprise", None, "test"),
    }


def test_ckplus_sequences_peak_frames_and_one_neutral_a_subject(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "CK+"
    for seq, frames, code in (("S005/001", 3, "3.0000000e+00"), ("S005/002", 2, "5.0000000e+00")):
        subject, number = seq.split("/")
        for f in range(1, frames + 1):
            _write(root / "cohn-kanade-images" / seq / f"{subject}_{number}_{f:08d}.png", hash((seq, f)) % 1000)
        (root / "Emotion" / seq).mkdir(parents=True)
        (root / "Emotion" / seq / f"{subject}_{number}_{frames:08d}_emotion.txt").write_text(f"   {code}\n")
    _write(root / "cohn-kanade-images" / "S010" / "001" / "S010_001_00000001.png", 77)  # no emotion file: not read
    (root / "Emotion" / "S011" / "001").mkdir(parents=True)
    (root / "Emotion" / "S011" / "001" / "S011_001_00000004_emotion.txt").write_text("   9.0\n")
    assert detect_layout(root) == "ckplus"
    report = import_layout(store, root, "ckplus")
    assert _rows(store) == {
        "cohn-kanade-images/S005/001/S005_001_00000003.png": ("disgust", "ckplus:S005", "train"),
        "cohn-kanade-images/S005/001/S005_001_00000001.png": ("neutral", "ckplus:S005", "train"),
        "cohn-kanade-images/S005/002/S005_002_00000002.png": ("happy", "ckplus:S005", "train"),
    }
    assert len(report.skipped) == 1 and "0..7" in report.skipped[0][1]


def test_ckplus48_class_folders(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "CK+48"
    _write(root / "anger" / "S010_004_00000017.png", 1)
    _write(root / "sadness" / "S011_002_00000020.png", 2)
    assert detect_layout(root) == "ckplus"
    import_layout(store, root)
    assert _rows(store) == {
        "anger/S010_004_00000017.png": ("angry", "ckplus:S010", "train"),
        "sadness/S011_002_00000020.png": ("sad", "ckplus:S011", "train"),
    }


def test_jaffe_names(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "jaffe"
    _write(root / "KA.AN1.39.tiff", 1)
    _write(root / "KL.HA2.159.tiff", 2)
    _write(root / "KA.XX1.40.tiff", 3)  # an unknown code: refused with its reason
    assert detect_layout(root) == "jaffe"
    report = import_layout(store, root, "jaffe")
    assert _rows(store) == {
        "KA.AN1.39.tiff": ("angry", "jaffe:KA", "train"),
        "KL.HA2.159.tiff": ("happy", "jaffe:KL", "train"),
    }
    assert report.skipped == [
        ("KA.XX1.40.tiff", "unknown JAFFE expression code 'XX' (known: AN, DI, FE, HA, NE, SA, SU)")
    ]


def test_rafdb_label_list_and_aligned_names(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "RAF-DB" / "basic"
    _write(root / "Image" / "aligned" / "train_00001_aligned.jpg", 1)
    _write(root / "Image" / "aligned" / "test_0002_aligned.jpg", 2)
    (root / "EmoLabel").mkdir(parents=True)
    (root / "EmoLabel" / "list_patition_label.txt").write_text(
        "train_00001.jpg 5\ntest_0002.jpg 1\ntrain_00003.jpg 4\ntrain_00004.jpg 8\n"
    )
    assert detect_layout(root) == "rafdb"
    report = import_layout(store, root, "rafdb")
    assert _rows(store) == {
        "Image/aligned/train_00001_aligned.jpg": ("sad", None, "train"),
        "Image/aligned/test_0002_aligned.jpg": ("surprise", None, "test"),
    }
    assert [reason.split(":")[0] for _, reason in report.skipped] == [
        "no image file for train_00003.jpg",
        "expected 'train_00001.jpg N' with N in 1..7",
    ]


def test_affectnet_number_folders(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "affectnet"
    _write(root / "train" / "1" / "a.jpg", 1)
    _write(root / "val" / "7" / "b.jpg", 2)
    _write(root / "train" / "9" / "c.jpg", 3)  # "uncertain": not an expression
    assert detect_layout(root) == "affectnet"
    report = import_layout(store, root, "affectnet")
    assert _rows(store) == {"train/1/a.jpg": ("happy", None, "train"), "val/7/b.jpg": ("contempt", None, "test")}
    assert report.skipped[0][0] == "train/9/c.jpg" and "not an expression" in report.skipped[0][1]


def test_kdef_codes_person_across_sessions(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "KDEF"
    _write(root / "AF01" / "AF01ANS.JPG", 1)
    _write(root / "BF01" / "BF01HAHL.JPG", 2)
    _write(root / "AM02" / "AM02SUFR.JPG", 3)
    assert detect_layout(root) == "kdef"
    import_layout(store, root)
    assert _rows(store) == {
        "AF01/AF01ANS.JPG": ("angry", "kdef:F01", "train"),
        "BF01/BF01HAHL.JPG": ("happy", "kdef:F01", "train"),
        "AM02/AM02SUFR.JPG": ("surprise", "kdef:M02", "train"),
    }
    [record] = [r for r in store.list_images() if r.original_name == "BF01/BF01HAHL.JPG"]
    assert record.attributes == {"layout": "kdef", "session": "B", "angle": "HL"}


def test_unknown_layouts_are_refused_with_the_known_ones(store: Store, tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    _write(plain / "IMG_0001.png", 1)
    with pytest.raises(StudioError, match="known layouts: " + ", ".join(LAYOUTS)):
        detect_layout(plain)
    with pytest.raises(StudioError, match="unknown layout 'fer2014'"):
        resolve_layout(plain, "fer2014")
    with pytest.raises(StudioError, match="does not look like a kdef dataset"):
        import_layout(store, plain, "kdef")
    assert store.count() == 0


def test_a_symlink_out_of_the_dataset_is_refused(store: Store, tmp_path: Path) -> None:
    root = tmp_path / "jaffe"
    _write(root / "KA.AN1.39.tiff", 1)
    _write(tmp_path / "secret.tiff", 2)
    os.symlink(tmp_path / "secret.tiff", root / "KA.HA1.40.tiff")
    report = import_layout(store, root, "jaffe")
    assert report.added == 1 and report.skipped[0][0] == "KA.HA1.40.tiff" and "outside" in report.skipped[0][1]


def test_cli_imports_a_layout_and_extracts_a_real_face(tmp_path: Path, astronaut_rgb: np.ndarray) -> None:
    """End to end: `python -m core import PATH --layout auto --extract` on a KDEF-named real face."""
    root = tmp_path / "KDEF" / "AF01"
    root.mkdir(parents=True)
    (root / "AF01HAS.JPG").write_bytes(encode_jpeg(astronaut_rgb))
    env = {**os.environ, "DATA_ROOT": str(tmp_path / "data"), "EXTRACT_WORKERS": "1"}
    env.pop("DATABASE_URL", None)

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "core", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )

    out = run("import", str(tmp_path / "KDEF"), "--layout", "auto", "--extract")
    assert out.returncode == 0, out.stderr
    assert "read as the kdef layout" in out.stdout and "1 added" in out.stdout and "1 faces" in out.stdout
    out = run("import", str(tmp_path / "KDEF"), "--layout", "voc")
    assert out.returncode == 2 and "known layouts: fer2013, ckplus" in out.stderr and "Traceback" not in out.stderr


def test_data_page_imports_a_public_layout(app_env: Settings, tmp_path: Path) -> None:
    """The Data page's server import: a mismatched layout is said before queueing; a JAFFE folder imports as a job."""
    from streamlit.testing.v1 import AppTest

    from core.import_job import IMPORT
    from tests.pages.test_home_data_landmarks import wait_for_job

    root = tmp_path / "incoming" / "jaffe"
    _write(root / "KA.AN1.39.tiff", 1)
    _write(root / "KM.SU3.55.tiff", 2)
    at = AppTest.from_file(str(ROOT / "pages" / "1_Data.py"), default_timeout=120).run()
    at.text_input(key="server_path").input(str(root)).run()
    at.radio(key="server_kind").set_value("Public dataset").run()
    at.selectbox(key="server_layout").set_value("kdef").run()
    at.button(key="server_import").click().run()
    assert not at.exception and "does not look like a kdef dataset" in at.error[0].value
    at.selectbox(key="server_layout").set_value("auto").run()
    at.button(key="server_import").click().run()
    assert not at.exception
    job = wait_for_job(app_env, IMPORT)
    assert job.status == "done" and job.result is not None
    assert (job.result["added"], job.result["layout"]) == (2, "jaffe")
    assert {r.person for r in Store(app_env).list_images()} == {"jaffe:KA", "jaffe:KM"}
