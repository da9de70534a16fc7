"""A landmarker whose extractor is dropped unclosed is never closed by the garbage collector (MediaPipe's close from
`__del__` deadlocked a test session): it is parked and closed at the next safe point."""

from __future__ import annotations

import gc

from core.landmarks import extractor as ex
from core.settings import Settings


def test_a_dropped_extractor_parks_its_landmarker_until_a_safe_point(settings: Settings) -> None:
    dropped = ex.LandmarkExtractor(settings)
    landmarker = dropped._landmarker
    del dropped
    gc.collect()
    assert any(o is landmarker for o in ex._orphans)  # kept alive by the park, not closed inside the collection
    with ex.LandmarkExtractor(settings):
        assert ex._orphans == []  # the new extractor closed it, outside any collection
