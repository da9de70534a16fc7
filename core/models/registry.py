"""Model registry under `models/`: one folder per model with its artifact and a JSON card.

Operations: list, load, activate, roll back, delete. Each model kind's module provides `load_artifact(folder, card)`;
the registry imports it only when a model of that kind is loaded, so listing models stays cheap.
`active.json` names the active model; every activation is appended to `activations.jsonl` (who, when, from which
model, why, and the comparison that justified it), which the Models tab shows and rolls back from.
"""

from __future__ import annotations

import builtins
import hashlib
import importlib
import json
import logging
import os
import platform
import shutil
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from core.atomic import atomic_write_text
from core.auth import Permission, require
from core.errors import ModelFileCorrupt, ModelMismatch, StudioError
from core.schema import EMOTIONS
from core.settings import PROJECT_ROOT, Settings

ModelKind = Literal["landmark", "resnet", "detector", "hybrid", "faceapi", "faceapi_finetuned"]
CARD_FILE = "card.json"
ACTIVE_FILE = "active.json"
HISTORY_FILE = "activations.jsonl"
log = logging.getLogger(__name__)
STARTER_ID = "starter"
# Shipped with the code (under models/ in git): never deleted from the studio.
SHIPPED_IDS = frozenset({STARTER_ID, "faceapi-network"})
SHIPPED_MODELS = PROJECT_ROOT / "models"  # the repository's models folder, where the shipped models live
ActivationReason = Literal["manual", "better", "forced", "rollback"]

# kind -> module that defines `load_artifact(folder: Path, card: ModelCard) -> ExpressionModel`
LOADER_MODULES: dict[str, str] = {
    "landmark": "core.training.landmark_artifact",
    "resnet": "core.training.resnet",
    "detector": "core.detector.artifact",
    "hybrid": "core.faceapi.hybrid",  # face-api network + landmark features
    "faceapi": "core.faceapi.network_model",  # face-api's network alone, zero-shot (the baseline)
    "faceapi_finetuned": "core.faceapi_torch.model",  # face-api's network fine-tuned (ONNX, onnxruntime)
}


class ModelCard(BaseModel):
    """What a trained model is, what it was trained on, and how well it did."""

    id: str
    kind: ModelKind
    name: str = Field(description="Estimator name, e.g. svm, random_forest, mlp, resnet50, grid_detector.")
    classes: list[str]
    feature_sets: list[str] = Field(default_factory=list)
    feature_version: int = 1
    metrics: dict[str, Any] = Field(default_factory=dict)
    params: dict[str, Any] = Field(default_factory=dict)
    data_hash: str = ""
    data_sources: list[str] = Field(default_factory=list)
    library_versions: dict[str, str] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    artifact: str = "model.joblib"
    notes: str = ""
    trained_by: str = Field(default="", description="Who trained it: the signed-in user, or the CLI operator.")
    # Scores on evaluation suites (core.suites), by suite name: per-domain macro-F1, accuracy, faces found.
    suite_results: dict[str, Any] = Field(default_factory=dict)
    job_id: int | None = Field(default=None, description="The job that trained it, if a job did.")


class ActivationRecord(BaseModel):
    """One activation: which model replaced which, who did it, when, why, and the comparison behind it."""

    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    actor: str  # the acting user (core.auth): the signed-in person, the local user or the CLI operator
    model_id: str
    previous_id: str | None = None
    reason: ActivationReason = "manual"
    comparison: dict[str, Any] | None = None  # `Comparison.summary()` of core.training.promotion, when one was run


def library_versions() -> dict[str, str]:
    """Versions of the libraries a model artifact depends on."""
    out = {"python": platform.python_version()}
    for name in ("numpy", "sklearn", "torch", "torchvision", "mediapipe", "onnxruntime"):
        try:
            out[name] = str(importlib.import_module(name).__version__)
        except Exception:  # a missing optional library is simply not recorded
            continue
    return out


def coverage_note(card: ModelCard) -> str | None:
    """What a model cannot predict, for the UI: the vocabulary's emotions missing from its classes, with the reason
    its card gives (e.g. the starter: face-api's network has no contempt). None when it covers every emotion."""
    from core.schema import EMOTIONS

    missing = [e for e in EMOTIONS if e not in card.classes]
    if not missing:
        return None
    reasons = card.metrics.get("not_predicted") or {}
    why = "; ".join(f"{e}: {reasons[e]}" for e in missing if e in reasons)
    return (
        f"This model predicts {len(card.classes)} of the {len(EMOTIONS)} emotions; it never answers "
        f"{', '.join(missing)}" + (f" ({why})." if why else " (it was not trained on them).")
    )


def install_starter(settings: Settings) -> bool:
    """Copy the shipped models (the starter and the network alone) into `settings.models_dir` when that folder lacks
    them or holds an older release of them (Settings.starter_model): a separate MODELS_DIR, a Docker volume say,
    then starts with, and keeps up with, the models the code ships. Each is copied whole into a temporary folder,
    then renamed into place, so a concurrent start finds either nothing or a whole model. True when the starter
    was copied now."""
    if not settings.starter_model:
        return False
    copied = {model_id: _install_shipped(model_id, Path(settings.models_dir)) for model_id in sorted(SHIPPED_IDS)}
    return copied[STARTER_ID]


def _release(folder: Path) -> str | None:
    """When a shipped model's card says it was made: a new release of the starter is a new creation time."""
    try:
        return str(json.loads((folder / CARD_FILE).read_text())["created_at"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _install_shipped(model_id: str, models_dir: Path) -> bool:
    shipped = SHIPPED_MODELS / model_id
    target = models_dir / model_id
    release = _release(shipped)
    if release is None or (target.exists() and _release(target) == release):
        return False
    tmp: Path | None = None
    old: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=".installing-"))
        shutil.copytree(shipped, tmp, dirs_exist_ok=True)
        if target.exists():  # an older release: set aside, then removed once the new one is in place
            old = Path(tempfile.mkdtemp(dir=target.parent, prefix=".replaced-")) / model_id
            target.rename(old)
        tmp.rename(target)
    except OSError as exc:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
        if old is not None and not target.exists():
            old.rename(target)  # put the older release back rather than leave no model
        if not target.exists() or _release(target) != release:  # not merely another process that was quicker
            log.warning("could not copy the shipped model %s into %s: %s", model_id, target.parent, exc)
        return False
    finally:
        if old is not None and old.parent.exists() and target.exists():
            shutil.rmtree(old.parent, ignore_errors=True)
    return True


def check_emotions(card: ModelCard) -> None:
    """Refuse a model that predicts a class this code does not know as an emotion."""
    unknown = [c for c in card.classes if c not in EMOTIONS]
    if unknown:
        raise ModelMismatch(f"model {card.id} predicts unknown emotions {unknown}; valid: {', '.join(EMOTIONS)}")


def read_artifact(folder: Path, card: ModelCard, sha_key: str) -> bytes:
    """The model's artifact file, checked against the sha256 its card recorded under `sha_key` (when it did)."""
    path = Path(folder) / card.artifact
    try:
        payload = path.read_bytes()
    except OSError as exc:
        raise ModelFileCorrupt(f"model {card.id}: cannot read {path.name} ({exc.strerror or exc})") from exc
    expected = card.params.get(sha_key)
    if expected and hashlib.sha256(payload).hexdigest() != expected:
        raise ModelFileCorrupt(f"model {card.id}: {path.name} does not match the sha256 its card recorded")
    return payload


def new_model_id(kind: str, name: str) -> str:
    return f"{kind}-{name}-{datetime.now(UTC).strftime('%Y%m%d-%H%M%S-%f')}"


class Registry:
    """Models on disk. Trained models live in `<root>/<id>/`; the shipped starter model in `<root>/starter/`."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def folder(self, model_id: str) -> Path:
        if not model_id or "/" in model_id or "\\" in model_id or model_id.startswith("."):
            raise StudioError(f"invalid model id {model_id!r}")
        return self.root / model_id

    def save(self, card: ModelCard, write_artifact: Callable[[Path], None]) -> ModelCard:
        """Write the artifact and card into a temporary folder, then rename it into place (all or nothing)."""
        user = require(Permission.TRAIN)
        if not card.trained_by:
            card = card.model_copy(update={"trained_by": user.id})
        self.root.mkdir(parents=True, exist_ok=True)
        final = self.folder(card.id)
        if final.exists():
            raise StudioError(f"model {card.id} already exists")
        if not card.library_versions:
            card = card.model_copy(update={"library_versions": library_versions()})
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=".saving-"))
        try:
            write_artifact(tmp / card.artifact)
            (tmp / CARD_FILE).write_text(card.model_dump_json(indent=2))
            tmp.rename(final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return card

    def card(self, model_id: str) -> ModelCard:
        path = self.folder(model_id) / CARD_FILE
        if not path.is_file():
            raise StudioError(f"no model with id {model_id!r} in {self.root}")
        try:
            return ModelCard.model_validate_json(path.read_text())
        except ValueError as exc:
            raise StudioError(f"model card {path} is unreadable: {exc}") from exc

    def record_suite_result(self, model_id: str, suite: str, result: dict[str, Any]) -> ModelCard:
        """Keep a model's score on an evaluation suite in its card (the latest per suite), written atomically."""
        require(Permission.TRAIN)
        card = self.card(model_id)
        card = card.model_copy(update={"suite_results": {**card.suite_results, suite: result}})
        atomic_write_text(self.folder(model_id) / CARD_FILE, card.model_dump_json(indent=2))
        return card

    def list(self) -> builtins.list[ModelCard]:
        """All readable model cards, newest first (unreadable folders are skipped)."""
        cards = []
        if self.root.is_dir():
            for sub in self.root.iterdir():
                if sub.is_dir() and not sub.name.startswith(".") and (sub / CARD_FILE).is_file():
                    try:
                        cards.append(self.card(sub.name))
                    except StudioError:
                        continue
        return sorted(cards, key=lambda c: c.created_at, reverse=True)

    def active_id(self) -> str | None:
        """The activated model, else the shipped starter model, else None."""
        path = self.root / ACTIVE_FILE
        if path.is_file():
            try:
                model_id = json.loads(path.read_text()).get("id")
            except (OSError, ValueError):
                model_id = None
            if model_id and (self.folder(model_id) / CARD_FILE).is_file():
                return str(model_id)
        if (self.root / STARTER_ID / CARD_FILE).is_file():
            return STARTER_ID
        return None

    def active_stamp(self) -> tuple[int, int, int] | None:
        """A cheap identity of `active.json` (one stat): watchers reload the model only when it changes."""
        try:
            st = os.stat(self.root / ACTIVE_FILE)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_ino, st.st_size)

    def activate(
        self,
        model_id: str,
        *,
        reason: ActivationReason = "manual",
        comparison: dict[str, Any] | None = None,
    ) -> ActivationRecord:
        """Make `model_id` the active model and record the activation (by the acting user) in the history."""
        actor = require(Permission.ACTIVATE).id
        self.card(model_id)  # refuses unknown ids
        record = ActivationRecord(
            actor=actor, model_id=model_id, previous_id=self.active_id(), reason=reason, comparison=comparison
        )
        # The history line first: an activation that is in effect is always on record.
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / HISTORY_FILE).open("a", encoding="utf-8") as fh:
            fh.write(record.model_dump_json() + "\n")
        atomic_write_text(
            self.root / ACTIVE_FILE, json.dumps({"id": model_id, "at": record.at.isoformat(), "actor": actor})
        )
        return record

    def history(self) -> builtins.list[ActivationRecord]:
        """Every recorded activation, newest first (a torn or unreadable line is skipped)."""
        path = self.root / HISTORY_FILE
        if not path.is_file():
            return []
        out = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    out.append(ActivationRecord.model_validate_json(line))
                except ValueError:
                    continue
        return out[::-1]

    def rollback(self, to_id: str | None = None) -> ActivationRecord:
        """Activate `to_id`, or the model the latest activation replaced; recorded as a rollback."""
        if to_id is None:
            latest = next(iter(self.history()), None)
            if latest is None or not latest.previous_id:
                raise StudioError("nothing to roll back to: no earlier active model is on record")
            to_id = latest.previous_id
        if not (self.folder(to_id) / CARD_FILE).is_file():
            raise StudioError(f"cannot roll back to {to_id}: that model was deleted")
        return self.activate(to_id, reason="rollback")

    def discard_job_models(self, job_id: int) -> builtins.list[str]:
        """Remove the models a killed attempt of job `job_id` saved (trainers: it is their own job's leftovers), so
        the job's rerun does not leave a second copy beside its own; the active model is never removed."""
        require(Permission.TRAIN)
        active = self.active_id()
        gone = [c.id for c in self.list() if c.job_id == job_id and c.id != active]
        for model_id in gone:
            shutil.rmtree(self.folder(model_id), ignore_errors=True)
        return gone

    def delete(self, model_id: str) -> None:
        require(Permission.DELETE)
        if model_id in SHIPPED_IDS:
            raise StudioError(f"the shipped model {model_id} cannot be deleted")
        folder = self.folder(model_id)
        if not folder.is_dir():
            raise StudioError(f"no model with id {model_id!r}")
        if self.active_id() == model_id:
            (self.root / ACTIVE_FILE).unlink(missing_ok=True)
        shutil.rmtree(folder)

    def load(
        self,
        model_id: str,
        *,
        expect_classes: builtins.list[str] | None = None,
        expect_feature_version: int | None = None,
    ) -> Any:
        """Load a model by id; refuse it when its classes or feature version differ from what the caller needs."""
        card = self.card(model_id)
        if expect_classes is not None and list(card.classes) != list(expect_classes):
            raise ModelMismatch(
                f"model {model_id} predicts {card.classes}, but {expect_classes} were expected; retrain it"
            )
        if expect_feature_version is not None and card.feature_version != expect_feature_version:
            raise ModelMismatch(
                f"model {model_id} was built with feature version {card.feature_version}, but this code computes "
                f"version {expect_feature_version}; retrain it"
            )
        try:
            module = importlib.import_module(LOADER_MODULES[card.kind])
        except ModuleNotFoundError as exc:  # e.g. a ResNet in an install without torch (requirements-base.txt)
            raise StudioError(
                f"model {model_id} is a {card.kind} model, which needs {exc.name}: install requirements.txt"
            ) from exc
        return module.load_artifact(self.folder(model_id), card)
