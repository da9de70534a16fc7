"""Scoring models on an evaluation suite, domain by domain, through the one prediction path
(`Recognizer.predict_stored`), so every model kind (landmark, hybrid, ResNet, face-api alone, ...) is scored alike.

An image where MediaPipe found no face counts as a wrong answer: `faces n/N` says how many of the domain's N images
had a face the model could answer for. A model's figure for the suite is its worst domain's macro-F1.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, Final

import numpy as np
from pydantic import BaseModel, Field
from sklearn.metrics import confusion_matrix

from core.auth import Permission, require
from core.errors import StudioError
from core.imaging import decode_rgb
from core.inference import ExpressionModel, Recognizer
from core.models.registry import Registry
from core.progress import ProgressFn
from core.records import FaceData
from core.schema import EMOTIONS, STATUS_SUITE
from core.store import Store
from core.store.repository import Filters, face_from_row
from core.store.tables import ImageRecord
from core.suites.manage import Suite, get_suite, mark_used
from core.training.report import classification_metrics

log = logging.getLogger("core.suites")

NO_FACE: Final[str] = "(no face)"  # the answer for an image where no face was found: always wrong
MAX_WRONG: Final[int] = 200  # wrong images kept per model and domain (the counts stay exact)


class WrongImage(BaseModel):
    image_id: int
    label: str
    predicted: str


class DomainScore(BaseModel):
    domain: str
    macro_f1: float
    accuracy: float
    n_faces: int  # images with a face the model answered for
    n_images: int
    labels: list[str]  # the true labels present, in EMOTIONS order: the rows of the confusion matrix
    columns: list[str]  # its columns: the labels, then anything else predicted, then "(no face)" if any
    confusion_matrix: list[list[int]]
    n_wrong: int = 0
    wrong: list[WrongImage] = Field(default_factory=list)

    def line(self) -> str:
        """The CLI's line: `DOMAIN  macro-F1 0.xxx  accuracy 0.xxx  faces n/N`."""
        return (
            f"{self.domain}  macro-F1 {self.macro_f1:.3f}  accuracy {self.accuracy:.3f}  "
            f"faces {self.n_faces}/{self.n_images}"
        )


class ModelSuiteScore(BaseModel):
    model_id: str
    domains: list[DomainScore] = Field(default_factory=list)
    error: str = ""  # why the model could not be scored; its domains are then empty

    @property
    def worst(self) -> DomainScore | None:
        """The domain with the lowest macro-F1 (the first such, in suite order)."""
        return min(self.domains, key=lambda d: d.macro_f1) if self.domains else None

    def domain(self, name: str) -> DomainScore | None:
        return next((d for d in self.domains if d.domain == name), None)

    def worst_line(self) -> str:
        worst = self.worst
        if worst is None:
            return f"worst-domain macro-F1: none ({self.error or 'no domain scored'})"
        return f"worst-domain macro-F1: {worst.macro_f1:.3f} ({worst.domain})"

    def card_summary(self, suite: str) -> dict[str, Any]:
        """What the model card keeps: per-domain figures, without per-image rows."""
        worst = self.worst
        return {
            "suite": suite,
            "evaluated_at": datetime.now(UTC).isoformat(),
            "domains": [
                {
                    "domain": d.domain,
                    "macro_f1": d.macro_f1,
                    "accuracy": d.accuracy,
                    "faces": d.n_faces,
                    "images": d.n_images,
                }
                for d in self.domains
            ],
            "worst_domain": None if worst is None else worst.domain,
            "worst_macro_f1": None if worst is None else worst.macro_f1,
        }


class SuiteEvaluation(BaseModel):
    suite: str
    domains: list[str]
    models: list[ModelSuiteScore]
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))

    def score(self, model_id: str) -> ModelSuiteScore | None:
        return next((m for m in self.models if m.model_id == model_id), None)


def suite_records(store: Store, suite: Suite) -> dict[int, ImageRecord]:
    """The suite's image records (with their extractions), by id."""
    wanted = {i for s in suite.sets for i in s.image_ids}
    return {r.id: r for r in store.list_images(Filters(statuses=[STATUS_SUITE])) if r.id in wanted}


def predict_stored_labels(
    model: ExpressionModel, store: Store, image_ids: Sequence[int], faces: Sequence[FaceData | None]
) -> list[str]:
    """The model's label for each stored image through `Recognizer.predict_stored` (the one path every scoring
    takes); NO_FACE where the model gave no answer: MediaPipe found no face (`faces[i]` None) and the model cannot
    read the whole image instead, the model found none, or the file is gone."""

    def load_rgb(k: int) -> np.ndarray:
        record = store.get(image_ids[k])
        if record is None:
            raise StudioError(f"image #{image_ids[k]} was deleted")
        return decode_rgb(store.read_bytes(record), store.settings.max_image_pixels)

    predictions = Recognizer(model).predict_stored(list(faces), load_rgb)
    return [NO_FACE if p is None else p.emotion for p in predictions]


def score_domain(domain: str, image_ids: Sequence[int], truth: Sequence[str], predicted: Sequence[str]) -> DomainScore:
    """Macro-F1 over the emotions present in the domain; an image without a face is a wrong answer."""
    labels = [e for e in EMOTIONS if e in set(truth)]
    metrics = classification_metrics(truth, predicted, labels)
    extra = sorted({p for p in predicted if p not in labels and p != NO_FACE})
    columns = labels + extra + ([NO_FACE] if NO_FACE in predicted else [])
    matrix = (
        confusion_matrix(np.asarray(truth, dtype=str), np.asarray(predicted, dtype=str), labels=columns)[: len(labels)]
        if len(truth)
        else np.zeros((0, len(columns)), dtype=int)
    )
    wrong = [
        WrongImage(image_id=int(i), label=t, predicted=p)
        for i, t, p in zip(image_ids, truth, predicted, strict=True)
        if t != p
    ]
    return DomainScore(
        domain=domain,
        macro_f1=metrics["macro_f1"],
        accuracy=metrics["accuracy"],
        n_faces=sum(p != NO_FACE for p in predicted),
        n_images=len(truth),
        labels=labels,
        columns=columns,
        confusion_matrix=matrix.astype(int).tolist(),
        n_wrong=len(wrong),
        wrong=wrong[:MAX_WRONG],
    )


def score_model(
    model: ExpressionModel,
    store: Store,
    suite: Suite,
    records: dict[int, ImageRecord] | None = None,
) -> ModelSuiteScore:
    """One model's per-domain scores on the suite."""
    records = records if records is not None else suite_records(store, suite)
    domains = []
    for s in suite.sets:
        rows = [records[i] for i in s.image_ids if i in records]
        faces = [None if r.extraction is None else face_from_row(r.extraction) for r in rows]
        predicted = predict_stored_labels(model, store, [r.id for r in rows], faces)
        domains.append(score_domain(s.domain, [r.id for r in rows], [str(r.emotion) for r in rows], predicted))
    return ModelSuiteScore(model_id=model.card.id, domains=domains)


def prepare_suite(
    store: Store, name: str, *, progress: ProgressFn | None = None, cancel: threading.Event | None = None
) -> Suite:
    """The suite, after the landmark extraction of its images not yet extracted (the same extraction as the Data
    page's: its result is kept, so a second evaluation extracts nothing)."""
    from core.landmarks.batch import extract_store

    suite = get_suite(store, name)
    if suite.n_images == 0:
        raise StudioError(f"suite {name!r} has no images: create it again with labeled test sets")
    ids = {i for s in suite.sets for i in s.image_ids}
    if any(i in ids for i in store.pending_extraction_ids()):
        extract_store(store, only=ids, progress=progress, cancel=cancel)
    return suite


def evaluate_suite(
    store: Store,
    registry: Registry,
    name: str,
    model_ids: Sequence[str],
    *,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> SuiteEvaluation:
    """Score each model on every domain of the suite; each model card keeps its result. Whoever may run model
    comparisons may do this (it writes into the models' cards)."""
    require(Permission.TRAIN)
    if not model_ids:
        raise StudioError("no model to evaluate: train one, or name one with --model")
    suite = prepare_suite(store, name, progress=progress, cancel=cancel)
    records = suite_records(store, suite)
    scores: list[ModelSuiteScore] = []
    for done, model_id in enumerate(dict.fromkeys(model_ids)):
        if cancel is not None and cancel.is_set():
            break
        if progress is not None:
            progress(done, len(model_ids), f"scoring {model_id} on suite {name}")
        try:
            score = score_model(registry.load(model_id), store, suite, records)
        except Exception as exc:  # a model that no longer loads is reported, the others are still scored
            log.warning("model could not be scored on a suite", extra={"model_id": model_id, "error": str(exc)})
            score = ModelSuiteScore(model_id=model_id, error=str(exc) or type(exc).__name__)
        else:
            registry.record_suite_result(model_id, name, score.card_summary(name))
        scores.append(score)
    mark_used(store, name)
    if progress is not None:
        progress(len(scores), len(model_ids), f"{len(scores)} model(s) scored on suite {name}")
    return SuiteEvaluation(suite=name, domains=suite.domains, models=scores)
