"""Fine-tuned face-api network against the network alone, leave-one-domain-out (research data, never committed).

Run: `python bench/finetune.py [--mode head|last|all] [--epochs 3] [--max-train 1500] [--threads 1]`.
For each of faces-dev, fer-yolo and ckplus-dev: fine-tune on the other two (a person-grouped validation split of
them for early stopping), test on the third; beside it, the network alone on the same crops (face-api's framing
around the MediaPipe box, `bench/finetune_data.py`). Macro-F1 over the network's 7 classes (contempt faces left
out of training and testing: the network cannot say it, so both sides would lose them alike); faces MediaPipe
missed are left out for both. It also prints the network alone on mirrored crops (is a flip safe as augmentation
or as a second vote?). Last line: `ratio worst-domain finetuned/network: N.NN`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
from sklearn.metrics import f1_score  # noqa: E402

from bench.finetune_data import DOMAINS, load_domain  # noqa: E402
from core.auth import OPERATOR, acting_as  # noqa: E402
from core.faceapi.network import NETWORK_EMOTIONS  # noqa: E402
from core.faceapi_torch.net import shipped_network, with_classes  # noqa: E402
from core.faceapi_torch.train import (  # noqa: E402
    MODES,
    FaceCrops,
    FineTuneConfig,
    interpolate,
    predict_proba,
    train_finetune,
)
from core.settings import get_settings  # noqa: E402

CLASSES = list(NETWORK_EMOTIONS)


def _domain(name: str, cache: Path) -> FaceCrops:
    d = load_domain(name, cache)
    keep = np.isin(d.labels, CLASSES)
    labels = np.asarray([CLASSES.index(v) for v in d.labels[keep]], np.int64)
    groups = np.asarray([f"{name}:{g}" for g in d.groups[keep]])
    return FaceCrops(d.crops[keep], labels, CLASSES, groups, name)


def _f1(proba: np.ndarray, data: FaceCrops) -> float:
    return float(f1_score(data.labels, proba.argmax(1), labels=range(len(CLASSES)), average="macro", zero_division=0))


def _sample(data: FaceCrops, n: int, rng: np.random.Generator) -> FaceCrops:
    if len(data.labels) <= n:
        return data
    idx = np.sort(rng.choice(len(data.labels), n, replace=False))
    assert data.groups is not None
    return FaceCrops(data.crops[idx], data.labels[idx], CLASSES, data.groups[idx], data.data_hash)


def _concat(parts: list[FaceCrops]) -> FaceCrops:
    groups = np.concatenate([p.groups for p in parts if p.groups is not None])
    return FaceCrops(
        np.concatenate([p.crops for p in parts]), np.concatenate([p.labels for p in parts]), CLASSES, groups, "+"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mode", choices=MODES, default="last")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--max-train", type=int, default=1500, help="training crops per domain (CPU budget)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--flip", action="store_true", help="also fine-tune with mirrored crops in augmentation")
    parser.add_argument("--cache", type=Path, default=Path("/tmp/finetune_cache"))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    settings = get_settings()
    rng = np.random.default_rng(0)
    domains = {name: _domain(name, args.cache) for name in DOMAINS}
    network = with_classes(shipped_network(settings), CLASSES)

    print(f"network alone (zero-shot) on {', '.join(f'{k} {len(v.labels)}' for k, v in domains.items())} faces:")
    alone = {}
    for name, data in domains.items():
        alone[name] = _f1(predict_proba(network, data.crops, "cpu"), data)
        mirrored = _f1(predict_proba(network, np.ascontiguousarray(data.crops[:, :, ::-1]), "cpu"), data)
        both = _f1(
            predict_proba(network, data.crops, "cpu")
            + predict_proba(network, np.ascontiguousarray(data.crops[:, :, ::-1]), "cpu"),
            data,
        )
        print(f"  {name:<11} macro-F1 {alone[name]:.3f}  mirrored {mirrored:.3f}  both averaged {both:.3f}")

    print(
        f"\nleave-one-domain-out, fine-tuned ({args.mode}, {args.epochs} epochs, at most {args.max_train} crops a "
        f"training domain, flip {'on' if args.flip else 'off'}, {args.threads} thread(s)):"
    )
    mixes = (0.25, 0.5)
    heads = "  ".join(f"WiSE {a:g}" for a in mixes)
    print(f"  {'test domain':<11} {'network alone':>13} {'fine-tuned':>10}  {heads}  best epoch  seconds")
    tuned: dict[str, float] = {}
    wise: dict[float, dict[str, float]] = {a: {} for a in mixes}
    config = FineTuneConfig(mode=args.mode, epochs=args.epochs, patience=2, flip=args.flip, device="cpu")
    with acting_as(OPERATOR):
        for held in DOMAINS:
            train = _concat([_sample(domains[d], args.max_train, rng) for d in DOMAINS if d != held])
            t0 = time.perf_counter()
            result = train_finetune(train, settings, config)
            tuned[held] = _f1(predict_proba(result.net, domains[held].crops, "cpu"), domains[held])
            # WiSE-FT: between the network's weights and the fine-tuned ones (no second training).
            start = with_classes(shipped_network(settings), CLASSES).state_dict()
            for a in mixes:
                mixed = with_classes(shipped_network(settings), CLASSES)
                mixed.load_state_dict(interpolate(start, result.net.state_dict(), a))
                wise[a][held] = _f1(predict_proba(mixed, domains[held].crops, "cpu"), domains[held])
            cells = "  ".join(f"{wise[a][held]:>{len(f'WiSE {a:g}')}.3f}" for a in mixes)
            print(
                f"  {held:<11} {alone[held]:>13.3f} {tuned[held]:>10.3f}  {cells}  {result.best_epoch:>10}  "
                f"{time.perf_counter() - t0:7.0f}",
                flush=True,
            )
    worst_alone, worst_tuned = min(alone.values()), min(tuned.values())
    drops = {d: tuned[d] - alone[d] for d in DOMAINS}
    print(f"\nworst domain: network alone {worst_alone:.3f}, fine-tuned {worst_tuned:.3f}")
    for a in mixes:
        drop = min(wise[a][d] - alone[d] for d in DOMAINS)
        print(f"  WiSE {a:g}: worst domain {min(wise[a].values()):.3f}, largest drop against the network {drop:+.3f}")
    print("largest drop against the network alone: " + f"{min(drops.values()):+.3f} ({min(drops, key=drops.get)})")  # type: ignore[arg-type]
    print(f"ratio worst-domain finetuned/network: {worst_tuned / max(worst_alone, 1e-9):.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
