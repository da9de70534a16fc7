"""face-api network rows of stored faces, cached on disk beside the data (they cost a decode and a crop each).

The cache key is the network file's sha256, the image's content hash, the landmark box and the crop scale, so a
re-extraction or another network file never reuses a stale row. Cached rows live under
`<DATA_ROOT>/cache/faceapi/`; deleting the folder only costs a recomputation.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.atomic import atomic_write_bytes
from core.errors import ImageNotReadable
from core.faceapi.network import CROP_SCALE, OUTPUT_WIDTH, face_crop, shared_network
from core.imaging import decode_rgb
from core.progress import ProgressFn
from core.records import FaceData
from core.store.repository import Store
from core.store.tables import ImageRecord

BATCH = 64  # crops per onnxruntime call: amortises the call overhead, bounds memory (64 x 37 KB)


def _key(network_sha: str, record: ImageRecord, face: FaceData) -> str:
    box = ",".join(f"{v:.5f}" for v in face.bbox)
    return hashlib.sha256(f"{network_sha}:{record.sha256}:{box}:{CROP_SCALE}".encode()).hexdigest()


def network_rows(
    store: Store,
    pairs: Sequence[tuple[ImageRecord, FaceData]],
    *,
    progress: ProgressFn | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(n, OUTPUT_WIDTH) rows aligned with `pairs`, and a mask of the rows computed: an unreadable or missing image
    gives a row of zeros and False (the caller drops it) instead of stopping the batch."""
    settings = store.settings
    network = shared_network(settings)
    folder = Path(settings.data_root) / "cache" / "faceapi" / settings.faceapi_model_sha256[:16]
    rows = np.zeros((len(pairs), OUTPUT_WIDTH), dtype=np.float32)
    ok = np.zeros(len(pairs), dtype=bool)
    pending: list[tuple[int, str, np.ndarray]] = []

    def flush() -> None:
        if not pending:
            return
        out = network.run(np.stack([crop for _, _, crop in pending])).rows()
        for (i, key, _), row in zip(pending, out, strict=True):
            rows[i], ok[i] = row, True
            buffer = io.BytesIO()
            np.save(buffer, row)
            path = folder / key[:2] / f"{key}.npy"
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_bytes(path, buffer.getvalue())
        pending.clear()

    for i, (record, face) in enumerate(pairs):
        key = _key(settings.faceapi_model_sha256, record, face)
        cached = folder / key[:2] / f"{key}.npy"
        try:
            row = np.load(cached, allow_pickle=False) if cached.is_file() else None
        except (OSError, ValueError):  # a damaged cache file is recomputed
            row = None
        if row is not None and row.shape == (OUTPUT_WIDTH,):
            rows[i], ok[i] = row, True
        else:
            try:
                rgb = decode_rgb(store.read_bytes(record))
            except (OSError, ImageNotReadable):
                pass  # ok[i] stays False: the face is left out, the batch goes on
            else:
                pending.append((i, key, face_crop(rgb, face.bbox)))
                if len(pending) >= BATCH:
                    flush()
        if progress is not None:
            progress(i + 1, len(pairs))
    flush()
    return rows, ok
