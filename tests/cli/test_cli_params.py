"""CLI flags from a kind's Params model (core.cli.params): each default is the model's, said once."""

from __future__ import annotations

import argparse
from typing import Literal

import pytest
from pydantic import Field, ValidationError

from core.cli import build_parser
from core.cli.params import add_params, params_from
from core.detector.kinds import DetectorParams
from core.jobs.contract import Params
from core.training.resnet_kind import ResNetParams


class Demo(Params):
    name: str = Field(description="a required name")
    epochs: int = Field(default=10, ge=1, description="epochs")
    rate: float | None = None
    fast: bool = False
    augment: bool = True
    mode: Literal["a", "b"] = "a"
    tags: list[str] = Field(default_factory=list)


def _parse(argv: list[str], **kwargs: object) -> Demo:
    parser = argparse.ArgumentParser()
    add_params(parser, Demo, **kwargs)  # type: ignore[arg-type]
    return params_from(parser.parse_args(argv), Demo)


def test_flags_take_their_types_and_unset_ones_keep_the_models_defaults() -> None:
    assert _parse(["--name", "x"]) == Demo(name="x")
    parsed = _parse(["--name", "x", "--epochs", "3", "--rate", "0.5", "--fast", "--no-augment", "--mode", "b",
                     "--tags", "p", "q"])  # fmt: skip
    assert parsed == Demo(name="x", epochs=3, rate=0.5, fast=True, augment=False, mode="b", tags=["p", "q"])


def test_renamed_flags_choices_and_the_models_checks() -> None:
    assert _parse(["--name", "x", "--n", "4"], flags={"epochs": "--n"}).epochs == 4
    with pytest.raises(SystemExit):
        _parse(["--name", "x", "--mode", "c"])  # not a choice
    with pytest.raises(SystemExit):
        _parse([])  # --name is required
    with pytest.raises(ValidationError):
        _parse(["--name", "x", "--epochs", "0"])  # the model's own bound


def test_the_help_shows_the_models_descriptions_and_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        _parse(["--help"])
    out = capsys.readouterr().out
    assert "epochs (default: 10)" in out and "--no-augment" in out and "{a,b}" in out


def test_the_training_commands_build_their_params_with_the_models_defaults() -> None:
    args = build_parser(["resnet"]).parse_args(["resnet", "train", "--size", "96", "--no-imagenet"])
    assert params_from(args, ResNetParams) == ResNetParams(image_size=96, use_imagenet=False)
    args = build_parser(["detector"]).parse_args(["detector", "train", "--from-store", "--batch", "4", "--activate"])
    assert params_from(args, DetectorParams) == DetectorParams(batch_size=4, activation="if_better")
