"""`mlsuite download ...`: start, follow, inspect, cancel, list and delete Hub model downloads."""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table
from rich.text import Text

from mlsuite_client.cli._arg_types import INT32_MAX, int_range
from mlsuite_client.downloader import DownloaderClient
from mlsuite_client.downloader_types import DownloadedModel, DownloadState, DownloadStatus

__all__ = ["register"]

# No markup: model ids, revisions and messages come from the server or the Hub; "[x]" in them is text.
_console = Console(markup=False, emoji=False)
_err = Console(stderr=True, markup=False, emoji=False)


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{int(value)} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _client(args: argparse.Namespace) -> DownloaderClient:
    return DownloaderClient(args.downloader, timeout=args.timeout)


def _line(status: DownloadStatus) -> str:
    model = f"{status.current_model}@{status.revision}" if status.current_model else "-"
    text = (
        f"{status.state.value:<11} {model} {status.progress:5.1f}% "
        f"{_human(status.bytes_downloaded)}/{_human(status.bytes_total)} "
        f"files {status.files_downloaded}/{status.files_total}  {status.status_message}"
    )
    if status.error:
        text += f"  error [{status.error_reason}]: {status.error}"
    return text


def _print_status(status: DownloadStatus) -> None:
    table = Table(show_header=False, box=None)
    table.add_column(style="bold")
    table.add_column()
    rows = [
        ("state", status.state.value),
        ("model", status.current_model or "-"),
        ("revision", status.revision or "-"),
        ("commit", status.commit or "-"),
        ("progress", f"{status.progress:.1f}%"),
        ("bytes", f"{_human(status.bytes_downloaded)} / {_human(status.bytes_total)}"),
        ("files", f"{status.files_downloaded} / {status.files_total}"),
        ("message", status.status_message),
        ("version", str(status.version)),
    ]
    if status.error:
        rows.append(("error", f"[{status.error_reason}] {status.error}"))
    for key, value in rows:
        table.add_row(key, value)
    _console.print(table)


def _outcome(status: DownloadStatus) -> int:
    if status.state is DownloadState.SUCCEEDED:
        _console.print(Text.assemble(("succeeded", "green"),
                                     f" {status.current_model}@{status.revision} ({status.commit})"))
        return 0
    _err.print(Text.assemble((status.state.value.lower(), "red"),
                             f" {status.current_model}: {status.error or status.status_message}"))
    return 1


def _follow(client: DownloaderClient, first: DownloadStatus) -> int:
    """A live byte progress bar until the download ends; exit 0 on SUCCEEDED, 1 otherwise."""
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    final = first
    with Progress(*columns, console=_console, transient=False) as progress:
        task = progress.add_task(
            first.current_model, total=first.bytes_total or None, completed=first.bytes_downloaded
        )
        if first.is_downloading:
            for status in client.watch_status():
                if status.current_model != first.current_model or status.start_time != first.start_time:
                    final = status
                    break
                progress.update(task, total=status.bytes_total or None, completed=status.bytes_downloaded)
                final = status
                if not status.is_downloading:
                    break
        progress.update(task, total=final.bytes_total or None, completed=final.bytes_downloaded)
    return _outcome(final)


def _start(args: argparse.Namespace) -> int:
    with _client(args) as client:
        status = client.start_download(
            args.model_id, revision=args.revision, allow_patterns=args.allow, ignore_patterns=args.ignore
        )
        if args.follow:
            return _follow(client, status)
        _print_status(status)
        return 0 if status.state is not DownloadState.FAILED else 1


def _status(args: argparse.Namespace) -> int:
    with _client(args) as client:
        _print_status(client.get_status())
    return 0


def _watch(args: argparse.Namespace) -> int:
    with _client(args) as client:
        for status in client.watch_status(include_heartbeats=args.heartbeats):
            _console.print(_line(status), highlight=False)
            if not status.is_downloading and not args.forever:
                return 0
    return 0


def _cancel(args: argparse.Namespace) -> int:
    with _client(args) as client:
        _print_status(client.cancel())
    return 0


def _models_table(models: list[DownloadedModel], title: str) -> Table:
    table = Table(title=title)
    for column in ("MODEL", "REVISION", "COMMIT", "FILES", "SIZE", "LAST MODIFIED"):
        table.add_column(column, justify="right" if column in ("FILES", "SIZE") else "left")
    for m in models:
        modified = m.last_modified.strftime("%Y-%m-%d %H:%M:%S") if m.last_modified else "-"
        table.add_row(
            m.model_id, m.revision, m.commit[:12], str(len(m.files)), _human(m.size_bytes), modified
        )
    return table


def _list(args: argparse.Namespace) -> int:
    with _client(args) as client:
        models = list(client.list_models(page_size=args.page_size))
    if not models:
        _console.print("no models in the cache")
        return 0
    _console.print(_models_table(models, f"{len(models)} cached model revision(s)"))
    return 0


def _rm(args: argparse.Namespace) -> int:
    with _client(args) as client:
        result = client.delete_model(args.model_id, revision=args.revision)
    _console.print(_models_table(list(result.deleted), "deleted"))
    _console.print(f"freed {_human(result.freed_bytes)}")
    return 0


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the `download` command group."""
    parser = commands.add_parser("download", help="fetch Hugging Face Hub models with the DownloaderService")
    sub = parser.add_subparsers(dest="download_command", required=True, metavar="SUBCOMMAND")

    start = sub.add_parser("start", help="start downloading a model (one download at a time)")
    start.add_argument("model_id", metavar="ORG/NAME", help="Hub repo id")
    start.add_argument("--revision", default="", help="branch, tag or 40-hex commit (default main)")
    start.add_argument(
        "--allow",
        action="extend",
        nargs="+",
        default=[],
        metavar="PATTERN",
        help="glob of files to fetch (default: safetensors, configs, tokenizer, model card)",
    )
    start.add_argument(
        "--ignore", action="extend", nargs="+", default=[], metavar="PATTERN", help="glob of files to skip"
    )
    start.add_argument(
        "--follow",
        action="store_true",
        help="show a live progress bar until the download ends; exit 1 unless it succeeded",
    )
    start.set_defaults(handler=_start)

    status = sub.add_parser("status", help="show the download status")
    status.set_defaults(handler=_status)

    watch = sub.add_parser("watch", help="print each status change until the running download ends")
    watch.add_argument("--forever", action="store_true", help="keep watching after the download ends")
    watch.add_argument("--heartbeats", action="store_true", help="also print the keep-alive repeats")
    watch.set_defaults(handler=_watch)

    cancel = sub.add_parser("cancel", help="cancel the running download")
    cancel.set_defaults(handler=_cancel)

    listing = sub.add_parser("list", help="list the models in the server's cache")
    listing.add_argument(
        "--page-size",
        type=int_range(0, INT32_MAX),
        default=0,
        metavar="N",
        help=f"models per request, 0..{INT32_MAX}: 0 means 50, the server caps it at 1000",
    )
    listing.set_defaults(handler=_list)

    rm = sub.add_parser("rm", help="delete a model from the server's cache")
    rm.add_argument("model_id", metavar="MODEL_ID", help="Hub repo id")
    rm.add_argument(
        "--revision", default="", help="branch, tag or commit to delete (default: every revision)"
    )
    rm.set_defaults(handler=_rm)
