"""The starter's selection rule (issue 18): a candidate is scored per domain in two ways, and chosen by both.

(a) person-grouped CV inside each domain of the pooled training data: a new person in a kind of picture we have;
(b) leave-one-domain-out: a kind of picture never seen. The rule keeps the candidates not more than `margin` below
the network alone on any domain of (b), and among them takes the best worst domain of (a). The network alone is one
of the candidates, so the rule always has an answer. bench/train.py computes the scores (bench/starter_study.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

T = TypeVar("T", bound=Mapping[str, Any])


def select_by_domains(candidates: Sequence[T], network_lodo: Mapping[str, float], margin: float = 0.02) -> T | None:
    """The chosen candidate: each is a mapping with "cv" and "lodo" (domain -> macro-F1) and "weight" (the
    network's share, which breaks ties: the simpler, closer-to-the-network model). None when none qualifies."""
    ok = [c for c in candidates if all(c["lodo"][d] >= network_lodo[d] - margin for d in network_lodo)]
    if not ok:
        return None
    return max(ok, key=lambda c: (min(c["cv"].values()), c["weight"]))
