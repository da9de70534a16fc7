"""The activation flags every training command shares, and how a promotion is printed.

No flag: the new model is saved and compared with the active one, which stays. `--activate`: it becomes active only
if it beats the active model on the same held-out images. `--force-activate`: it becomes active regardless.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the commands import the heavy modules only when they run
    from core.training.promotion import ActivationPolicy


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
