"""One pipeline's scores on a YOLO dataset (`core.detector.compare`), as the comparison returns them and as its job
stores them: one model for both, in a light module the job catalogue can import."""

from __future__ import annotations

from core.jobs.contract import Result


class PipelineScore(Result):
    name: str
    model_id: str
    emotion_accuracy: float
    face_recall: float
    face_precision: float
    map50: float
    matched: int
    num_faces: int
    images: int
    ms_per_image: float
    # Emotion accuracy on the faces that every compared pipeline found: the same faces for all, where a pipeline
    # that finds only the easy faces cannot gain from it (emotion_accuracy counts each pipeline's own matches).
    common_accuracy: float = 0.0
    common_faces: int = 0

    def as_dict(self) -> dict[str, object]:
        return self.model_dump()
