"""`python -m core models list|activate|history|rollback|delete`: the model registry from the shell."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    models = sub.add_parser("models", help="list, activate or delete registered models")
    msub = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    msub.add_parser("list", help="list models, newest first").set_defaults(func=cmd_models_list)
    act = msub.add_parser("activate", help="make a model the active one")
    act.add_argument("model_id")
    act.set_defaults(func=cmd_models_activate)
    msub.add_parser("history", help="every activation: when, who, which model replaced which, and why").set_defaults(
        func=cmd_models_history
    )
    rb = msub.add_parser("rollback", help="re-activate the model the latest activation replaced (or --to ID)")
    rb.add_argument("--to", default=None, metavar="ID", help="a model to roll back to")
    rb.set_defaults(func=cmd_models_rollback)
    rm = msub.add_parser("delete", help="delete a model")
    rm.add_argument("model_id")
    rm.set_defaults(func=cmd_models_delete)


def cmd_models_list(args: argparse.Namespace) -> int:
    from core.models.registry import Registry
    from core.settings import get_settings

    registry = Registry(get_settings().models_dir)
    active = registry.active_id()
    cards = registry.list()
    if not cards:
        print("no models yet: python -m core train")
        return 0
    for card in cards:
        mark = "*" if card.id == active else " "
        f1 = card.metrics.get("macro_f1")
        score = f"macro-F1 {f1:.3f}" if isinstance(f1, int | float) else ""
        print(f"{mark} {card.id:<48} {card.kind:<9} {card.name:<14} {score:<16} {','.join(card.classes)}")
    return 0


def cmd_models_activate(args: argparse.Namespace) -> int:
    from core.models.registry import Registry
    from core.settings import get_settings
    from core.training.promotion import activate_compared

    record = activate_compared(Registry(get_settings().models_dir), args.model_id)
    print(f"{args.model_id} is now the active model (was {record.previous_id or 'none'})")
    return 0


def cmd_models_history(args: argparse.Namespace) -> int:
    from core.models.registry import Registry
    from core.settings import get_settings

    records = Registry(get_settings().models_dir).history()
    if not records:
        print("no activation on record")
    for r in records:
        f1 = ""
        if r.comparison:
            cand, inc = r.comparison.get("candidate") or {}, r.comparison.get("incumbent") or {}
            if cand.get("macro_f1") is not None:
                f1 = f"macro-F1 {cand['macro_f1']:.3f}"
                if inc.get("macro_f1") is not None:
                    f1 += f" vs {inc['macro_f1']:.3f}"
        print(f"{r.at:%Y-%m-%d %H:%M:%S}  {r.reason:<8} {r.model_id}  (was {r.previous_id or 'none'})  {r.actor}  {f1}")
    return 0


def cmd_models_rollback(args: argparse.Namespace) -> int:
    from core.models.registry import Registry
    from core.settings import get_settings

    record = Registry(get_settings().models_dir).rollback(args.to)
    print(f"rolled back: {record.model_id} is the active model again (was {record.previous_id or 'none'})")
    return 0


def cmd_models_delete(args: argparse.Namespace) -> int:
    from core.models.registry import Registry
    from core.settings import get_settings

    Registry(get_settings().models_dir).delete(args.model_id)
    print(f"deleted {args.model_id}")
    return 0
