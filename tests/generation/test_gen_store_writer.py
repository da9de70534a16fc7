"""The generation's batch writer: images submitted together are stored together, each fails alone."""

from __future__ import annotations

import asyncio

from core.errors import ImageNotReadable
from core.generation.store_writer import BatchWriter
from core.imaging import encode_png, probe_image
from core.store import Store


def test_a_batch_is_stored_resized_and_a_bad_item_fails_alone(store: Store, face_variants: list) -> None:
    pngs = [encode_png(v) for v in face_variants[:5]]

    async def run() -> list[object]:
        writer = BatchWriter(store, 64)
        futures = [
            writer.store(png, {"original_name": f"{i}.png", "source": "generated"}) for i, png in enumerate(pngs)
        ]
        futures.append(writer.store(b"not an image", {"original_name": "junk.png"}))
        futures.append(writer.store(pngs[0], {"original_name": "again.png", "status": "archived"}))  # refused
        try:
            return await asyncio.gather(*futures, return_exceptions=True)
        finally:
            await asyncio.to_thread(writer.close)

    *stored, junk, refused = asyncio.run(run())
    assert isinstance(junk, ImageNotReadable)
    assert isinstance(refused, ValueError) and "unknown status" in str(refused)
    assert all(isinstance(s, tuple) and s[1] for s in stored)  # (image id, created)
    assert len({s[0] for s in stored}) == 5 and store.count() == 5  # type: ignore[index]
    for image_id, _ in stored:  # type: ignore[misc]
        record = store.get(image_id)
        assert record is not None
        info = probe_image(store.read_bytes(record))
        assert max(info.width, info.height) <= 64 and record.source == "generated"
