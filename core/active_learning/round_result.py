"""What a retraining round returns: `rounds.retrain`'s answer and the round job's stored result, one model for both
(a light module: the job catalogue imports it without the training libraries)."""

from __future__ import annotations

from core.jobs.contract import Result


class RoundResult(Result):
    round_id: int
    model_id: str
    n_labels: int
    n_held_out: int
    macro_f1: float
    accuracy: float
    activated: bool = False
    activation_message: str = ""
