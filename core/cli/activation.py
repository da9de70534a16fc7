"""The activation flags every training command shares, and how a promotion is printed.

No flag: the new model is saved and compared with the active one, which stays. `--activate`: it becomes active only
if it beats the active model on the same held-out images. `--force-activate`: it becomes active regardless.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the commands import the heavy modules only when they run
    from core.jobs.contract import PromotionResult
    from core.training.kinds import LandmarkTrainingResult


def add_activation_flags(parser: Any) -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--activate",
        dest="activation",
        action="store_const",
        const="if_better",
        default=argparse.SUPPRESS,  # the job's Params say the default (never)
        help="make the new model active if it beats the active one on the same held-out images",
    )
    group.add_argument(
        "--force-activate",
        dest="activation",
        action="store_const",
        const="always",
        default=argparse.SUPPRESS,
        help="make the new model active even if it is not better",
    )


def report_promotion(result: PromotionResult | LandmarkTrainingResult) -> None:
    """Print the comparison and the activation message a training job put in its result."""
    from core.training.promotion import Comparison, side_by_side

    if result.comparison:
        comparison = Comparison.model_validate(result.comparison)
        print(f"against the active model, on {comparison.holdout}:")
        print(side_by_side(comparison).round(3).to_string())
    if result.activation_message:
        print(result.activation_message)
