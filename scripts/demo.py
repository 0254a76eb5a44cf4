"""`make demo`: start both MLSuite servers, then drive them with the `mlsuite` CLI as a user would."""

from __future__ import annotations

import argparse
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from rich.console import Console

from mlsuite_client import TrainerClient

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
HUB_ENDPOINT = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
DEMO_MODEL = "sentence-transformers/all-MiniLM-L6-v2"  # 90 MB of safetensors weights
console = Console(highlight=False)


class DemoFailure(Exception):
    """A demo step did not do what it should."""


class ServerProcess:
    """A server subprocess that printed `listening on HOST:PORT`."""

    def __init__(self, label: str, command: list[str], log_path: Path) -> None:
        self.label = label
        self.log_path = log_path
        self._log: IO[str] = log_path.open("w")
        # A session of its own: Ctrl-C in the terminal reaches the demo, not the servers it stops itself.
        self.process = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=self._log, text=True, start_new_session=True
        )
        self.target = self._await_listening(timeout=90)

    def _await_listening(self, timeout: float) -> str:
        found: list[str] = []

        def read() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                match = re.search(r"listening on (\S+:\d+)", line)
                if match:
                    found.append(match.group(1))
                    return

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        reader.join(timeout)
        if not found:
            self.process.kill()
            raise DemoFailure(f"{self.label} did not start within {timeout:.0f}s:\n{self.log_tail()}")
        return found[0]

    def log_tail(self, lines: int = 15) -> str:
        """The end of the server's log."""
        if not self._log.closed:
            self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait_serving(self, service: str, timeout: float = 30) -> None:
        """Block until grpc.health.v1 reports SERVING for the service."""
        deadline = time.monotonic() + timeout
        with grpc.insecure_channel(self.target) as channel:
            stub = health_pb2_grpc.HealthStub(channel)
            while time.monotonic() < deadline:
                try:
                    reply = stub.Check(
                        health_pb2.HealthCheckRequest(service=service), timeout=2, wait_for_ready=True
                    )
                    if reply.status == health_pb2.HealthCheckResponse.SERVING:
                        return
                except grpc.RpcError:
                    pass
                time.sleep(0.2)
        raise DemoFailure(f"{self.label} never reported SERVING:\n{self.log_tail()}")

    def stop(self) -> int:
        """SIGTERM, then wait for the exit status (0 for a clean drain)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=45)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self._log.close()
        return code


class Demo:
    """The steps of the walk-through."""

    def __init__(self, trainer: ServerProcess, downloader: ServerProcess, epochs: int) -> None:
        self.trainer = trainer
        self.downloader = downloader
        self.epochs = epochs

    def mlsuite(
        self, *args: str, capture: bool = False, timeout: float = 600
    ) -> subprocess.CompletedProcess[str]:
        """Run `mlsuite ARGS` in a subprocess, showing the command first (captured output is echoed)."""
        console.print(f"\n[bold cyan]$ mlsuite {shlex.join(args)}[/]", soft_wrap=True)
        targets = ["--trainer", self.trainer.target, "--downloader", self.downloader.target]
        command = [sys.executable, "-m", "mlsuite_client", *targets, *args]
        try:
            result = subprocess.run(command, capture_output=capture, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise DemoFailure(f"`mlsuite {shlex.join(args)}` hung for {timeout:.0f}s") from None
        if capture:
            sys.stdout.write(result.stdout)
            sys.stderr.write(result.stderr)
        return result

    def expect_ok(self, *args: str, timeout: float = 600) -> None:
        """Run a command that must succeed."""
        result = self.mlsuite(*args, timeout=timeout)
        if result.returncode != 0:
            raise DemoFailure(f"`mlsuite {shlex.join(args)}` exited {result.returncode}")

    def run_trainer(self) -> None:
        """Registry, upload, live training, metrics and predictions."""
        self.expect_ok("models", "types")
        self.expect_ok("datasets", "upload", str(EXAMPLES / "housing.csv"), "--name", "housing")
        with TrainerClient(self.trainer.target) as client:
            dataset = next(client.iter_datasets())
        self.expect_ok(
            "train",
            "--dataset",
            dataset.name,
            "--target",
            "price",
            "--model-type",
            "neural_network",
            "--param",
            f"epochs={self.epochs}",
            "--seed",
            "7",
            "--follow",
        )
        with TrainerClient(self.trainer.target) as client:
            job = next(client.iter_training_jobs("succeeded"))
        self.expect_ok("models", "show", job.model)
        self.expect_ok("predict", job.model, "--input", str(EXAMPLES / "predict.csv"))

    def run_downloader(self) -> None:
        """An idle status, then a real download: it completes where the Hub is reachable, else fails clearly."""
        self.expect_ok("download", "status")
        start = time.monotonic()
        result = self.mlsuite(
            "download", "start", DEMO_MODEL, "--follow", capture=True, timeout=600
        )
        took = time.monotonic() - start
        output = result.stdout + result.stderr
        if result.returncode == 0:
            console.print(f"[green]downloaded[/] {DEMO_MODEL} in {took:.1f}s")
            self.expect_ok("download", "list")
        elif "UNAVAILABLE" in output:
            console.print(f"[yellow]the Hub at {HUB_ENDPOINT} is unreachable from here; the downloader said so in "
                          f"{took:.1f}s instead of hanging[/]")
        else:
            raise DemoFailure(f"download start exited {result.returncode} without saying the Hub is unreachable")


def _start_downloader(tmp: Path) -> ServerProcess:
    return ServerProcess(
        "downloader",
        [
            sys.executable,
            "-m",
            "downloader_service",
            "--port",
            "0",
            "--cache-dir",
            str(tmp / "hub-cache"),
            "--hub-endpoint",
            HUB_ENDPOINT,
        ],
        tmp / "downloader.log",
    )


def main(argv: list[str] | None = None) -> int:
    """Run the demo; exit status 0 when every step did what it should and both servers exited 0."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--epochs", type=int, default=30, help="neural_network epochs (default 30)")
    args = parser.parse_args(argv)
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mlsuite-demo-") as tmp_name:
        tmp = Path(tmp_name)
        servers: list[ServerProcess] = []
        try:
            trainer = ServerProcess(
                "trainer",
                [sys.executable, "-m", "trainer_service", "--port", "0", "--data-dir", str(tmp / "trainer")],
                tmp / "trainer.log",
            )
            servers.append(trainer)
            downloader = _start_downloader(tmp)
            servers.append(downloader)
            trainer.wait_serving("mlsuite.trainer.v1.TrainerService")
            downloader.wait_serving("mlsuite.downloader.v1.DownloaderService")
            console.print(f"trainer on {trainer.target}, downloader on {downloader.target}")
            demo = Demo(trainer, downloader, args.epochs)
            demo.run_trainer()
            demo.run_downloader()
        except DemoFailure as exc:
            failures.append(str(exc))
        except KeyboardInterrupt:
            failures.append("interrupted")
        finally:
            # Stop first, print after: a broken stdout must not leave servers behind.
            codes = [(server, server.stop()) for server in servers]
            console.print("\n[bold]stopped the servers with SIGTERM[/]")
            for server, code in codes:
                console.print(f"{server.label} exited {code}")
                if code != 0:
                    failures.append(f"{server.label} exited {code} on SIGTERM:\n{server.log_tail()}")
    for failure in failures:
        console.print(f"[red]demo failed:[/] {failure}")
    if not failures:
        console.print("[bold green]demo finished: every step worked and both servers stopped cleanly[/]")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
