"""`mlsuite train`: start a training job, optionally following it live."""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Sequence
from typing import Any

from mlsuite_client.cli._arg_types import INT64_MAX, INT64_MIN, float_range, int_range
from mlsuite_client.cli._progress import follow
from mlsuite_client.cli._trainer_common import err, out, trainer_client, usage_errors
from mlsuite_client.trainer_types import (
    CategoricalParameter,
    DoubleParameter,
    HyperparameterValue,
    IntListParameter,
    ModelType,
)

__all__ = ["register", "parse_param", "parse_value", "parse_features", "coerce_params"]

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?")


def _int64(text: str) -> int:
    value = int(text)
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"{text.strip()} is outside the 64-bit integer range {INT64_MIN}..{INT64_MAX}")
    return value


def parse_value(text: str) -> HyperparameterValue:
    """A --param value: int, float, true/false, an int list ("64,32" or "[64, 32]"), else the string."""
    value = text.strip()
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    if _INT.fullmatch(value):
        return _int64(value)
    if _FLOAT.fullmatch(value):
        number = float(value)
        if math.isinf(number):  # "1e999" overflows to inf, which no hyperparameter takes
            raise ValueError(f"{value} is too large for a 64-bit float")
        return number
    bracketed = value.startswith("[") and value.endswith("]")
    inner = value[1:-1] if bracketed else value
    if bracketed or "," in inner:
        items = [item.strip() for item in inner.split(",") if item.strip()]
        if all(_INT.fullmatch(item) for item in items):
            return tuple(_int64(item) for item in items)
        if bracketed:
            raise ValueError(f"a bracketed list holds integers only: {text!r}")
    return value


def parse_param(text: str) -> tuple[str, str]:
    """KEY=VALUE -> (key, raw value); the argparse type of --param."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    try:
        parse_value(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return key.strip(), value


def parse_features(text: str) -> tuple[str, ...]:
    """a,b,c -> ("a", "b", "c"), blanks dropped."""
    return tuple(name.strip() for name in text.split(",") if name.strip())


def coerce_params(
    raw: Sequence[tuple[str, str]], model_type: ModelType | None
) -> dict[str, HyperparameterValue]:
    """Parse --param values, fitting them to the model type's specs where it declares the parameter."""
    specs = {p.name: p for p in model_type.parameters} if model_type else {}
    values: dict[str, HyperparameterValue] = {}
    for key, text in raw:
        value = parse_value(text)
        spec = specs.get(key)
        if isinstance(spec, CategoricalParameter):
            value = text.strip()
        elif isinstance(spec, IntListParameter) and isinstance(value, int) and not isinstance(value, bool):
            value = (value,)
        elif isinstance(spec, DoubleParameter) and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        values[key] = value
    return values


@usage_errors
def _train(args: argparse.Namespace) -> int:
    with trainer_client(args) as client:
        known = {mt.id: mt for mt in client.list_model_types()} if args.param else {}
        kwargs: dict[str, Any] = {
            "model_type": args.model_type,
            "feature_columns": args.features,
            "hyperparameters": coerce_params(args.param, known.get(args.model_type)),
            "validation_fraction": args.validation_fraction,
            "seed": args.seed,
            "device": args.device,
            "request_id": args.request_id,
        }
        if not args.follow:
            job = client.create_training_job(args.dataset, args.target, **kwargs)
            out().print(job.name, soft_wrap=True)
            err().print(f"follow it with: mlsuite jobs watch {job.name}", soft_wrap=True)
            return 0
        stream = client.train(args.dataset, args.target, **kwargs)
        return follow(stream, out(), args, client=client)


def register(commands: Any) -> None:
    """Add the `train` command to the CLI."""
    train = commands.add_parser(
        "train",
        help="train a model on a dataset",
        description="Start a training job; with --follow, show its progress live until it ends.",
    )
    train.add_argument("--dataset", required=True, help='"datasets/{id}" to train on')
    train.add_argument("--target", required=True, help="column to predict")
    train.add_argument("--model-type", required=True, help="a model type id (see `mlsuite models types`)")
    train.add_argument(
        "--features", type=parse_features, default=(), help="comma-separated feature columns (default: all)"
    )
    train.add_argument(
        "--param",
        type=parse_param,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a hyperparameter, repeatable: epochs=30 learning_rate=1e-3 hidden_layers=64,32 "
        "early_stopping=true (see `mlsuite models types`)",
    )
    train.add_argument(
        "--validation-fraction",
        type=float_range(0, 0.5),
        default=0.0,
        help="held-out share in (0, 0.5]; 0, the default, means 0.2",
    )
    train.add_argument(
        "--seed",
        type=int_range(INT64_MIN, INT64_MAX),
        default=0,
        help="seed of the split and initialisation, any 64-bit signed integer",
    )
    train.add_argument(
        "--device", choices=("auto", "cpu", "cuda", "mps"), default="auto", help="where to train"
    )
    train.add_argument("--request-id", default="", help="idempotency key: a repeat returns the same job")
    train.add_argument("--follow", action="store_true", help="show progress live until the job ends")
    train.set_defaults(handler=_train)
