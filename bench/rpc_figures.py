"""Figures 2, 3, 5 against raw grpcio: Predict latency, dataset upload, GetDownloadStatus under 50 pollers."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
from google.protobuf import struct_pb2
from mlsuite.downloader.v1 import downloader_service_pb2 as dpb
from mlsuite.downloader.v1 import downloader_service_pb2_grpc as dpb_grpc
from mlsuite.trainer.v1 import trainer_service_pb2 as pb
from mlsuite.trainer.v1 import trainer_service_pb2_grpc as pb_grpc

from bench import procs
from bench.data import FEATURES, write_csv
from bench.raw_server import ECHO, SINK
from bench.report import Comparison, Report
from bench.service import TrainerSession, channel

__all__ = ["predict_figure", "upload_figure", "download_figure"]

_CHUNK = 1024 * 1024  # the client's and the service's upload chunk size


def _interleaved_percentiles(
    subject: Callable[[], object], baseline: Callable[[], object], calls: int, warmup: int = 20
) -> tuple[tuple[float, float], tuple[float, float]]:
    """(p50, p99) in ms of `calls` sequential calls of each, alternating, after `warmup` untimed pairs.

    Alternating call by call puts both under the same machine load, so drift from other work on
    the machine shows up in both and not in their ratio.
    """
    for _ in range(warmup):
        subject()
        baseline()
    durations: tuple[list[float], list[float]] = ([], [])
    for _ in range(calls):
        for call, into in ((subject, durations[0]), (baseline, durations[1])):
            started = time.perf_counter()
            call()
            into.append((time.perf_counter() - started) * 1000)
    of_subject, of_baseline = (np.percentile(d, [50, 99]) for d in durations)
    return (float(of_subject[0]), float(of_subject[1])), (float(of_baseline[0]), float(of_baseline[1]))


def _values(rows: int) -> np.ndarray:
    return np.random.default_rng(5).normal(size=(rows, FEATURES))


def _instances(rows: int) -> list[struct_pb2.Struct]:
    structs = []
    for row in _values(rows):
        struct = struct_pb2.Struct()
        struct.update({f"x{i}": float(v) for i, v in enumerate(row)})
        structs.append(struct)
    return structs


def _columns(rows: int) -> dict[str, pb.FeatureValues]:
    """The same values as _instances(rows), by column."""
    values = _values(rows)
    return {f"x{i}": pb.FeatureValues(doubles=pb.DoubleValues(values=values[:, i].tolist())) for i in range(FEATURES)}


def predict_figure(report: Report, session: TrainerSession, raw_address: str, model: str,
                   calls: tuple[int, int] = (400, 120)) -> None:
    """Predict p50 / p99 for 1 and 1000 rows against a raw echo of the same request bytes."""
    stub = pb_grpc.TrainerServiceStub(session.client._channel)  # noqa: SLF001 - the client's own channel
    cases = (
        ("1 row", pb.PredictRequest(model=model, instances=_instances(1)), calls[0]),
        ("1000 rows", pb.PredictRequest(model=model, instances=_instances(1000)), calls[1]),
        ("1000 rows by columns", pb.PredictRequest(model=model, columns=_columns(1000)), calls[1]),
    )
    with channel(raw_address) as raw:
        echo = raw.unary_unary(ECHO)
        for label, request, count in cases:
            payload = request.SerializeToString()
            predict, raw_echo = _interleaved_percentiles(
                lambda r=request: stub.Predict(r, timeout=30), lambda p=payload: echo(p, timeout=30), count
            )
            for index, name in enumerate(("p50", "p99")):
                target = ("<=", 1.5) if label == "1 row" and name == "p50" else None
                report.add(Comparison(f"2. Predict {label}, {name}", "Predict", "raw echo", predict[index],
                                      raw_echo[index], "ms", target,
                                      f"{count} sequential calls each, alternating; request {len(payload):,} B"))


def _chunks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as source:
        while chunk := source.read(_CHUNK):
            yield chunk


def _raw_upload(address: str, path: Path) -> float:
    with channel(address) as raw:
        sink = raw.stream_unary(SINK)
        started = time.perf_counter()
        received = int.from_bytes(sink(_chunks(path), timeout=600), "little")
        elapsed = time.perf_counter() - started
    if received != path.stat().st_size:
        raise RuntimeError(f"the raw sink received {received} of {path.stat().st_size} bytes")
    return elapsed


def upload_figure(report: Report, work: Path, raw: procs.Server, big_bytes: int = 200_000_000,
                  small_bytes: int = 50_000_000) -> None:
    """Upload MB/s and server peak RSS (a fresh server) for CSVs of two sizes, against raw byte streaming."""
    files = {size: write_csv(work / f"upload-{size // 1_000_000}mb.csv", size, seed=size % 97)
             for size in (small_bytes, big_bytes)}
    digests = {size: hashlib.sha256(path.read_bytes()).hexdigest() for size, path in files.items()}
    with _fresh_trainer(work) as session:
        pid = session.server.pid
        idle_peak = procs.peak_rss_mib(pid)
        peaks, speeds = {}, {}
        for size, path in files.items():
            started = time.perf_counter()
            session.client.upload_dataset(path, sha256=digests[size], display_name=path.name)
            speeds[size] = path.stat().st_size / 1e6 / (time.perf_counter() - started)
            peaks[size] = procs.peak_rss_mib(pid)
    big = files[big_bytes]
    raw_before = procs.peak_rss_mib(raw.pid)
    raw_speed = big.stat().st_size / 1e6 / _raw_upload(raw.address, big)
    size_mb = big.stat().st_size / 1e6
    report.add(Comparison(f"3. upload {size_mb:.0f} MB CSV", "UploadDataset", "raw byte stream",
                          speeds[big_bytes], raw_speed, "MB/s", (">=", 0.5),
                          f"1 MiB chunks; raw server peak RSS {procs.peak_rss_mib(raw.pid):.0f} MiB "
                          f"(before {raw_before:.0f})"))
    small_mb = files[small_bytes].stat().st_size / 1e6
    report.add(Comparison("3. upload peak server RSS", f"after {size_mb:.0f} MB", f"after {small_mb:.0f} MB",
                          peaks[big_bytes], peaks[small_bytes], "MiB", ("<=", 1.1),
                          f"VmHWM; {idle_peak:.0f} MiB before any upload; {speeds[small_bytes]:.0f} MB/s "
                          "for the small file"))
    for path in files.values():
        path.unlink()


def _fresh_trainer(work: Path) -> TrainerSession:
    directory = work / "upload"
    directory.mkdir(exist_ok=True)
    return TrainerSession(directory)


def _poll(call: Callable[[], object], pollers: int, seconds: float) -> float:
    """Calls per second that `pollers` threads complete in `seconds`, each calling in a loop."""
    stop = threading.Event()
    counts = [0] * pollers
    errors: list[BaseException] = []

    def loop(index: int) -> None:
        try:
            while not stop.is_set():
                call()
                counts[index] += 1
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=loop, args=(i,), daemon=True) for i in range(pollers)]
    for thread in threads:
        thread.start()
    time.sleep(0.5)  # every poller running before counting starts
    before, started = sum(counts), time.perf_counter()
    time.sleep(seconds)
    after, elapsed = sum(counts), time.perf_counter() - started
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    if errors:
        raise RuntimeError(f"a poller failed: {errors[0]!r}")
    return (after - before) / elapsed


def download_figure(report: Report, work: Path, raw: procs.Server, pollers: int = 50,
                    seconds: float = 4.0) -> None:
    """GetDownloadStatus calls/s from `pollers` threads while a throttled download runs, against raw echo."""
    hub = procs.start("hub", "bench.hub_process", ["--padding-bytes", str(12 * 1024 * 1024),
                                                    "--throttle", "1000000"], work)
    # A private HF_HOME, no token and no offline mode from the caller's environment.
    env = {"HF_HOME": str(work / "hf-home"), "HF_HUB_DISABLE_TELEMETRY": "1"}
    unset = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "HF_ENDPOINT")
    downloader = procs.start("downloader", "downloader_service",
                             ["--port", "0", "--cache-dir", str(work / "hub-cache"), "--hub-endpoint",
                              f"http://{hub.address}", "--log-level", "WARNING"], work, env=env, unset=unset)
    try:
        with channel(downloader.address) as status_channel, channel(raw.address) as raw_channel:
            stub = dpb_grpc.DownloaderServiceStub(status_channel)
            request = dpb.GetDownloadStatusRequest()
            echo = raw_channel.unary_unary(ECHO)
            payload = stub.GetDownloadStatus(request, timeout=10).SerializeToString()
            raw_rate = _poll(lambda: echo(payload, timeout=30), pollers, seconds)
            idle_rate = _poll(lambda: stub.GetDownloadStatus(request, timeout=30), pollers, seconds)
            stub.StartDownload(dpb.StartDownloadRequest(model_id="bench/padded-bert"), timeout=60)
            busy_rate = _poll(lambda: stub.GetDownloadStatus(request, timeout=30), pollers, seconds)
            status = stub.GetDownloadStatus(request, timeout=10).status
            running = status.is_downloading
            if running:
                stub.CancelDownload(dpb.CancelDownloadRequest(), timeout=30)
    finally:
        downloader.stop()
        hub.stop()
    note = (f"{pollers} threads, {seconds:g} s; download {'still running' if running else 'ENDED'} "
            f"at the end ({status.progress:.0f} %)")
    report.add(Comparison("5. GetDownloadStatus during a download", "GetDownloadStatus", "raw echo",
                          busy_rate, raw_rate, "calls/s", None, note))
    report.add(Comparison("5. GetDownloadStatus during a download", "during download", "idle", busy_rate,
                          idle_rate, "calls/s", None, note))
