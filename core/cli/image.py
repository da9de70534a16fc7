"""`python -m core image backbones|train`: image models on face crops, by backbone."""

from __future__ import annotations

import argparse

from core.cli.activation import add_activation_flags
from core.cli.inline import add_submit_flag
from core.errors import StudioError

BACKBONES = ("faceapi", "efficientnet_lite0", "resnet50")


def cmd_backbones(args: argparse.Namespace) -> int:
    from core.backbones import list_backbones

    for b in list_backbones():
        print(f"{b.name:<20} pretrained: {'yes' if b.pretrained else 'no (random init)':<17} licence: {b.licence}")
        print(f"{'':<20} weights: {b.source}" + (f"\n{'':<20} {b.note}" if b.note else ""))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from core.cli.activation import report_promotion
    from core.cli.inline import run_job
    from core.cli.params import params_from

    if args.backbone in ("resnet50", "efficientnet_lite0"):
        from core.cli.resnet import cmd_resnet_train

        return cmd_resnet_train(args)
    if args.backbone != "faceapi":
        raise StudioError(f"unknown backbone {args.backbone!r}; known: {', '.join(BACKBONES)}")
    from core.faceapi_torch.kinds import FACEAPI_FINETUNING_KIND, FineTuneParams

    result = run_job(args, FACEAPI_FINETUNING_KIND, params_from(args, FineTuneParams), unit="epoch", threaded=True)
    if result is None:
        return 0
    print(f"{result.n_crops} face crops ({result.validation}); {result.skipped} unreadable")
    alone, m = result.network_alone_val_macro_f1, result.metrics or {}
    if alone is not None:
        print(f"validation macro-F1: network alone {alone:.3f}, fine-tuned {m['macro_f1']:.3f} "
              f"(best epoch {result.best_epoch}; 0 means the network alone was kept)")  # fmt: skip
    print(f"saved model {result.model_id}")
    report_promotion(result)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from core.cli.params import add_params
    from core.cli.resnet import RESNET_FLAGS
    from core.faceapi_torch.kinds import FineTuneParams
    from core.training.resnet_kind import ResNetParams

    image = sub.add_parser("image", help="image models on face crops: backbones, train").add_subparsers(
        dest="image_command", metavar="ACTION", required=True
    )
    b = image.add_parser("backbones", help="each backbone with its weight source, licence and whether pretrained")
    b.set_defaults(func=cmd_backbones)
    t = image.add_parser(
        "train",
        help="train an image model on the store's face crops",
        description="faceapi: fine-tunes face-api's expression network (crops at face-api's framing around the "
        "MediaPipe box; epoch 0, the network alone, is kept when no epoch beats it on the validation persons). "
        "efficientnet_lite0 (ImageNet weights, hash-verified) and resnet50 (random init unless RESNET_WEIGHTS_PATH "
        "names ImageNet weights): the image model on crops padded 15% around the box (as `resnet train`).",
    )
    t.add_argument("--backbone", choices=BACKBONES, default="faceapi")
    # faceapi's flags, then those only the ImageNet backbones have; each backbone's own defaults apply.
    add_params(t, FineTuneParams, exclude={"activation"}, flags={"batch_size": "--batch"})
    add_params(
        t, ResNetParams, exclude=set(FineTuneParams.model_fields) | {"backbone", "use_imagenet"}, flags=RESNET_FLAGS
    )
    add_activation_flags(t)
    add_submit_flag(t)
    t.set_defaults(func=cmd_train)
