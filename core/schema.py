"""Every schema constant of the project lives here: emotions, landmark and blendshape names, column names.

Other modules import these names; a literal such as 478 or the emotion list is never repeated elsewhere.
"""

from __future__ import annotations

from typing import Final

# The emotion vocabulary. The first seven are in the order of the common YOLO/FER exports
# (0 angry ... 6 surprise), so a YOLO class id maps onto this tuple by index.
EMOTIONS: Final[tuple[str, ...]] = (
    "angry",
    "disgust",
    "fear",
    "happy",
    "neutral",
    "sad",
    "surprise",
    "contempt",
)

# Synonyms seen in public datasets and file names, mapped onto EMOTIONS.
EMOTION_SYNONYMS: Final[dict[str, str]] = {
    "anger": "angry",
    "mad": "angry",
    "disgusted": "disgust",
    "disgusting": "disgust",
    "fearful": "fear",
    "afraid": "fear",
    "scared": "fear",
    "happiness": "happy",
    "joy": "happy",
    "smile": "happy",
    "smiling": "happy",
    "calm": "neutral",
    "sadness": "sad",
    "unhappy": "sad",
    "surprised": "surprise",
    "shock": "surprise",
    "shocked": "surprise",
    "contemptuous": "contempt",
}

# MediaPipe Face Landmarker output sizes.
NUM_LANDMARKS: Final[int] = 478
LANDMARK_DIMS: Final[int] = 3

# The 52 blendshape categories, in the order the Face Landmarker returns them.
BLENDSHAPE_NAMES: Final[tuple[str, ...]] = (
    "_neutral",
    "browDownLeft",
    "browDownRight",
    "browInnerUp",
    "browOuterUpLeft",
    "browOuterUpRight",
    "cheekPuff",
    "cheekSquintLeft",
    "cheekSquintRight",
    "eyeBlinkLeft",
    "eyeBlinkRight",
    "eyeLookDownLeft",
    "eyeLookDownRight",
    "eyeLookInLeft",
    "eyeLookInRight",
    "eyeLookOutLeft",
    "eyeLookOutRight",
    "eyeLookUpLeft",
    "eyeLookUpRight",
    "eyeSquintLeft",
    "eyeSquintRight",
    "eyeWideLeft",
    "eyeWideRight",
    "jawForward",
    "jawLeft",
    "jawOpen",
    "jawRight",
    "mouthClose",
    "mouthDimpleLeft",
    "mouthDimpleRight",
    "mouthFrownLeft",
    "mouthFrownRight",
    "mouthFunnel",
    "mouthLeft",
    "mouthLowerDownLeft",
    "mouthLowerDownRight",
    "mouthPressLeft",
    "mouthPressRight",
    "mouthPucker",
    "mouthRight",
    "mouthRollLower",
    "mouthRollUpper",
    "mouthShrugLower",
    "mouthShrugUpper",
    "mouthSmileLeft",
    "mouthSmileRight",
    "mouthStretchLeft",
    "mouthStretchRight",
    "mouthUpperUpLeft",
    "mouthUpperUpRight",
    "noseSneerLeft",
    "noseSneerRight",
)
NUM_BLENDSHAPES: Final[int] = len(BLENDSHAPE_NAMES)

# Generated column names of the landmarks.csv export (the seed's layout: x0,y0,z0 ... x477,y477,z477).
LANDMARK_COLUMNS: Final[tuple[str, ...]] = tuple(f"{axis}{i}" for i in range(NUM_LANDMARKS) for axis in ("x", "y", "z"))
BLENDSHAPE_COLUMNS: Final[tuple[str, ...]] = tuple(f"bs_{name}" for name in BLENDSHAPE_NAMES)

# Record vocabularies of the dataset store.
SOURCES: Final[tuple[str, ...]] = ("generated", "imported", "webcam", "pool")
LABEL_SOURCES: Final[tuple[str, ...]] = ("prompt", "filename", "folder", "human", "llm", "model", "yolo", "manifest")
STATUSES: Final[tuple[str, ...]] = ("train", "test", "pool", "queued", "rejected")
TRAINING_STATUSES: Final[tuple[str, ...]] = ("train", "test")  # what training and held-out sets are drawn from
MODEL_LABEL: Final[str] = "model"  # label source of a model's prediction: a suggestion until a person confirms it

# Extraction outcomes stored per image.
EXTRACTION_OK: Final[str] = "ok"
EXTRACTION_NO_FACE: Final[str] = "no_face"
EXTRACTION_ERROR: Final[str] = "error"
EXTRACTION_STATES: Final[tuple[str, ...]] = (EXTRACTION_OK, EXTRACTION_NO_FACE, EXTRACTION_ERROR)

IMAGE_EXTENSIONS: Final[frozenset[str]] = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})

# Generation job item states (core.generation): pending -> running -> done | failed.
GEN_PENDING: Final[str] = "pending"
GEN_RUNNING: Final[str] = "running"
GEN_DONE: Final[str] = "done"
GEN_FAILED: Final[str] = "failed"
GENERATION_STATES: Final[tuple[str, ...]] = (GEN_PENDING, GEN_RUNNING, GEN_DONE, GEN_FAILED)
