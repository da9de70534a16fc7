"""The activation flags every training command shares, and how a promotion is printed.

No flag: the new model is saved and compared with the active one, which stays. `--activate`: it becomes active only
if it beats the active model on the same held-out images. `--force-activate`: it becomes active regardless.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the commands import the heavy modules only when they run
    from core.registry import Registry
    from core.store import Store
    from core.store.repository import Filters
    from core.training.promotion import ActivationPolicy, Promotion


def add_activation_flags(parser: Any) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--activate",
        dest="activation",
        action="store_const",
        const="if_better",
        default="never",
        help="make the new model active if it beats the active one on the same held-out images",
    )
    group.add_argument(
        "--force-activate",
        dest="activation",
        action="store_const",
        const="always",
        help="make the new model active even if it is not better",
    )


def policy_of(args: argparse.Namespace) -> ActivationPolicy:
    policy: ActivationPolicy = getattr(args, "activation", "never")
    return policy


def promote_and_report(
    registry: Registry,
    store: Store,
    model_id: str,
    args: argparse.Namespace,
    *,
    filters: Filters | None = None,
    seed: int = 0,
) -> Promotion:
    """Compare `model_id` with the active model, activate it as the flags say, and print both side by side."""
    from core.training.promotion import promote, side_by_side

    promotion = promote(registry, store, model_id, policy=policy_of(args), filters=filters, seed=seed)
    if promotion.comparison is not None:
        print(f"against the active model, on {promotion.comparison.holdout}:")
        print(side_by_side(promotion.comparison).round(3).to_string())
    print(promotion.message)
    return promotion


def report_promotion(result: dict[str, Any]) -> None:
    """Print the comparison and the activation message a training job put in its result."""
    from core.training.promotion import Comparison, side_by_side

    raw = result.get("comparison")
    if raw:
        comparison = Comparison.model_validate(raw)
        print(f"against the active model, on {comparison.holdout}:")
        print(side_by_side(comparison).round(3).to_string())
    if result.get("activation_message"):
        print(result["activation_message"])
