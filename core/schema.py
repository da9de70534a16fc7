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

# Record vocabularies of the dataset store: where an image came from ...
SOURCE_GENERATED: Final[str] = "generated"
SOURCE_IMPORTED: Final[str] = "imported"
SOURCE_WEBCAM: Final[str] = "webcam"
SOURCE_POOL: Final[str] = "pool"
SOURCES: Final[tuple[str, ...]] = (SOURCE_GENERATED, SOURCE_IMPORTED, SOURCE_WEBCAM, SOURCE_POOL)

# ... who or what gave its label ...
LABEL_PROMPT: Final[str] = "prompt"
LABEL_FILENAME: Final[str] = "filename"
LABEL_FOLDER: Final[str] = "folder"
LABEL_HUMAN: Final[str] = "human"
LABEL_LLM: Final[str] = "llm"
LABEL_MODEL: Final[str] = "model"
LABEL_YOLO: Final[str] = "yolo"
LABEL_MANIFEST: Final[str] = "manifest"
LABEL_SOURCES: Final[tuple[str, ...]] = (
    LABEL_PROMPT,
    LABEL_FILENAME,
    LABEL_FOLDER,
    LABEL_HUMAN,
    LABEL_LLM,
    LABEL_MODEL,
    LABEL_YOLO,
    LABEL_MANIFEST,
)

# ... and its status: train and test are labeled (test is the held-out set), pool is unlabeled, queued awaits a
# reviewer's decision in active learning, rejected is kept out of training, suite is a labeled test image of an
# evaluation suite (core.suites): never trained on, whatever its label.
STATUS_TRAIN: Final[str] = "train"
STATUS_TEST: Final[str] = "test"
STATUS_POOL: Final[str] = "pool"
STATUS_QUEUED: Final[str] = "queued"
STATUS_REJECTED: Final[str] = "rejected"
STATUS_SUITE: Final[str] = "suite"
STATUSES: Final[tuple[str, ...]] = (
    STATUS_TRAIN,
    STATUS_TEST,
    STATUS_POOL,
    STATUS_QUEUED,
    STATUS_REJECTED,
    STATUS_SUITE,
)
TRAINABLE_STATUSES: Final[tuple[str, ...]] = (STATUS_TRAIN, STATUS_TEST)

# Extraction outcomes stored per image; "pending" (no extraction yet) is only ever counted, never stored.
EXTRACTION_OK: Final[str] = "ok"
EXTRACTION_NO_FACE: Final[str] = "no_face"
EXTRACTION_ERROR: Final[str] = "error"
EXTRACTION_STATES: Final[tuple[str, ...]] = (EXTRACTION_OK, EXTRACTION_NO_FACE, EXTRACTION_ERROR)
EXTRACTION_PENDING: Final[str] = "pending"

IMAGE_EXTENSIONS: Final[frozenset[str]] = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})

# Generation job item states (core.generation): pending -> running -> done | failed.
GEN_PENDING: Final[str] = "pending"
GEN_RUNNING: Final[str] = "running"
GEN_DONE: Final[str] = "done"
GEN_FAILED: Final[str] = "failed"
GENERATION_STATES: Final[tuple[str, ...]] = (GEN_PENDING, GEN_RUNNING, GEN_DONE, GEN_FAILED)
