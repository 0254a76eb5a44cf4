"""`mlsuite datasets upload|list|show|delete`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Group
from rich.panel import Panel
from rich.table import Table

from mlsuite_client.cli._trainer_common import fmt_bytes, fmt_time, out, trainer_client, usage_errors
from mlsuite_client.trainer_types import Dataset

__all__ = ["register"]


def _columns_table(dataset: Dataset) -> Table:
    table = Table(title="Columns", title_justify="left")
    table.add_column("column", overflow="fold")
    table.add_column("dtype")
    table.add_column("nulls", justify="right")
    for column in dataset.columns:
        table.add_row(column.name, column.dtype, str(column.null_count))
    return table


def _dataset_panel(dataset: Dataset) -> Panel:
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column(overflow="fold")
    facts.add_row("name", dataset.name)
    facts.add_row("display name", dataset.display_name)
    facts.add_row("format", dataset.format)
    facts.add_row("rows", str(dataset.row_count))
    facts.add_row("size", fmt_bytes(dataset.size_bytes))
    facts.add_row("sha256", dataset.sha256)
    facts.add_row("created", fmt_time(dataset.create_time))
    return Panel(Group(facts, _columns_table(dataset)), title=dataset.name, title_align="left", expand=False)


@usage_errors
def _upload(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")
    with trainer_client(args) as client:
        dataset = client.upload_dataset(
            path,
            display_name=args.name if args.name is not None else path.name,
            format=args.format,
            request_id=args.request_id,
            timeout=max(args.timeout, path.stat().st_size / 1e6),
        )
    if args.quiet:
        out().print(dataset.name, soft_wrap=True)
    else:
        out().print(_dataset_panel(dataset))
    return 0


def _list(args: argparse.Namespace) -> int:
    with trainer_client(args) as client:
        datasets = list(client.iter_datasets())
    console = out()
    if not datasets:
        console.print("no datasets")
        return 0
    table = Table(title="Datasets", title_justify="left")
    for header in ("name", "display name", "format", "rows", "columns", "size", "created"):
        right = header in ("rows", "columns", "size")
        table.add_column(
            header, justify="right" if right else "left", no_wrap=header == "name", overflow="fold"
        )
    for d in datasets:
        table.add_row(
            d.name,
            d.display_name,
            d.format,
            str(d.row_count),
            str(len(d.columns)),
            fmt_bytes(d.size_bytes),
            fmt_time(d.create_time),
        )
    console.print(table)
    return 0


def _show(args: argparse.Namespace) -> int:
    with trainer_client(args) as client:
        dataset = client.get_dataset(args.name)
    out().print(_dataset_panel(dataset))
    return 0


def _delete(args: argparse.Namespace) -> int:
    with trainer_client(args) as client:
        client.delete_dataset(args.name)
    out().print(f"deleted {args.name}", soft_wrap=True)
    return 0


def register(commands: Any) -> None:
    """Add the `datasets` group to the CLI."""
    group = commands.add_parser("datasets", help="upload, list, show and delete datasets")
    sub = group.add_subparsers(dest="datasets_command", required=True, metavar="ACTION")

    upload = sub.add_parser("upload", help="upload a CSV or Parquet file")
    upload.add_argument("path", metavar="PATH", help="file to upload")
    upload.add_argument("--name", help="display name (default: the file name)")
    upload.add_argument("--format", choices=("csv", "parquet"), help="file format (default: from the suffix)")
    upload.add_argument(
        "--request-id", default="", help="idempotency key: a repeated upload returns the first"
    )
    upload.add_argument("-q", "--quiet", action="store_true", help="print only the dataset name")
    upload.set_defaults(handler=_upload)

    sub.add_parser("list", help="list datasets, newest first").set_defaults(handler=_list)

    show = sub.add_parser("show", help="show a dataset and its columns")
    show.add_argument("name", metavar="NAME", help='"datasets/{id}"')
    show.set_defaults(handler=_show)

    delete = sub.add_parser("delete", help="delete a dataset")
    delete.add_argument("name", metavar="NAME", help='"datasets/{id}"')
    delete.set_defaults(handler=_delete)
