"""Per-epoch checkpoints of a training job, so that a requeued job (its worker was killed) resumes where it was.

A job's folder under the data root (`DATA_ROOT/jobs/<job id>/`) holds `checkpoint.pt` (model, optimizer, epoch,
best weights so far, RNG states) and `curve.json` (the learning curve so far, which the Train page plots while the
job runs). Both are replaced atomically after each finished epoch. A checkpoint carries a key (a hash of the job's
parameters and of its training data): a resumed job uses it only when the key matches, else it starts over and
says so. The job's worker deletes the folder when the job ends.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.atomic import atomic_write_text
from core.settings import Settings

log = logging.getLogger(__name__)

CHECKPOINT, CURVE = "checkpoint.pt", "curve.json"


def job_folder(settings: Settings, job_id: int) -> Path:
    return settings.data_root / "jobs" / str(int(job_id))


def checkpoint_key(params: dict[str, Any], data_hash: str) -> str:
    """What must be the same for a checkpoint to be resumed: the job's parameters and its training data."""
    text = json.dumps({"params": params, "data": data_hash}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:24]


def read_curve(settings: Settings, job_id: int) -> list[dict[str, Any]]:
    """The learning curve a running job has published so far (one entry per finished epoch); [] when none."""
    try:
        data = json.loads((job_folder(settings, job_id) / CURVE).read_text())
    except (OSError, ValueError):
        return []
    history = data.get("history") if isinstance(data, dict) else None
    return list(history) if isinstance(history, list) else []


def remove_job_folder(settings: Settings, job_id: int) -> None:
    shutil.rmtree(job_folder(settings, job_id), ignore_errors=True)


@dataclass(frozen=True)
class EpochCheckpoint:
    """Where one job's checkpoint lives and the key it must carry. Plain data, so it travels to a Ray task (which
    then needs DATA_ROOT on shared storage, as extraction does)."""

    folder: Path
    key: str

    @property
    def path(self) -> Path:
        return self.folder / CHECKPOINT

    def saved_epoch(self) -> int | None:
        """The last epoch of a matching checkpoint, else None."""
        try:
            meta = json.loads((self.folder / CURVE).read_text())
        except (OSError, ValueError):
            return None
        if meta.get("key") != self.key or not self.path.is_file():
            return None
        return int(meta.get("epoch", 0)) or None

    def begin(self) -> str:
        """Before training: a note for the job's message. A checkpoint made with other parameters or data is
        removed (the run starts over)."""
        epoch = self.saved_epoch()
        if epoch is not None:
            return f"resuming from the checkpoint after epoch {epoch}"
        if self.path.exists() or (self.folder / CURVE).exists():
            shutil.rmtree(self.folder, ignore_errors=True)
            return "a checkpoint of other parameters or data was found: starting over from epoch 1"
        return ""

    def load(self) -> dict[str, Any] | None:
        """The saved state, if it carries this key (an unreadable or foreign one is ignored: start over)."""
        import torch

        if self.saved_epoch() is None:
            return None
        try:
            state: dict[str, Any] = torch.load(self.path, map_location="cpu", weights_only=False)
        except Exception:
            log.warning("checkpoint %s cannot be read; starting over", self.path, exc_info=True)
            return None
        return state if state.get("key") == self.key else None

    def save(self, epoch: int, state: dict[str, Any], history: list[dict[str, Any]]) -> None:
        """Replace the checkpoint and the published curve, each atomically (checkpoint first: the curve never
        claims an epoch the checkpoint lacks)."""
        import torch

        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{CHECKPOINT}.{os.getpid()}.tmp")
        torch.save({**state, "key": self.key, "epoch": epoch, "history": history}, tmp)
        os.replace(tmp, self.path)
        atomic_write_text(self.folder / CURVE, json.dumps({"key": self.key, "epoch": epoch, "history": history}))


@dataclass
class Resumed:
    """Where a resumed training loop goes on: the next epoch, whether it had already stopped early, the seconds
    spent before, and the best weights so far."""

    first_epoch: int
    stopped: bool
    seconds: float
    best_state: dict[str, Any]


def restore(saved: dict[str, Any], net: Any, optim: Any, rng: Any) -> Resumed:
    """Put the network, its optimizer and the random generators back as they were after the saved epoch (the
    loop's own scores and history are the caller's, as their names differ between model kinds)."""
    import torch

    net.load_state_dict(saved["net"])
    optim.load_state_dict(saved["optim"])
    rng.bit_generator.state = saved["rng"]
    torch.set_rng_state(saved["torch_rng"])
    best = (
        saved["best_state"] if saved["best_state"] is not None else {k: v.clone() for k, v in net.state_dict().items()}
    )
    return Resumed(saved["epoch"] + 1, bool(saved["stopped"]), float(saved["seconds"]), best)
