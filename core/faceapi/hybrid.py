"""Registry kind "hybrid": face-api's network rows beside the landmark rows (`core.faceapi.blend`).

Saved by `core.training.landmark_artifact.save_model` like the landmark models (same artifact, same card); loading
adds the network. A hybrid model satisfies `core.inference.ExpressionModel`: given an image and its MediaPipe faces
it crops each face, runs the network once for all of them, and predicts from both views. A model whose classifier
votes on its own framing (`VoteBlend`, the starter) reads the vote's 7 logits instead of the stored-crop row.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from sklearn.pipeline import Pipeline

from core.errors import ModelMismatch
from core.faceapi.blend import hybrid_rows, vote_rows
from core.faceapi.framing import NETWORK_FRAMING, STORE_FRAMING, Framing
from core.faceapi.network import ExpressionNetwork, shared_network, zero_shot_proba
from core.faceapi.network_model import LIVE_NOTE, WHOLE_IMAGE, network_logits, vote_and_rows
from core.features import faces_to_matrix
from core.inference import FacePrediction, top_prediction
from core.models.registry import ModelCard
from core.records import FaceData
from core.settings import get_settings
from core.training import landmark_artifact


class HybridModel(landmark_artifact.LandmarkModel):
    """A loaded hybrid model (needs_landmarks is True: the crops come from the MediaPipe landmark box)."""

    needs_pixels = True  # unlike its landmark base: the network reads the face crop from the image

    def __init__(
        self, card: ModelCard, pipeline: Pipeline, network: ExpressionNetwork, framing: Framing = NETWORK_FRAMING
    ) -> None:
        super().__init__(card, pipeline)
        self.network = network
        self.framing = framing  # of the network's vote (models that vote on their own framing)
        self.live_note = ""

    def live_variant(self) -> HybridModel:
        """The cheaper model the Live page runs: the network votes on the crop the landmark part reads (one crop per
        face instead of three), so that the frame path stays within 1.5x bare MediaPipe (bench/live.py)."""
        if not (self.votes and self.pipeline[-1].learned_network) or self.framing == STORE_FRAMING:
            return self
        variant = HybridModel(self.card, self.pipeline, self.network, STORE_FRAMING)
        variant.live_note = LIVE_NOTE
        return variant

    @property
    def whole_image_fallback(self) -> bool:
        """A model that votes on its own framing (the starter) answers for the whole image when MediaPipe finds no
        face: the network alone (the landmark part has nothing to read)."""
        return self.votes

    @property
    def votes(self) -> bool:
        return getattr(self.pipeline[-1], "network_input", "row") == "vote"

    def predict_faces(self, rgb: np.ndarray, faces: Sequence[FaceData]) -> list[FacePrediction]:
        if not faces:
            if not self.votes:
                return []
            proba = zero_shot_proba(network_logits(self.network, rgb, faces, self.framing), self.card.classes)
            return [top_prediction(WHOLE_IMAGE, self.card.classes, proba[0])]
        if self.votes:
            learned_network = self.pipeline[-1].learned_network
            vote, learned = vote_and_rows(self.network, rgb, faces, self.framing, with_rows=learned_network)
            rows = vote_rows(faces_to_matrix(faces), learned, vote)
        else:
            rows = hybrid_rows(faces_to_matrix(faces), self.network.face_rows(rgb, faces))
        proba = self.predict_proba(rows)
        return [top_prediction(f.bbox, self.card.classes, p, f.landmarks) for f, p in zip(faces, proba, strict=True)]


def load_artifact(folder: Path, card: ModelCard) -> HybridModel:
    """The registry's loader for kind "hybrid". Refuses a model trained on another network file than the one
    shipped (its features would mean something else)."""
    settings = get_settings()
    trained_on = card.params.get("network_sha256")
    if trained_on and trained_on != settings.faceapi_model_sha256:
        raise ModelMismatch(
            f"model {card.id} was trained on the face-api network with sha256 {trained_on[:12]}…, but the "
            f"configured one is {settings.faceapi_model_sha256[:12]}…; retrain it"
        )
    base = landmark_artifact.load_artifact(folder, card)
    return HybridModel(card, base.pipeline, shared_network(settings))
