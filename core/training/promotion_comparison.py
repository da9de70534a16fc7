"""The comparison of a new model with the active one on the same images: both scores, the images where they
disagree, per-domain scores on a suite, the decision rule and the tables the pages show (`core.training.promotion`
measures it and acts on it)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pandas as pd
from pydantic import BaseModel, Field

from core.schema import EMOTIONS
from core.suites.evaluate import ModelSuiteScore


class ModelScore(BaseModel):
    model_id: str
    accuracy: float | None = None
    macro_f1: float | None = None
    per_class_f1: dict[str, float] = Field(default_factory=dict)
    error: str = ""  # why the model could not be scored (e.g. it no longer loads); its metrics are then None


class Disagreement(BaseModel):
    image_id: int
    label: str
    candidate: str
    incumbent: str


class Comparison(BaseModel):
    """The new model against the active one on the same images: an evaluation suite's, or the held-out split."""

    candidate: ModelScore
    incumbent: ModelScore | None  # None when no model was active
    holdout: str  # which images every figure is measured on, in words
    n_images: int
    image_ids: list[int]
    n_disagreements: int = 0
    disagreements: list[Disagreement] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    # On a suite: the suite's name, both models' per-domain scores, and the largest drop a domain may take.
    suite: str | None = None
    candidate_domains: ModelSuiteScore | None = None
    incumbent_domains: ModelSuiteScore | None = None
    margin: float = 0.0

    def decision(self) -> tuple[bool, str]:
        """Whether the candidate beats the active model, and why, in words. On a suite: a higher worst-domain
        macro-F1 and no domain more than `margin` below the active model's. On the held-out split: higher macro-F1,
        or equal macro-F1 and higher accuracy. An active model that cannot be scored loses; a candidate that cannot
        be scored never wins."""
        cand, inc = self.candidate, self.incumbent
        if cand.macro_f1 is None or cand.accuracy is None:
            return False, f"the new model could not be scored: {cand.error}"
        if inc is None:
            return True, "no model was active"
        if inc.macro_f1 is None or inc.accuracy is None:
            return True, f"the active model {inc.model_id} could not be scored: {inc.error}"
        if self.suite is None:
            if (cand.macro_f1, cand.accuracy) > (inc.macro_f1, inc.accuracy):
                return True, f"macro-F1 {cand.macro_f1:.3f} vs {inc.macro_f1:.3f} on {self.holdout}"
            return False, f"on {self.holdout}: macro-F1 {inc.macro_f1:.3f} vs {cand.macro_f1:.3f}"
        new, old = self.candidate_domains, self.incumbent_domains
        new_worst = None if new is None else new.worst
        old_worst = None if old is None else old.worst
        if new is None or new_worst is None:
            return False, "the new model has no domain score on the suite"
        if old is None or old_worst is None:
            return True, f"the active model {inc.model_id} has no domain score on the suite"
        for domain in new.domains:
            before = old.domain(domain.domain)
            if before is not None and domain.macro_f1 < before.macro_f1 - self.margin:
                return False, (
                    f"on domain {domain.domain} (macro-F1 {before.macro_f1:.3f} vs {domain.macro_f1:.3f}: the new "
                    f"model drops more than the {self.margin:.2f} margin) of suite {self.suite}"
                )
        versus = (
            f"worst-domain macro-F1 {new_worst.macro_f1:.3f} ({new_worst.domain}) vs {old_worst.macro_f1:.3f} "
            f"({old_worst.domain}) on suite {self.suite}"
        )
        if new_worst.macro_f1 > old_worst.macro_f1:
            return True, versus
        return False, f"on its worst domain: {versus}"

    @property
    def better(self) -> bool:
        return self.decision()[0]

    def headline(self) -> str:
        """e.g. "macro-F1 0.612 vs 0.589 (starter), accuracy 0.660 vs 0.653 on 50 images of the store's test set"."""
        cand, inc = self.candidate, self.incumbent
        where = f"{self.n_images} images of {self.holdout}"
        if cand.macro_f1 is None or cand.accuracy is None:
            return f"the new model could not be scored: {cand.error}"
        worst = ""
        if self.candidate_domains is not None and self.candidate_domains.worst is not None:
            # Each model's own worst domain, named with its model: "web 0.23 vs posed 0.70" read as one model's two
            # domains.
            w = self.candidate_domains.worst
            worst = f"worst-domain macro-F1 {w.macro_f1:.3f} ({w.domain})"
            old = self.incumbent_domains.worst if self.incumbent_domains is not None else None
            if old is not None and inc is not None:
                worst += f" vs {old.macro_f1:.3f} ({old.domain}, {inc.model_id})"
            worst += ", "
        if inc is None:
            return f"{worst}macro-F1 {cand.macro_f1:.3f}, accuracy {cand.accuracy:.3f} on {where} (none active)"
        if inc.macro_f1 is None or inc.accuracy is None:
            return (
                f"{worst}macro-F1 {cand.macro_f1:.3f}; the active model {inc.model_id} could not be scored: {inc.error}"
            )
        return (
            f"{worst}macro-F1 {cand.macro_f1:.3f} vs {inc.macro_f1:.3f} ({inc.model_id}), accuracy {cand.accuracy:.3f} "
            f"vs {inc.accuracy:.3f} on {where}"
        )

    def outcome(self, active_now: str | None, *, activated: bool = False) -> str:
        """What became of the comparison, worded for the model active *now* (a stale comparison never names a model
        as active after another was activated)."""
        better, why = self.decision()
        cand = self.candidate.model_id
        then = None if self.incumbent is None else self.incumbent.model_id
        if active_now == cand:
            return f"{cand} is the active model" + (f" ({why})" if activated or better else "")
        if activated:
            return f"{cand} became active after this comparison; {active_now or 'no model'} is active now"
        if then is not None and active_now != then:
            return (
                f"Compared with {then}, which was active then; {active_now or 'no model'} is active now: compare "
                f"again to judge {cand} against it"
            )
        if better:
            return f"{cand} is better ({why}) but was not activated"
        return f"The active model {then} stays: it is better {why}"

    def summary(self) -> dict[str, Any]:
        """What the activation history keeps: the two scores and the images, without per-image rows."""
        return {
            "candidate": self.candidate.model_dump(),
            "incumbent": None if self.incumbent is None else self.incumbent.model_dump(),
            "holdout": self.holdout,
            "n_images": self.n_images,
            "n_disagreements": self.n_disagreements,
            "better": self.better,
            "suite": self.suite,
            "worst_domain": _worst_summary(self.candidate_domains),
            "incumbent_worst_domain": _worst_summary(self.incumbent_domains),
        }


def _worst_summary(score: ModelSuiteScore | None) -> dict[str, Any] | None:
    worst = None if score is None else score.worst
    return None if worst is None else {"domain": worst.domain, "macro_f1": worst.macro_f1}


def side_by_side(comparison: Comparison, *, stale: bool = False) -> pd.DataFrame:
    """Rows: accuracy, macro-F1, F1 per emotion; columns: the new model and the active one (`stale`: the one that
    was active then, when another has been activated since)."""
    columns = {"new": comparison.candidate}
    if comparison.incumbent is not None and comparison.incumbent.model_id != comparison.candidate.model_id:
        columns["active then" if stale else "active"] = comparison.incumbent
    emotions = [e for e in EMOTIONS if any(e in s.per_class_f1 for s in columns.values())]
    index = ["accuracy", "macro-F1"] + [f"F1 {e}" for e in emotions]
    data = {
        f"{name} ({score.model_id})": [score.accuracy, score.macro_f1] + [score.per_class_f1.get(e) for e in emotions]
        for name, score in columns.items()
    }
    return pd.DataFrame(data, index=index)


def domain_versus(comparison: Comparison) -> pd.DataFrame:
    """On a suite: one row a domain, the two models' macro-F1 and the change (what the decision looks at)."""
    new, old = comparison.candidate_domains, comparison.incumbent_domains
    rows = []
    for d in [] if new is None else new.domains:
        before = None if old is None else old.domain(d.domain)
        rows.append(
            {
                "domain": d.domain,
                f"new ({new.model_id})" if new else "new": d.macro_f1,
                f"active ({old.model_id})" if old else "active": None if before is None else before.macro_f1,
                "change": None if before is None else d.macro_f1 - before.macro_f1,
                "faces": f"{d.n_faces}/{d.n_images}",
            }
        )
    return pd.DataFrame(rows).set_index("domain") if rows else pd.DataFrame()
