"""CLI flags from a job kind's `Params` model: each field's type, default and description are said once, in the
model, and become an argparse argument here; `params_from` builds the model back from the parsed arguments.

An argument not given stays out of the namespace: the model's default applies. A field becomes `--field-name`
(underscores as dashes) unless `flags` renames it. A bool defaulting to False is a switch that sets it; one
defaulting to True is a switch that clears it (`--no-field-name`). A list takes several values, a Literal its
choices; a field without a default is a required flag."""

from __future__ import annotations

import argparse
import types
import typing
from collections.abc import Collection, Mapping
from typing import Any, Literal, TypeVar

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

M = TypeVar("M", bound=BaseModel)


def _unwrap_optional(annotation: Any) -> Any:
    """`X | None` as X."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _default(info: FieldInfo) -> Any:
    if info.default_factory is not None:
        return info.default_factory()  # type: ignore[call-arg]
    return None if info.default is PydanticUndefined else info.default


def _help(info: FieldInfo, default: Any) -> str:
    text = info.description or ""
    if default not in (None, [], "") and not isinstance(default, bool):
        text += f" (default: {' '.join(map(str, default)) if isinstance(default, list) else default})"
    return text.replace("%", "%%")


def _argument(
    name: str, info: FieldInfo, flag: str | None, extra: Mapping[str, Any]
) -> tuple[list[str], dict[str, Any]]:
    """The flag names and add_argument options of one field (`extra`: options given by the command)."""
    annotation = _unwrap_optional(info.annotation)
    default = extra.get("default", _default(info))
    flag = flag or f"--{name.replace('_', '-')}"
    metavar = flag.lstrip("-").replace("-", "_").upper()
    # Left out of the namespace when not given, so that the model's own default applies (said once, there).
    options: dict[str, Any] = {"dest": name, "default": argparse.SUPPRESS, "help": _help(info, default)}
    if annotation is bool:
        if default:
            off = f"--no-{name.replace('_', '-')}" if flag == f"--{name.replace('_', '-')}" else flag
            return [off], {**options, "action": "store_false", "help": f"turn off (on by default): {options['help']}"}
        return [flag], {**options, "action": "store_true"}
    if info.is_required() and "default" not in extra:
        options["required"] = True
    origin = typing.get_origin(annotation)
    if origin is list:
        (item,) = typing.get_args(annotation)
        options.update(nargs="+" if info.is_required() else "*", type=_unwrap_optional(item), metavar=metavar)
    elif origin is Literal:
        choices = typing.get_args(annotation)
        options.update(choices=choices, type=type(choices[0]))
    elif annotation in (int, float, str):
        options.update(type=annotation, metavar=metavar)
    else:
        raise TypeError(f"field {name!r} ({annotation}) has no command-line form: exclude it and add it by hand")
    if "choices" in extra:
        options.pop("metavar", None)  # the choices say it better
    return [flag], {**options, **extra}


def add_params(
    parser: argparse.ArgumentParser | Any,
    model: type[BaseModel],
    *,
    exclude: Collection[str] = (),
    flags: Mapping[str, str] | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> None:
    """One argument per field of `model` (but `exclude`), named as `flags` says or after the field. `options` adds
    argparse options to a field's argument: choices known only where the command runs (they need heavy imports),
    or the default of a field the model requires, said once elsewhere (e.g. the model zoo's default models)."""
    for name, info in model.model_fields.items():
        if name in exclude:
            continue
        names, kwargs = _argument(name, info, (flags or {}).get(name), (options or {}).get(name, {}))
        parser.add_argument(*names, **kwargs)


def params_from(args: argparse.Namespace, model: type[M], **values: Any) -> M:
    """The model from the parsed arguments named like its fields, with `values` over them (fields the command
    computes, e.g. a path made absolute); a field the command has no flag for keeps its default."""
    given = {name: getattr(args, name) for name in model.model_fields if hasattr(args, name)}
    return model.model_validate({**given, **values})
