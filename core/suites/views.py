"""Tables the Models tab draws from a suite evaluation: models x domains with each model's worst domain, and the
images a model gets wrong in a domain (with thumbnails)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from core.batch_uploads import thumbnail_uri
from core.store import Store
from core.suites.evaluate import DomainScore, SuiteEvaluation

WORST = "worst domain"


def domain_table(evaluation: SuiteEvaluation) -> pd.DataFrame:
    """One row a model (index: model id), one macro-F1 column a domain, then the worst domain's name and score.
    A model that could not be scored has empty cells and its error as the worst domain."""
    rows = []
    for score in evaluation.models:
        row: dict[str, object] = {d: None for d in evaluation.domains}
        row.update({d.domain: round(d.macro_f1, 3) for d in score.domains})
        worst = score.worst
        row[WORST] = worst.domain if worst is not None else f"not scored: {score.error}"
        row["worst macro-F1"] = None if worst is None else round(worst.macro_f1, 3)
        rows.append(pd.Series(row, name=score.model_id))
    return pd.DataFrame(rows)


def card_suites(suite_results: dict[str, Any]) -> str:
    """A model card's suite results in one cell: "bench: 0.412 (posed)", the worst domain of each suite."""
    parts = []
    for name, result in sorted(suite_results.items()):
        worst, f1 = result.get("worst_domain"), result.get("worst_macro_f1")
        if isinstance(f1, int | float) and worst:
            parts.append(f"{name}: {f1:.3f} ({worst})")
    return "; ".join(parts)


def worst_cells(table: pd.DataFrame) -> pd.DataFrame:
    """CSS for `table`: each model's worst-domain cell highlighted (pandas Styler.apply with axis=None)."""
    css = pd.DataFrame("", index=table.index, columns=table.columns)
    for model_id, worst in table[WORST].items():
        if worst in table.columns:
            css.loc[model_id, worst] = "background-color: #f8d7da; font-weight: bold"
    return css


def wrong_images(store: Store, domain: DomainScore, limit: int = 48) -> pd.DataFrame:
    """The images the model got wrong in a domain: thumbnail, image id, true label, what it answered."""
    rows = []
    for wrong in domain.wrong[:limit]:
        record = store.get(wrong.image_id)
        rows.append(
            {
                "thumbnail": None if record is None else thumbnail_uri(store.absolute_path(record)),
                "image": wrong.image_id,
                "name": "" if record is None else record.original_name,
                "label": wrong.label,
                "predicted": wrong.predicted,
            }
        )
    return pd.DataFrame(rows, columns=["thumbnail", "image", "name", "label", "predicted"])
