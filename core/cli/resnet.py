"""`python -m core resnet train`: the ResNet-50 image model on the store's face crops (its flags:
core.training.resnet_kind). Ctrl-C stops training after the current batch and still saves the best epoch."""

from __future__ import annotations

import argparse
from typing import Any

from core.cli.inline import add_submit_flag

# The flags named otherwise than their field (kept from before the flags came from the Params model).
RESNET_FLAGS = {"image_size": "--size", "batch_size": "--batch", "use_imagenet": "--no-imagenet"}


def register(sub: Any) -> None:
    from core.cli.activation import add_activation_flags
    from core.cli.params import add_params
    from core.training.resnet_kind import ResNetParams

    res = sub.add_parser("resnet", help="ResNet-50 image model on face crops").add_subparsers(
        dest="resnet_command", metavar="ACTION", required=True
    )
    r = res.add_parser("train", help="fine-tune ResNet-50 on face crops of the store")
    add_params(r, ResNetParams, exclude={"activation"}, flags=RESNET_FLAGS)
    add_activation_flags(r)
    add_submit_flag(r)
    r.set_defaults(func=cmd_resnet_train)


def cmd_resnet_train(args: argparse.Namespace) -> int:
    from core.cli.activation import report_promotion
    from core.cli.inline import run_job
    from core.cli.params import params_from
    from core.settings import get_settings
    from core.training.resnet import weights_status
    from core.training.resnet_kind import RESNET_TRAINING_KIND, ResNetParams

    params = params_from(args, ResNetParams)
    if params.backbone == "efficientnet_lite0":
        print("EfficientNet-Lite0 from its ImageNet weights" if params.use_imagenet else "training from scratch")
    else:
        print(weights_status(get_settings()) if params.use_imagenet else "training from scratch (--no-imagenet)")
    result = run_job(args, RESNET_TRAINING_KIND, params, unit="epoch", threaded=True)
    if result is None:
        return 0
    print(f"{result.n_crops} face crops; {result.skipped} unreadable")
    m = result.metrics
    if m:
        print(f"validation accuracy {m['accuracy']:.3f}  macro-F1 {m['macro_f1']:.3f} (best epoch {result.best_epoch})")
    print(f"saved model {result.model_id}")
    report_promotion(result)
    return 0
