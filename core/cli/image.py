"""`python -m core image backbones|train`: image models on face crops, by backbone."""

from __future__ import annotations

import argparse

from core.cli.activation import add_activation_flags
from core.cli.jobs import add_submit_flag
from core.errors import StudioError

BACKBONES = ("faceapi", "efficientnet_lite0", "resnet50")


def cmd_backbones(args: argparse.Namespace) -> int:
    from core.backbones import list_backbones

    for b in list_backbones():
        print(f"{b.name:<20} pretrained: {'yes' if b.pretrained else 'no (random init)':<17} licence: {b.licence}")
        print(f"{'':<20} weights: {b.source}" + (f"\n{'':<20} {b.note}" if b.note else ""))
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from core.cli.activation import policy_of, report_promotion
    from core.cli.jobs import run_job

    if args.backbone in ("resnet50", "efficientnet_lite0"):
        from core.cli.detector import cmd_resnet_train

        given = {"size": args.size, "batch": args.batch or 32, "lr": args.lr or 1e-3, "no_imagenet": False}
        return cmd_resnet_train(argparse.Namespace(**{**vars(args), **given}))
    if args.backbone != "faceapi":
        raise StudioError(f"unknown backbone {args.backbone!r}; known: {', '.join(BACKBONES)}")
    from core.jobs.finetune_kinds import FACEAPI_FINETUNING, FineTuneParams

    params = FineTuneParams(
        mode=args.mode,
        epochs=args.epochs,
        batch_size=args.batch or 32,
        lr=args.lr or 1e-3,
        backbone_lr=args.backbone_lr,
        patience=args.patience,
        flip=args.flip,
        wise=args.wise,
        device=args.device,
        threads=args.threads,
        emotions=args.emotions,
        sources=args.sources,
        activation=policy_of(args),
    )
    result = run_job(args, FACEAPI_FINETUNING, params, unit="epoch", threaded=True)
    if result is None:
        return 0
    print(f"{result['n_crops']} face crops ({result['validation']}); {result['skipped']} unreadable")
    alone, m = result["network_alone_val_macro_f1"], result["metrics"]
    if alone is not None:
        print(f"validation macro-F1: network alone {alone:.3f}, fine-tuned {m['macro_f1']:.3f} "
              f"(best epoch {result['best_epoch']}; 0 means the network alone was kept)")  # fmt: skip
    print(f"saved model {result['model_id']}")
    report_promotion(result)
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
        "names ImageNet weights): the image model on crops padded 15%% around the box (as `resnet train`).",
    )
    t.add_argument("--backbone", choices=BACKBONES, default="faceapi")
    t.add_argument("--mode", choices=("head", "last", "all"), default="last", help="faceapi: which layers train")
    t.add_argument("--epochs", type=int, default=6)
    t.add_argument("--size", type=int, default=224, help="ImageNet backbones: crop size (px)")
    t.add_argument("--head-epochs", type=int, default=2, help="ImageNet backbones: frozen-backbone epochs first")
    t.add_argument("--freeze-backbone", action="store_true", help="ImageNet backbones: train only the head")
    t.add_argument("--batch", type=int, default=None)
    t.add_argument("--lr", type=float, default=None, help="head learning rate (default 1e-3)")
    t.add_argument("--backbone-lr", type=float, default=1e-4, help="faceapi: rate of the trained blocks")
    t.add_argument("--patience", type=int, default=2)
    t.add_argument("--flip", action="store_true", help="faceapi: mirror crops in augmentation (measure first)")
    wise = "faceapi: keep (1 - W) of the network's weights and W of the fine-tuned ones (WiSE-FT)"
    t.add_argument("--wise", type=float, default=1.0, help=wise)
    t.add_argument("--emotions", nargs="*", default=[])
    t.add_argument("--sources", nargs="*", default=[])
    t.add_argument("--device", default="auto")
    t.add_argument("--threads", type=int, default=0)
    add_activation_flags(t)
    add_submit_flag(t)
    t.set_defaults(func=cmd_train)
