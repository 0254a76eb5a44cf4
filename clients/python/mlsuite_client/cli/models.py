"""`mlsuite models types|list|show|delete`."""

from __future__ import annotations

import argparse
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from mlsuite_client.cli._trainer_common import (
    describe_parameter,
    fmt_bytes,
    fmt_time,
    fmt_value,
    metrics_table,
    out,
    trainer_client,
)
from mlsuite_client.trainer_types import Model

__all__ = ["register"]

_HEADLINE = {"regression": "r2", "classification": "accuracy"}


def _yes(flag: bool) -> Text:
    return Text("yes", style="green") if flag else Text("no", style="red")


def _types(args: argparse.Namespace) -> int:
    with trainer_client(args) as client:
        model_types = client.list_model_types(args.category)
    console = out()
    table = Table(title="Model types", title_justify="left", show_lines=True)
    # Narrow terminals get the facts stacked in one column so the parameters keep room.
    wide = console.width >= 140
    facts = ("category", "speed", "complexity", "available", "gpu") if wide else ("about",)
    table.add_column("id", style="bold", overflow="fold")
    for header in facts:
        table.add_column(header)
    table.add_column("parameters: type = default (range)", overflow="fold")
    for mt in model_types:
        params = "\n".join(describe_parameter(p) for p in mt.parameters) or "-"
        gpu = "yes" if mt.gpu_accelerated else "no"
        cells = [mt.category, mt.speed, mt.complexity, _yes(mt.available), gpu]
        if not wide:
            cells = [
                Text.assemble(f"{mt.category}\n{mt.speed}, {mt.complexity}\navailable: ", _yes(mt.available),
                              f", gpu: {gpu}")
            ]
        table.add_row(mt.id, *cells, params)
    console.print(table)
    return 0


def _list(args: argparse.Namespace) -> int:
    with trainer_client(args) as client:
        models = list(client.iter_models())
    console = out()
    if not models:
        console.print("no models")
        return 0
    table = Table(title="Models", title_justify="left")
    for header in ("name", "model type", "target", "metric", "device", "created"):
        table.add_column(header, no_wrap=header == "name", overflow="fold")
    for m in models:
        key = _HEADLINE.get(m.category, "")
        metric = f"{key} {m.metrics[key]:.4f}" if key in m.metrics else "-"
        table.add_row(m.name, m.model_type, m.target_column, metric, m.device, fmt_time(m.create_time))
    console.print(table)
    return 0


def _model_panel(model: Model) -> Panel:
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column(overflow="fold")
    rows = [
        ("name", model.name),
        ("model type", f"{model.model_type} ({model.category})"),
        ("target", model.target_column),
        ("classes", ", ".join(model.classes) or "-"),
        ("training job", model.training_job),
        ("dataset", f"{model.dataset} (sha256 {model.dataset_sha256[:12]}…)"),
        ("device", model.device),
        ("size", fmt_bytes(model.size_bytes)),
        ("created", fmt_time(model.create_time)),
        ("libraries", ", ".join(f"{k} {v}" for k, v in model.library_versions.items()) or "-"),
    ]
    for key, value in rows:
        facts.add_row(key, value)
    features = Table(title="Features", title_justify="left")
    features.add_column("column", overflow="fold")
    features.add_column("dtype")
    for column in model.feature_columns:
        features.add_row(column.name, column.dtype)
    params = Table(title="Hyperparameters", title_justify="left")
    params.add_column("name")
    params.add_column("value", overflow="fold")
    for param, setting in model.hyperparameters.items():
        params.add_row(param, fmt_value(setting))
    parts = Group(facts, metrics_table(model.metrics), features, params)
    return Panel(parts, title=model.name, title_align="left", expand=False)


def _show(args: argparse.Namespace) -> int:
    with trainer_client(args) as client:
        model = client.get_model(args.name)
    out().print(_model_panel(model))
    return 0


def _delete(args: argparse.Namespace) -> int:
    with trainer_client(args) as client:
        client.delete_model(args.name)
    out().print(f"deleted {args.name}", soft_wrap=True)
    return 0


def register(commands: Any) -> None:
    """Add the `models` group to the CLI."""
    group = commands.add_parser("models", help="model types (the registry) and trained models")
    sub = group.add_subparsers(dest="models_command", required=True, metavar="ACTION")

    types = sub.add_parser("types", help="list the model types the server can train")
    types.add_argument("--category", choices=("regression", "classification"), help="only this category")
    types.set_defaults(handler=_types)

    sub.add_parser("list", help="list trained models, newest first").set_defaults(handler=_list)

    show = sub.add_parser("show", help="show a model: schema, metrics, hyperparameters")
    show.add_argument("name", metavar="NAME", help='"models/{id}"')
    show.set_defaults(handler=_show)

    delete = sub.add_parser("delete", help="delete a model")
    delete.add_argument("name", metavar="NAME", help='"models/{id}"')
    delete.set_defaults(handler=_delete)
