"""Training figures, checked offline on `fig.data`."""

from __future__ import annotations

import numpy as np

from core.training.report import ModelReport, classification_metrics, comparison_table, per_class_table
from core.viz.training import comparison_bar, confusion_heatmap, learning_curves, per_class_f1

LABELS = ["angry", "happy", "sad"]


def _report(name: str, f1: float, std: float) -> ModelReport:
    truth = ["angry"] * 4 + ["happy"] * 4 + ["sad"] * 2
    pred = ["angry"] * 3 + ["sad"] + ["happy"] * 4 + ["sad", "happy"]
    m = classification_metrics(truth, pred, LABELS)
    return ModelReport(
        name=name,
        feature_sets=["geometry"],
        cv_mean=f1,
        cv_std=std,
        accuracy=m["accuracy"],
        macro_f1=f1,
        labels=LABELS,
        confusion_matrix=m["confusion_matrix"],
        per_class=m["per_class"],
        best_params={"clf__C": 1},
        fit_time_s=1.0,
        predict_ms_per_sample=0.5,
        n_train=40,
        n_test=10,
    )


def test_metrics() -> None:
    m = classification_metrics(["angry", "happy", "sad", "sad"], ["angry", "sad", "sad", "sad"], LABELS)
    assert m["accuracy"] == 0.75
    assert m["confusion_matrix"] == [[1, 0, 0], [0, 0, 1], [0, 0, 2]]
    assert m["per_class"]["happy"]["recall"] == 0.0 and m["per_class"]["sad"]["precision"] == 2 / 3


def test_comparison_bar_has_cv_error_bars() -> None:
    reports = [_report("svm", 0.8, 0.05), _report("mlp", 0.6, 0.1)]
    fig = comparison_bar(reports)
    assert [t.name for t in fig.data] == ["CV macro-F1", "held-out accuracy", "held-out macro-F1"]
    assert list(fig.data[0].error_y.array) == [0.05, 0.1]
    assert list(fig.data[2].y) == [0.8, 0.6]
    assert comparison_table(reports)["model"].tolist() == ["svm", "mlp"]


def test_confusion_heatmap_normalizes_rows_and_shows_counts() -> None:
    fig = confusion_heatmap([[3, 1, 0], [0, 4, 0], [0, 1, 1]], LABELS)
    z = np.asarray(fig.data[0].z)
    np.testing.assert_allclose(z.sum(axis=1), 1.0)
    assert z[0, 0] == 0.75 and np.asarray(fig.data[0].text)[0, 0] == 3
    assert list(fig.data[0].x) == LABELS


def test_per_class_f1_and_learning_curves() -> None:
    fig = per_class_f1([_report("svm", 0.8, 0.05)])
    assert list(fig.data[0].x) == LABELS and fig.data[0].y[1] > 0.8  # happy: 4 right, 1 false positive
    curves = learning_curves({"epoch": [1, 2], "train_loss": [1.0, 0.5], "val_acc": [0.4, 0.6]})
    assert [t.name for t in curves.data] == ["train_loss", "val_acc"]
    assert curves.data[1].yaxis == "y2"


def test_per_class_table() -> None:
    table = per_class_table(_report("svm", 0.8, 0.05))
    assert list(table.index) == LABELS and list(table.columns) == ["precision", "recall", "f1", "support"]
    assert table.loc["angry", "recall"] == 0.75 and table.loc["angry", "support"] == 4
