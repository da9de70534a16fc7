"""Per-model training reports and the metrics shared with evaluation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support


def classification_metrics(
    y_true: Sequence[str] | np.ndarray, y_pred: Sequence[str] | np.ndarray, labels: Sequence[str]
) -> dict[str, Any]:
    """Accuracy, macro-F1 over `labels`, per-class precision/recall/F1/support and the confusion matrix
    (rows: true label, columns: predicted, both in `labels` order)."""
    labels = list(labels)
    yt, yp = np.asarray(y_true, dtype=str), np.asarray(y_pred, dtype=str)
    precision, recall, f1, support = precision_recall_fscore_support(yt, yp, labels=labels, zero_division=0)
    return {
        "accuracy": float(accuracy_score(yt, yp)) if len(yt) else 0.0,
        "macro_f1": float(f1_score(yt, yp, labels=labels, average="macro", zero_division=0)) if len(yt) else 0.0,
        "labels": labels,
        "confusion_matrix": confusion_matrix(yt, yp, labels=labels).astype(int).tolist(),
        "per_class": {
            label: {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}
            for label, p, r, f, s in zip(labels, precision, recall, f1, support, strict=True)
        },
    }


@dataclass
class ModelReport:
    """Everything the Train page and the CLI show about one trained candidate."""

    name: str
    feature_sets: list[str]
    cv_mean: float  # mean macro-F1 over the CV folds of the best parameters
    cv_std: float
    accuracy: float  # on the held-out set
    macro_f1: float
    labels: list[str]
    confusion_matrix: list[list[int]]
    per_class: dict[str, dict[str, float]]
    best_params: dict[str, Any]
    fit_time_s: float  # the whole search, including the refit
    predict_ms_per_sample: float
    n_train: int
    n_test: int
    cv: str = ""  # e.g. "StratifiedGroupKFold(5) by person"
    model_id: str | None = None  # set once the model is saved to the registry
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def summary_metrics(self) -> dict[str, Any]:
        """What goes into the model card's `metrics`."""
        out = self.to_dict()
        for key in ("name", "feature_sets", "best_params", "model_id", "extra"):
            out.pop(key)
        return out


def comparison_table(reports: Sequence[ModelReport]) -> pd.DataFrame:
    """One row per model, best macro-F1 first."""
    rows = [
        {
            "model": r.name,
            "features": "+".join(r.feature_sets),
            "cv_macro_f1": round(r.cv_mean, 4),
            "cv_std": round(r.cv_std, 4),
            "accuracy": round(r.accuracy, 4),
            "macro_f1": round(r.macro_f1, 4),
            "fit_s": round(r.fit_time_s, 2),
            "predict_ms": round(r.predict_ms_per_sample, 4),
            "best_params": ", ".join(f"{k.removeprefix('clf__')}={v}" for k, v in r.best_params.items()),
            "model_id": r.model_id or "",
        }
        for r in reports
    ]
    columns = [
        "model",
        "features",
        "cv_macro_f1",
        "cv_std",
        "accuracy",
        "macro_f1",
        "fit_s",
        "predict_ms",
        "best_params",
        "model_id",
    ]
    return pd.DataFrame(rows, columns=columns).sort_values("macro_f1", ascending=False, ignore_index=True)


def per_class_table(report: ModelReport) -> pd.DataFrame:
    """Held-out precision, recall, F1 and support per emotion of one model."""
    frame = pd.DataFrame.from_dict(report.per_class, orient="index", columns=["precision", "recall", "f1", "support"])
    frame.index.name = "emotion"
    return frame.round(3)
